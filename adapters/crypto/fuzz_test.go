package crypto_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/phoneauth/phoneauth/adapters/crypto"
)

// FuzzTokenParse: TokenIssuer.Parse reads tokens from outside (the
// Authorization header). Whatever it is given it must not panic, and a
// token it accepts must carry an HS256 signature made with the issuer's
// key over exactly its header and payload, name this issuer, and not be
// expired. A token it issues for any ids parses back to those ids.
func FuzzTokenParse(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{8}, 32)
	now := time.Unix(1764000000, 0)
	issuer := crypto.NewTokenIssuer(key, time.Hour)

	valid, _, _ := issuer.Issue("user-1", "session-1", now)
	foreign, _, _ := crypto.NewTokenIssuer(other, time.Hour).Issue("user-1", "session-1", now)
	expired, _, _ := issuer.Issue("user-1", "session-1", now.Add(-2*time.Hour))
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString
	none := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	tampered := parts[0] + "." + enc([]byte(`{"sid":"s","iss":"phoneauth","sub":"admin","exp":9999999999}`)) + "." + parts[2]
	for _, s := range []string{
		valid, foreign, expired, none, tampered, valid + "=", strings.ToUpper(valid), parts[0] + "." + parts[1],
		"", ".", "..", "a.b.c", "eyJ.eyJ.sig", valid + "." + parts[2],
	} {
		f.Add(s, "user-1", "session-1")
	}
	f.Add(valid, "", "")
	f.Add(valid, "ü\x00\"}", strings.Repeat("s", 300))

	f.Fuzz(func(t *testing.T, token, userID, sessionID string) {
		if c, err := issuer.Parse(token, now); err == nil {
			p := strings.Split(token, ".")
			if len(p) != 3 {
				t.Fatalf("accepted %q, which is not three parts", token)
			}
			sig, derr := base64.RawURLEncoding.DecodeString(p[2])
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(p[0] + "." + p[1]))
			if derr != nil || !hmac.Equal(sig, mac.Sum(nil)) {
				t.Fatalf("accepted %q, which is not signed by the key", token)
			}
			var hdr struct{ Alg string }
			raw, _ := base64.RawURLEncoding.DecodeString(p[0])
			if json.Unmarshal(raw, &hdr) != nil || hdr.Alg != "HS256" {
				t.Fatalf("accepted %q with header %s", token, raw)
			}
			if c.Issuer != crypto.Issuer || c.ExpiresAt == nil || !c.ExpiresAt.After(now) {
				t.Fatalf("accepted %q with claims %+v", token, c)
			}
		}

		// Ids are made by the service, always valid UTF-8 (JSON would
		// replace anything else).
		if !utf8.ValidString(userID) || !utf8.ValidString(sessionID) {
			return
		}
		tok, _, err := issuer.Issue(userID, sessionID, now)
		if err != nil {
			t.Fatalf("Issue(%q, %q): %v", userID, sessionID, err)
		}
		c, err := issuer.Parse(tok, now)
		if err != nil || c.Subject != userID || c.SessionID != sessionID {
			t.Fatalf("Issue(%q, %q) parses back to %+v, %v", userID, sessionID, c, err)
		}
		if _, err := crypto.NewTokenIssuer(other, time.Hour).Parse(tok, now); err == nil {
			t.Fatal("a token verified under another key")
		}
	})
}
