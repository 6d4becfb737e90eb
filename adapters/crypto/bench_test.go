package crypto_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

var (
	benchPhone = domain.MustParsePhoneNumber("15850551102")
	benchKey   = bytes.Repeat([]byte{7}, crypto.KeySize)
	benchNow   = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
)

// BenchmarkLoginVerification is the login's proof check: open the sealed
// password (AES-256-GCM), hash password ‖ random_str ‖ time_stamp
// (SHA-256) and compare in constant time.
func BenchmarkLoginVerification(b *testing.B) {
	v, err := crypto.NewVault(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := v.Seal(benchPhone, "correct-horse")
	if err != nil {
		b.Fatal(err)
	}
	ts := strconv.FormatInt(benchNow.Unix(), 10)
	proof := domain.LoginProof("correct-horse", "k3j4h5", ts)
	for b.Loop() {
		pw, err := v.Open(benchPhone, sealed)
		if err != nil || !domain.CheckLoginProof(pw, "k3j4h5", ts, proof) {
			b.Fatal("proof refused")
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	v, err := crypto.NewVault(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := v.Seal(benchPhone, "correct-horse"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashCode is the SMS code's HMAC-SHA-256 (steps 1 and 2).
func BenchmarkHashCode(b *testing.B) {
	h := crypto.NewCodeHasher(benchKey)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if len(h.HashCode(reg(benchPhone), "454078")) != 32 {
				b.Fatal("short hash")
			}
		}
	})
}

// hs256Claims are the claims of the HS256 session token that logins
// carried before the EdDSA access tokens (user id, session id, issuer,
// issue and expiry): the two benchmarks below keep its cost beside
// BenchmarkAccessIssue and BenchmarkAccessVerify, for comparison.
func hs256Claims() jwt.MapClaims {
	return jwt.MapClaims{"sid": "fedcba9876543210fedcba9876543210", "iss": crypto.Issuer, "sub": "0123456789abcdef0123456789abcdef",
		"iat": benchNow.Unix(), "exp": benchNow.Add(7 * 24 * time.Hour).Unix()}
}

// BenchmarkIssueTokenHS256 is the HS256 token the login issued before,
// signed by golang-jwt as it was.
func BenchmarkIssueTokenHS256(b *testing.B) {
	for b.Loop() {
		if _, err := jwt.NewWithClaims(jwt.SigningMethodHS256, hs256Claims()).SignedString(benchKey); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseTokenHS256 is the check of that token, for comparison
// with BenchmarkAccessVerify.
func BenchmarkParseTokenHS256(b *testing.B) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, hs256Claims()).SignedString(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	key := func(*jwt.Token) (any, error) { return benchKey, nil }
	for b.Loop() {
		var c jwt.MapClaims
		if _, err := jwt.ParseWithClaims(tok, &c, key, jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(crypto.Issuer),
			jwt.WithTimeFunc(func() time.Time { return benchNow }), jwt.WithExpirationRequired()); err != nil {
			b.Fatal(err)
		}
	}
}

func benchTokens(b *testing.B) *crypto.Tokens {
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	old := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
	t, err := crypto.NewTokens([]ed25519.PrivateKey{k, old}, benchKey)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

var benchAccess = application.AccessClaims{
	UserID: "0123456789abcdef0123456789abcdef", SessionID: "fedcba9876543210fedcba9876543210",
	Generation: 3, IssuedAt: benchNow, ExpiresAt: benchNow.Add(15 * time.Minute),
}

var benchRefresh = application.RefreshClaims{
	UserID: "0123456789abcdef0123456789abcdef", SessionID: "fedcba9876543210fedcba9876543210",
	Generation: 3, Seq: 7, IssuedAt: benchNow, ExpiresAt: benchNow.Add(30 * 24 * time.Hour),
}

// BenchmarkAccessSign is the EdDSA access token of every login and refresh.
func BenchmarkAccessSign(b *testing.B) {
	t := benchTokens(b)
	for b.Loop() {
		if _, err := t.IssueAccess(benchAccess); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAccessVerify is the whole check of an access token, signature
// included: what ParseAccess does the first time it sees a token.
func BenchmarkAccessVerify(b *testing.B) {
	t := benchTokens(b)
	tok, err := t.IssueAccess(benchAccess)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := t.VerifyAccess(tok, benchNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAccessParse is ParseAccess of a token it accepted before, as
// an app presents one token on every call: the SHA-256 of the token, a
// lookup in the memory of accepted tokens and the expiry check. With
// "parallel", on every core, among 64 remembered tokens.
func BenchmarkAccessParse(b *testing.B) {
	t := benchTokens(b)
	toks := make([]string, 64)
	for i := range toks {
		c := benchAccess
		c.SessionID = fmt.Sprintf("%032x", i)
		tok, err := t.IssueAccess(c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := t.ParseAccess(tok, benchNow); err != nil {
			b.Fatal(err)
		}
		toks[i] = tok
	}
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			if _, err := t.ParseAccess(toks[0], benchNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remembered-parallel", func(b *testing.B) {
		var next atomic.Uint32
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1))
			for pb.Next() {
				i++
				if _, err := t.ParseAccess(toks[i%len(toks)], benchNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

func BenchmarkRefreshIssue(b *testing.B) {
	t := benchTokens(b)
	for b.Loop() {
		if _, err := t.IssueRefresh(benchRefresh); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRefreshParse(b *testing.B) {
	t := benchTokens(b)
	tok, err := t.IssueRefresh(benchRefresh)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := t.ParseRefresh(tok, benchNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519 is the bare signature and verification over a message
// the size of an access token's signing input: the floor under
// BenchmarkAccessSign and BenchmarkAccessVerify (the rest is golang-jwt's
// JSON and base64).
func BenchmarkEd25519(b *testing.B) {
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	msg := bytes.Repeat([]byte{'a'}, 300)
	sig := ed25519.Sign(k, msg)
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(k, msg)
		}
	})
	b.Run("verify", func(b *testing.B) {
		pub := k.Public().(ed25519.PublicKey)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("refused")
			}
		}
	})
}
