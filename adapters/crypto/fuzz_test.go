package crypto_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/application"
)

// FuzzParseAccess: Tokens.ParseAccess reads tokens from outside (the
// Authorization or token header). Whatever it is given it must not
// panic; a token it accepts must carry alg EdDSA and the kid of a listed
// key, verify under that key with crypto/ed25519 directly, not be
// expired, not be a refresh token, and be exactly the token IssueAccess
// makes from its claims under that key (no second spelling of a token).
// Any claims with service-made ids issue a token that parses back to them.
func FuzzParseAccess(f *testing.F) {
	k1, k2 := fuzzKey(1), fuzzKey(2)
	signers := map[string]*crypto.Tokens{ // by the kid that signs
		crypto.KeyID(k1.Public().(ed25519.PublicKey)): fuzzTokens(f, k1, k2),
		crypto.KeyID(k2.Public().(ed25519.PublicKey)): fuzzTokens(f, k2, k1),
	}
	tk := fuzzTokens(f, k1, k2)
	now := time.Unix(1764000000, 0)
	c := application.AccessClaims{UserID: "user-1", SessionID: "session-1", Generation: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}

	valid, _ := tk.IssueAccess(c)
	byOld, _ := fuzzTokens(f, k2).IssueAccess(c)
	foreign, _ := fuzzTokens(f, fuzzKey(3)).IssueAccess(c)
	expired, _ := tk.IssueAccess(application.AccessClaims{UserID: "u", SessionID: "s", IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)})
	refresh, _ := tk.IssueRefresh(application.RefreshClaims{UserID: "u", SessionID: "s", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	// HS256 with the public key as the secret: the classic confusion.
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sid": "session-1", "iss": crypto.Issuer, "sub": "user-1", "gen": 1,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString([]byte(k1.Public().(ed25519.PublicKey)))
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString
	none := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	for _, s := range []string{
		valid, byOld, foreign, expired, refresh, hs, none, valid + "=", parts[0] + "." + parts[1],
		"", ".", "..", "a.b.c", "eyJ.eyJ.sig", valid + "." + parts[2],
	} {
		f.Add(s, "user-1", "session-1", uint64(1), uint32(1764000000), uint16(3600))
	}
	f.Add(valid, "", "", uint64(0), uint32(0), uint16(0))
	f.Add(valid, "ü\x00\"}<", strings.Repeat("s", 255), uint64(1<<63), uint32(1<<31), uint16(1))

	f.Fuzz(func(t *testing.T, token, userID, sessionID string, gen uint64, iat uint32, ttl uint16) {
		if got, err := tk.ParseAccess(token, now); err == nil {
			p := strings.Split(token, ".")
			if len(p) != 3 {
				t.Fatalf("accepted %q, which is not three parts", token)
			}
			var hdr struct{ Alg, Kid string }
			raw, _ := base64.RawURLEncoding.DecodeString(p[0])
			if json.Unmarshal(raw, &hdr) != nil || hdr.Alg != "EdDSA" {
				t.Fatalf("accepted %q with header %s", token, raw)
			}
			signer, listed := signers[hdr.Kid]
			if !listed {
				t.Fatalf("accepted %q with kid %q", token, hdr.Kid)
			}
			sig, derr := base64.RawURLEncoding.DecodeString(p[2])
			pub := map[string]ed25519.PublicKey{
				crypto.KeyID(k1.Public().(ed25519.PublicKey)): k1.Public().(ed25519.PublicKey),
				crypto.KeyID(k2.Public().(ed25519.PublicKey)): k2.Public().(ed25519.PublicKey),
			}[hdr.Kid]
			if derr != nil || !ed25519.Verify(pub, []byte(p[0]+"."+p[1]), sig) {
				t.Fatalf("accepted %q, which is not signed by key %s", token, hdr.Kid)
			}
			if !got.ExpiresAt.After(now) {
				t.Fatalf("accepted %q, expired at %v", token, got.ExpiresAt)
			}
			if again, err := signer.IssueAccess(got); err != nil || again != token {
				t.Fatalf("accepted %q, which is not what IssueAccess makes of %+v (%q, %v)", token, got, again, err)
			}
			if _, err := tk.ParseRefresh(token, now); err == nil {
				t.Fatalf("%q is both an access and a refresh token", token)
			}
		}

		in := application.AccessClaims{
			UserID: userID, SessionID: sessionID, Generation: gen,
			IssuedAt: time.Unix(int64(iat), 0).UTC(), ExpiresAt: time.Unix(int64(iat)+int64(ttl)+1, 0).UTC(),
		}
		tok, err := tk.IssueAccess(in)
		if !fuzzIDsOK(userID, sessionID) {
			if err == nil {
				t.Fatalf("issued a token for ids %q, %q", userID, sessionID)
			}
			return
		}
		if err != nil {
			t.Fatalf("IssueAccess(%+v): %v", in, err)
		}
		got, err := tk.ParseAccess(tok, in.IssuedAt)
		if err != nil || got != in {
			t.Fatalf("IssueAccess(%+v) parses back to %+v, %v", in, got, err)
		}
		if _, err := tk.ParseRefresh(tok, in.IssuedAt); err == nil {
			t.Fatal("an access token parsed as a refresh token")
		}
		if _, err := fuzzTokens(t, fuzzKey(3)).ParseAccess(tok, in.IssuedAt); err == nil {
			t.Fatal("a token verified under another key")
		}
	})
}

// FuzzParseRefresh: Tokens.ParseRefresh reads the refresh_token of a
// request body. Whatever it is given it must not panic; a token it
// accepts must not be expired, must not be an access token, and must be
// exactly the token IssueRefresh makes from its claims (no second
// spelling, nothing unauthenticated). Any claims with service-made ids
// issue a token that parses back to them, and not under another secret.
func FuzzParseRefresh(f *testing.F) {
	tk := fuzzTokens(f, fuzzKey(1))
	otherSecret, err := crypto.NewTokens([]ed25519.PrivateKey{fuzzKey(1)}, bytes.Repeat([]byte{8}, 32))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1764000000, 0)
	c := application.RefreshClaims{UserID: "user-1", SessionID: "session-1", Generation: 1, Seq: 2, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	valid, _ := tk.IssueRefresh(c)
	foreign, _ := otherSecret.IssueRefresh(c)
	c.ExpiresAt = now
	expired, _ := tk.IssueRefresh(c)
	accessTok, _ := tk.IssueAccess(application.AccessClaims{UserID: "u", SessionID: "s", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	for _, s := range []string{
		valid, foreign, expired, accessTok, valid + "A", valid[:len(valid)-1], "pa_rt1_", "pa_rt1_" + valid,
		"pa_rt2_" + strings.TrimPrefix(valid, "pa_rt1_"), "", "pa_rt1_====", "pa_rt1_\n",
	} {
		f.Add(s, "user-1", "session-1", uint64(1), uint64(2), int64(1764000000000), uint32(1000))
	}
	f.Add(valid, "", "", uint64(0), uint64(0), int64(0), uint32(0))
	f.Add(valid, "ü\x00", strings.Repeat("s", 255), uint64(1<<64-1), uint64(1<<64-1), int64(-1), uint32(1<<32-1))

	f.Fuzz(func(t *testing.T, token, userID, sessionID string, gen, seq uint64, iatMs int64, ttlMs uint32) {
		if got, err := tk.ParseRefresh(token, now); err == nil {
			if !got.ExpiresAt.After(now) {
				t.Fatalf("accepted %q, expired at %v", token, got.ExpiresAt)
			}
			if again, err := tk.IssueRefresh(got); err != nil || again != token {
				t.Fatalf("accepted %q, which is not what IssueRefresh makes of %+v (%q, %v)", token, got, again, err)
			}
			if _, err := tk.ParseAccess(token, now); err == nil {
				t.Fatalf("%q is both a refresh and an access token", token)
			}
		}

		iat := time.UnixMilli(iatMs % 1e15).UTC() // some 30,000 years either way
		in := application.RefreshClaims{
			UserID: userID, SessionID: sessionID, Generation: gen, Seq: seq,
			IssuedAt: iat, ExpiresAt: iat.Add(time.Duration(ttlMs)*time.Millisecond + time.Millisecond),
		}
		tok, err := tk.IssueRefresh(in)
		if !fuzzIDsOK(userID, sessionID) {
			if err == nil {
				t.Fatalf("issued a token for ids %q, %q", userID, sessionID)
			}
			return
		}
		if err != nil {
			t.Fatalf("IssueRefresh(%+v): %v", in, err)
		}
		got, err := tk.ParseRefresh(tok, in.IssuedAt)
		if err != nil || got != in {
			t.Fatalf("IssueRefresh(%+v) parses back to %+v, %v", in, got, err)
		}
		if _, err := otherSecret.ParseRefresh(tok, in.IssuedAt); err == nil {
			t.Fatal("a refresh token authenticated under another secret")
		}
		if _, err := tk.ParseAccess(tok, in.IssuedAt); err == nil {
			t.Fatal("a refresh token parsed as an access token")
		}
	})
}

func fuzzKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func fuzzTokens(t testing.TB, keys ...ed25519.PrivateKey) *crypto.Tokens {
	tk, err := crypto.NewTokens(keys, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// fuzzIDsOK is the rule for ids the service makes: non-empty, at most
// 255 bytes, UTF-8.
func fuzzIDsOK(ids ...string) bool {
	for _, id := range ids {
		if id == "" || len(id) > 255 || !utf8.ValidString(id) {
			return false
		}
	}
	return true
}
