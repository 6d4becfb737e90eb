package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/phoneauth/phoneauth/domain"
)

// sealVersion is the first byte of every sealed password, so the layout
// can change without guessing.
const sealVersion = 1

// Vault seals passwords with AES-256-GCM: version ‖ key id ‖ nonce ‖
// ciphertext+tag, with the phone number as associated data so a sealed
// password moved to another account does not open. The key id (the first
// four bytes of SHA-256 of the key) lets old keys keep opening what they
// sealed after the current key is rotated.
type Vault struct {
	current uint32
	aeads   map[uint32]cipher.AEAD
}

// ErrSealedCorrupt is returned for a sealed password that does not open:
// wrong key, unknown key id, or damaged bytes.
var ErrSealedCorrupt = errors.New("sealed password does not open")

// NewVault seals with current and opens with current or any of old. Every
// key must be 32 bytes.
func NewVault(current []byte, old ...[]byte) (*Vault, error) {
	v := &Vault{aeads: map[uint32]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, old...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("password key %d: need %d bytes, have %d", i, KeySize, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := keyID(k)
		if i == 0 {
			v.current = id
		}
		v.aeads[id] = aead
	}
	return v, nil
}

func keyID(k []byte) uint32 {
	sum := sha256.Sum256(k)
	return binary.BigEndian.Uint32(sum[:4])
}

// Seal encrypts password for phone under the current key.
func (v *Vault) Seal(phone domain.PhoneNumber, password string) ([]byte, error) {
	aead := v.aeads[v.current]
	out := make([]byte, 5+aead.NonceSize(), 5+aead.NonceSize()+len(password)+aead.Overhead())
	out[0] = sealVersion
	binary.BigEndian.PutUint32(out[1:5], v.current)
	if _, err := rand.Read(out[5:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return aead.Seal(out, out[5:], []byte(password), []byte(phone.E164())), nil
}

// Open decrypts what Seal produced for the same phone.
func (v *Vault) Open(phone domain.PhoneNumber, sealed []byte) (string, error) {
	if len(sealed) < 5 || sealed[0] != sealVersion {
		return "", ErrSealedCorrupt
	}
	aead, ok := v.aeads[binary.BigEndian.Uint32(sealed[1:5])]
	if !ok || len(sealed) < 5+aead.NonceSize()+aead.Overhead() {
		return "", ErrSealedCorrupt
	}
	nonce, ct := sealed[5:5+aead.NonceSize()], sealed[5+aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, []byte(phone.E164()))
	if err != nil {
		return "", ErrSealedCorrupt
	}
	return string(pt), nil
}
