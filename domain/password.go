package domain

import "unicode/utf8"

// PasswordPolicy is registration step 3's length rule (docs/api.md, step
// 3), counted in Unicode characters (NIST SP 800-63B 5.1.1.2).
type PasswordPolicy struct {
	MinLength int
	MaxLength int
}

// Check validates a password and its confirmation, length first, as the seed
// lists the two failures in that order.
func (p PasswordPolicy) Check(password, confirm string) error {
	if !utf8.ValidString(password) {
		return ErrPasswordLength
	}
	n := utf8.RuneCountInString(password)
	if n < p.MinLength || n > p.MaxLength {
		return ErrPasswordLength
	}
	if password != confirm {
		return ErrPasswordMismatch
	}
	return nil
}
