package domain_test

import (
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

var (
	// login is a login's instant, with a sub-millisecond part that the
	// session must drop.
	login    = time.Date(2026, 11, 24, 8, 0, 0, 987_654_321, time.UTC)
	lifetime = domain.SessionLifetimes{Access: 15 * time.Minute, Refresh: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}
)

// refreshToken is what the refresh token of pair i says.
func refreshToken(i domain.SessionIssue) domain.SessionToken {
	return domain.SessionToken{
		SessionID: i.SessionID, UserID: i.UserID, Generation: i.Generation, Seq: i.Seq,
		IssuedAt: i.IssuedAt, ExpiresAt: i.RefreshExpiresAt,
	}
}

func TestOpenSession(t *testing.T) {
	i := domain.OpenSession("s1", "u1", 3, login, lifetime)
	ms := time.Date(2026, 11, 24, 8, 0, 0, 987_000_000, time.UTC)
	want := domain.SessionIssue{
		SessionID: "s1", UserID: "u1", Generation: 3, Seq: 0,
		IssuedAt:         ms,
		AccessExpiresAt:  time.Date(2026, 11, 24, 8, 15, 0, 0, time.UTC),
		RefreshExpiresAt: ms.Add(30 * 24 * time.Hour),
	}
	if i != want {
		t.Fatalf("OpenSession = %+v\nwant %+v", i, want)
	}
	if got := i.AccessIssuedAt(); !got.Equal(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("AccessIssuedAt = %v, want whole seconds", got)
	}
}

// recorded returns a session refreshed once, at login+d.
func recorded(t *testing.T, d time.Duration) (domain.Session, domain.SessionIssue) {
	t.Helper()
	first := domain.OpenSession("s1", "u1", 0, login, lifetime)
	var s domain.Session
	if got := s.Refresh(refreshToken(first), 0, login.Add(d), lifetime); got != domain.RefreshAdvanced {
		t.Fatalf("first refresh = %v, want advanced", got)
	}
	return s, first
}

func TestRefreshOfANeverRecordedSessionRecordsIt(t *testing.T) {
	s, first := recorded(t, time.Hour)
	if !s.Recorded() || s.ID() != "s1" || s.Revoked() {
		t.Fatalf("after the first refresh: recorded %v, id %q, revoked %v", s.Recorded(), s.ID(), s.Revoked())
	}
	at := login.Add(time.Hour).Truncate(time.Millisecond)
	want := domain.SessionIssue{
		SessionID: "s1", UserID: "u1", Seq: 1, IssuedAt: at,
		AccessExpiresAt:  at.Truncate(time.Second).Add(lifetime.Access),
		RefreshExpiresAt: at.Add(lifetime.Refresh),
	}
	if s.Current() != want {
		t.Errorf("Current = %+v\nwant %+v", s.Current(), want)
	}
	if !s.RetainUntil().Equal(want.RefreshExpiresAt) {
		t.Errorf("RetainUntil = %v, want the successor's refresh expiry %v", s.RetainUntil(), want.RefreshExpiresAt)
	}
	if !first.RefreshExpiresAt.Before(s.RetainUntil()) {
		t.Errorf("the record is kept until %v, before the login's refresh token expires (%v)", s.RetainUntil(), first.RefreshExpiresAt)
	}
}

func TestRefreshWithoutARecordOnlyTakesALoginToken(t *testing.T) {
	first := domain.OpenSession("s1", "u1", 0, login, lifetime)
	later := refreshToken(first)
	later.Seq = 1
	var s domain.Session
	if got := s.Refresh(later, 0, login, lifetime); got != domain.RefreshRefused {
		t.Errorf("seq 1 with no record = %v, want refused", got)
	}
	if s.Recorded() {
		t.Errorf("a refused refresh recorded the session")
	}
}

func TestRefreshRotates(t *testing.T) {
	s, _ := recorded(t, time.Minute)
	for seq := uint64(1); seq <= 3; seq++ {
		cur := s.Current()
		if cur.Seq != seq {
			t.Fatalf("seq = %d, want %d", cur.Seq, seq)
		}
		at := cur.IssuedAt.Add(time.Hour)
		if got := s.Refresh(refreshToken(cur), 0, at, lifetime); got != domain.RefreshAdvanced {
			t.Fatalf("refresh of seq %d = %v, want advanced", seq, got)
		}
		// Each successor lives its full lifetime from its own issue.
		if next := s.Current(); !next.RefreshExpiresAt.Equal(at.Truncate(time.Millisecond).Add(lifetime.Refresh)) {
			t.Fatalf("successor expires %v, want %v", next.RefreshExpiresAt, at.Add(lifetime.Refresh))
		}
	}
}

// TestReuseWithinGraceRepeatsToTheMillisecond: a used token is answered
// again with the same pair up to the grace, and a millisecond after it,
// the session is revoked.
func TestReuseWithinGraceRepeatsToTheMillisecond(t *testing.T) {
	s, first := recorded(t, 0)
	issued := s.Current().IssuedAt
	before := s
	for _, d := range []time.Duration{0, time.Second, lifetime.ReuseGrace, lifetime.ReuseGrace + 999*time.Microsecond} {
		if got := s.Refresh(refreshToken(first), 0, issued.Add(d), lifetime); got != domain.RefreshRepeated {
			t.Fatalf("reuse at +%v = %v, want repeated", d, got)
		}
		if s != before {
			t.Fatalf("a repeated answer changed the session: %+v", s.Snapshot())
		}
	}
	if got := s.Refresh(refreshToken(first), 0, issued.Add(lifetime.ReuseGrace+time.Millisecond), lifetime); got != domain.RefreshReused {
		t.Fatalf("reuse a millisecond past the grace = %v, want reused", got)
	}
	if !s.Revoked() || s.RetainUntil() != before.RetainUntil() || s.Current() != before.Current() {
		t.Fatalf("after reuse: revoked %v, snapshot %+v", s.Revoked(), s.Snapshot())
	}
	// Every token of the chain, the newest included, is refused now.
	for _, tok := range []domain.SessionToken{refreshToken(first), refreshToken(s.Current())} {
		if got := s.Refresh(tok, 0, issued.Add(time.Millisecond), lifetime); got != domain.RefreshRefused {
			t.Errorf("seq %d after reuse = %v, want refused", tok.Seq, got)
		}
	}
}

func TestReuseOfAnOlderTokenRevokesAtOnce(t *testing.T) {
	s, first := recorded(t, 0)
	if got := s.Refresh(refreshToken(s.Current()), 0, login, lifetime); got != domain.RefreshAdvanced {
		t.Fatalf("second refresh = %v", got)
	}
	// Seq 0 is two behind: not a lost answer, whatever the time.
	if got := s.Refresh(refreshToken(first), 0, login, lifetime); got != domain.RefreshReused || !s.Revoked() {
		t.Fatalf("seq 0 after seq 2 was issued = %v (revoked %v), want reused", got, s.Revoked())
	}
}

func TestRefreshRefusals(t *testing.T) {
	s, first := recorded(t, 0)
	cur := refreshToken(s.Current())
	other := func(f func(*domain.SessionToken)) domain.SessionToken { c := cur; f(&c); return c }
	cases := []struct {
		name    string
		tok     domain.SessionToken
		accGen  uint64
		decided domain.RefreshDecision
	}{
		{"account revoked since", cur, 1, domain.RefreshRefused},
		{"account revoked since, within the grace", refreshToken(first), 1, domain.RefreshRefused},
		{"another account's token", other(func(c *domain.SessionToken) { c.UserID = "u2" }), 0, domain.RefreshRefused},
		{"another session's token", other(func(c *domain.SessionToken) { c.SessionID = "s2" }), 0, domain.RefreshRefused},
		{"another generation's token", other(func(c *domain.SessionToken) { c.Generation = 1 }), 1, domain.RefreshRefused},
		{"a token from the future", other(func(c *domain.SessionToken) { c.Seq = 5 }), 0, domain.RefreshRefused},
	}
	for _, c := range cases {
		s := s
		before := s
		if got := s.Refresh(c.tok, c.accGen, login, lifetime); got != c.decided || s != before {
			t.Errorf("%s: %v, changed %v; want %v, unchanged", c.name, got, s != before, c.decided)
		}
	}
}

func TestRevoke(t *testing.T) {
	access := domain.SessionToken{
		SessionID: "s1", UserID: "u1", Generation: 2,
		IssuedAt: login.Truncate(time.Second), ExpiresAt: login.Truncate(time.Second).Add(lifetime.Access),
	}
	last := lifetime.LastExpiryFromAccess(access)
	if refresh := domain.OpenSession("s1", "u1", 2, login, lifetime).RefreshExpiresAt; last.Before(refresh) {
		t.Fatalf("LastExpiryFromAccess = %v, before the login's refresh token expires (%v)", last, refresh)
	}
	var s domain.Session
	s.Revoke(access, last)
	if !s.Recorded() || !s.Revoked() || s.ID() != "s1" || !s.RetainUntil().Equal(last) {
		t.Fatalf("revoked unrecorded session: %+v", s.Snapshot())
	}
	tok := refreshToken(domain.OpenSession("s1", "u1", 2, login, lifetime))
	if got := s.Refresh(tok, 2, login, lifetime); got != domain.RefreshRefused {
		t.Errorf("refresh after logout = %v, want refused", got)
	}

	// A recorded session keeps the later of its own retention and the
	// token's.
	r, _ := recorded(t, time.Hour)
	keep := r.RetainUntil()
	r.Revoke(access, login)
	if !r.Revoked() || !r.RetainUntil().Equal(keep) {
		t.Errorf("revoked recorded session kept until %v, want %v", r.RetainUntil(), keep)
	}
	r.Revoke(access, keep.Add(time.Hour))
	if !r.RetainUntil().Equal(keep.Add(time.Hour)) {
		t.Errorf("a later expiry did not extend the record: %v", r.RetainUntil())
	}
}

func TestLastExpiryFromRefresh(t *testing.T) {
	i := domain.OpenSession("s1", "u1", 0, login, lifetime)
	if got := lifetime.LastExpiryFromRefresh(refreshToken(i)); !got.Equal(i.RefreshExpiresAt) {
		t.Errorf("LastExpiryFromRefresh = %v, want the refresh expiry %v", got, i.RefreshExpiresAt)
	}
	long := domain.SessionLifetimes{Access: 7 * 24 * time.Hour, Refresh: time.Hour}
	i = domain.OpenSession("s1", "u1", 0, login, long)
	if got := long.LastExpiryFromRefresh(refreshToken(i)); !got.Equal(i.AccessExpiresAt) {
		t.Errorf("with access tokens outliving refresh tokens: %v, want the access expiry %v", got, i.AccessExpiresAt)
	}
}

func TestSessionSnapshotRoundTrips(t *testing.T) {
	s, _ := recorded(t, time.Minute)
	s.Revoke(domain.SessionToken{SessionID: "s1"}, login.Add(90*24*time.Hour))
	if got := domain.RestoreSession(s.Snapshot()); got != s {
		t.Errorf("restored %+v, want %+v", got.Snapshot(), s.Snapshot())
	}
	var zero domain.Session
	if got := domain.RestoreSession(zero.Snapshot()); got.Recorded() {
		t.Errorf("the zero session restored as recorded")
	}
}

func TestUserSessionGeneration(t *testing.T) {
	u := domain.NewUser("u1", domain.MustParsePhoneNumber("15850551102"), domain.Email{}, nil, login)
	if u.SessionGeneration() != 0 || !u.AcceptsSession(0) {
		t.Fatalf("new user: generation %d", u.SessionGeneration())
	}
	u.RevokeSessions()
	if u.SessionGeneration() != 1 || u.AcceptsSession(0) || !u.AcceptsSession(1) {
		t.Errorf("after RevokeSessions: generation %d, accepts 0 %v", u.SessionGeneration(), u.AcceptsSession(0))
	}
	r := domain.RestoreUser("u1", u.Phone(), "a@example.com", nil, login, 7)
	if r.SessionGeneration() != 7 || !r.AcceptsSession(7) || r.AcceptsSession(6) {
		t.Errorf("restored generation %d", r.SessionGeneration())
	}
}

func TestTokensLiveNoLongerThanTheLifetimesNow(t *testing.T) {
	i := domain.OpenSession("s1", "u1", 0, login, lifetime)
	access := domain.SessionToken{SessionID: "s1", IssuedAt: i.AccessIssuedAt(), ExpiresAt: i.AccessExpiresAt}
	refresh := refreshToken(i)
	for _, c := range []struct {
		name string
		live func(domain.SessionLifetimes, time.Time) bool
		exp  time.Time
		ttl  func(*domain.SessionLifetimes) *time.Duration
	}{
		{"access", func(l domain.SessionLifetimes, now time.Time) bool { return l.AccessLive(access, now) }, i.AccessExpiresAt,
			func(l *domain.SessionLifetimes) *time.Duration { return &l.Access }},
		{"refresh", func(l domain.SessionLifetimes, now time.Time) bool { return l.RefreshLive(refresh, now) }, i.RefreshExpiresAt,
			func(l *domain.SessionLifetimes) *time.Duration { return &l.Refresh }},
	} {
		if !c.live(lifetime, c.exp.Add(-time.Nanosecond)) || c.live(lifetime, c.exp) {
			t.Errorf("%s: not live up to its expiry %v, and only then", c.name, c.exp)
		}
		// A lifetime shortened since the token was issued cuts it short.
		shorter := lifetime
		*c.ttl(&shorter) /= 2
		cut := c.exp.Add(-*c.ttl(&shorter))
		if !c.live(shorter, cut.Add(-time.Second)) || c.live(shorter, cut) {
			t.Errorf("%s under a halved lifetime: live until %v, want until %v", c.name, c.exp, cut)
		}
		// A longer one changes nothing: the token's own expiry holds.
		longer := lifetime
		*c.ttl(&longer) *= 2
		if c.live(longer, c.exp) {
			t.Errorf("%s under a doubled lifetime lives past its own expiry", c.name)
		}
	}
}

// TestLastExpiryKeepsThePresentedTokensOwnExpiry: a revocation made while
// a lifetime is lowered must outlive the presented token itself, so that
// raising the lifetime again later cannot bring that token back once the
// record is swept.
func TestLastExpiryKeepsThePresentedTokensOwnExpiry(t *testing.T) {
	// Access tokens that outlive refresh tokens, then both lowered.
	issued := domain.SessionLifetimes{Access: 7 * 24 * time.Hour, Refresh: time.Hour, ReuseGrace: lifetime.ReuseGrace}
	lowered := domain.SessionLifetimes{Access: time.Hour, Refresh: 30 * time.Minute, ReuseGrace: lifetime.ReuseGrace}
	i := domain.OpenSession("s1", "u1", 0, login, issued)
	access := domain.SessionToken{SessionID: "s1", UserID: "u1", IssuedAt: i.AccessIssuedAt(), ExpiresAt: i.AccessExpiresAt}
	if got := lowered.LastExpiryFromAccess(access); got.Before(i.AccessExpiresAt) {
		t.Errorf("LastExpiryFromAccess under lowered lifetimes = %v, before the access token's own expiry %v", got, i.AccessExpiresAt)
	}
	// The defaults' shape (refresh tokens outlive access tokens), then
	// the refresh lifetime lowered.
	i = domain.OpenSession("s1", "u1", 0, login, lifetime)
	lowered = domain.SessionLifetimes{Access: lifetime.Access, Refresh: 24 * time.Hour, ReuseGrace: lifetime.ReuseGrace}
	if got := lowered.LastExpiryFromRefresh(refreshToken(i)); got.Before(i.RefreshExpiresAt) {
		t.Errorf("LastExpiryFromRefresh under lowered lifetimes = %v, before the refresh token's own expiry %v", got, i.RefreshExpiresAt)
	}
}
