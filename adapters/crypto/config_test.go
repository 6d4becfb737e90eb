package crypto_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/crypto"
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
		TokenKey: b64(key(3)), CodeHMACKey: b64(key(4)), TokenTTL: time.Hour}
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
	if err != nil || string(h.HashCode(alice, "123456")) != string(crypto.NewCodeHasher(key(4)).HashCode(alice, "123456")) {
		t.Fatalf("code hasher not over CODE_HMAC_KEY: %v", err)
	}
	iss, err := crypto.LoadTokenIssuer(given, dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, ttl, err := iss.Issue("user-1", "sess-1", now)
	if err != nil || ttl != time.Hour {
		t.Fatalf("token lifetime %s, %v; want TOKEN_TTL", ttl, err)
	}
	if _, err := crypto.NewTokenIssuer(key(3), time.Hour).Parse(tok, now); err != nil {
		t.Fatalf("token not signed with TOKEN_KEY: %v", err)
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
		{"token.key", func() error { _, err := crypto.LoadTokenIssuer(crypto.Config{}, dir); return err }},
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
}
