package test

import (
	"bytes"
	"compress/gzip"
	gocrypto "crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/phoneauth/phoneauth/application/apptest"
)

// The attacks on the session endpoints, each played over HTTP against the
// wired service on every store. How each endpoint would be broken, and
// which test shows it holds, is docs/session-attacks.md.

const (
	tokenMissingAnswer   = `{"code":0,"message":"需要验证","error":"token_missing"}`
	invalidRefreshAnswer = `{"code":2,"message":"验证信息错误","error":"invalid_refresh_token"}`
	reusedAnswer         = `{"code":2,"message":"验证信息错误","error":"refresh_token_reused"}`
	badRequestAnswer     = `{"code":0,"message":"请求参数错误","error":"bad_request"}`
	tooLargeAnswer       = `{"code":0,"message":"请求体过大","error":"body_too_large"}`
	encodedAnswer        = `{"code":0,"message":"请求参数错误","error":"unsupported_encoding"}`

	// defaultGrace is REFRESH_REUSE_GRACE's default.
	defaultGrace = 10 * time.Second
)

// attackSeed is the seed of the one signing key the forging tests
// configure, so that they can sign what the service would.
var attackSeed = bytes.Repeat([]byte{0x5a}, ed25519.SeedSize)

func TestAttackSession(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, options)
	}{
		{"ForgedAccessTokens", testForgedAccessTokens},
		{"ForgedRefreshTokens", testForgedRefreshTokens},
		{"ExpiredTokens", testExpiredTokens},
		{"HostileTokenHeaders", testHostileTokenHeaders},
		{"VerifiedByAnotherServiceWithTheJWKS", testVerifiedWithGoJOSE},
		{"ParallelRefreshesMakeOneSuccessor", testParallelRefreshes},
		{"ReuseAfterTheGraceEndsTheSession", testReuseEndsTheSession},
		{"NoPairWithinTheGraceAfterLogout", testNoPairAfterLogout},
		{"HostileBodies", testHostileSessionBodies},
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, storeOptions(t, store)) })
			}
		})
	}
}

// withVars is o with more environment variables.
func withVars(o options, kv ...string) options {
	vars := map[string]string{}
	for k, v := range o.vars {
		vars[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		vars[kv[i]] = kv[i+1]
	}
	o.vars = vars
	return o
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// segment is v as a JWS segment: JSON, base64url without padding.
func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeSegment reads a JWS segment as a JSON object, numbers kept as
// they were written.
func decodeSegment(t testing.TB, s string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("segment %q: %v", s, err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("segment %s: %v", b, err)
	}
	return v
}

// jwtOf splits a compact JWS into its header and claims.
func jwtOf(t testing.TB, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a compact JWS", token)
	}
	return decodeSegment(t, parts[0]), decodeSegment(t, parts[1])
}

// edit is a copy of m with key set to v, or deleted when v is nil.
func edit(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func signEdDSA(t testing.TB, key ed25519.PrivateKey, header, claims any) string {
	t.Helper()
	in := segment(t, header) + "." + segment(t, claims)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(in)))
}

func signHS256(t testing.TB, secret []byte, header, claims any) string {
	t.Helper()
	in := segment(t, header) + "." + segment(t, claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// jwksOf fetches the instance's JWK set over HTTP, as another service
// would, and reads it with go-jose.
func (in *instance) jwksOf(t testing.TB) (jose.JSONWebKeySet, http.Header) {
	t.Helper()
	status, hdr, body := in.get(t, "/.well-known/jwks.json")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); status != 200 || err != nil {
		t.Fatalf("JWKS: %d %s (%v)", status, body, err)
	}
	return set, hdr
}

// verifyWithJWKS checks token as a service holding nothing but the JWK
// set would, with go-jose (not golang-jwt, which signs): EdDSA only, the
// key its kid names in set, the issuer, and the times at now.
func verifyWithJWKS(set jose.JSONWebKeySet, token string, now time.Time) (josejwt.Claims, error) {
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return josejwt.Claims{}, err
	}
	if len(tok.Headers) != 1 {
		return josejwt.Claims{}, errors.New("not one signature")
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 || !keys[0].IsPublic() {
		return josejwt.Claims{}, errors.New("the kid names no public key of the JWKS")
	}
	var std josejwt.Claims
	var extra struct {
		SID string  `json:"sid"`
		Gen *uint64 `json:"gen"`
	}
	if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
		return josejwt.Claims{}, err
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: "phoneauth", Time: now}, 0); err != nil {
		return josejwt.Claims{}, err
	}
	if std.Subject == "" || extra.SID == "" || extra.Gen == nil || std.IssuedAt == nil || std.Expiry == nil {
		return josejwt.Claims{}, errors.New("sub, sid, gen, iat or exp missing")
	}
	return std, nil
}

// wantUnauthorized fails t unless every way of presenting token to GET
// /client, and to logout, is refused with the origin's code 2.
func (in *instance) wantUnauthorized(t testing.TB, what, token string) {
	t.Helper()
	in.wantRefused(t, what, token)
	in.wantNoLogout(t, what, token)
}

// wantRefused is wantUnauthorized for GET /client alone, which changes
// nothing, whatever it answers.
func (in *instance) wantRefused(t testing.TB, what, token string) {
	t.Helper()
	for _, hdr := range [][]string{{"Authorization", "Bearer " + token}, {"token", token}} {
		if a := in.call(t, http.MethodGet, "/client", nil, hdr...); a.Status != 401 || a.Raw != unauthorizedAnswer {
			t.Errorf("%s as %s on GET /client: %d %s", what, hdr[0], a.Status, a.Raw)
		}
	}
}

// wantNoLogout is wantUnauthorized for POST /client/logout alone.
func (in *instance) wantNoLogout(t testing.TB, what, token string) {
	t.Helper()
	if a := in.call(t, http.MethodPost, "/client/logout", m{}, "Authorization", "Bearer "+token); a.Status != 401 || a.Raw != unauthorizedAnswer {
		t.Errorf("%s on POST /client/logout: %d %s", what, a.Status, a.Raw)
	}
}

// testForgedAccessTokens: every way of making GET /client accept a token
// the service did not issue as it stands. A control first: the forger's
// own signer, given the service's key and the real claims, makes a token
// that is accepted, so each refusal below is the refusal of its one flaw.
func testForgedAccessTokens(t *testing.T, store options) {
	key := ed25519.NewKeyFromSeed(attackSeed)
	in := start(t, withVars(store, "TOKEN_SIGNING_KEYS", b64(attackSeed)))
	login := in.loggedIn(t)
	header, claims := jwtOf(t, login.Token)
	kid, _ := header["kid"].(string)
	set, _ := in.jwksOf(t)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != kid {
		t.Fatalf("the JWKS does not list the token's kid %q: %+v", kid, set.Keys)
	}
	pub := key.Public().(ed25519.PublicKey)
	if !pub.Equal(set.Keys[0].Key) {
		t.Fatal("the JWKS publishes another key than TOKEN_SIGNING_KEYS's")
	}

	// The control: re-signed by the forger with the service's key.
	if a := in.me(t, signEdDSA(t, key, header, claims)); a.Status != 200 || a.Code != 1 {
		t.Fatalf("the forger's re-signing of a genuine token is refused, so the refusals below prove nothing: %d %s", a.Status, a.Raw)
	}

	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x33}, ed25519.SeedSize))
	strangerJWK := jose.JSONWebKey{Key: stranger.Public(), Algorithm: string(jose.EdDSA), Use: "sig"}
	tp, err := strangerJWK.Thumbprint(gocrypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	strangerKID := base64.RawURLEncoding.EncodeToString(tp)
	strangerJWK.KeyID = strangerKID
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	jwksBytes := func() []byte { _, _, body := in.get(t, "/.well-known/jwks.json"); return []byte(body) }()
	hs := edit(header, "alg", "HS256")
	parts := strings.Split(login.Token, ".")
	future := json.Number(strconv.FormatInt(in.clock.Now().Add(365*24*time.Hour).Unix(), 10))
	flipped := []byte(parts[2])
	flipped[10] ^= 'A' ^ 'B' // a letter for a letter: still base64url
	if flipped[10] == parts[2][10] {
		t.Fatal("no bit flipped")
	}

	forged := []struct{ name, token string }{
		{"alg none, no signature", segment(t, edit(header, "alg", "none")) + "." + parts[1] + "."},
		{"alg None, no signature", segment(t, edit(header, "alg", "None")) + "." + parts[1] + "."},
		{"alg none, the genuine signature kept", segment(t, edit(header, "alg", "none")) + "." + parts[1] + "." + parts[2]},
		{"alg none, no kid", segment(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."},
		{"HS256 with the raw public key as secret", signHS256(t, pub, hs, claims)},
		{"HS256 with the JWK's x as secret", signHS256(t, []byte(base64.RawURLEncoding.EncodeToString(pub)), hs, claims)},
		{"HS256 with the public key's PEM as secret", signHS256(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), hs, claims)},
		{"HS256 with the JWKS document as secret", signHS256(t, jwksBytes, hs, claims)},
		{"HS256 with the public key, no kid", signHS256(t, pub, edit(hs, "kid", nil), claims)},
		{"another issuer, signed with the service's own key", signEdDSA(t, key, header, edit(claims, "iss", "evil"))},
		{"no issuer, signed with the service's own key", signEdDSA(t, key, header, edit(claims, "iss", nil))},
		{"no exp, signed with the service's own key", signEdDSA(t, key, header, edit(claims, "exp", nil))},
		{"no gen, signed with the service's own key", signEdDSA(t, key, header, edit(claims, "gen", nil))},
		{"no sid, signed with the service's own key", signEdDSA(t, key, header, edit(claims, "sid", nil))},
		{"tampered payload: exp a year on", parts[0] + "." + segment(t, edit(claims, "exp", future)) + "." + parts[2]},
		{"tampered payload: another session id", parts[0] + "." + segment(t, edit(claims, "sid", "someone-else")) + "." + parts[2]},
		{"tampered payload: another generation", parts[0] + "." + segment(t, edit(claims, "gen", json.Number("7"))) + "." + parts[2]},
		{"tampered header: another kid", segment(t, edit(header, "kid", strangerKID)) + "." + parts[1] + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(flipped)},
		{"no signature", parts[0] + "." + parts[1] + "."},
		{"padded signature", login.Token + "="},
		{"signed by a stranger under the service's kid", signEdDSA(t, stranger, header, claims)},
		{"signed by a stranger under its own kid", signEdDSA(t, stranger, edit(header, "kid", strangerKID), claims)},
		{"signed by a stranger, its key embedded in the header", signEdDSA(t, stranger, edit(header, "jwk", strangerJWK), claims)},
		{"signed by a stranger, kid a path", signEdDSA(t, stranger, edit(header, "kid", strings.Repeat("../", 3)+"dev/null"), claims)},
		{"signed by a stranger, kid an injection", signEdDSA(t, stranger, edit(header, "kid", `' OR '1'='1`), claims)},
		{"the refresh token", login.RefreshToken},
		{"two tokens joined", login.Token + "." + login.Token},
	}
	// GET /client first for all of them: a logout that got through would
	// make every later refusal meaningless.
	for _, f := range forged {
		in.wantRefused(t, f.name, f.token)
	}
	for _, f := range forged {
		in.wantNoLogout(t, f.name, f.token)
	}

	// None of it touched the session, and no token reached the logs.
	wantAccount(t, in.me(t, login.Token))
	if a := in.call(t, http.MethodGet, "/client", nil, "token", login.Token); a.Status != 200 || a.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /client with the token header: %d %s, Cache-Control %q (an account must not be cached)", a.Status, a.Raw, a.Header.Get("Cache-Control"))
	}
	logs := in.logText()
	for _, f := range append(forged, struct{ name, token string }{"the access token", login.Token}, struct{ name, token string }{"the refresh token", login.RefreshToken}) {
		sig := f.token[strings.LastIndexByte(f.token, '.')+1:]
		if len(sig) > 20 && strings.Contains(logs, sig) {
			t.Errorf("the logs show %s", f.name)
		}
	}
	if len(in.logs.FilterMessage("panic in handler").All())+len(in.logs.FilterMessage("request failed").All()) != 0 {
		t.Errorf("a forged token made the service fail:\n%s", logs)
	}
}

// testForgedRefreshTokens: every way of getting a pair from POST
// /client/token/refresh without the current refresh token.
func testForgedRefreshTokens(t *testing.T, store options) {
	in := start(t, store)
	login := in.loggedIn(t)

	// A deployment with other keys: its tokens are strangers here.
	other := start(t, withVars(options{}, "TOKEN_KEY", b64(bytes.Repeat([]byte{1}, 32)), "TOKEN_SIGNING_KEYS", b64(bytes.Repeat([]byte{2}, 32))))
	elsewhere := other.loggedIn(t)

	body := strings.TrimPrefix(login.RefreshToken, "pa_rt1_")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("refresh token %q: %v", login.RefreshToken, err)
	}
	bump := func(i int) string { // one byte of the body changed, the MAC kept
		b := append([]byte(nil), raw...)
		b[i]++
		return "pa_rt1_" + base64.RawURLEncoding.EncodeToString(b)
	}
	forged := []struct{ name, token string }{
		{"the access token", login.Token},
		{"another deployment's refresh token", elsewhere.RefreshToken},
		{"another deployment's access token", elsewhere.Token},
		{"seq raised, MAC kept", bump(15)},
		{"generation raised, MAC kept", bump(7)},
		{"expiry moved, MAC kept", bump(27)},
		{"MAC changed", bump(len(raw) - 1)},
		{"truncated", login.RefreshToken[:len(login.RefreshToken)-4]},
		{"padded", login.RefreshToken + "="},
		{"a line break inside", login.RefreshToken[:20] + "\n" + login.RefreshToken[20:]},
		{"another prefix", "pa_rt2_" + body},
		{"upper-case prefix", "PA_RT1_" + body},
		{"no prefix", body},
		{"the prefix alone", "pa_rt1_"},
		{"empty", ""},
		{"a NUL byte", "pa_rt1_\x00" + body},
		{"long", "pa_rt1_" + strings.Repeat("A", 10<<10)},
	}
	for _, f := range forged {
		if a := in.refresh(t, f.token); a.Status != 401 || a.Raw != invalidRefreshAnswer {
			t.Errorf("refresh with %s: %d %s", f.name, a.Status, a.Raw)
		}
		if f.token == "" {
			continue // an empty refresh token is no refresh token: logout goes by the (absent) access token
		}
		if a := in.call(t, http.MethodPost, "/client/logout", m{"refresh_token": f.token}); a.Status != 401 || a.Raw != unauthorizedAnswer {
			t.Errorf("logout with %s: %d %s", f.name, a.Status, a.Raw)
		}
	}
	// Nothing of it moved the session: past the grace its refresh token
	// is still the current one (had anything advanced the chain, this
	// would be reuse; had anything revoked it, a refusal).
	in.clock.Advance(defaultGrace + time.Second)
	wantAccount(t, in.me(t, login.Token))
	if a := in.refresh(t, login.RefreshToken); a.Status != 200 || a.Code != 1 {
		t.Fatalf("refresh after the forgeries: %d %s", a.Status, a.Raw)
	}
}

// testExpiredTokens: a token is accepted up to its expiry on the
// service's clock, and not a second later; the refresh token to the
// millisecond.
func testExpiredTokens(t *testing.T, store options) {
	const accessTTL, refreshTTL = 168 * time.Hour, 720 * time.Hour
	in := start(t, store)
	login := in.loggedIn(t)
	spare := in.loginOK(t) // the same instant: to show the refresh token good until its last millisecond

	in.clock.Advance(accessTTL - time.Second)
	wantAccount(t, in.me(t, login.Token))
	in.clock.Advance(time.Second)
	in.wantUnauthorized(t, "an access token at its expiry", login.Token)

	in.clock.Advance(refreshTTL - accessTTL - time.Millisecond)
	if a := in.refresh(t, spare.RefreshToken); a.Status != 200 || a.Code != 1 {
		t.Fatalf("a refresh token in its last millisecond: %d %s", a.Status, a.Raw)
	}
	in.clock.Advance(time.Millisecond)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": login.RefreshToken}, 401, invalidRefreshAnswer)
	in.expectCall(t, http.MethodPost, "/client/logout", m{"refresh_token": login.RefreshToken}, 401, unauthorizedAnswer)
}

// testHostileTokenHeaders: nothing in the headers that carry a token
// gets past the check, and nothing makes the service fail.
func testHostileTokenHeaders(t *testing.T, store options) {
	in := start(t, store)
	login := in.loggedIn(t)

	for _, hdr := range [][]string{
		{},
		{"Authorization", "Bearer"},
		{"Authorization", "Bearer    "},
		{"Authorization", "Basic c2Vzc2lvbjpwYXNz"},
		{"Authorization", ""},
		{"token", ""},
		{"token", "   "},
	} {
		if a := in.call(t, http.MethodGet, "/client", nil, hdr...); a.Status != 401 || a.Raw != tokenMissingAnswer {
			t.Errorf("GET /client with %q: %d %s", hdr, a.Status, a.Raw)
		}
	}
	deep := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("[", 1000)))
	for _, garbage := range []string{
		"x", "....", "a.b.c", "eyJ.eyJ.x", "\xff\xfe\xfd", "null", "{}", "Bearer " + login.Token,
		deep + "." + deep + ".AAAA",
		strings.Repeat("A", 3000),
		strings.Repeat("eyJhbGciOiJub25lIn0.", 100),
	} {
		in.wantUnauthorized(t, "garbage "+strconv.Quote(garbage[:min(len(garbage), 24)]), garbage)
	}

	// Headers past what the server reads: a clean 4xx, never a panic.
	for _, size := range []int{9 << 10, 64 << 10, 1 << 20} {
		for _, name := range []string{"Authorization", "token"} {
			value := strings.Repeat("A", size)
			if name == "Authorization" {
				value = "Bearer " + value
			}
			req, err := http.NewRequest(http.MethodGet, in.base+"/client", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(name, value)
			resp, err := client.Do(req)
			if err != nil {
				// The server may close the connection before the client
				// has written a megabyte; that is clean too, as long as
				// it goes on serving (checked below).
				t.Logf("%s of %d bytes: %v", name, size, err)
				continue
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var body struct {
				Code  *int   `json:"code"`
				Error string `json:"error"`
			}
			if resp.StatusCode < 400 || resp.StatusCode > 499 || json.Unmarshal(raw, &body) != nil || body.Code == nil || *body.Code == 1 {
				t.Errorf("%s of %d bytes: %d %s", name, size, resp.StatusCode, raw)
			}
		}
	}
	// Still serving, the session intact, and nothing failed inside.
	wantAccount(t, in.me(t, login.Token))
	if n := len(in.logs.FilterMessage("panic in handler").All()) + len(in.logs.FilterMessage("request failed").All()); n != 0 {
		t.Errorf("%d requests failed inside:\n%s", n, in.logText())
	}
}

// testVerifiedWithGoJOSE: another service, holding nothing but what GET
// /.well-known/jwks.json answered, verifies a login's token with go-jose;
// the same check refuses a tampered token, so its acceptance means
// something.
func testVerifiedWithGoJOSE(t *testing.T, store options) {
	in := start(t, store)
	login := in.loggedIn(t)
	set, hdr := in.jwksOf(t)

	cc := hdr.Get("Cache-Control")
	maxAge := -1
	for _, d := range strings.Split(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			maxAge, _ = strconv.Atoi(v)
		}
	}
	if maxAge <= 0 {
		t.Fatalf("JWKS Cache-Control %q has no positive max-age", cc)
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() || k.Algorithm != string(jose.EdDSA) || k.Use != "sig" {
			t.Fatalf("JWKS key %q: valid=%v public=%v alg=%s use=%s", k.KeyID, k.Valid(), k.IsPublic(), k.Algorithm, k.Use)
		}
		tp, err := k.Thumbprint(gocrypto.SHA256)
		if err != nil || base64.RawURLEncoding.EncodeToString(tp) != k.KeyID {
			t.Fatalf("kid %q is not the key's RFC 7638 thumbprint (%v)", k.KeyID, err)
		}
	}
	now := in.clock.Now()
	claims, err := verifyWithJWKS(set, login.Token, now)
	if err != nil {
		t.Fatalf("a login's token does not verify with the JWKS alone: %v", err)
	}
	if got := claims.Expiry.Time().Sub(claims.IssuedAt.Time()); got != 168*time.Hour || login.ExpiresIn != int64(got/time.Second) {
		t.Fatalf("exp-iat %v, expires_in %d, want TOKEN_TTL", got, login.ExpiresIn)
	}
	parts := strings.Split(login.Token, ".")
	_, body := jwtOf(t, login.Token)
	for name, bad := range map[string]string{
		"tampered": parts[0] + "." + segment(t, edit(body, "sub", "someone-else")) + "." + parts[2],
		"alg none": segment(t, map[string]any{"alg": "none"}) + "." + parts[1] + ".",
	} {
		if _, err := verifyWithJWKS(set, bad, now); err == nil {
			t.Fatalf("the JWKS check accepts a %s token: it proves nothing", name)
		}
	}
	if _, err := verifyWithJWKS(set, login.Token, now.Add(169*time.Hour)); err == nil {
		t.Fatal("the JWKS check accepts an expired token")
	}

	// A service with the JWKS alone sees a logout only when the token
	// expires; this service refuses the token at once.
	in.expectCall(t, http.MethodPost, "/client/logout", m{}, 200, loggedOutAnswer, "token", login.Token)
	in.wantUnauthorized(t, "a logged-out token", login.Token)
	if _, err := verifyWithJWKS(set, login.Token, now); err != nil {
		t.Fatalf("the JWKS check stopped accepting a valid signature: %v", err)
	}
}

// testParallelRefreshes: 2 and then 20 refreshes of one refresh token at
// once, first of a session never refreshed (the store inserts its
// record) and then of one already recorded (the store replaces it): one
// successor, answered to every one of them.
func testParallelRefreshes(t *testing.T, store options) {
	in := start(t, store)
	// Runs before the instance stops: a connection the client dialed for
	// the race but never used would hold the graceful stop for seconds.
	t.Cleanup(client.CloseIdleConnections)
	in.loggedIn(t)
	for _, n := range []int{2, 20} {
		s := in.loginOK(t)
		cur := s
		for round, path := range []string{"first refresh", "later refresh"} {
			// The clock moves while they race: two successors made from
			// one token would differ in their issue time, and so in
			// their bytes.
			stop := ticking(in.clock)
			answers := parallel(n, func(int) answer { return in.refresh(t, cur.RefreshToken) })
			stop()
			for i, a := range answers {
				if a.Status != 200 || a.Code != 1 || a.Raw != answers[0].Raw {
					t.Fatalf("%d parallel refreshes (%s): answer %d is %d %s, answer 0 %s", n, path, i, a.Status, a.Raw, answers[0].Raw)
				}
			}
			next := answers[0]
			// (The access token may be the same: it says no place in the
			// chain, and its times are whole seconds.)
			if next.RefreshToken == cur.RefreshToken {
				t.Fatalf("round %d: no new refresh token: %s", round, next.Raw)
			}
			wantAccount(t, in.me(t, next.Token))
			cur = next
		}
		// The successor is the session's one current token: it refreshes,
		// and past the grace the pair before it is reuse.
		next := in.refresh(t, cur.RefreshToken)
		if next.Status != 200 || next.Code != 1 || next.RefreshToken == cur.RefreshToken {
			t.Fatalf("refresh of the one successor: %d %s", next.Status, next.Raw)
		}
		in.clock.Advance(defaultGrace + time.Millisecond)
		in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": cur.RefreshToken}, 401, reusedAnswer)
	}
}

// ticking moves clock on by a millisecond every few microseconds of
// real time, at most 2 s in all (well within the reuse grace), until
// stop is called.
func ticking(clock *apptest.Clock) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for range 2000 {
			select {
			case <-done:
				return
			default:
			}
			clock.Advance(time.Millisecond)
			time.Sleep(20 * time.Microsecond)
		}
	}()
	return func() { close(done); <-stopped }
}

// testReuseEndsTheSession: the grace is measured to the millisecond; a
// reuse after it ends the whole session (every access token and the
// successor refresh token), and no other session of the account; a
// token two steps back is reuse at once.
func testReuseEndsTheSession(t *testing.T, store options) {
	in := start(t, store)
	login := in.loggedIn(t)
	bystander := in.loginOK(t)
	bystanderNext := in.refresh(t, bystander.RefreshToken)

	next := in.refresh(t, login.RefreshToken)
	if next.Status != 200 || next.Code != 1 {
		t.Fatalf("refresh: %d %s", next.Status, next.Raw)
	}
	in.clock.Advance(defaultGrace)
	if again := in.refresh(t, login.RefreshToken); again.Status != 200 || again.Raw != next.Raw {
		t.Fatalf("the used token at the grace's last millisecond: %d %s\nwant %s", again.Status, again.Raw, next.Raw)
	}
	in.clock.Advance(time.Millisecond)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": login.RefreshToken}, 401, reusedAnswer)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": next.RefreshToken}, 401, invalidRefreshAnswer)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": login.RefreshToken}, 401, invalidRefreshAnswer)
	in.wantUnauthorized(t, "the login's access token after reuse", login.Token)
	in.wantUnauthorized(t, "the successor's access token after reuse", next.Token)
	in.expectCall(t, http.MethodPost, "/client/logout", m{"refresh_token": next.RefreshToken}, 401, unauthorizedAnswer)

	// The account's other session lives on, and refreshes.
	wantAccount(t, in.me(t, bystander.Token))
	wantAccount(t, in.me(t, bystanderNext.Token))
	if a := in.refresh(t, bystanderNext.RefreshToken); a.Status != 200 || a.Code != 1 {
		t.Fatalf("the other session after a reuse: %d %s", a.Status, a.Raw)
	}

	// Two steps back: reuse even within the grace of the latest pair.
	s := in.loginOK(t)
	s1 := in.refresh(t, s.RefreshToken)
	s2 := in.refresh(t, s1.RefreshToken)
	if s2.Status != 200 || s2.Code != 1 {
		t.Fatalf("second refresh: %d %s", s2.Status, s2.Raw)
	}
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": s.RefreshToken}, 401, reusedAnswer)
	in.wantUnauthorized(t, "the newest access token after a reuse two steps back", s2.Token)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": s2.RefreshToken}, 401, invalidRefreshAnswer)
}

// testNoPairAfterLogout: within the grace a used refresh token answers
// its pair again, but not once the session, or every session of the
// account, was logged out.
func testNoPairAfterLogout(t *testing.T, store options) {
	in := start(t, store)
	in.loggedIn(t)
	for _, c := range []struct {
		name   string
		logout func(s, next answer)
	}{
		{"logout by the access token", func(_, next answer) {
			in.expectCall(t, http.MethodPost, "/client/logout", m{}, 200, loggedOutAnswer, "Authorization", "Bearer "+next.Token)
		}},
		{"logout by the refresh token", func(_, next answer) {
			in.expectCall(t, http.MethodPost, "/client/logout", m{"refresh_token": next.RefreshToken}, 200, loggedOutAnswer)
		}},
		{"logout by the origin's GET", func(s, _ answer) {
			in.expectCall(t, http.MethodGet, "/client/logout", nil, 200, loggedOutAnswer, "token", s.Token)
		}},
		{"logout all", func(s, _ answer) {
			in.expectCall(t, http.MethodPost, "/client/logout", m{"all": true}, 200, loggedOutAnswer, "token", s.Token)
		}},
	} {
		s := in.loginOK(t)
		next := in.refresh(t, s.RefreshToken)
		if again := in.refresh(t, s.RefreshToken); again.Status != 200 || again.Raw != next.Raw {
			t.Fatalf("%s: the grace does not answer the pair even before: %s", c.name, again.Raw)
		}
		in.clock.Advance(time.Second)
		c.logout(s, next)
		in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": s.RefreshToken}, 401, invalidRefreshAnswer)
		in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": next.RefreshToken}, 401, invalidRefreshAnswer)
		in.wantUnauthorized(t, c.name+": the successor's access token", next.Token)
	}
}

// gzipped is s compressed with gzip.
func gzipped(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// chunked sends body with Transfer-Encoding: chunked (no length up
// front) and returns the status and body; the answer is checked against
// the contract.
//
// A server that refuses a body before reading all of it answers and
// closes the connection; the bytes the client is still sending then make
// the server's TCP reset the connection, and a client that is still
// writing may see the reset instead of the answer (seen once in CI). So
// a request that fails with a reset while it was being sent is sent again,
// at most twice more: the answer, when one arrives, is checked in full.
func (in *instance) chunked(t testing.TB, path, body string, hdr ...string) (int, string) {
	t.Helper()
	var (
		resp *http.Response
		err  error
	)
	for try := 0; try < 3; try++ {
		var req *http.Request
		req, err = http.NewRequest(http.MethodPost, in.base+path, io.MultiReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		resp, err = client.Do(req)
		if err == nil || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			break
		}
		t.Logf("POST %s chunked: %v; sending it again", path, err)
	}
	if err != nil {
		t.Fatalf("POST %s chunked: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	checkContract(t, http.MethodPost, path, resp.StatusCode, resp.Header, raw)
	return resp.StatusCode, string(raw)
}

// testHostileSessionBodies: bodies that are not what refresh and logout
// take are refused as §2's table says, and change nothing: after all of
// them, past the grace, the session's first refresh token is still its
// current one.
func testHostileSessionBodies(t *testing.T, store options) {
	in := start(t, store)
	login := in.loggedIn(t)
	r := login.RefreshToken
	pad := strings.Repeat("x", 17<<10)
	type probe struct {
		method, path, body string
		hdr                []string
		status             int
		raw                string
	}
	withToken := []string{"token", login.Token}
	gz := []string{"Content-Encoding", "gzip"}
	probes := []probe{
		{"POST", "/client/token/refresh", `{"refresh_token":{"$ne":null}}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":{"$gt":""}}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":["` + r + `"]}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":123}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":true}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":null}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", ``, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refreshToken":"` + r + `"}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"REFRESH_TOKEN":"` + r + `"}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `[{"refresh_token":"` + r + `"}]`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `"` + r + `"`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":"` + r + `"`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":"` + r + `"} {}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":"` + r + `","refresh_token":{"$ne":null}}`, nil, 400, badRequestAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":"` + r + `","pad":"` + pad + `"}`, nil, 413, tooLargeAnswer},
		{"POST", "/client/token/refresh", gzipped(t, `{"refresh_token":"`+r+`"}`), gz, 415, encodedAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":"` + r + `"}`, []string{"Content-Encoding", "identity, gzip"}, 415, encodedAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":"` + r + `"}`, []string{"Content-Encoding", "deflate"}, 415, encodedAnswer},
		{"POST", "/client/token/refresh", `{"refresh_token":"` + r + `"}`, []string{"Content-Encoding", "BR"}, 415, encodedAnswer},

		{"POST", "/client/logout", ``, nil, 401, tokenMissingAnswer},
		{"POST", "/client/logout", `{}`, nil, 401, tokenMissingAnswer},
		{"GET", "/client/logout", ``, nil, 401, tokenMissingAnswer},
		{"POST", "/client/logout", `{"all":true}`, nil, 401, tokenMissingAnswer},
		{"POST", "/client/logout", `{"all":"yes"}`, withToken, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"all":"true"}`, withToken, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"all":1}`, withToken, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"all":null}`, withToken, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"all":{"$ne":false}}`, withToken, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"refresh_token":"` + r + `","all":"yes"}`, nil, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"refresh_token":{"$ne":null}}`, withToken, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"refresh_token":{"$ne":null},"all":true}`, nil, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"refresh_token":123}`, withToken, 400, badRequestAnswer},
		{"POST", "/client/logout", `not json`, withToken, 400, badRequestAnswer},
		{"GET", "/client/logout", `[]`, withToken, 400, badRequestAnswer},
		{"POST", "/client/logout", `{"all":true,"pad":"` + pad + `"}`, withToken, 413, tooLargeAnswer},
		{"POST", "/client/logout", `{"refresh_token":"` + r + `","pad":"` + pad + `"}`, nil, 413, tooLargeAnswer},
		{"POST", "/client/logout", gzipped(t, `{"all":true}`), append(gz, withToken...), 415, encodedAnswer},
		{"POST", "/client/logout", gzipped(t, `{"refresh_token":"`+r+`"}`), gz, 415, encodedAnswer},
	}
	for _, p := range probes {
		var body any
		if p.body != "" || p.method == "POST" {
			body = p.body
		}
		if a := in.call(t, p.method, p.path, body, p.hdr...); a.Status != p.status || a.Raw != p.raw {
			t.Errorf("%s %s %.60q %q:\n got  %d %s\n want %d %s", p.method, p.path, p.body, p.hdr, a.Status, a.Raw, p.status, p.raw)
		}
	}
	// The limit counts a body sent without a length as well.
	for _, path := range []string{"/client/token/refresh", "/client/logout"} {
		if status, raw := in.chunked(t, path, `{"refresh_token":"`+r+`","all":true,"pad":"`+pad+`"}`); status != 413 || raw != tooLargeAnswer {
			t.Errorf("chunked body over the limit to %s: %d %s", path, status, raw)
		}
	}

	// Nothing moved: past the grace, the login's refresh token is still
	// the current one (an advanced chain would make this a reuse, a
	// revoked session or account a refusal), and it refreshes once.
	in.clock.Advance(defaultGrace + time.Second)
	wantAccount(t, in.me(t, login.Token))
	next := in.refresh(t, r)
	if next.Status != 200 || next.Code != 1 {
		t.Fatalf("refresh after the hostile bodies: %d %s", next.Status, next.Raw)
	}
	wantAccount(t, in.me(t, next.Token))
}
