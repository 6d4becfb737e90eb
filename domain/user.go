package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"
)

// User is a registered account. Its password is held only sealed; the
// application opens it with the vault to check a login proof.
type User struct {
	id             string
	phone          PhoneNumber
	email          Email
	sealedPassword []byte
	createdAt      time.Time
	// sessionGeneration counts the revocations of every session of the
	// account. Each session's tokens carry the generation it was opened
	// under, and only tokens of the current one are accepted: a count, not
	// a time, so that a session opened in the same second as a revocation
	// is told apart from one opened just before it.
	sessionGeneration uint64
}

// NewUser builds a user from a finished registration.
func NewUser(id string, phone PhoneNumber, email Email, sealedPassword []byte, now time.Time) *User {
	return &User{id: id, phone: phone, email: email, sealedPassword: sealedPassword, createdAt: now}
}

// ID returns the user's stable identifier.
func (u *User) ID() string { return u.id }

// Phone returns the account's phone number.
func (u *User) Phone() PhoneNumber { return u.phone }

// Email returns the account's email address.
func (u *User) Email() Email { return u.email }

// SealedPassword returns the encrypted password.
func (u *User) SealedPassword() []byte { return u.sealedPassword }

// CreatedAt returns when the account was created.
func (u *User) CreatedAt() time.Time { return u.createdAt }

// SessionGeneration is the generation new sessions are opened under.
func (u *User) SessionGeneration() uint64 { return u.sessionGeneration }

// AcceptsSession reports whether a session opened under generation is
// still accepted: none opened before the latest RevokeSessions is.
func (u *User) AcceptsSession(generation uint64) bool { return generation == u.sessionGeneration }

// RevokeSessions ends every session opened so far, as logging out
// everywhere and every change of the account's credentials do. Stores
// apply it atomically with the write (or do the same increment in place).
func (u *User) RevokeSessions() { u.sessionGeneration++ }

// ChangePassword replaces the sealed password (a reset, or a change by
// the logged-in owner) and ends every session opened so far.
func (u *User) ChangePassword(sealed []byte) {
	u.sealedPassword = append([]byte(nil), sealed...)
	u.RevokeSessions()
}

// ChangePhone moves the account to phone, with its password sealed again
// under the new number (the number is the seal's associated data), and
// ends every session opened so far. The id, email and creation time stay.
func (u *User) ChangePhone(phone PhoneNumber, sealed []byte) {
	u.phone = phone
	u.sealedPassword = append([]byte(nil), sealed...)
	u.RevokeSessions()
}

// RestoreUser rebuilds a stored user whose number the repository already
// holds parsed: the key it looked the record up by. The email was
// validated and normalised when the user was made and is taken as stored.
func RestoreUser(id string, phone PhoneNumber, email string, sealedPassword []byte, createdAt time.Time, sessionGeneration uint64) *User {
	return &User{id: id, phone: phone, email: Email{addr: email}, sealedPassword: sealedPassword, createdAt: createdAt, sessionGeneration: sessionGeneration}
}

// LoginProof is the seed's client-side hash:
// lowercase hex SHA-256 of password ‖ random_str ‖ time_stamp.
func LoginProof(password, randomStr, timeStamp string) string {
	h := sha256.New()
	h.Write([]byte(password))
	h.Write([]byte(randomStr))
	h.Write([]byte(timeStamp))
	return hex.EncodeToString(h.Sum(nil))
}

// CheckLoginProof compares a client's proof with the expected one in
// constant time, case-insensitively on the hex digits.
func CheckLoginProof(password, randomStr, timeStamp, proof string) bool {
	want := LoginProof(password, randomStr, timeStamp)
	got := strings.ToLower(proof)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
