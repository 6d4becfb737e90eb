package domain

import "errors"

// Domain errors. The HTTP adapter maps each to a message and reason of the
// wire contract; nothing else should be needed to tell them apart.
var (
	ErrInvalidPhone      = errors.New("invalid phone number")
	ErrInvalidEmail      = errors.New("invalid email address")
	ErrPasswordLength    = errors.New("password length out of range")
	ErrPasswordMismatch  = errors.New("password and confirmation differ")
	ErrCodeMismatch      = errors.New("verification code does not match")
	ErrCodeExpired       = errors.New("verification code expired")
	ErrTooManyAttempts   = errors.New("too many wrong verification attempts")
	ErrNoPending         = errors.New("no pending registration")
	ErrNotVerified       = errors.New("phone number not verified")
	ErrPasswordMissing   = errors.New("password not set")
	ErrUserExists        = errors.New("user already exists")
	ErrEmailTaken        = errors.New("email already taken")
	ErrUserNotFound      = errors.New("user not found")
	ErrWrongPassword     = errors.New("wrong password")
	ErrCountryNotAllowed = errors.New("country calling code not allowed")
	// ErrNoPendingCode: no live code of that purpose for that number (or
	// account): none was sent, or it expired, or it was used.
	ErrNoPendingCode = errors.New("no pending code")
	// ErrPhoneTaken: the number a phone change moves to has an account
	// (or is the account's own).
	ErrPhoneTaken = errors.New("phone number already taken")
)
