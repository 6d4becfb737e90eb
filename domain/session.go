package domain

import "time"

// A session is one login's chain of token pairs: an access token and a
// refresh token, each refresh replacing the pair with its successor. A
// login records nothing: its tokens describe the session (its id, its
// account, the account's session generation, its place in the chain),
// and the store learns of the session only when something happens to it,
// a refresh or a revocation. Session is that record; its zero value is a
// session that was never recorded.

// SessionLifetimes are how long a session's tokens live, and how long a
// refresh token already used is answered again with the pair it got.
type SessionLifetimes struct {
	Access     time.Duration
	Refresh    time.Duration
	ReuseGrace time.Duration
}

// SessionIssue is what one pair of a session's tokens says, without the
// signatures: a pair can be signed again from it, identically.
type SessionIssue struct {
	SessionID  string
	UserID     string
	Generation uint64
	// Seq is the pair's place in the chain: 0 for a login's, n for the
	// n-th refresh's.
	Seq uint64
	// IssuedAt is when the pair was issued, in whole milliseconds: the
	// refresh token says it so; the access token says AccessIssuedAt.
	IssuedAt         time.Time
	AccessExpiresAt  time.Time
	RefreshExpiresAt time.Time
}

// AccessIssuedAt is the access token's issue time, in whole seconds as
// token times are.
func (i SessionIssue) AccessIssuedAt() time.Time { return i.IssuedAt.Truncate(time.Second) }

// OpenSession is a login: the first pair of a new session id, issued at
// now under the account's current session generation. It is recorded
// nowhere.
func OpenSession(id, userID string, generation uint64, now time.Time, l SessionLifetimes) SessionIssue {
	return l.issue(id, userID, generation, 0, now)
}

// issue is the pair seq of a session issued at now. The access token
// lives Access from its own (whole-second) issue time, the refresh token
// Refresh from its (millisecond) one: each successor lives its full
// lifetime from its own issue.
func (l SessionLifetimes) issue(id, userID string, generation, seq uint64, now time.Time) SessionIssue {
	at := now.Truncate(time.Millisecond)
	return SessionIssue{
		SessionID:        id,
		UserID:           userID,
		Generation:       generation,
		Seq:              seq,
		IssuedAt:         at,
		AccessExpiresAt:  at.Truncate(time.Second).Add(l.Access),
		RefreshExpiresAt: at.Add(l.Refresh),
	}
}

// SessionToken is what a presented token says of its session. An access
// token says no Seq; IssuedAt and ExpiresAt are the token's own.
type SessionToken struct {
	SessionID  string
	UserID     string
	Generation uint64
	Seq        uint64
	IssuedAt   time.Time
	ExpiresAt  time.Time
}

// AccessLive reports whether an access token is accepted at now: before
// its own expiry, and before Access from its issue. The second bound makes
// a shorter Access apply at once to the tokens already out, and so keeps
// every revocation record, whose retention these lifetimes compute, alive
// as long as the tokens it refuses.
func (l SessionLifetimes) AccessLive(t SessionToken, now time.Time) bool {
	return now.Before(t.ExpiresAt) && now.Before(t.IssuedAt.Add(l.Access))
}

// RefreshLive is AccessLive for a refresh token, under Refresh.
func (l SessionLifetimes) RefreshLive(t SessionToken, now time.Time) bool {
	return now.Before(t.ExpiresAt) && now.Before(t.IssuedAt.Add(l.Refresh))
}

// LastExpiryFromAccess is, for a presented access token, how long a
// revocation through it must be kept: until the access token's own
// expiry, and until the refresh token issued with it (in the same
// millisecond, which the access token's whole-second issue time bounds)
// stops being accepted. The token's own expiry is kept even when a
// shorter Access now ends it sooner, so that raising Access again later
// cannot bring the token back once the record is gone. The sibling's
// own expiry is not in the access token: it is bounded by the Refresh now
// in force, so a Refresh lowered and later raised again within the old
// lifetime can outlast this record (docs/sessions.md says so).
func (l SessionLifetimes) LastExpiryFromAccess(t SessionToken) time.Time {
	return later(t.ExpiresAt, t.IssuedAt.Truncate(time.Second).Add(time.Second+l.Refresh))
}

// LastExpiryFromRefresh is LastExpiryFromAccess for a presented refresh
// token: its own expiry, and its sibling access token's under the Access
// now in force.
func (l SessionLifetimes) LastExpiryFromRefresh(t SessionToken) time.Time {
	return later(t.ExpiresAt, t.IssuedAt.Truncate(time.Second).Add(l.Access))
}

// RefreshDecision is what a refresh token presented to its session gets.
// The zero value is no decision.
type RefreshDecision uint8

// The decisions of Session.Refresh.
const (
	// RefreshAdvanced: the token was the session's current one; the
	// session moved on to its successor, issued now.
	RefreshAdvanced RefreshDecision = iota + 1
	// RefreshRepeated: the token's successor was issued within the reuse
	// grace (its answer was lost, or two refreshes raced); the same pair
	// is answered again and nothing changes.
	RefreshRepeated
	// RefreshReused: the token was used before, longer ago than the
	// grace, or is older still: someone else may hold the chain, so the
	// whole session is now revoked.
	RefreshReused
	// RefreshRefused: the session was revoked, its account's sessions
	// were revoked, or the token does not fit the session; nothing changes.
	RefreshRefused
)

// String names the decision, for logs and test failures.
func (d RefreshDecision) String() string {
	switch d {
	case RefreshAdvanced:
		return "advanced"
	case RefreshRepeated:
		return "repeated"
	case RefreshReused:
		return "reused"
	case RefreshRefused:
		return "refused"
	}
	return "no decision"
}

// Session is a session as recorded once it has been refreshed or revoked:
// its current pair, whether it is revoked, and how long the record must
// be kept (until the last token it ever issued expires: a record dropped
// earlier would let a revoked token live again, or a used refresh token
// look unused). The zero value is a session never recorded; stores hand
// it out for an id they hold nothing for (or only an expired record).
type Session struct {
	current     SessionIssue
	revoked     bool
	retainUntil time.Time
}

// Recorded reports whether the session has been recorded.
func (s *Session) Recorded() bool { return s.current.SessionID != "" }

// ID is the session's id; empty if never recorded.
func (s *Session) ID() string { return s.current.SessionID }

// Revoked reports whether the session was ended: none of its tokens is
// accepted any more.
func (s *Session) Revoked() bool { return s.revoked }

// Current is the session's latest pair, from which a repeated answer is
// signed again.
func (s *Session) Current() SessionIssue { return s.current }

// RetainUntil is when the record may be forgotten; stores use it as the
// record's expiry.
func (s *Session) RetainUntil() time.Time { return s.retainUntil }

// Refresh decides what the refresh token t gets at now, from an account
// whose session generation is now accountGeneration, and moves the
// session accordingly. A session never recorded stands where its login
// left it: at t's pair, if t is the login's (Seq 0). Only RefreshAdvanced
// and RefreshReused change the session; the store then must record it
// before the answer goes out. now is taken to the millisecond.
func (s *Session) Refresh(t SessionToken, accountGeneration uint64, now time.Time, l SessionLifetimes) RefreshDecision {
	now = now.Truncate(time.Millisecond)
	cur := *s
	if !cur.Recorded() {
		if t.Seq != 0 || t.SessionID == "" {
			// A successor exists only once the session is recorded; a
			// later token without a record is not one this service
			// issued, or its record outlived its tokens.
			return RefreshRefused
		}
		cur.current = SessionIssue{
			SessionID:        t.SessionID,
			UserID:           t.UserID,
			Generation:       t.Generation,
			IssuedAt:         t.IssuedAt,
			AccessExpiresAt:  t.IssuedAt.Truncate(time.Second).Add(l.Access),
			RefreshExpiresAt: t.ExpiresAt,
		}
		cur.retainUntil = later(cur.current.AccessExpiresAt, cur.current.RefreshExpiresAt)
	}
	c := cur.current
	switch {
	case cur.revoked, t.SessionID != c.SessionID, t.UserID != c.UserID,
		t.Generation != c.Generation, c.Generation != accountGeneration:
		return RefreshRefused
	case t.Seq == c.Seq:
		next := l.issue(c.SessionID, c.UserID, c.Generation, c.Seq+1, now)
		cur.current = next
		cur.retainUntil = later(cur.retainUntil, later(next.AccessExpiresAt, next.RefreshExpiresAt))
		*s = cur
		return RefreshAdvanced
	case t.Seq+1 == c.Seq && now.Sub(c.IssuedAt) <= l.ReuseGrace:
		return RefreshRepeated
	case t.Seq < c.Seq:
		cur.revoked = true
		*s = cur
		return RefreshReused
	default:
		return RefreshRefused
	}
}

// Revoke ends the session that t (an access or a refresh token of it)
// belongs to: from now on none of its tokens is accepted. lastExpiry is
// when the last token issued with t expires (SessionLifetimes.LastExpiry…);
// the record is kept at least until then. A session never recorded is
// recorded from what t says.
func (s *Session) Revoke(t SessionToken, lastExpiry time.Time) {
	if !s.Recorded() {
		s.current = SessionIssue{SessionID: t.SessionID, UserID: t.UserID, Generation: t.Generation, Seq: t.Seq, IssuedAt: t.IssuedAt}
	}
	s.revoked = true
	s.retainUntil = later(s.retainUntil, lastExpiry)
}

// SessionSnapshot is the persisted form of a Session, for stores only.
type SessionSnapshot struct {
	Current     SessionIssue
	Revoked     bool
	RetainUntil time.Time
}

// Snapshot returns the session's state for a store to keep.
func (s *Session) Snapshot() SessionSnapshot {
	return SessionSnapshot{Current: s.current, Revoked: s.revoked, RetainUntil: s.retainUntil}
}

// RestoreSession rebuilds a session from what a store kept. Only stores
// call it.
func RestoreSession(snap SessionSnapshot) Session {
	return Session{current: snap.Current, revoked: snap.Revoked, retainUntil: snap.RetainUntil}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
