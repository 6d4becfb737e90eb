package crypto_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/domain"
)

var (
	alice = domain.MustParsePhoneNumber("15850551102")
	bob   = domain.MustParsePhoneNumber("+14155552671")
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, crypto.KeySize) }

// reg is the subject of a registration code sent to phone.
func reg(phone domain.PhoneNumber) domain.CodeSubject {
	return domain.CodeSubject{Purpose: domain.PurposeRegister, Phone: phone}
}

func TestVaultRoundTripAndBinding(t *testing.T) {
	v, err := crypto.NewVault(key(1))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := v.Seal(alice, "correct horse 密码")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("correct horse")) {
		t.Fatal("sealed password holds the plaintext")
	}
	got, err := v.Open(alice, sealed)
	if err != nil || got != "correct horse 密码" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := v.Seal(alice, "correct horse 密码")
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one password are equal: nonce reused")
	}
	if _, err := v.Open(bob, sealed); !errors.Is(err, crypto.ErrSealedCorrupt) {
		t.Fatalf("opened under another phone: %v", err)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := v.Open(alice, tampered); !errors.Is(err, crypto.ErrSealedCorrupt) {
		t.Fatalf("opened tampered bytes: %v", err)
	}
	for _, short := range [][]byte{nil, {1}, sealed[:10]} {
		if _, err := v.Open(alice, short); !errors.Is(err, crypto.ErrSealedCorrupt) {
			t.Fatalf("opened %d bytes: %v", len(short), err)
		}
	}
}

func TestVaultRotation(t *testing.T) {
	old, _ := crypto.NewVault(key(1))
	sealedOld, _ := old.Seal(alice, "password1")

	rotated, err := crypto.NewVault(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(alice, sealedOld); err != nil || got != "password1" {
		t.Fatalf("rotated vault cannot open old seal: %q %v", got, err)
	}
	sealedNew, _ := rotated.Seal(alice, "password2")
	if _, err := old.Open(alice, sealedNew); !errors.Is(err, crypto.ErrSealedCorrupt) {
		t.Fatalf("old vault opened a seal under the new key: %v", err)
	}
	if _, err := crypto.NewVault(key(1)[:16]); err == nil {
		t.Fatal("accepted a 16-byte key")
	}
}

func TestCodeHasher(t *testing.T) {
	h := crypto.NewCodeHasher(key(3))
	a := h.HashCode(reg(alice), "123456")
	if !bytes.Equal(a, h.HashCode(reg(alice), "123456")) {
		t.Fatal("hash not deterministic")
	}
	if len(a) != 32 {
		t.Fatalf("hash is %d bytes", len(a))
	}
	for name, other := range map[string][]byte{
		"other code":  h.HashCode(reg(alice), "123457"),
		"other phone": h.HashCode(reg(bob), "123456"),
		"other key":   crypto.NewCodeHasher(key(4)).HashCode(reg(alice), "123456"),
		"reset":       h.HashCode(domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: alice, Account: "a1"}, "123456"),
		"change":      h.HashCode(domain.CodeSubject{Purpose: domain.PurposeChangePhone, Phone: alice, Account: "a1"}, "123456"),
	} {
		if bytes.Equal(a, other) {
			t.Errorf("%s gives the same hash", name)
		}
	}
	// A phone change's code is bound to the account that asked for it.
	change := func(account string) []byte {
		return h.HashCode(domain.CodeSubject{Purpose: domain.PurposeChangePhone, Phone: alice, Account: account}, "123456")
	}
	if bytes.Equal(change("a1"), change("a2")) {
		t.Error("two accounts' phone-change codes hash alike")
	}
	// So is a reset code: the number's previous holder's code is worth
	// nothing for its next one.
	reset := func(account string) []byte {
		return h.HashCode(domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: alice, Account: account}, "123456")
	}
	if bytes.Equal(reset("a1"), reset("a2")) {
		t.Error("two accounts' reset codes for one number hash alike")
	}
	m := hmac.New(sha256.New, key(3))
	m.Write([]byte("reset_password\x00+8615850551102\x00a1\x00123456"))
	if !bytes.Equal(reset("a1"), m.Sum(nil)) {
		t.Error("a reset code does not hash as HMAC(reset_password 0 phone 0 account 0 code)")
	}
	// A registration code hashes as before purposes had siblings, so
	// codes sent before an upgrade verify after it.
	m = hmac.New(sha256.New, key(3))
	m.Write([]byte("register\x00+8615850551102\x00123456"))
	if !bytes.Equal(a, m.Sum(nil)) {
		t.Error("a registration code no longer hashes as HMAC(register 0 phone 0 code)")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := crypto.LoadOrCreateKey("PASSWORD_KEY", "", dir, "password.key")
	if err != nil || len(k1) != crypto.KeySize {
		t.Fatalf("create: %d bytes, %v", len(k1), err)
	}
	st, err := os.Stat(filepath.Join(dir, "password.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st, err)
	}
	k2, err := crypto.LoadOrCreateKey("PASSWORD_KEY", "", dir, "password.key")
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("second load returned another key")
	}
	given := base64.StdEncoding.EncodeToString(key(7))
	k3, err := crypto.LoadOrCreateKey("PASSWORD_KEY", given, dir, "password.key")
	if err != nil || !bytes.Equal(k3, key(7)) {
		t.Fatalf("configured key not used: %v", err)
	}
	short := base64.StdEncoding.EncodeToString([]byte("tiny-secret"))
	_, err = crypto.LoadOrCreateKey("TOKEN_KEY", short, dir, "token.key")
	if err == nil || !strings.Contains(err.Error(), "TOKEN_KEY") || strings.Contains(err.Error(), short) {
		t.Fatalf("short key error = %v", err)
	}
	if _, err := crypto.DecodeKey("CODE_HMAC_KEY", "not base64 !!", 1); err == nil || !strings.Contains(err.Error(), "CODE_HMAC_KEY") {
		t.Fatalf("bad base64 error = %v", err)
	}
}
