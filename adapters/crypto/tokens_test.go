package crypto_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/application"
)

var tokNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newTokens(t testing.TB, keys ...ed25519.PrivateKey) *crypto.Tokens {
	t.Helper()
	tk, err := crypto.NewTokens(keys, key(9))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func access(userID, sessionID string, gen uint64, iat time.Time, ttl time.Duration) application.AccessClaims {
	return application.AccessClaims{UserID: userID, SessionID: sessionID, Generation: gen, IssuedAt: iat, ExpiresAt: iat.Add(ttl)}
}

// segment decodes one base64url part of a JWT into a map.
func segment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAccessRoundTrip(t *testing.T) {
	tk := newTokens(t, edKey(1))
	for name, c := range map[string]application.AccessClaims{
		"plain":                access("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", 0, tokNow, 15*time.Minute),
		"high generation":      access("u", "s", 1<<63+5, tokNow, time.Hour),
		"ids JSON must escape": access(`ü"\</script>`+"\x01", strings.Repeat("界", 85), 7, tokNow, 7*24*time.Hour),
		"longest ids":          access(strings.Repeat("u", 255), strings.Repeat("\x00", 255), 1, tokNow, time.Second),
		"sub-second times":     access("u", "s", 2, tokNow.Add(999*time.Millisecond), time.Minute),
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := tk.IssueAccess(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := tk.IssueAccess(c)
			if err != nil || again != tok {
				t.Fatalf("issuing twice gave two tokens (%v)", err)
			}
			got, err := tk.ParseAccess(tok, c.IssuedAt)
			if err != nil {
				t.Fatal(err)
			}
			want := c
			want.IssuedAt, want.ExpiresAt = c.IssuedAt.Truncate(time.Second), c.ExpiresAt.Truncate(time.Second)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("parsed %+v, want %+v", got, want)
			}
			hdr := segment(t, tok, 0)
			if !reflect.DeepEqual(hdr, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": crypto.KeyID(pubOf(edKey(1)))}) {
				t.Fatalf("header %v", hdr)
			}
			claims := segment(t, tok, 1)
			if claims["iss"] != "phoneauth" || claims["sub"] != c.UserID || claims["sid"] != c.SessionID ||
				claims["iat"] != float64(want.IssuedAt.Unix()) || claims["exp"] != float64(want.ExpiresAt.Unix()) ||
				len(claims) != 6 {
				t.Fatalf("claims %v", claims)
			}
			if _, ok := claims["gen"].(float64); !ok {
				t.Fatalf("gen is %T", claims["gen"])
			}
		})
	}
	for name, c := range map[string]application.AccessClaims{
		"no user id":    access("", "s", 0, tokNow, time.Hour),
		"no session id": access("u", "", 0, tokNow, time.Hour),
		"long id":       access(strings.Repeat("u", 256), "s", 0, tokNow, time.Hour),
		"not UTF-8":     access("u\xff", "s", 0, tokNow, time.Hour),
	} {
		if _, err := tk.IssueAccess(c); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
}

func TestRefreshRoundTrip(t *testing.T) {
	tk := newTokens(t, edKey(1))
	base := application.RefreshClaims{
		UserID: "0123456789abcdef0123456789abcdef", SessionID: "fedcba9876543210fedcba9876543210",
		Generation: 3, Seq: 0, IssuedAt: tokNow.Add(1234567 * time.Microsecond), ExpiresAt: tokNow.Add(30 * 24 * time.Hour),
	}
	variants := map[string]func(*application.RefreshClaims){
		"login's":     func(*application.RefreshClaims) {},
		"successor":   func(c *application.RefreshClaims) { c.Seq = 1 },
		"generation":  func(c *application.RefreshClaims) { c.Generation = 4 },
		"later":       func(c *application.RefreshClaims) { c.IssuedAt = c.IssuedAt.Add(time.Millisecond) },
		"expiry":      func(c *application.RefreshClaims) { c.ExpiresAt = c.ExpiresAt.Add(time.Millisecond) },
		"user":        func(c *application.RefreshClaims) { c.UserID = "someone else" },
		"session":     func(c *application.RefreshClaims) { c.SessionID = "s" },
		"max numbers": func(c *application.RefreshClaims) { c.Generation, c.Seq = 1<<64-1, 1<<64-1 },
		"longest ids": func(c *application.RefreshClaims) {
			c.UserID, c.SessionID = strings.Repeat("u", 255), strings.Repeat("界", 85)
		},
	}
	seen := map[string]string{}
	for name, change := range variants {
		t.Run(name, func(t *testing.T) {
			c := base
			change(&c)
			tok, err := tk.IssueRefresh(c)
			if err != nil {
				t.Fatal(err)
			}
			if prev, dup := seen[tok]; dup {
				t.Fatalf("same token as %s", prev)
			}
			seen[tok] = name
			if again, _ := tk.IssueRefresh(c); again != tok {
				t.Fatal("issuing twice gave two tokens")
			}
			if !strings.HasPrefix(tok, "pa_rt1_") || strings.Contains(tok, ".") {
				t.Fatalf("token %q", tok)
			}
			got, err := tk.ParseRefresh(tok, c.ExpiresAt.Add(-time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			want := c
			want.IssuedAt, want.ExpiresAt = c.IssuedAt.Truncate(time.Millisecond), c.ExpiresAt.Truncate(time.Millisecond)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("parsed %+v, want %+v", got, want)
			}
		})
	}
	if _, err := tk.IssueRefresh(application.RefreshClaims{UserID: "u", ExpiresAt: tokNow}); err == nil {
		t.Error("issued a refresh token without a session id")
	}
}

// signed builds a JWT with any header and claims, signed by method and key:
// what an attacker (or a bug) could present.
func signed(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccessRefused(t *testing.T) {
	k, other := edKey(1), edKey(2)
	tk := newTokens(t, k)
	kid := crypto.KeyID(pubOf(k))
	good, err := tk.IssueAccess(access("user-1", "sess-1", 0, tokNow, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	claims := func(drop string, set ...any) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "phoneauth", "sub": "user-1", "sid": "sess-1", "gen": 0, "iat": tokNow.Unix(), "exp": tokNow.Add(time.Hour).Unix()}
		delete(c, drop)
		for i := 0; i < len(set); i += 2 {
			c[set[i].(string)] = set[i+1]
		}
		return c
	}
	byKey := func(c jwt.MapClaims) string {
		return signed(t, jwt.SigningMethodEdDSA, k, map[string]any{"kid": kid}, c)
	}
	if _, err := tk.ParseAccess(byKey(claims("")), tokNow); err != nil {
		t.Fatalf("the control token (all claims, right key) is refused: %v", err)
	}
	// good is accepted first, so remembered: its respellings below must
	// be refused all the same (a hit is only ever the exact string).
	if _, err := tk.ParseAccess(good, tokNow); err != nil {
		t.Fatalf("the issued token is refused: %v", err)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[10] ^= 1
	refresh, err := tk.IssueRefresh(application.RefreshClaims{UserID: "user-1", SessionID: "sess-1", IssuedAt: tokNow, ExpiresAt: tokNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ed := jwt.SigningMethodEdDSA
	for name, tok := range map[string]string{
		"alg none":                      signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": kid}, claims("")),
		"alg none, signature kept":      enc([]byte(`{"alg":"none","kid":"`+kid+`","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2],
		"HS256, public key as secret":   signed(t, jwt.SigningMethodHS256, []byte(pubOf(k)), map[string]any{"kid": kid}, claims("")),
		"HS256, JWK x as secret":        signed(t, jwt.SigningMethodHS256, []byte(enc(pubOf(k))), map[string]any{"kid": kid}, claims("")),
		"HS256, JWKS as secret":         signed(t, jwt.SigningMethodHS256, tk.JWKS(), map[string]any{"kid": kid}, claims("")),
		"another issuer":                byKey(claims("", "iss", "not-phoneauth")),
		"no issuer":                     byKey(claims("iss")),
		"expired":                       byKey(claims("", "exp", tokNow.Add(-time.Second).Unix())),
		"expires now":                   byKey(claims("", "exp", tokNow.Unix())),
		"no expiry":                     byKey(claims("exp")),
		"not yet valid":                 byKey(claims("", "nbf", tokNow.Add(time.Minute).Unix())),
		"no subject":                    byKey(claims("sub")),
		"no session":                    byKey(claims("sid")),
		"no generation":                 byKey(claims("gen")),
		"negative generation":           byKey(claims("", "gen", -1)),
		"generation as text":            byKey(claims("", "gen", "1")),
		"no issued-at":                  byKey(claims("iat")),
		"tampered payload":              parts[0] + "." + enc([]byte(`{"iss":"phoneauth","sub":"admin","exp":9999999999,"iat":1,"sid":"s","gen":0}`)) + "." + parts[2],
		"tampered signature":            parts[0] + "." + parts[1] + "." + enc(sig),
		"padding bits set in signature": padBitSet(t, good, strings.LastIndexByte(good, '.')+1),
		"signature cut":                 parts[0] + "." + parts[1] + ".",
		"signed by an unlisted key":     signed(t, ed, other, map[string]any{"kid": crypto.KeyID(pubOf(other))}, claims("")),
		"unlisted key claims our kid":   signed(t, ed, other, map[string]any{"kid": kid}, claims("")),
		"unknown kid":                   signed(t, ed, k, map[string]any{"kid": "no-such-key"}, claims("")),
		"no kid":                        signed(t, ed, k, nil, claims("")),
		"kid not a string":              signed(t, ed, k, map[string]any{"kid": 1}, claims("")),
		"line break in signature":       parts[0] + "." + parts[1] + "." + parts[2][:20] + "\n" + parts[2][20:],
		"padded signature":              good + "==",
		"four parts":                    good + "." + parts[2],
		"refresh token":                 refresh,
		"huge":                          parts[0] + "." + strings.Repeat("A", 1<<20) + "." + parts[2],
		"empty":                         "",
		"dots":                          "..",
		"Bearer prefix left on":         "Bearer " + good,
		"HS256 as logins signed before": hs256Token(t),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := tk.ParseAccess(tok, tokNow)
			if !errors.Is(err, application.ErrInvalidToken) {
				t.Fatalf("accepted (%+v), or refused without ErrInvalidToken: %v", c, err)
			}
			if echoes(err, tok) {
				t.Fatalf("error echoes the token: %v", err)
			}
		})
	}
}

// padBitSet respells tok with a padding bit of its last base64url
// character set: the same bytes to a lax decoder, so a second spelling of
// one token if the parser accepted it.
// tok[from:] is the base64url part that ends tok.
func padBitSet(t *testing.T, tok string, from int) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if n := len(tok) - from; n%4 == 0 || n%4 == 1 {
		t.Fatalf("the last character of %d has no padding bits", n)
	}
	i := strings.IndexByte(alphabet, tok[len(tok)-1])
	if i < 0 || i&1 != 0 {
		t.Fatalf("the last character of %q is not canonical", tok)
	}
	return tok[:len(tok)-1] + string(alphabet[i|1])
}

// echoes says whether err shows the token, or any 16 characters of it.
func echoes(err error, tok string) bool {
	for i := 0; i+16 <= len(tok) && i < 4096; i++ {
		if strings.Contains(err.Error(), tok[i:i+16]) {
			return true
		}
	}
	return strings.Contains(err.Error(), "user-1")
}

// hs256Token is a token as logins signed them before the EdDSA access
// tokens: HS256 under a server secret, with the same claims but gen.
func hs256Token(t *testing.T) string {
	return signed(t, jwt.SigningMethodHS256, key(9), nil, jwt.MapClaims{"sid": "sess-1", "iss": crypto.Issuer, "sub": "user-1",
		"iat": tokNow.Unix(), "exp": tokNow.Add(time.Hour).Unix()})
}

func TestRefreshRefused(t *testing.T) {
	tk := newTokens(t, edKey(1))
	c := application.RefreshClaims{UserID: "user-1", SessionID: "sess-12", Generation: 2, Seq: 5, IssuedAt: tokNow, ExpiresAt: tokNow.Add(time.Hour)}
	good, err := tk.IssueRefresh(c)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(good, "pa_rt1_"))
	reencode := func(b []byte) string { return "pa_rt1_" + base64.RawURLEncoding.EncodeToString(b) }
	otherSecret, err := crypto.NewTokens([]ed25519.PrivateKey{edKey(1)}, key(10))
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := otherSecret.IssueRefresh(c)
	accessTok, _ := tk.IssueAccess(access("user-1", "sess-1", 2, tokNow, time.Hour))
	// A token MACed with TOKEN_KEY itself (the HS256 key of the tokens
	// logins signed before) rather than the key derived from it.
	mac := hmac.New(sha256.New, key(9))
	mac.Write([]byte("pa_rt1_"))
	mac.Write(body[:len(body)-32])
	underRawKey := reencode(mac.Sum(append([]byte(nil), body[:len(body)-32]...)))

	cases := map[string]string{
		"expired":               "",
		"another server secret": foreign,
		"MAC under TOKEN_KEY":   underRawKey,
		"access token":          accessTok,
		"other version":         "pa_rt2_" + strings.TrimPrefix(good, "pa_rt1_"),
		"no prefix":             strings.TrimPrefix(good, "pa_rt1_"),
		"line break":            good[:30] + "\n" + good[30:],
		"padded":                good + "=",
		"trailing character":    good + "A",
		"standard alphabet":     strings.NewReplacer("-", "+", "_", "/").Replace(good[7:]),
		"tag cut":               reencode(body[:len(body)-1]),
		"tag only":              reencode(body[len(body)-32:]),
		"prefix only":           "pa_rt1_",
		"empty":                 "",
		"huge":                  "pa_rt1_" + strings.Repeat("A", 1<<20),
	}
	cases["non-zero padding bits"] = padBitSet(t, good, len("pa_rt1_"))
	for i := range body {
		b := append([]byte(nil), body...)
		b[i] ^= 0x80
		cases[fmt.Sprintf("byte %d flipped", i)] = reencode(b)
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			at := tokNow
			if name == "expired" {
				tok, at = good, c.ExpiresAt
			}
			got, err := tk.ParseRefresh(tok, at)
			if !errors.Is(err, application.ErrInvalidToken) {
				t.Fatalf("accepted (%+v), or refused without ErrInvalidToken: %v", got, err)
			}
			if echoes(err, tok) {
				t.Fatalf("error echoes the token: %v", err)
			}
		})
	}
	if _, err := tk.ParseRefresh(good, c.ExpiresAt.Add(-time.Millisecond)); err != nil {
		t.Fatalf("the control token is refused a millisecond before it expires: %v", err)
	}
}

func TestRefreshBinaryLayout(t *testing.T) {
	// The layout is the format's contract with tokens already handed
	// out: a change to it must be a new prefix, and this test says so.
	tk := newTokens(t, edKey(1))
	tok, err := tk.IssueRefresh(application.RefreshClaims{UserID: "ab", SessionID: "c", Generation: 1, Seq: 2, IssuedAt: time.UnixMilli(3), ExpiresAt: time.UnixMilli(4)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "pa_rt1_"))
	if err != nil {
		t.Fatal(err)
	}
	want := binary.BigEndian.AppendUint64(nil, 1)
	want = binary.BigEndian.AppendUint64(want, 2)
	want = binary.BigEndian.AppendUint64(want, 3)
	want = binary.BigEndian.AppendUint64(want, 4)
	want = append(want, 2, 'a', 'b', 1, 'c')
	// The tag: HMAC-SHA-256 over prefix ‖ body, under the key HKDF
	// derives from TOKEN_KEY with the format's label.
	rk, err := hkdf.Key(sha256.New, key(9), nil, "phoneauth refresh token v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, rk)
	mac.Write([]byte("pa_rt1_"))
	mac.Write(want)
	want = mac.Sum(want)
	if !bytes.Equal(raw, want) {
		t.Fatalf("token bytes %x, want %x", raw, want)
	}
}

func TestRotation(t *testing.T) {
	prev, next := edKey(1), edKey(2)
	before := newTokens(t, prev)
	during := newTokens(t, next, prev)
	after := newTokens(t, next)

	c := access("user-1", "sess-1", 0, tokNow, time.Hour)
	old, _ := before.IssueAccess(c)
	fresh, _ := during.IssueAccess(c)
	if kid := segment(t, fresh, 0)["kid"]; kid != crypto.KeyID(pubOf(next)) || during.SigningKeyID() != kid {
		t.Fatalf("the new list signs with kid %v, want the first key's", kid)
	}
	if _, err := during.ParseAccess(old, tokNow.Add(59*time.Minute)); err != nil {
		t.Fatalf("a token of the previous key is refused while that key is listed: %v", err)
	}
	if _, err := during.ParseAccess(fresh, tokNow); err != nil {
		t.Fatal(err)
	}
	if _, err := after.ParseAccess(old, tokNow); !errors.Is(err, application.ErrInvalidToken) {
		t.Fatalf("a token of a key no longer listed is accepted: %v", err)
	}
	if _, err := before.ParseAccess(fresh, tokNow); !errors.Is(err, application.ErrInvalidToken) {
		t.Fatalf("an instance that does not know the new key accepted its token: %v", err)
	}
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(during.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].Kid != crypto.KeyID(pubOf(next)) || set.Keys[1].Kid != crypto.KeyID(pubOf(prev)) {
		t.Fatalf("JWKS keys %+v, want the new key then the previous one", set.Keys)
	}
	// Refresh tokens hang on TOKEN_KEY, not on the signing keys.
	r := application.RefreshClaims{UserID: "u", SessionID: "s", IssuedAt: tokNow, ExpiresAt: tokNow.Add(time.Hour)}
	rt, _ := before.IssueRefresh(r)
	if _, err := after.ParseRefresh(rt, tokNow); err != nil {
		t.Fatalf("rotating signing keys invalidated a refresh token: %v", err)
	}
}

func TestJWKS(t *testing.T) {
	k1, k2 := edKey(1), edKey(2)
	tk := newTokens(t, k1, k2)
	raw := tk.JWKS()
	var set map[string][]map[string]string
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	if len(set) != 1 || len(set["keys"]) != 2 {
		t.Fatalf("JWKS %s", raw)
	}
	for i, k := range []ed25519.PrivateKey{k1, k2} {
		want := map[string]string{
			"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
			"x":   base64.RawURLEncoding.EncodeToString(pubOf(k)),
			"kid": crypto.KeyID(pubOf(k)),
		}
		if !reflect.DeepEqual(set["keys"][i], want) {
			t.Errorf("key %d = %v, want %v", i, set["keys"][i], want)
		}
		for _, secret := range [][]byte{k.Seed(), k} {
			for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.StdEncoding} {
				if bytes.Contains(raw, []byte(enc.EncodeToString(secret))) {
					t.Fatalf("JWKS holds private key %d", i)
				}
			}
		}
	}
	raw[0] = 'X'
	if tk.JWKS()[0] != '{' {
		t.Fatal("JWKS hands out its own buffer")
	}
}

// TestKeyIDIsTheRFC8037Thumbprint checks the kid against RFC 8037's
// Appendix A.3 (the thumbprint of the key of A.1/A.2).
func TestKeyIDIsTheRFC8037Thumbprint(t *testing.T) {
	seed, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	pub := pubOf(ed25519.NewKeyFromSeed(seed))
	if x := base64.RawURLEncoding.EncodeToString(pub); x != "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" {
		t.Fatalf("x = %s (RFC 8037 A.2)", x)
	}
	if got := crypto.KeyID(pub); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Fatalf("KeyID = %s, want RFC 8037 A.3's thumbprint", got)
	}
}

func TestNewTokensRefuses(t *testing.T) {
	for name, args := range map[string]struct {
		keys   []ed25519.PrivateKey
		secret []byte
	}{
		"no signing key":     {nil, key(9)},
		"short secret":       {[]ed25519.PrivateKey{edKey(1)}, key(9)[:31]},
		"key listed twice":   {[]ed25519.PrivateKey{edKey(1), edKey(2), edKey(1)}, key(9)},
		"seed, not a key":    {[]ed25519.PrivateKey{edKey(1).Seed()}, key(9)},
		"halves of two keys": {[]ed25519.PrivateKey{append(edKey(1).Seed(), pubOf(edKey(2))...)}, key(9)},
	} {
		if _, err := crypto.NewTokens(args.keys, args.secret); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
