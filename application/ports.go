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
// email. ByPhone returns domain.ErrUserNotFound for an unknown phone.
type Users interface {
	Create(ctx context.Context, u *domain.User) error
	ByPhone(ctx context.Context, phone domain.PhoneNumber) (*domain.User, error)
	Exists(ctx context.Context, phone domain.PhoneNumber) (bool, error)
}

// PendingRegistrations stores registrations in progress, one per phone.
// Save replaces whatever the phone had. Update reads the live registration,
// applies fn and stores the result as one atomic step (a transaction or a
// compare-and-swap); fn may run more than once, so it must only change the
// registration it is given. A registration past its expiry is absent:
// Update returns domain.ErrNoPending for it.
type PendingRegistrations interface {
	Save(ctx context.Context, p *domain.PendingRegistration) error
	Update(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) error) error
	Get(ctx context.Context, phone domain.PhoneNumber, now time.Time) (*domain.PendingRegistration, error)
	Delete(ctx context.Context, phone domain.PhoneNumber) error
}

// Decision is a rate limiter's answer.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration
}

// RateLimiter counts events per key in fixed windows. Allow counts one
// event and reports whether it was within limit; a refused event is not
// counted.
type RateLimiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (Decision, error)
}

// Lockouts tracks wrong passwords per account. Fail counts one and, when
// the count reaches max within lockFor of the first, locks the key until
// now+lockFor and returns that time; Check reports what is held for the
// key now; Reset forgets the key after a successful login.
type Lockouts interface {
	Check(ctx context.Context, key string, now time.Time) (LockState, error)
	Fail(ctx context.Context, key string, max int, lockFor time.Duration, now time.Time) (time.Time, error)
	Reset(ctx context.Context, key string) error
}

// LockState is what a Lockouts store holds for a key at a moment.
type LockState struct {
	// Until is the end of a live lock; zero if the key is not locked.
	Until time.Time
	// Failures is the count of wrong passwords in the key's live window
	// (or that set its live lock); zero when nothing is held, so that a
	// successful login has nothing to reset.
	Failures int
}

// Nonces remembers login requests already accepted. Claim returns true the
// first time it sees key before expiresAt, false after.
type Nonces interface {
	Claim(ctx context.Context, key string, expiresAt time.Time) (bool, error)
}

// Expirer is a store that can delete its expired records; the sweeper
// calls it periodically.
type Expirer interface {
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// CodeHasher turns an SMS code into the keyed hash that is stored
// (HMAC-SHA-256 under a server secret, bound to the phone number).
type CodeHasher interface {
	HashCode(phone domain.PhoneNumber, code string) []byte
}

// PasswordVault seals passwords so that only the server can open them
// (AES-256-GCM, the phone number as associated data).
type PasswordVault interface {
	Seal(phone domain.PhoneNumber, password string) ([]byte, error)
	Open(phone domain.PhoneNumber, sealed []byte) (string, error)
}

// TokenIssuer signs session tokens.
type TokenIssuer interface {
	Issue(userID, sessionID string, now time.Time) (token string, expiresIn time.Duration, err error)
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
// ("cooldown", "phone_daily", "ip_hourly", "global_hourly").
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
