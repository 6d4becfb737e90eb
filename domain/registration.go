package domain

import (
	"crypto/hmac"
	"time"
)

// PendingRegistration is a phone number on its way to becoming a User: a
// code was sent (step 1), perhaps verified (step 2), perhaps given a
// password (step 3). It lives until ExpiresAt; reads past that treat it as
// absent.
type PendingRegistration struct {
	phone          PhoneNumber
	codeHash       []byte // nil once used, killed or never sent
	codeExpiresAt  time.Time
	attempts       int
	verifiedAt     time.Time
	sealedPassword []byte
	createdAt      time.Time
	expiresAt      time.Time
}

// NewPendingRegistration starts a registration with a freshly sent code,
// stored only as its keyed hash.
func NewPendingRegistration(phone PhoneNumber, codeHash []byte, now time.Time, codeTTL time.Duration) *PendingRegistration {
	return &PendingRegistration{
		phone:         phone,
		codeHash:      codeHash,
		codeExpiresAt: now.Add(codeTTL),
		createdAt:     now,
		expiresAt:     now.Add(codeTTL),
	}
}

// Verify checks a candidate code's hash in constant time. Every wrong try
// counts, and the try that reaches maxAttempts kills the code; a code
// verifies once. On success the registration stays usable for ttl.
//
// Verify changes the registration whether it succeeds or not (the attempt
// counter), so callers persist it in both cases.
func (p *PendingRegistration) Verify(candidate []byte, now time.Time, maxAttempts int, ttl time.Duration) error {
	switch {
	case p.codeHash == nil:
		return ErrCodeExpired
	case !now.Before(p.codeExpiresAt):
		return ErrCodeExpired
	case p.attempts >= maxAttempts:
		return ErrTooManyAttempts
	}
	if !hmac.Equal(p.codeHash, candidate) {
		p.attempts++
		if p.attempts >= maxAttempts {
			return ErrTooManyAttempts
		}
		return ErrCodeMismatch
	}
	p.codeHash = nil
	p.verifiedAt = now
	p.expiresAt = now.Add(ttl)
	return nil
}

// KillCode makes the current code unable to verify, as when the SMS vendor
// refused to deliver it.
func (p *PendingRegistration) KillCode() { p.codeHash = nil }

// IsVerified reports whether step 2 succeeded and the registration is live.
func (p *PendingRegistration) IsVerified(now time.Time) bool {
	return !p.verifiedAt.IsZero() && !p.Expired(now)
}

// SetPassword stores the sealed password (step 3); calling it again
// replaces the password. Only a verified registration accepts one.
func (p *PendingRegistration) SetPassword(sealed []byte, now time.Time) error {
	if !p.IsVerified(now) {
		return ErrNotVerified
	}
	p.sealedPassword = append([]byte(nil), sealed...)
	return nil
}

// SealedPasswordForProfile returns the sealed password for step 4, which
// needs a verified registration with a password.
func (p *PendingRegistration) SealedPasswordForProfile(now time.Time) ([]byte, error) {
	if !p.IsVerified(now) {
		return nil, ErrNotVerified
	}
	if len(p.sealedPassword) == 0 {
		return nil, ErrPasswordMissing
	}
	return p.sealedPassword, nil
}

// Expired reports whether the registration is past its lifetime.
func (p *PendingRegistration) Expired(now time.Time) bool { return !now.Before(p.expiresAt) }

// Phone returns the number being registered.
func (p *PendingRegistration) Phone() PhoneNumber { return p.phone }

// ExpiresAt returns when the registration stops existing.
func (p *PendingRegistration) ExpiresAt() time.Time { return p.expiresAt }

// PendingRegistrationSnapshot is the persisted form of a PendingRegistration,
// for repositories only.
type PendingRegistrationSnapshot struct {
	Phone          PhoneNumber
	CodeHash       []byte
	CodeExpiresAt  time.Time
	Attempts       int
	VerifiedAt     time.Time
	SealedPassword []byte
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// Snapshot returns the registration's state for a repository to store.
func (p *PendingRegistration) Snapshot() PendingRegistrationSnapshot {
	return PendingRegistrationSnapshot{
		Phone:          p.phone,
		CodeHash:       p.codeHash,
		CodeExpiresAt:  p.codeExpiresAt,
		Attempts:       p.attempts,
		VerifiedAt:     p.verifiedAt,
		SealedPassword: p.sealedPassword,
		CreatedAt:      p.createdAt,
		ExpiresAt:      p.expiresAt,
	}
}

// UnmarshalPendingRegistrationFromDatabase rebuilds a registration from its
// stored state. Only repositories call it.
func UnmarshalPendingRegistrationFromDatabase(s PendingRegistrationSnapshot) *PendingRegistration {
	return &PendingRegistration{
		phone:          s.Phone,
		codeHash:       s.CodeHash,
		codeExpiresAt:  s.CodeExpiresAt,
		attempts:       s.Attempts,
		verifiedAt:     s.VerifiedAt,
		sealedPassword: s.SealedPassword,
		createdAt:      s.CreatedAt,
		expiresAt:      s.ExpiresAt,
	}
}
