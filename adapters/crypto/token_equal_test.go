package crypto_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/phoneauth/phoneauth/adapters/crypto"
)

// TestIssueMatchesJWTLibrary: Issue signs without golang-jwt's signing
// path, so it must return exactly what that path returns, for ids that
// need JSON escaping, times before 1970 and with sub-second parts.
func TestIssueMatchesJWTLibrary(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, 48)
	ttl := 168 * time.Hour
	iss := crypto.NewTokenIssuer(key, ttl)
	rng := rand.New(rand.NewPCG(3, 4))
	ids := []string{"", "0123456789abcdef0123456789abcdef", `<a href="x">&amp;</a>`, "ünïcødé ✓", "\u2028\u2029\x00\x1f", "\xff\xfe bad utf-8"}
	for i := range 2000 {
		user, session := ids[i%len(ids)], fmt.Sprintf("%x", rng.Uint64())
		if i%7 == 0 {
			session = ids[(i/7)%len(ids)]
		}
		now := time.Unix(rng.Int64N(4_000_000_000)-1_000_000_000, rng.Int64N(1e9))
		got, expiresIn, err := iss.Issue(user, session, now)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jwt.NewWithClaims(jwt.SigningMethodHS256, crypto.Claims{
			SessionID: session,
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer:    crypto.Issuer,
				Subject:   user,
				IssuedAt:  jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			},
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || expiresIn != ttl {
			t.Fatalf("Issue(%q, %q, %v)\n got  %s\n want %s", user, session, now, got, want)
		}
	}
}
