package crypto_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/application"
)

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// TestLoadFromConfig: the providers take the keys the configuration gives,
// keep the ones it leaves empty in the key directory, and name the
// variable of a bad key.
func TestLoadFromConfig(t *testing.T) {
	dir := crypto.KeyDir(filepath.Join(t.TempDir(), "data"))
	now := time.Unix(1_700_000_000, 0)

	// Given keys: nothing is written; an old key still opens what it sealed.
	given := crypto.Config{PasswordKey: b64(key(2)), PasswordOldKeys: []string{b64(key(1))},
		TokenKey: b64(key(3)), CodeHMACKey: b64(key(4)), TokenSigningKeys: b64(edKey(5).Seed()) + "," + b64(edKey(6))}
	v, err := crypto.LoadVault(given, dir)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := crypto.NewVault(key(1))
	sealed, _ := old.Seal(alice, "pw-123456")
	if got, err := v.Open(alice, sealed); err != nil || got != "pw-123456" {
		t.Fatalf("old key: %q, %v", got, err)
	}
	h, err := crypto.LoadCodeHasher(given, dir)
	if err != nil || string(h.HashCode(reg(alice), "123456")) != string(crypto.NewCodeHasher(key(4)).HashCode(reg(alice), "123456")) {
		t.Fatalf("code hasher not over CODE_HMAC_KEY: %v", err)
	}
	tk, err := crypto.LoadTokens(given, dir)
	if err != nil {
		t.Fatal(err)
	}
	claims := application.AccessClaims{UserID: "user-1", SessionID: "sess-1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	tok, err := tk.IssueAccess(claims)
	if err != nil {
		t.Fatal(err)
	}
	// Signed by the first key of TOKEN_SIGNING_KEYS, verified by the
	// second too, and published with both.
	if _, err := newTokens(t, edKey(5)).ParseAccess(tok, now); err != nil {
		t.Fatalf("access token not signed with the first of TOKEN_SIGNING_KEYS: %v", err)
	}
	old6, _ := newTokens(t, edKey(6)).IssueAccess(claims)
	if _, err := tk.ParseAccess(old6, now); err != nil {
		t.Fatalf("a token of the second key of TOKEN_SIGNING_KEYS refused: %v", err)
	}
	if tk.SigningKeyID() != crypto.KeyID(pubOf(edKey(5))) {
		t.Fatalf("signing kid %s, want the first key's", tk.SigningKeyID())
	}
	rt, err := tk.IssueRefresh(application.RefreshClaims{UserID: "user-1", SessionID: "sess-1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	underTokenKey, err := crypto.NewTokens([]ed25519.PrivateKey{edKey(9)}, key(3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := underTokenKey.ParseRefresh(rt, now); err != nil {
		t.Fatalf("refresh token not authenticated under TOKEN_KEY: %v", err)
	}
	if _, err := os.Stat(string(dir)); !os.IsNotExist(err) {
		t.Fatalf("given keys, yet the key directory was made: %v", err)
	}

	// Empty keys: each is generated into its file once, then read back.
	for _, c := range []struct {
		file string
		load func() error
	}{
		{"password.key", func() error { _, err := crypto.LoadVault(crypto.Config{}, dir); return err }},
		{"code_hmac.key", func() error { _, err := crypto.LoadCodeHasher(crypto.Config{}, dir); return err }},
		{"token.key", func() error { _, err := crypto.LoadTokens(crypto.Config{}, dir); return err }},
		{"token_signing.key", func() error { _, err := crypto.LoadTokens(crypto.Config{}, dir); return err }},
	} {
		file, load := c.file, c.load
		if err := load(); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		first, err := os.ReadFile(filepath.Join(string(dir), file))
		if err != nil {
			t.Fatalf("%s not written: %v", file, err)
		}
		if err := load(); err != nil {
			t.Fatal(err)
		}
		if again, _ := os.ReadFile(filepath.Join(string(dir), file)); string(again) != string(first) {
			t.Fatalf("%s rewritten on the second load", file)
		}
	}

	// A bad old key is named, and not echoed.
	bad := crypto.Config{PasswordKey: b64(key(2)), PasswordOldKeys: []string{b64([]byte("short-old-key"))}}
	if _, err := crypto.LoadVault(bad, dir); err == nil || !strings.Contains(err.Error(), "PASSWORD_OLD_KEYS") || strings.Contains(err.Error(), bad.PasswordOldKeys[0]) {
		t.Fatalf("bad old key: %v", err)
	}
	// So is a bad signing key, with its place in the list.
	badSigning := crypto.Config{TokenKey: b64(key(3)), TokenSigningKeys: b64(edKey(5).Seed()) + "," + b64([]byte("short-signing-key"))}
	if _, err := crypto.LoadTokens(badSigning, dir); err == nil || !strings.Contains(err.Error(), "TOKEN_SIGNING_KEYS key 2 of 2") || strings.Contains(err.Error(), b64([]byte("short-signing-key"))) {
		t.Fatalf("bad signing key: %v", err)
	}
}
