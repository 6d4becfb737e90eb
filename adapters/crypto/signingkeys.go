package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// ParseSigningKeys reads a comma-separated list of base64 Ed25519 private
// keys (the value of the variable name, e.g. TOKEN_SIGNING_KEYS), in the
// order given: the first signs, all verify. Each key is either a 32-byte
// seed (what `openssl rand -base64 32` prints) or the 64-byte
// seed ‖ public key form of Go's crypto/ed25519, in the standard or URL
// base64 alphabet, padded or not. Errors name the variable and the
// position of the key, never its bytes.
func ParseSigningKeys(name, list string) ([]ed25519.PrivateKey, error) {
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("%s: no key", name)
	}
	entries := strings.Split(list, ",")
	keys := make([]ed25519.PrivateKey, 0, len(entries))
	seen := make(map[string]int, len(entries))
	for i, e := range entries {
		at := fmt.Sprintf("%s key %d of %d", name, i+1, len(entries))
		if strings.TrimSpace(e) == "" {
			return nil, fmt.Errorf("%s: empty", at)
		}
		raw, err := DecodeKey(at, e, 1)
		if err != nil {
			return nil, err
		}
		k, err := signingKey(at, raw)
		if err != nil {
			return nil, err
		}
		kid := KeyID(k.Public().(ed25519.PublicKey))
		if j, dup := seen[kid]; dup {
			return nil, fmt.Errorf("%s: the same key as key %d", at, j+1)
		}
		seen[kid] = i
		keys = append(keys, k)
	}
	return keys, nil
}

// LoadOrCreateSigningKeys returns the keys of list (see ParseSigningKeys)
// if it is set. Otherwise (the embedded mode) it returns the one key kept
// in dir/file, generated as a random seed on first run (mode 0600) by
// LoadOrCreateKey, so a development instance keeps its tokens valid across
// restarts.
func LoadOrCreateSigningKeys(name, list, dir, file string) ([]ed25519.PrivateKey, error) {
	if strings.TrimSpace(list) != "" {
		return ParseSigningKeys(name, list)
	}
	raw, err := LoadOrCreateKey(name, "", dir, file)
	if err != nil {
		return nil, err
	}
	k, err := signingKey(name+" ("+file+")", raw)
	if err != nil {
		return nil, err
	}
	return []ed25519.PrivateKey{k}, nil
}

// signingKey turns decoded key bytes into an Ed25519 private key. A
// 64-byte key must carry the public key of its own seed: anything else is
// not a key crypto/ed25519 made, and signing with it would publish a
// public key that verifies nothing.
func signingKey(at string, raw []byte) (ed25519.PrivateKey, error) {
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		k := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if !bytes.Equal(k, raw) {
			return nil, fmt.Errorf("%s: not an Ed25519 private key (its second half is not the public key of its first)", at)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s: key is %d bytes, want a 32-byte Ed25519 seed or a 64-byte Ed25519 private key", at, len(raw))
}

// KeyID is the "kid" of an Ed25519 public key: its JWK thumbprint
// (RFC 7638 with the OKP members of RFC 8037), the base64url SHA-256 of
// {"crv":"Ed25519","kty":"OKP","x":…}. It is derived from the key, so it
// is never configured and two instances with one key agree on it.
func KeyID(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
