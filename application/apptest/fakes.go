// Package apptest holds hand-written fakes of the application ports, for
// unit tests of the use cases and of the HTTP adapter. They keep state in
// maps under one mutex and follow each port's contract, nothing more; the
// real adapters are tested against the same contracts elsewhere.
package apptest

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Clock is a clock the test moves.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// Users is a fake application.Users.
type Users struct {
	mu      sync.Mutex
	byPhone map[string]*domain.User
	emails  map[string]bool
	Err     error // returned by every call when set
}

// NewUsers returns an empty fake.
func NewUsers() *Users { return &Users{byPhone: map[string]*domain.User{}, emails: map[string]bool{}} }

// Create stores u unless its phone or email is taken.
func (f *Users) Create(_ context.Context, u *domain.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	if f.byPhone[u.Phone().E164()] != nil {
		return domain.ErrUserExists
	}
	if f.emails[u.Email().String()] {
		return domain.ErrEmailTaken
	}
	f.byPhone[u.Phone().E164()] = u
	f.emails[u.Email().String()] = true
	return nil
}

// ByPhone returns the user or domain.ErrUserNotFound.
func (f *Users) ByPhone(_ context.Context, p domain.PhoneNumber) (*domain.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return nil, f.Err
	}
	u := f.byPhone[p.E164()]
	if u == nil {
		return nil, domain.ErrUserNotFound
	}
	return u, nil
}

// Exists reports whether the phone has an account.
func (f *Users) Exists(_ context.Context, p domain.PhoneNumber) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return false, f.Err
	}
	return f.byPhone[p.E164()] != nil, nil
}

// Count returns the number of accounts.
func (f *Users) Count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.byPhone) }

// Pending is a fake application.PendingRegistrations storing snapshots,
// so a test sees exactly what a real store would persist.
type Pending struct {
	mu   sync.Mutex
	regs map[string]domain.PendingRegistrationSnapshot
	Err  error
}

// NewPending returns an empty fake.
func NewPending() *Pending { return &Pending{regs: map[string]domain.PendingRegistrationSnapshot{}} }

// Save replaces the phone's registration.
func (f *Pending) Save(_ context.Context, p *domain.PendingRegistration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.regs[p.Phone().E164()] = p.Snapshot()
	return nil
}

// Update applies fn atomically to a live registration.
func (f *Pending) Update(_ context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	s, ok := f.regs[phone.E164()]
	if !ok || !now.Before(s.ExpiresAt) {
		return domain.ErrNoPending
	}
	p := domain.UnmarshalPendingRegistrationFromDatabase(s)
	if err := fn(p); err != nil {
		return err
	}
	f.regs[phone.E164()] = p.Snapshot()
	return nil
}

// Upsert stores what fn makes of the live registration (nil if none),
// atomically.
func (f *Pending) Upsert(_ context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) *domain.PendingRegistration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	var cur *domain.PendingRegistration
	if s, ok := f.regs[phone.E164()]; ok && now.Before(s.ExpiresAt) {
		cur = domain.UnmarshalPendingRegistrationFromDatabase(s)
	}
	f.regs[phone.E164()] = fn(cur).Snapshot()
	return nil
}

// Get returns a live registration or domain.ErrNoPending.
func (f *Pending) Get(_ context.Context, phone domain.PhoneNumber, now time.Time) (*domain.PendingRegistration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return nil, f.Err
	}
	s, ok := f.regs[phone.E164()]
	if !ok || !now.Before(s.ExpiresAt) {
		return nil, domain.ErrNoPending
	}
	return domain.UnmarshalPendingRegistrationFromDatabase(s), nil
}

// Delete removes the phone's registration.
func (f *Pending) Delete(_ context.Context, phone domain.PhoneNumber) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	delete(f.regs, phone.E164())
	return nil
}

// Snapshot returns what is stored for phone.
func (f *Pending) Snapshot(phone domain.PhoneNumber) (domain.PendingRegistrationSnapshot, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.regs[phone.E164()]
	return s, ok
}

type window struct {
	start time.Time
	count int
}

// Limits is a fake application.RateLimiter with fixed windows.
type Limits struct {
	mu sync.Mutex
	w  map[string]window
}

// NewLimits returns an empty fake.
func NewLimits() *Limits { return &Limits{w: map[string]window{}} }

// Allow counts one event in key's window.
func (f *Limits) Allow(_ context.Context, key string, limit int, win time.Duration, now time.Time) (application.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.w[key]
	if w.start.IsZero() || !now.Before(w.start.Add(win)) {
		w = window{start: now}
	}
	if w.count >= limit {
		return application.Decision{RetryAfter: w.start.Add(win).Sub(now)}, nil
	}
	w.count++
	f.w[key] = w
	return application.Decision{Allowed: true}, nil
}

// failWindow is a key's failures counted until end.
type failWindow struct {
	end   time.Time
	count int
}

// Lockouts is a fake application.Lockouts.
type Lockouts struct {
	mu     sync.Mutex
	fails  map[string]failWindow
	until  map[string]time.Time
	locked map[string]int // failures that set the lock
	resets int
}

// NewLockouts returns an empty fake.
func NewLockouts() *Lockouts {
	return &Lockouts{fails: map[string]failWindow{}, until: map[string]time.Time{}, locked: map[string]int{}}
}

// Check returns a live lock's end and the failures of a live window.
func (f *Lockouts) Check(_ context.Context, key string, now time.Time) (application.LockState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.until[key]; u.After(now) {
		return application.LockState{Until: u, Failures: f.locked[key]}, nil
	}
	if w, ok := f.fails[key]; ok && now.Before(w.end) {
		return application.LockState{Failures: w.count}, nil
	}
	return application.LockState{}, nil
}

// Resets returns how many times Reset was called.
func (f *Lockouts) Resets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resets
}

// Fail counts a failure and locks at max.
func (f *Lockouts) Fail(_ context.Context, key string, max int, lockFor time.Duration, now time.Time) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.fails[key]
	if w.end.IsZero() || !now.Before(w.end) {
		w = failWindow{end: now.Add(lockFor)}
	}
	w.count++
	if w.count >= max {
		f.until[key] = now.Add(lockFor)
		f.locked[key] = w.count
		delete(f.fails, key)
		return f.until[key], nil
	}
	f.fails[key] = w
	return time.Time{}, nil
}

// Reset forgets key.
func (f *Lockouts) Reset(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.fails, key)
	delete(f.until, key)
	delete(f.locked, key)
	f.resets++
	return nil
}

// Nonces is a fake application.Nonces.
type Nonces struct {
	mu   sync.Mutex
	seen map[string]time.Time
	// Floor, when set, plays a store that forgot keys under pressure:
	// every key expiring at or before it is answered stale.
	Floor time.Time
}

// NewNonces returns an empty fake.
func NewNonces() *Nonces { return &Nonces{seen: map[string]time.Time{}} }

// Claim is claimed the first time key is seen live, replayed while that
// claim lives, and stale when expiresAt is not after now or Floor.
func (f *Nonces) Claim(_ context.Context, key string, expiresAt, now time.Time) (application.NonceClaim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !expiresAt.After(now) || !expiresAt.After(f.Floor) {
		return application.NonceStale, nil
	}
	if exp, ok := f.seen[key]; ok && exp.After(now) {
		return application.NonceReplayed, nil
	}
	f.seen[key] = expiresAt
	return application.NonceClaimed, nil
}

// Hasher is a fake application.CodeHasher: unkeyed SHA-256, which is
// enough to test that only a hash is stored.
type Hasher struct{}

// HashCode hashes phone and code.
func (Hasher) HashCode(p domain.PhoneNumber, code string) []byte {
	s := sha256.Sum256([]byte(p.E164() + "\x00" + code))
	return s[:]
}

// Vault is a fake application.PasswordVault that reverses the password
// behind a marker: not secret, but a test can tell sealed from plain.
type Vault struct{}

// Seal "seals" a password.
func (Vault) Seal(p domain.PhoneNumber, pw string) ([]byte, error) {
	return []byte("sealed:" + p.E164() + ":" + reverse(pw)), nil
}

// Open reverses Seal.
func (Vault) Open(p domain.PhoneNumber, b []byte) (string, error) {
	prefix := "sealed:" + p.E164() + ":"
	if !strings.HasPrefix(string(b), prefix) {
		return "", errors.New("fake vault: not sealed for this phone")
	}
	return reverse(strings.TrimPrefix(string(b), prefix)), nil
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// Tokens is a fake application.TokenIssuer.
type Tokens struct{ TTL time.Duration }

// Issue returns "token:<user>:<session>".
func (t Tokens) Issue(userID, sessionID string, _ time.Time) (string, time.Duration, error) {
	return "token:" + userID + ":" + sessionID, t.TTL, nil
}

// SMS is a fake application.SMSSender that records codes; Fail, when set,
// is returned instead of sending.
type SMS struct {
	mu    sync.Mutex
	codes map[string]string
	sent  int
	Fail  error
}

// NewSMS returns an empty fake.
func NewSMS() *SMS { return &SMS{codes: map[string]string{}} }

// SendCode records the code, or fails with Fail.
func (f *SMS) SendCode(_ context.Context, p domain.PhoneNumber, code string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return f.Fail
	}
	f.codes[p.E164()] = code
	f.sent++
	return nil
}

// Code returns the last code sent to phone (E.164).
func (f *SMS) Code(e164 string) string { f.mu.Lock(); defer f.mu.Unlock(); return f.codes[e164] }

// Sent returns how many codes were sent.
func (f *SMS) Sent() int { f.mu.Lock(); defer f.mu.Unlock(); return f.sent }

// Fakes bundles one of each fake and the App built on them.
type Fakes struct {
	Clock    *Clock
	Users    *Users
	Pending  *Pending
	Limits   *Limits
	Lockouts *Lockouts
	Nonces   *Nonces
	SMS      *SMS
	Policy   application.Policy
	App      *application.App
}

// DefaultPolicy is SPEC §4's defaults.
func DefaultPolicy() application.Policy {
	allow, _ := domain.NewCountryAllowList([]string{"86"})
	return application.Policy{
		CodeTTL: 5 * time.Minute, ResendInterval: 60 * time.Second,
		DailyLimitPerPhone: 10, HourlyLimitPerIP: 20, HourlyLimitGlobal: 1000,
		AllowedCountries: allow, CodeMaxAttempts: 5, RegistrationTTL: 30 * time.Minute,
		Password:        domain.PasswordPolicy{MinLength: 8, MaxLength: 64},
		LoginTimeWindow: 300 * time.Second, LoginMaxFailures: 5, LoginLockout: 15 * time.Minute,
	}
}

// New builds the App on fresh fakes under policy, with the clock at now.
func New(now time.Time, policy application.Policy) *Fakes {
	f := &Fakes{
		Clock: NewClock(now), Users: NewUsers(), Pending: NewPending(), Limits: NewLimits(),
		Lockouts: NewLockouts(), Nonces: NewNonces(), SMS: NewSMS(), Policy: policy,
	}
	f.App = application.NewApp(
		application.NewSendCodeHandler(f.Users, f.Pending, f.Limits, Hasher{}, f.SMS, f.Clock, policy),
		application.NewVerifyCodeHandler(f.Pending, Hasher{}, f.Clock, policy),
		application.NewSetPasswordHandler(f.Pending, Vault{}, f.Clock, policy),
		application.NewCompleteProfileHandler(f.Users, f.Pending, f.Clock, policy),
		application.NewLoginHandler(f.Users, Vault{}, f.Lockouts, f.Nonces, Tokens{TTL: time.Hour}, f.Clock, policy),
	)
	return f
}
