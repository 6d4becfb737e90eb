package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Store label values.
const (
	StoreUsers                = "users"
	StorePendingRegistrations = "pending_registrations"
	StorePendingCodes         = "pending_codes"
	StoreRateLimits           = "rate_limits"
	StoreLockouts             = "lockouts"
	StoreNonces               = "nonces"
	StoreSessions             = "sessions"
)

// Result label values of store operations. A store's ordinary answers
// ("not found", "already exists", a rule refused inside Update) are ok:
// only a failure of the store itself (application.ErrUnavailable) is not.
const (
	ResultOK          = "ok"
	ResultUnavailable = "unavailable"
)

// timer is one operation's pair of histogram children, resolved once so
// that a call costs two clock reads and one observation.
type timer struct{ ok, unavailable prometheus.Observer }

func (m *Metrics) timer(store, op string) timer {
	return timer{
		ok:          m.storeDuration.WithLabelValues(store, op, ResultOK),
		unavailable: m.storeDuration.WithLabelValues(store, op, ResultUnavailable),
	}
}

func (t timer) done(start time.Time, err error) {
	d := time.Since(start).Seconds()
	if err != nil && errors.Is(err, application.ErrUnavailable) {
		t.unavailable.Observe(d)
		return
	}
	t.ok.Observe(d)
}

// Users times every call to next.
func (m *Metrics) Users(next application.Users) application.Users {
	return &users{next: next,
		create: m.timer(StoreUsers, "create"), byPhone: m.timer(StoreUsers, "by_phone"), byID: m.timer(StoreUsers, "by_id"),
		exists: m.timer(StoreUsers, "exists"), revokeSessions: m.timer(StoreUsers, "revoke_sessions"),
		update: m.timer(StoreUsers, "update"), del: m.timer(StoreUsers, "delete")}
}

type users struct {
	next                                                       application.Users
	create, byPhone, byID, exists, revokeSessions, update, del timer
}

func (u *users) Update(ctx context.Context, id string, fn func(*domain.User) error) (*domain.User, error) {
	start := time.Now()
	usr, err := u.next.Update(ctx, id, fn)
	u.update.done(start, err)
	return usr, err
}

func (u *users) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := u.next.Delete(ctx, id)
	u.del.done(start, err)
	return err
}

func (u *users) Create(ctx context.Context, usr *domain.User) error {
	start := time.Now()
	err := u.next.Create(ctx, usr)
	u.create.done(start, err)
	return err
}

func (u *users) ByPhone(ctx context.Context, phone domain.PhoneNumber) (*domain.User, error) {
	start := time.Now()
	usr, err := u.next.ByPhone(ctx, phone)
	u.byPhone.done(start, err)
	return usr, err
}

func (u *users) ByID(ctx context.Context, id string) (*domain.User, error) {
	start := time.Now()
	usr, err := u.next.ByID(ctx, id)
	u.byID.done(start, err)
	return usr, err
}

func (u *users) RevokeSessions(ctx context.Context, id string) (uint64, error) {
	start := time.Now()
	gen, err := u.next.RevokeSessions(ctx, id)
	u.revokeSessions.done(start, err)
	return gen, err
}

func (u *users) Exists(ctx context.Context, phone domain.PhoneNumber) (bool, error) {
	start := time.Now()
	ok, err := u.next.Exists(ctx, phone)
	u.exists.done(start, err)
	return ok, err
}

// PendingRegistrations times every call to next.
func (m *Metrics) PendingRegistrations(next application.PendingRegistrations) application.PendingRegistrations {
	const s = StorePendingRegistrations
	return &pending{next: next,
		save: m.timer(s, "save"), update: m.timer(s, "update"), upsert: m.timer(s, "upsert"), get: m.timer(s, "get"), del: m.timer(s, "delete")}
}

type pending struct {
	next                           application.PendingRegistrations
	save, update, upsert, get, del timer
}

func (p *pending) Save(ctx context.Context, r *domain.PendingRegistration) error {
	start := time.Now()
	err := p.next.Save(ctx, r)
	p.save.done(start, err)
	return err
}

func (p *pending) Update(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) error) error {
	start := time.Now()
	err := p.next.Update(ctx, phone, now, fn)
	p.update.done(start, err)
	return err
}

func (p *pending) Upsert(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) *domain.PendingRegistration) error {
	start := time.Now()
	err := p.next.Upsert(ctx, phone, now, fn)
	p.upsert.done(start, err)
	return err
}

func (p *pending) Get(ctx context.Context, phone domain.PhoneNumber, now time.Time) (*domain.PendingRegistration, error) {
	start := time.Now()
	r, err := p.next.Get(ctx, phone, now)
	p.get.done(start, err)
	return r, err
}

func (p *pending) Delete(ctx context.Context, phone domain.PhoneNumber) error {
	start := time.Now()
	err := p.next.Delete(ctx, phone)
	p.del.done(start, err)
	return err
}

// PendingCodes times every call to next.
func (m *Metrics) PendingCodes(next application.PendingCodes) application.PendingCodes {
	const s = StorePendingCodes
	return &pendingCodes{next: next,
		upsert: m.timer(s, "upsert"), update: m.timer(s, "update"), del: m.timer(s, "delete"), expire: m.timer(s, "delete_expired")}
}

type pendingCodes struct {
	next                        application.PendingCodes
	upsert, update, del, expire timer
}

func (p *pendingCodes) Upsert(ctx context.Context, key string, now time.Time, fn func(*domain.PendingCode) *domain.PendingCode) error {
	start := time.Now()
	err := p.next.Upsert(ctx, key, now, fn)
	p.upsert.done(start, err)
	return err
}

func (p *pendingCodes) Update(ctx context.Context, key string, now time.Time, fn func(*domain.PendingCode) error) error {
	start := time.Now()
	err := p.next.Update(ctx, key, now, fn)
	p.update.done(start, err)
	return err
}

func (p *pendingCodes) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := p.next.Delete(ctx, key)
	p.del.done(start, err)
	return err
}

func (p *pendingCodes) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	start := time.Now()
	n, err := p.next.DeleteExpired(ctx, now)
	p.expire.done(start, err)
	return n, err
}

// RateLimits times every call to next.
func (m *Metrics) RateLimits(next application.RateLimits) application.RateLimits {
	return &rateLimits{next: next, update: m.timer(StoreRateLimits, "update")}
}

type rateLimits struct {
	next   application.RateLimits
	update timer
}

func (l *rateLimits) Update(ctx context.Context, key string, now time.Time, fn func(*domain.FixedWindow) error) error {
	start := time.Now()
	err := l.next.Update(ctx, key, now, fn)
	l.update.done(start, err)
	return err
}

// Lockouts times every call to next.
func (m *Metrics) Lockouts(next application.Lockouts) application.Lockouts {
	return &lockouts{next: next, update: m.timer(StoreLockouts, "update")}
}

type lockouts struct {
	next   application.Lockouts
	update timer
}

func (l *lockouts) Update(ctx context.Context, key string, now time.Time, fn func(*domain.LoginFailures) error) error {
	start := time.Now()
	err := l.next.Update(ctx, key, now, fn)
	l.update.done(start, err)
	return err
}

// Nonces times every call to next.
func (m *Metrics) Nonces(next application.Nonces) application.Nonces {
	return &nonces{next: next, claim: m.timer(StoreNonces, "claim")}
}

type nonces struct {
	next  application.Nonces
	claim timer
}

func (n *nonces) Claim(ctx context.Context, key string, expiresAt, now time.Time) (application.NonceClaim, error) {
	start := time.Now()
	c, err := n.next.Claim(ctx, key, expiresAt, now)
	n.claim.done(start, err)
	return c, err
}

// Sessions times every call to next.
func (m *Metrics) Sessions(next application.Sessions) application.Sessions {
	const s = StoreSessions
	return &sessions{next: next, update: m.timer(s, "update"), get: m.timer(s, "get"), sweep: m.timer(s, "delete_expired")}
}

type sessions struct {
	next               application.Sessions
	update, get, sweep timer
}

func (s *sessions) Update(ctx context.Context, id string, now time.Time, fn func(*domain.Session) error) error {
	start := time.Now()
	err := s.next.Update(ctx, id, now, fn)
	s.update.done(start, err)
	return err
}

func (s *sessions) Get(ctx context.Context, id string, now time.Time) (domain.Session, error) {
	start := time.Now()
	got, err := s.next.Get(ctx, id, now)
	s.get.done(start, err)
	return got, err
}

func (s *sessions) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	start := time.Now()
	n, err := s.next.DeleteExpired(ctx, now)
	s.sweep.done(start, err)
	return n, err
}
