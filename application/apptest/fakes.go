// Package apptest holds hand-written fakes of the application ports, for
// unit tests of the use cases and of the HTTP adapter. They keep state in
// maps under one mutex and follow each port's contract, nothing more; the
// real adapters are tested against the same contracts elsewhere.
package apptest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	// Codes, when set, is the store of pending codes that Delete clears
	// of the account's codes, as the real stores' Delete does.
	Codes *Codes
}

// NewUsers returns an empty fake.
func NewUsers() *Users { return &Users{byPhone: map[string]*domain.User{}, emails: map[string]bool{}} }

// Create stores (a copy of) u unless its phone or email is taken.
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
	c := *u
	f.byPhone[u.Phone().E164()] = &c
	f.emails[u.Email().String()] = true
	return nil
}

// ByPhone returns (a copy of) the user or domain.ErrUserNotFound.
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
	c := *u
	return &c, nil
}

// ByID returns (a copy of) the user with that id or domain.ErrUserNotFound.
func (f *Users) ByID(_ context.Context, id string) (*domain.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return nil, f.Err
	}
	u := f.byID(id)
	if u == nil {
		return nil, domain.ErrUserNotFound
	}
	c := *u
	return &c, nil
}

// RevokeSessions moves the user to its next session generation.
func (f *Users) RevokeSessions(_ context.Context, id string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return 0, f.Err
	}
	u := f.byID(id)
	if u == nil {
		return 0, domain.ErrUserNotFound
	}
	u.RevokeSessions()
	return u.SessionGeneration(), nil
}

func (f *Users) byID(id string) *domain.User {
	for _, u := range f.byPhone {
		if u.ID() == id {
			return u
		}
	}
	return nil
}

// Update applies fn to a copy of the account and stores it, re-keyed if
// fn moved it to another number (domain.ErrPhoneTaken if that number has
// an account).
func (f *Users) Update(_ context.Context, id string, fn func(*domain.User) error) (*domain.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return nil, f.Err
	}
	u := f.byID(id)
	if u == nil {
		return nil, domain.ErrUserNotFound
	}
	c := *u
	if err := fn(&c); err != nil {
		return nil, err
	}
	if c.Phone() != u.Phone() {
		if f.byPhone[c.Phone().E164()] != nil {
			return nil, domain.ErrPhoneTaken
		}
		delete(f.byPhone, u.Phone().E164())
	}
	stored := c
	f.byPhone[c.Phone().E164()] = &stored
	return &c, nil
}

// Delete removes the user with that id.
func (f *Users) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	u := f.byID(id)
	if u == nil {
		return domain.ErrUserNotFound
	}
	delete(f.byPhone, u.Phone().E164())
	delete(f.emails, u.Email().String())
	if f.Codes != nil {
		f.Codes.mu.Lock()
		for _, key := range domain.AccountCodeKeys(u.Phone(), u.ID()) {
			delete(f.Codes.codes, key)
		}
		f.Codes.mu.Unlock()
	}
	return nil
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

// Codes is a fake application.PendingCodes storing snapshots, so a test
// sees exactly what a real store would persist.
type Codes struct {
	mu    sync.Mutex
	codes map[string]domain.PendingCodeSnapshot
	Err   error // returned by every call when set
}

// NewCodes returns an empty fake.
func NewCodes() *Codes { return &Codes{codes: map[string]domain.PendingCodeSnapshot{}} }

func (f *Codes) live(key string, now time.Time) *domain.PendingCode {
	s, ok := f.codes[key]
	if !ok || !now.Before(s.CodeExpiresAt) {
		return nil
	}
	return domain.UnmarshalPendingCodeFromDatabase(s)
}

// Upsert stores what fn makes of key's live code (nil if none).
func (f *Codes) Upsert(_ context.Context, key string, now time.Time, fn func(*domain.PendingCode) *domain.PendingCode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	c := fn(f.live(key, now))
	if c.Subject().Key() != key {
		return errors.New("fake codes: fn made a code of another key")
	}
	f.codes[key] = c.Snapshot()
	return nil
}

// Update applies fn to key's live code and stores it, even when fn
// fails (a wrong try counts); domain.ErrNoPendingCode if there is none.
func (f *Codes) Update(_ context.Context, key string, now time.Time, fn func(*domain.PendingCode) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	c := f.live(key, now)
	if c == nil {
		return domain.ErrNoPendingCode
	}
	err := fn(c)
	f.codes[key] = c.Snapshot()
	return err
}

// Delete removes key's code.
func (f *Codes) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	delete(f.codes, key)
	return nil
}

// DeleteExpired drops the codes past their expiry.
func (f *Codes) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, s := range f.codes {
		if !now.Before(s.CodeExpiresAt) {
			delete(f.codes, k)
			n++
		}
	}
	return n, nil
}

// Snapshot returns what is stored under key, expired or not.
func (f *Codes) Snapshot(key string) (domain.PendingCodeSnapshot, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.codes[key]
	return s, ok
}

// Len returns how many codes are stored, expired ones included.
func (f *Codes) Len() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.codes) }

// records is a map of domain values updated atomically under one mutex:
// the whole of what a store of limits does. The rules are the domain's.
type records[V comparable] struct {
	mu      sync.Mutex
	m       map[string]V
	expires func(V) time.Time
	empty   func(V) bool
}

func (r *records[V]) update(key string, now time.Time, fn func(*V) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[key]
	if !ok || !now.Before(r.expires(v)) {
		var zero V
		v = zero
	}
	if err := fn(&v); err != nil {
		return err
	}
	if r.empty(v) {
		delete(r.m, key)
	} else {
		r.m[key] = v
	}
	return nil
}

func (r *records[V]) deleteExpired(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, v := range r.m {
		if !now.Before(r.expires(v)) {
			delete(r.m, k)
			n++
		}
	}
	return n
}

// Limits is a fake application.RateLimits (and application.Expirer). It
// passes the store contract suite.
type Limits struct{ r records[domain.FixedWindow] }

// NewLimits returns an empty fake.
func NewLimits() *Limits {
	return &Limits{r: records[domain.FixedWindow]{
		m:       map[string]domain.FixedWindow{},
		expires: domain.FixedWindow.End,
		empty:   domain.FixedWindow.Empty,
	}}
}

// Update applies fn to key's window.
func (f *Limits) Update(_ context.Context, key string, now time.Time, fn func(*domain.FixedWindow) error) error {
	return f.r.update(key, now, fn)
}

// DeleteExpired drops ended windows.
func (f *Limits) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	return f.r.deleteExpired(now), nil
}

// Lockouts is a fake application.Lockouts (and application.Expirer). It
// passes the store contract suite.
type Lockouts struct{ r records[domain.LoginFailures] }

// NewLockouts returns an empty fake.
func NewLockouts() *Lockouts {
	return &Lockouts{r: records[domain.LoginFailures]{
		m:       map[string]domain.LoginFailures{},
		expires: domain.LoginFailures.ExpiresAt,
		empty:   domain.LoginFailures.Empty,
	}}
}

// Update applies fn to key's failures.
func (f *Lockouts) Update(_ context.Context, key string, now time.Time, fn func(*domain.LoginFailures) error) error {
	return f.r.update(key, now, fn)
}

// DeleteExpired drops ended windows and locks.
func (f *Lockouts) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	return f.r.deleteExpired(now), nil
}

// Sessions is a fake application.Sessions storing snapshots, so a test
// sees exactly what a real store would persist. It counts the writes it
// made, and with Rerun set it runs every fn once more on a copy it throws
// away before the run that counts, as a store that retries may.
type Sessions struct {
	mu     sync.Mutex
	m      map[string]domain.SessionSnapshot
	writes int
	Rerun  bool
	Err    error // returned by every call when set
}

// NewSessions returns an empty fake.
func NewSessions() *Sessions { return &Sessions{m: map[string]domain.SessionSnapshot{}} }

func (f *Sessions) live(id string, now time.Time) domain.Session {
	s, ok := f.m[id]
	if !ok || !now.Before(s.RetainUntil) {
		return domain.Session{}
	}
	return domain.RestoreSession(s)
}

// Update applies fn to id's session atomically and stores what changed.
func (f *Sessions) Update(_ context.Context, id string, now time.Time, fn func(*domain.Session) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	if f.Rerun {
		s := f.live(id, now)
		_ = fn(&s)
	}
	s := f.live(id, now)
	before := s
	if err := fn(&s); err != nil {
		return err
	}
	if s == before {
		return nil
	}
	if s.ID() != id {
		return errors.New("fake sessions: fn moved the session to another id")
	}
	f.m[id] = s.Snapshot()
	f.writes++
	return nil
}

// Get returns id's live session, or the zero one.
func (f *Sessions) Get(_ context.Context, id string, now time.Time) (domain.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return domain.Session{}, f.Err
	}
	return f.live(id, now), nil
}

// DeleteExpired drops the records past their retention.
func (f *Sessions) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for id, s := range f.m {
		if !now.Before(s.RetainUntil) {
			delete(f.m, id)
			n++
		}
	}
	return n, nil
}

// Writes returns how many writes Update made.
func (f *Sessions) Writes() int { f.mu.Lock(); defer f.mu.Unlock(); return f.writes }

// Len returns how many records are stored, expired ones included.
func (f *Sessions) Len() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.m) }

// Alarms is a fake application.Alarms counting what it heard.
type Alarms struct {
	mu    sync.Mutex
	spent int
}

// CodeFailuresBudgetSpent counts one alarm.
func (a *Alarms) CodeFailuresBudgetSpent(int, time.Time) { a.mu.Lock(); a.spent++; a.mu.Unlock() }

// Spent returns how many alarms were raised.
func (a *Alarms) Spent() int { a.mu.Lock(); defer a.mu.Unlock(); return a.spent }

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

// HashCode hashes the subject and code.
func (Hasher) HashCode(s domain.CodeSubject, code string) []byte {
	sum := sha256.Sum256([]byte(string(s.Purpose) + "\x00" + s.Phone.E164() + "\x00" + s.Account + "\x00" + code))
	return sum[:]
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

// Signer is a fake application.Tokens: deterministic, as the port
// requires, with the precision of real tokens (access times in whole
// seconds, refresh times in milliseconds), so a test sees what survives a
// round trip. A token is the kind, the claims as JSON, and a SHA-256 over
// both under a fixed key: not secret, but a changed byte is refused.
type Signer struct{}

type signed struct {
	Kind       string `json:"k"`
	UserID     string `json:"u"`
	SessionID  string `json:"s"`
	Generation uint64 `json:"g"`
	Seq        uint64 `json:"n,omitempty"`
	IssuedAt   int64  `json:"i"`
	ExpiresAt  int64  `json:"e"`
}

const signerKey = "apptest-signer-key"

func (Signer) sign(c signed) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(b)
	mac := sha256.Sum256([]byte(signerKey + body))
	return body + "." + base64.RawURLEncoding.EncodeToString(mac[:]), nil
}

func (Signer) parse(token, kind string) (signed, error) {
	var c signed
	body, mac, ok := strings.Cut(token, ".")
	want := sha256.Sum256([]byte(signerKey + body))
	if !ok || mac != base64.RawURLEncoding.EncodeToString(want[:]) {
		return c, fmt.Errorf("%w: bad signature", application.ErrInvalidToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Kind != kind {
		return signed{}, fmt.Errorf("%w: not a %s token", application.ErrInvalidToken, kind)
	}
	return c, nil
}

// IssueAccess signs access claims.
func (s Signer) IssueAccess(c application.AccessClaims) (string, error) {
	return s.sign(signed{Kind: "access", UserID: c.UserID, SessionID: c.SessionID, Generation: c.Generation,
		IssuedAt: c.IssuedAt.Unix(), ExpiresAt: c.ExpiresAt.Unix()})
}

// ParseAccess checks an access token at now.
func (s Signer) ParseAccess(token string, now time.Time) (application.AccessClaims, error) {
	c, err := s.parse(token, "access")
	if err != nil {
		return application.AccessClaims{}, err
	}
	exp := time.Unix(c.ExpiresAt, 0).UTC()
	if !now.Before(exp) {
		return application.AccessClaims{}, fmt.Errorf("%w: expired", application.ErrInvalidToken)
	}
	return application.AccessClaims{UserID: c.UserID, SessionID: c.SessionID, Generation: c.Generation,
		IssuedAt: time.Unix(c.IssuedAt, 0).UTC(), ExpiresAt: exp}, nil
}

// IssueRefresh signs refresh claims.
func (s Signer) IssueRefresh(c application.RefreshClaims) (string, error) {
	return s.sign(signed{Kind: "refresh", UserID: c.UserID, SessionID: c.SessionID, Generation: c.Generation, Seq: c.Seq,
		IssuedAt: c.IssuedAt.UnixMilli(), ExpiresAt: c.ExpiresAt.UnixMilli()})
}

// ParseRefresh checks a refresh token at now.
func (s Signer) ParseRefresh(token string, now time.Time) (application.RefreshClaims, error) {
	c, err := s.parse(token, "refresh")
	if err != nil {
		return application.RefreshClaims{}, err
	}
	exp := time.UnixMilli(c.ExpiresAt).UTC()
	if !now.Before(exp) {
		return application.RefreshClaims{}, fmt.Errorf("%w: expired", application.ErrInvalidToken)
	}
	return application.RefreshClaims{UserID: c.UserID, SessionID: c.SessionID, Generation: c.Generation, Seq: c.Seq,
		IssuedAt: time.UnixMilli(c.IssuedAt).UTC(), ExpiresAt: exp}, nil
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

// Fakes bundles one of each fake, the App built on them (its tokens
// signed by Signer), and the session use cases of the App again, by name.
type Fakes struct {
	Clock    *Clock
	Users    *Users
	Pending  *Pending
	Codes    *Codes
	Limits   *Limits
	Lockouts *Lockouts
	Alarms   *Alarms
	Nonces   *Nonces
	SMS      *SMS
	Sessions *Sessions
	Policy   application.Policy
	App      *application.App

	Issuer       *application.SessionIssuer
	Refresh      *application.RefreshHandler
	Authenticate *application.AuthenticateHandler
	Me           *application.MeHandler
	Logout       *application.LogoutHandler
}

// DefaultPolicy is the service's default configuration (docs/api.md,
// Configuration).
func DefaultPolicy() application.Policy {
	allow, _ := domain.NewCountryAllowList([]string{"86"})
	return application.Policy{
		CodeTTL: 5 * time.Minute, ResendInterval: 60 * time.Second,
		DailyLimitPerPhone: 10, HourlyLimitPerIP: 20, HourlyLimitGlobal: 1000,
		AllowedCountries: allow, CodeMaxAttempts: 5, RegistrationTTL: 30 * time.Minute,
		Password:        domain.PasswordPolicy{MinLength: 8, MaxLength: 64},
		LoginTimeWindow: 300 * time.Second, LoginMaxFailures: 5, LoginLockout: 15 * time.Minute,
		FailuresHourlyPerNet: 50, CodeDailyFailuresPerPhone: 10, CodeHourlyFailuresGlobal: 2000,
		LoginHourlyLimitPerAccount: 60,
		AccessTTL:                  7 * 24 * time.Hour, RefreshTTL: 30 * 24 * time.Hour, RefreshReuseGrace: 10 * time.Second,
	}
}

// New builds the App on fresh fakes under policy, with the clock at now.
func New(now time.Time, policy application.Policy) *Fakes {
	f := &Fakes{
		Clock: NewClock(now), Users: NewUsers(), Pending: NewPending(), Codes: NewCodes(), Limits: NewLimits(),
		Lockouts: NewLockouts(), Alarms: &Alarms{}, Nonces: NewNonces(), SMS: NewSMS(), Sessions: NewSessions(), Policy: policy,
	}
	f.Users.Codes = f.Codes
	f.Issuer = application.NewSessionIssuer(Signer{}, policy)
	f.Refresh = application.NewRefreshHandler(f.Issuer, f.Users, f.Sessions, f.Clock, policy)
	f.Authenticate = application.NewAuthenticateHandler(Signer{}, f.Users, f.Sessions, f.Clock, policy)
	f.Me = application.NewMeHandler()
	f.Logout = application.NewLogoutHandler(f.Authenticate, f.Users, f.Sessions, f.Clock, policy)
	guard := application.NewCodeGuard(f.Limits, f.Alarms, policy)
	f.App = &application.App{
		SendCode:        application.NewSendCodeHandler(f.Users, f.Pending, f.Limits, Hasher{}, f.SMS, f.Clock, policy),
		VerifyCode:      application.NewVerifyCodeHandler(f.Pending, Hasher{}, guard, f.Clock, policy),
		SetPassword:     application.NewSetPasswordHandler(f.Pending, Vault{}, f.Clock, policy),
		CompleteProfile: application.NewCompleteProfileHandler(f.Users, f.Pending, f.Limits, f.Clock, policy),
		Login:           application.NewLoginHandler(f.Users, Vault{}, f.Lockouts, f.Limits, f.Nonces, f.Issuer, f.Clock, policy),
		Refresh:         f.Refresh,
		Authenticate:    f.Authenticate,
		Me:              f.Me,
		Logout:          f.Logout,

		ResetPasswordSend: application.NewResetPasswordSendHandler(f.Users, f.Codes, f.Limits, Hasher{}, f.SMS, f.Clock, policy),
		ResetPassword:     application.NewResetPasswordHandler(f.Users, f.Codes, Vault{}, f.Lockouts, Hasher{}, guard, f.Clock, policy),
		ChangePassword:    application.NewChangePasswordHandler(f.Users, Vault{}, f.Lockouts, f.Limits, f.Nonces, f.Issuer, f.Clock, policy),
		ChangePhoneSend:   application.NewChangePhoneSendHandler(f.Users, f.Codes, Vault{}, f.Lockouts, f.Limits, f.Nonces, Hasher{}, f.SMS, f.Clock, policy),
		ChangePhone:       application.NewChangePhoneHandler(f.Users, f.Codes, Vault{}, Hasher{}, guard, f.Issuer, f.Clock),
		DeleteAccount:     application.NewDeleteAccountHandler(f.Users, Vault{}, f.Lockouts, f.Limits, f.Nonces, f.Clock, policy),
	}
	return f
}
