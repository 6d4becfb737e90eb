package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// ErrUnavailable marks a failure of a dependency (the store, mostly) that
// may pass: the client hears 503 and may retry. Adapters wrap their
// transport and timeout errors with it.
var ErrUnavailable = errors.New("dependency unavailable")

// Clock tells the time; tests move it instead of sleeping.
type Clock interface {
	Now() time.Time
}

// Users stores accounts. Create enforces both uniqueness rules atomically:
// domain.ErrUserExists for a taken phone, domain.ErrEmailTaken for a taken
// email. ByPhone and ByID (an indexed point read: every authenticated
// request makes one) return domain.ErrUserNotFound for an unknown account.
// RevokeSessions ends every session of the account: it applies
// domain.User.RevokeSessions as one atomic, durable step before it
// returns, and answers the account's new session generation
// (domain.ErrUserNotFound for an unknown id).
//
// Update reads the account id as it stands, applies fn and stores the
// result as one atomic, durable step (a transaction, a compare-and-swap
// on the whole record), and returns the account as stored; fn may run
// more than once, so it must only change the account it is given, and it
// may not change the id, email or creation time. If fn returns an error,
// nothing is written and Update returns it. When fn moves the account to
// another number (domain.User.ChangePhone) the move is atomic: the old
// number is free and the new one held in the same step, and a new number
// that another account holds (or takes concurrently) is
// domain.ErrPhoneTaken, with nothing written; no two accounts ever hold
// one number. A store that also keeps the codes deletes the old number's
// reset code with a move (a left one is harmless: it binds its account).
//
// Delete removes the account and every record the store keeps of it (its
// email, its sessions' records, its pending codes) so that its number
// and email can register again; domain.ErrUserNotFound for an unknown
// id. Where one atomic step cannot cover it all, the account record goes
// last, after its sessions are revoked, so that a crash part way leaves
// an account that still logs in (and can be deleted again), never a
// half-deleted one whose old session records come back to life. A write
// that read the account before Delete and commits after it (a refresh's
// session record, a reset code) may leave that one record; it cannot act
// for the account, and goes with its retention or expiry.
type Users interface {
	Create(ctx context.Context, u *domain.User) error
	ByPhone(ctx context.Context, phone domain.PhoneNumber) (*domain.User, error)
	ByID(ctx context.Context, id string) (*domain.User, error)
	Exists(ctx context.Context, phone domain.PhoneNumber) (bool, error)
	RevokeSessions(ctx context.Context, id string) (uint64, error)
	Update(ctx context.Context, id string, fn func(*domain.User) error) (*domain.User, error)
	Delete(ctx context.Context, id string) error
}

// PendingCodes stores the codes sent for purposes other than
// registration (domain.PendingCode), one per domain.CodeSubject.Key:
// a password reset's per number, a phone change's per account. Upsert
// reads the live code under key (nil if none, or past its expiry),
// applies fn and stores what it returns (a code of the same key) as one
// atomic, durable step. Update is the same step for a live code, and
// domain.ErrNoPendingCode when there is none; fn may run more than once,
// so it must only change the code it is given; if fn returns an error,
// the code is still stored as fn left it (a wrong try counts) and
// Update returns the error. Delete removes key's code, if any.
type PendingCodes interface {
	Upsert(ctx context.Context, key string, now time.Time, fn func(cur *domain.PendingCode) *domain.PendingCode) error
	Update(ctx context.Context, key string, now time.Time, fn func(*domain.PendingCode) error) error
	Delete(ctx context.Context, key string) error
	Expirer
}

// Sessions stores the sessions that something has happened to, a
// refresh or a revocation (domain.Session), under their id; a login
// stores nothing. Update reads id's session as it stands at now (the
// zero Session, never recorded, if there is none or its record is past
// its retention), applies fn and stores the result as one atomic step (a
// transaction, a compare-and-swap), durable before Update returns; fn may
// run more than once, so it must only change the session it is given. If
// fn returns an error, nothing is written and Update returns it; a session
// fn leaves unchanged is not written; one it changes must keep id. Get is
// the same read alone, the point read that every authenticated request
// makes. DeleteExpired drops the records past their retention.
type Sessions interface {
	Update(ctx context.Context, id string, now time.Time, fn func(*domain.Session) error) error
	Get(ctx context.Context, id string, now time.Time) (domain.Session, error)
	Expirer
}

// PendingRegistrations stores registrations in progress, one per phone.
// Save replaces whatever the phone had. Update reads the live registration,
// applies fn and stores the result as one atomic step (a transaction or a
// compare-and-swap); fn may run more than once, so it must only change the
// registration it is given. A registration past its expiry is absent:
// Update returns domain.ErrNoPending for it. Upsert is the same atomic
// step for a phone that may have no live registration: fn is given the
// live one or nil, and what it returns (for the same phone) is stored.
type PendingRegistrations interface {
	Save(ctx context.Context, p *domain.PendingRegistration) error
	Update(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) error) error
	Upsert(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) *domain.PendingRegistration) error
	Get(ctx context.Context, phone domain.PhoneNumber, now time.Time) (*domain.PendingRegistration, error)
	Delete(ctx context.Context, phone domain.PhoneNumber) error
}

// RateLimits stores fixed windows (domain.FixedWindow), one per key.
// Update reads the key's window as it stands at now (an empty one if there
// is none or it has ended), applies fn and stores the result as one atomic
// step (a shard lock, a compare-and-swap); fn may run more than once, so
// it must only change the window it is given. If fn returns an error,
// nothing is written and Update returns it. A window fn leaves unchanged
// is not written; one it leaves empty is deleted. A store bounded in
// memory may forget the oldest windows when full, but never refuses for
// being full and never forgets a key that starts with GlobalKeyPrefix.
type RateLimits interface {
	Update(ctx context.Context, key string, now time.Time, fn func(*domain.FixedWindow) error) error
}

// GlobalKeyPrefix starts the keys of deployment-wide budgets, which a
// bounded store must never forget: forgetting one would reopen the budget
// for everyone.
const GlobalKeyPrefix = "global:"

// Lockouts stores each account's login failures (domain.LoginFailures),
// one per key, with the same Update contract as RateLimits.
type Lockouts interface {
	Update(ctx context.Context, key string, now time.Time, fn func(*domain.LoginFailures) error) error
}

// Alarms tells the operator about what needs a person, once per event
// rather than once per request.
type Alarms interface {
	// CodeFailuresBudgetSpent: the deployment's wrong codes reached
	// their hourly budget; code checks answer 429 until the window ends.
	CodeFailuresBudgetSpent(budget int, until time.Time)
}

// Nonces remembers login requests already accepted, so that each is
// accepted once. Claim is told the current time by the caller (stores keep
// no clock of their own) and answers:
//
//   - NonceClaimed the first time it sees key live at now: the key is now
//     held until expiresAt;
//   - NonceReplayed while an earlier claim of key is held;
//   - NonceStale when the store cannot vouch for key: expiresAt is not
//     after now, or a store that had to forget keys under memory pressure
//     can no longer tell whether a key expiring this early was claimed.
//
// A store may answer NonceStale only for keys expiring at or before those
// it forgot, so that for callers whose expiry grows with the request's
// age it refuses the oldest requests and never a newer one.
type Nonces interface {
	Claim(ctx context.Context, key string, expiresAt, now time.Time) (NonceClaim, error)
}

// NonceClaim is a Nonces store's answer to a claim. The zero value is no
// answer, so that a store which forgets to set it is not taken as
// NonceClaimed.
type NonceClaim uint8

// The answers of Nonces.Claim.
const (
	NonceClaimed NonceClaim = iota + 1
	NonceReplayed
	NonceStale
)

// String names the answer, for logs and test failures.
func (c NonceClaim) String() string {
	switch c {
	case NonceClaimed:
		return "claimed"
	case NonceReplayed:
		return "replayed"
	case NonceStale:
		return "stale"
	}
	return fmt.Sprintf("NonceClaim(%d)", uint8(c))
}

// Expirer is a store that can delete its expired records; the sweeper
// calls it periodically.
type Expirer interface {
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// CodeHasher turns an SMS code into the keyed hash that is stored
// (HMAC-SHA-256 under a server secret), bound to the code's subject: its
// purpose, its number and, for a phone change, its account.
type CodeHasher interface {
	HashCode(subject domain.CodeSubject, code string) []byte
}

// PasswordVault seals passwords so that only the server can open them
// (AES-256-GCM, the phone number as associated data).
type PasswordVault interface {
	Seal(phone domain.PhoneNumber, password string) ([]byte, error)
	Open(phone domain.PhoneNumber, sealed []byte) (string, error)
}

// SMSSender delivers a verification code. It returns nil when the vendor
// accepted the message, or an *SMSError.
type SMSSender interface {
	SendCode(ctx context.Context, phone domain.PhoneNumber, code string, ttl time.Duration) error
}

// SMSErrorKind says what is known about an SMS that failed.
type SMSErrorKind int

const (
	// SMSRefused: the vendor answered and refused; nothing was sent, and
	// Message is the vendor's own text for the client. An answer that
	// refuses without a text (a bare HTTP 4xx) is SMSRefused with an empty
	// Message: the chain stops, and the client hears that the SMS failed.
	SMSRefused SMSErrorKind = iota + 1
	// SMSNotSent: the vendor certainly did not send: the request never
	// fully left (connection refused, DNS failure), or the vendor answered
	// HTTP 503 or 429. Only this lets another vendor be tried.
	SMSNotSent
	// SMSUncertain: the vendor may have sent it (timeout after the request
	// went out, an HTTP 5xx other than 503, garbage answer): trying
	// another vendor could send twice.
	SMSUncertain
)

// SMSError is a failed send.
type SMSError struct {
	Vendor  string
	Kind    SMSErrorKind
	Code    string // the vendor's status code, if it gave one
	Message string // the vendor's refusal text, for SMSRefused
	Err     error  // the transport or decoding error, for the log
}

// Error is for logs: runs of seven or more digits are masked (vendors
// echo the phone number). The client reads Message, verbatim.
func (e *SMSError) Error() string {
	var s string
	switch e.Kind {
	case SMSRefused:
		s = fmt.Sprintf("sms %s refused: %s %s", e.Vendor, e.Code, e.Message)
	case SMSNotSent:
		s = fmt.Sprintf("sms %s not sent: %v", e.Vendor, e.Err)
	default:
		s = fmt.Sprintf("sms %s outcome unknown: %v", e.Vendor, e.Err)
	}
	return domain.MaskDigitRuns(s)
}

func (e *SMSError) Unwrap() error { return e.Err }

// RateLimitedError is a refusal by a rate limit; Kind names which one
// (the Limit… constants).
type RateLimitedError struct {
	Kind       string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited (%s), retry after %s", e.Kind, e.RetryAfter)
}

// AccountLockedError is a login refused because of too many wrong passwords.
type AccountLockedError struct {
	RetryAfter time.Duration
}

func (e *AccountLockedError) Error() string {
	return fmt.Sprintf("account locked, retry after %s", e.RetryAfter)
}

// Login refusals that are not domain rules but request freshness.
var (
	ErrStaleRequest    = errors.New("login request outside the time window")
	ErrReplayedRequest = errors.New("login request already used")
)

// AccessClaims are what an access token says: whose it is, which session
// it belongs to, and the account's session generation when the session
// was opened (revoking every session of an account bumps the
// generation, so older tokens stop being accepted even within the same
// second).
type AccessClaims struct {
	UserID     string
	SessionID  string
	Generation uint64
	IssuedAt   time.Time // whole seconds: JWT times have no finer grain
	ExpiresAt  time.Time
}

// RefreshClaims are what a refresh token says. Seq counts the refreshes
// of its session: 0 for the token a login hands out, n for the n-th
// successor.
type RefreshClaims struct {
	UserID     string
	SessionID  string
	Generation uint64
	Seq        uint64
	IssuedAt   time.Time // millisecond precision
	ExpiresAt  time.Time
}

// Tokens signs and checks a session's tokens. Issuing is deterministic:
// the same claims under the same signing key give the same token, so a
// refresh retried within the grace period can answer the identical pair
// again without storing it. Parse… return ErrInvalidToken (wrapped) for
// any token they cannot vouch for: malformed, forged, of another kind or
// issuer, expired at now.
type Tokens interface {
	IssueAccess(c AccessClaims) (string, error)
	ParseAccess(token string, now time.Time) (AccessClaims, error)
	IssueRefresh(c RefreshClaims) (string, error)
	ParseRefresh(token string, now time.Time) (RefreshClaims, error)
}

// ErrInvalidToken is a token that Tokens cannot vouch for.
var ErrInvalidToken = errors.New("invalid token")

// Refusals of session tokens. A refresh refuses with
// ErrInvalidRefreshToken or ErrRefreshTokenReused; every other use of a
// token with ErrTokenMissing or ErrUnauthorized. The text may say which
// check failed, but the chain holds only the refusal (never, say,
// domain.ErrUserNotFound for a deleted account), so that an error table
// cannot answer it as something else; no error carries the token.
var (
	// ErrTokenMissing: the request carries no token at all.
	ErrTokenMissing = errors.New("token missing")
	// ErrUnauthorized: the token is malformed, forged, expired, or of a
	// session that was revoked (or whose account was).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalidRefreshToken: the refresh token is malformed, forged,
	// expired, or of a session that was revoked (or whose account was).
	ErrInvalidRefreshToken = errors.New("invalid refresh token")
	// ErrRefreshTokenReused: the refresh token had been used already,
	// longer ago than the grace period; its session is now revoked.
	ErrRefreshTokenReused = errors.New("refresh token reused")
)
