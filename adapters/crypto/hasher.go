package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"

	"github.com/phoneauth/phoneauth/domain"
)

// CodeHasher keys SMS codes with HMAC-SHA-256 so a stolen store reveals no
// code. The code's subject is bound into the MAC: its purpose, the phone
// number it was sent to, and the account it was sent for (a password
// reset's, a phone change's), so a code is worth nothing for another
// number, purpose or account.
type CodeHasher struct {
	pool sync.Pool
}

// NewCodeHasher builds a hasher over key (at least 32 bytes).
func NewCodeHasher(key []byte) *CodeHasher {
	k := append([]byte(nil), key...)
	return &CodeHasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}}
}

// HashCode returns HMAC(key, purpose ‖ 0 ‖ phone ‖ 0 ‖ code), with the
// account (‖ account ‖ 0) before the code whenever the subject names one
// (a reset's, a phone change's; a registration has no account yet). The
// registration form is the one codes were hashed with before purposes
// had siblings, so codes sent before an upgrade still verify after it.
// No two subjects give the same input: the purposes differ in their
// first bytes, a number (E.164, a '+' and digits) holds no 0 byte, and
// an account id is never empty and holds none either.
func (h *CodeHasher) HashCode(s domain.CodeSubject, code string) []byte {
	m := h.pool.Get().(hash.Hash)
	defer h.pool.Put(m)
	m.Reset()
	m.Write([]byte(s.Purpose))
	m.Write([]byte{0})
	m.Write([]byte(s.Phone.E164()))
	m.Write([]byte{0})
	if s.Account != "" {
		m.Write([]byte(s.Account))
		m.Write([]byte{0})
	}
	m.Write([]byte(code))
	return m.Sum(nil)
}
