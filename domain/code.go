package domain

import (
	"crypto/hmac"
	"time"
)

// CodePurpose is what an SMS code was sent for. The purpose is bound into
// the code's keyed hash (with the number, and for a reset or a phone
// change the account), so a code sent for one purpose can never verify
// another, whatever a store holds.
type CodePurpose string

// The purposes a code is sent for.
const (
	PurposeRegister      CodePurpose = "register"
	PurposeResetPassword CodePurpose = "reset_password"
	PurposeChangePhone   CodePurpose = "change_phone"
)

// CodeSubject is what a code is bound to: its purpose, the number it was
// sent to, and the id of the account it was sent for: for a password
// reset the account that held the number when the code was sent (so a
// code sent to a number's previous holder is nothing to its next one),
// for a phone change the account that asked. A registration has no
// account yet (empty).
type CodeSubject struct {
	Purpose CodePurpose
	Phone   PhoneNumber
	Account string
}

// Key is the one record a store keeps for the subject's live code: a
// password reset has one per number, a phone change one per account (a
// new send replaces the account's earlier code, whatever number it went
// to).
func (s CodeSubject) Key() string {
	if s.Purpose == PurposeChangePhone {
		return string(s.Purpose) + ":" + s.Account
	}
	return string(s.Purpose) + ":" + s.Phone.E164()
}

// AccountCodeKeys are the keys under which an account's codes can be
// kept: the reset code of its number and its own phone-change code.
func AccountCodeKeys(phone PhoneNumber, account string) []string {
	return []string{
		CodeSubject{Purpose: PurposeResetPassword, Phone: phone}.Key(),
		CodeSubject{Purpose: PurposeChangePhone, Account: account}.Key(),
	}
}

// PendingCode is a code sent for a purpose other than registration (a
// registration's code lives in its PendingRegistration): stored only as its
// keyed hash, good for a few tries until it expires, and used once.
type PendingCode struct {
	subject       CodeSubject
	codeHash      []byte // nil once used or killed
	codeExpiresAt time.Time
	attempts      int
	createdAt     time.Time
}

// NewPendingCode records a freshly sent code for subject, stored only as
// its keyed hash; it replaces any earlier code under the subject's key.
func NewPendingCode(subject CodeSubject, codeHash []byte, now time.Time, ttl time.Duration) *PendingCode {
	return &PendingCode{subject: subject, codeHash: codeHash, codeExpiresAt: now.Add(ttl), createdAt: now}
}

// Subject is what the code is bound to.
func (c *PendingCode) Subject() CodeSubject { return c.subject }

// ExpiresAt is when the code stops existing; stores use it as the
// record's expiry.
func (c *PendingCode) ExpiresAt() time.Time { return c.codeExpiresAt }

// Expired reports whether the code is past its lifetime.
func (c *PendingCode) Expired(now time.Time) bool { return !now.Before(c.codeExpiresAt) }

// Verify checks a candidate code's hash in constant time, with the rules
// of a registration's code: every wrong try counts, the try that reaches
// maxAttempts kills the code, and a code verifies once (success uses it
// up). Verify changes the code whether it succeeds or not, so callers
// persist it in both cases.
func (c *PendingCode) Verify(candidate []byte, now time.Time, maxAttempts int) error {
	return checkCode(&c.codeHash, c.codeExpiresAt, &c.attempts, candidate, now, maxAttempts)
}

// checkCode is the one rule every code is checked by, a registration's
// and the other purposes' alike: a used, killed or expired code answers
// ErrCodeExpired, a dead one ErrTooManyAttempts; the candidate hash is
// compared in constant time; a wrong try counts, and the try that reaches
// maxAttempts kills the code; a right one uses the code up (*hash = nil).
func checkCode(hash *[]byte, expiresAt time.Time, attempts *int, candidate []byte, now time.Time, maxAttempts int) error {
	switch {
	case *hash == nil, !now.Before(expiresAt):
		return ErrCodeExpired
	case *attempts >= maxAttempts:
		return ErrTooManyAttempts
	}
	if !hmac.Equal(*hash, candidate) {
		*attempts++
		if *attempts >= maxAttempts {
			return ErrTooManyAttempts
		}
		return ErrCodeMismatch
	}
	*hash = nil
	return nil
}

// KillCode makes the code unable to verify, as when the SMS vendor refused
// to deliver it.
func (c *PendingCode) KillCode() { c.codeHash = nil }

// PendingCodeSnapshot is the persisted form of a PendingCode, for
// repositories only.
type PendingCodeSnapshot struct {
	Subject       CodeSubject
	CodeHash      []byte
	CodeExpiresAt time.Time
	Attempts      int
	CreatedAt     time.Time
}

// Snapshot returns the code's state for a repository to store.
func (c *PendingCode) Snapshot() PendingCodeSnapshot {
	return PendingCodeSnapshot{
		Subject:       c.subject,
		CodeHash:      c.codeHash,
		CodeExpiresAt: c.codeExpiresAt,
		Attempts:      c.attempts,
		CreatedAt:     c.createdAt,
	}
}

// UnmarshalPendingCodeFromDatabase rebuilds a code from its stored state.
// Only repositories call it.
func UnmarshalPendingCodeFromDatabase(s PendingCodeSnapshot) *PendingCode {
	return &PendingCode{
		subject:       s.Subject,
		codeHash:      s.CodeHash,
		codeExpiresAt: s.CodeExpiresAt,
		attempts:      s.Attempts,
		createdAt:     s.CreatedAt,
	}
}
