package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"

	"github.com/phoneauth/phoneauth/domain"
)

// CodeHasher keys SMS codes with HMAC-SHA-256 so a stolen store reveals no
// code. The phone number and a purpose label are bound into the MAC, so a
// code is worth nothing for another number or (later) another purpose.
type CodeHasher struct {
	pool sync.Pool
}

// codePurpose labels registration codes; password reset will use another.
const codePurpose = "register"

// NewCodeHasher builds a hasher over key (at least 32 bytes).
func NewCodeHasher(key []byte) *CodeHasher {
	k := append([]byte(nil), key...)
	return &CodeHasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}}
}

// HashCode returns HMAC(key, purpose ‖ 0 ‖ phone ‖ 0 ‖ code).
func (h *CodeHasher) HashCode(phone domain.PhoneNumber, code string) []byte {
	m := h.pool.Get().(hash.Hash)
	defer h.pool.Put(m)
	m.Reset()
	m.Write([]byte(codePurpose))
	m.Write([]byte{0})
	m.Write([]byte(phone.E164()))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}
