package crypto_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth/adapters/crypto"
)

// edKey is a fixed Ed25519 key, one per b.
func edKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func TestParseSigningKeys(t *testing.T) {
	k1, k2 := edKey(1), edKey(2)
	std, url := base64.StdEncoding.EncodeToString, base64.RawURLEncoding.EncodeToString
	// A 64-byte key whose second half is another key's public key.
	mismatched := append(append([]byte(nil), k1.Seed()...), pubOf(k2)...)

	for name, tc := range map[string]struct {
		list string
		want []ed25519.PrivateKey
	}{
		"one seed":                {std(k1.Seed()), []ed25519.PrivateKey{k1}},
		"seed, URL alphabet":      {url(k1.Seed()), []ed25519.PrivateKey{k1}},
		"64-byte private key":     {std(k1), []ed25519.PrivateKey{k1}},
		"two, in order":           {std(k2.Seed()) + "," + url(k1), []ed25519.PrivateKey{k2, k1}},
		"spaces around the comma": {" " + std(k1.Seed()) + " ,\n" + std(k2.Seed()) + "\n", []ed25519.PrivateKey{k1, k2}},
	} {
		got, err := crypto.ParseSigningKeys("TOKEN_SIGNING_KEYS", tc.list)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d keys, want %d", name, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if !got[i].Equal(tc.want[i]) {
				t.Errorf("%s: key %d differs", name, i+1)
			}
		}
	}

	for name, tc := range map[string]struct {
		list   string
		saying string // what the error must name
		secret string // what it must not show
	}{
		"not base64":         {std(k1.Seed()) + ",not base64 !!", "TOKEN_SIGNING_KEYS key 2 of 2", "not base64"},
		"16 bytes":           {std(k1.Seed()[:16]), "TOKEN_SIGNING_KEYS key 1 of 1", std(k1.Seed()[:16])},
		"48 bytes":           {std(k1[:48]), "key 1 of 1", std(k1[:48])},
		"mismatched halves":  {std(k1.Seed()) + "," + std(mismatched), "key 2 of 2", std(mismatched)},
		"empty entry":        {std(k1.Seed()) + ",," + std(k2.Seed()), "key 2 of 3", std(k1.Seed())},
		"trailing comma":     {std(k1.Seed()) + ",", "key 2 of 2", std(k1.Seed())},
		"same key twice":     {std(k1.Seed()) + "," + std(k1), "key 2 of 2", std(k1.Seed())},
		"nothing":            {" ", "TOKEN_SIGNING_KEYS", ""},
		"a PEM file instead": {"-----BEGIN PRIVATE KEY-----", "key 1 of 1", "BEGIN"},
	} {
		_, err := crypto.ParseSigningKeys("TOKEN_SIGNING_KEYS", tc.list)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", name)
		case !strings.Contains(err.Error(), tc.saying):
			t.Errorf("%s: error %q does not say %q", name, err, tc.saying)
		case tc.secret != "" && strings.Contains(err.Error(), tc.secret):
			t.Errorf("%s: error %q shows the key", name, err)
		}
	}
}

func TestLoadOrCreateSigningKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := crypto.LoadOrCreateSigningKeys("TOKEN_SIGNING_KEYS", "", dir, "token_signing.key")
	if err != nil || len(first) != 1 {
		t.Fatalf("create: %d keys, %v", len(first), err)
	}
	path := filepath.Join(dir, "token_signing.key")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st, err)
	}
	data, _ := os.ReadFile(path)
	if seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err != nil || !bytes.Equal(seed, first[0].Seed()) {
		t.Fatal("the file does not hold the key's seed in base64")
	}
	again, err := crypto.LoadOrCreateSigningKeys("TOKEN_SIGNING_KEYS", "", dir, "token_signing.key")
	if err != nil || !again[0].Equal(first[0]) {
		t.Fatalf("second start has another key: %v", err)
	}
	given := base64.StdEncoding.EncodeToString(edKey(3).Seed())
	configured, err := crypto.LoadOrCreateSigningKeys("TOKEN_SIGNING_KEYS", given, dir, "token_signing.key")
	if err != nil || len(configured) != 1 || !configured[0].Equal(edKey(3)) {
		t.Fatalf("the configured key is not the one used: %v", err)
	}

	// A key file someone edited by hand is refused, without its content.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.MkdirAll(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	wrong := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, 40))
	if err := os.WriteFile(filepath.Join(bad, "token_signing.key"), []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = crypto.LoadOrCreateSigningKeys("TOKEN_SIGNING_KEYS", "", bad, "token_signing.key")
	if err == nil || !strings.Contains(err.Error(), "token_signing.key") || strings.Contains(err.Error(), wrong) {
		t.Fatalf("a 40-byte key file: %v", err)
	}
}
