package domain

import (
	"time"
)

// PendingRegistration is a phone number on its way to becoming a User: a
// code was sent (step 1), perhaps verified (step 2), perhaps given a
// password (step 3). It lives until ExpiresAt; reads past that treat it as
// absent.
//
// A verified registration is bound to the client that verified it: only a
// client that sends its registration token, or (under BindingNetwork) one
// on the same network, may continue it; to anyone else it answers as an
// unverified one.
type PendingRegistration struct {
	phone          PhoneNumber
	codeHash       []byte // nil once used, killed or never sent
	codeExpiresAt  time.Time
	attempts       int
	verifiedAt     time.Time
	verifiedUntil  time.Time
	tokenHash      []byte // SHA-256 of the registration token handed out at step 2
	clientNet      string // network key of the client that verified
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

// RenewPendingRegistration is step 1 for a phone whose live registration
// is cur (nil if none): a fresh code replaces any earlier one, but a
// verification already made is kept, bound to its client, until it
// expires or a newer code is verified. So a stranger who asks for a code
// cannot undo the owner's verification.
func RenewPendingRegistration(cur *PendingRegistration, phone PhoneNumber, codeHash []byte, now time.Time, codeTTL time.Duration) *PendingRegistration {
	if cur == nil || cur.phone != phone || !cur.IsVerified(now) {
		return NewPendingRegistration(phone, codeHash, now, codeTTL)
	}
	next := *cur
	next.codeHash = codeHash
	next.codeExpiresAt = now.Add(codeTTL)
	next.attempts = 0
	if next.expiresAt.Before(next.codeExpiresAt) {
		// The new code may outlive the verification; the verification
		// still ends at verifiedUntil.
		next.expiresAt = next.codeExpiresAt
	}
	return &next
}

// Verify checks a candidate code's hash in constant time. Every wrong try
// counts, and the try that reaches maxAttempts kills the code; a code
// verifies once. On success the registration stays usable for ttl, bound
// to by (its token and network): by is then the only client that may
// continue it, and a password set under an earlier verification is
// dropped, so that it is the bound client's password that the account
// gets.
//
// Verify changes the registration whether it succeeds or not (the attempt
// counter), so callers persist it in both cases.
func (p *PendingRegistration) Verify(candidate []byte, now time.Time, maxAttempts int, ttl time.Duration, by RegistrationClient) error {
	if err := checkCode(&p.codeHash, p.codeExpiresAt, &p.attempts, candidate, now, maxAttempts); err != nil {
		return err
	}
	p.verifiedAt = now
	p.verifiedUntil = now.Add(ttl)
	p.expiresAt = p.verifiedUntil
	p.tokenHash = hashRegistrationToken(by.Token)
	p.clientNet = by.Net
	p.sealedPassword = nil
	return nil
}

// KillCode makes the current code unable to verify, as when the SMS vendor
// refused to deliver it.
func (p *PendingRegistration) KillCode() { p.codeHash = nil }

// IsVerified reports whether step 2 succeeded and its verification is
// still live, whoever asks.
func (p *PendingRegistration) IsVerified(now time.Time) bool {
	return !p.verifiedAt.IsZero() && now.Before(p.verifiedUntil) && !p.Expired(now)
}

// CheckContinue returns ErrNotVerified unless the registration is verified
// and by may continue it under binding. Anyone else hears exactly what an
// unverified registration answers, so a stranger cannot tell whether the
// owner has verified; steps 3 and 4 check it before anything else.
func (p *PendingRegistration) CheckContinue(now time.Time, by RegistrationClient, binding RegistrationBinding) error {
	if !p.IsVerified(now) || !p.mayContinue(by, binding) {
		return ErrNotVerified
	}
	return nil
}

// SetPassword stores the sealed password (step 3); calling it again
// replaces the password. Only a verified registration accepts one, and
// only from a client that may continue it.
func (p *PendingRegistration) SetPassword(sealed []byte, now time.Time, by RegistrationClient, binding RegistrationBinding) error {
	if err := p.CheckContinue(now, by, binding); err != nil {
		return err
	}
	p.sealedPassword = append([]byte(nil), sealed...)
	return nil
}

// SealedPasswordForProfile returns the sealed password for step 4, which
// needs a verified registration that by may continue, with a password.
func (p *PendingRegistration) SealedPasswordForProfile(now time.Time, by RegistrationClient, binding RegistrationBinding) ([]byte, error) {
	if err := p.CheckContinue(now, by, binding); err != nil {
		return nil, err
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
	VerifiedUntil  time.Time
	TokenHash      []byte
	ClientNet      string
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
		VerifiedUntil:  p.verifiedUntil,
		TokenHash:      p.tokenHash,
		ClientNet:      p.clientNet,
		SealedPassword: p.sealedPassword,
		CreatedAt:      p.createdAt,
		ExpiresAt:      p.expiresAt,
	}
}

// UnmarshalPendingRegistrationFromDatabase rebuilds a registration from its
// stored state. Only repositories call it. A record written before
// verifications had their own end was verified until it expired.
func UnmarshalPendingRegistrationFromDatabase(s PendingRegistrationSnapshot) *PendingRegistration {
	if !s.VerifiedAt.IsZero() && s.VerifiedUntil.IsZero() {
		s.VerifiedUntil = s.ExpiresAt
	}
	return &PendingRegistration{
		phone:          s.Phone,
		codeHash:       s.CodeHash,
		codeExpiresAt:  s.CodeExpiresAt,
		attempts:       s.Attempts,
		verifiedAt:     s.VerifiedAt,
		verifiedUntil:  s.VerifiedUntil,
		tokenHash:      s.TokenHash,
		clientNet:      s.ClientNet,
		sealedPassword: s.SealedPassword,
		createdAt:      s.CreatedAt,
		expiresAt:      s.ExpiresAt,
	}
}
