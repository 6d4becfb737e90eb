package test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSessionsEndToEnd runs the session endpoints over HTTP against the
// wired service, on every store.
func TestSessionsEndToEnd(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, options)
	}{
		{"Lifecycle", testSessionLifecycle},
		{"LogoutWithRefreshToken", testLogoutWithRefreshToken},
		{"LogoutAll", testLogoutAll},
		{"TokensVerifyWithTheJWKS", testTokensVerifyWithTheJWKS},
		{"HostileInput", testSessionHostileInput},
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, storeOptions(t, store)) })
			}
		})
	}
}

const (
	sessPhone, sessPassword, sessEmail = "15850551102", "session-pass-1", "session@qq.com"

	unauthorizedAnswer = `{"code":2,"message":"验证信息错误","error":"unauthorized"}`
	loggedOutAnswer    = `{"code":1,"message":"成功注销"}`
)

// me is GET /client with the access token as a Bearer.
func (in *instance) me(t testing.TB, token string) answer {
	t.Helper()
	return in.call(t, http.MethodGet, "/client", nil, "Authorization", "Bearer "+token)
}

func (in *instance) refresh(t testing.TB, refreshToken string) answer {
	t.Helper()
	return in.post(t, "/client/token/refresh", m{"refresh_token": refreshToken})
}

// loggedIn registers the session tests' account and logs it in.
func (in *instance) loggedIn(t testing.TB) answer {
	t.Helper()
	in.register(t, sessPhone, sessPassword, sessEmail)
	return in.loginOK(t)
}

func (in *instance) loginOK(t testing.TB) answer {
	t.Helper()
	a := in.login(t, sessPhone, sessPassword)
	if a.Status != 200 || a.Code != 1 || a.Token == "" || a.RefreshToken == "" {
		t.Fatalf("login: %d %s", a.Status, a.Raw)
	}
	return a
}

// wantAccount fails t unless a is GET /client's answer for the session
// tests' account, byte for byte.
func wantAccount(t testing.TB, a answer) {
	t.Helper()
	created := a.CreatedAt
	want := `{"code":1,"message":"获取成功","phone_number":"+8615850551102","email":"session@qq.com","created_at":"` + created + `"}`
	if a.Status != 200 || a.Raw != want {
		t.Fatalf("GET /client: %d %s\nwant %s", a.Status, a.Raw, want)
	}
	at, err := time.Parse(time.RFC3339, created)
	if err != nil || at.Location() != time.UTC || at.Nanosecond() != 0 || !strings.HasSuffix(created, "Z") {
		t.Fatalf("created_at %q is not RFC 3339 UTC in whole seconds: %v", created, err)
	}
}

func testSessionLifecycle(t *testing.T, store options) {
	in := start(t, store)
	login := in.loggedIn(t)
	wantAccount(t, in.me(t, login.Token))

	in.clock.Advance(time.Minute)
	next := in.refresh(t, login.RefreshToken)
	if next.Status != 200 || next.Code != 1 || next.Message != "刷新成功" || next.ExpiresIn != 7*24*3600 || next.RefreshExpiresIn != 30*24*3600 ||
		next.Token == "" || next.Token == login.Token || next.RefreshToken == "" || next.RefreshToken == login.RefreshToken {
		t.Fatalf("refresh: %d %s", next.Status, next.Raw)
	}
	wantRaw := `{"code":1,"message":"刷新成功","token":"` + next.Token + `","expires_in":604800,"refresh_token":"` + next.RefreshToken + `","refresh_expires_in":2592000}`
	if next.Raw != wantRaw {
		t.Fatalf("refresh answer %s\nwant %s", next.Raw, wantRaw)
	}
	wantAccount(t, in.me(t, next.Token))

	// The used token again within the grace: the identical pair, byte for
	// byte, and the session goes on.
	in.clock.Advance(9 * time.Second)
	if again := in.refresh(t, login.RefreshToken); again.Status != 200 || again.Raw != next.Raw {
		t.Fatalf("the used refresh token within the grace: %d %s\nwant %s", again.Status, again.Raw, next.Raw)
	}
	wantAccount(t, in.me(t, next.Token))

	// Logout, by the access token; everything of the session is refused.
	in.expectCall(t, http.MethodPost, "/client/logout", m{}, 200, loggedOutAnswer, "Authorization", "Bearer "+next.Token)
	in.expectCall(t, http.MethodGet, "/client", nil, 401, unauthorizedAnswer, "Authorization", "Bearer "+next.Token)
	in.expectCall(t, http.MethodGet, "/client", nil, 401, unauthorizedAnswer, "token", login.Token)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": next.RefreshToken}, 401,
		`{"code":2,"message":"验证信息错误","error":"invalid_refresh_token"}`)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": login.RefreshToken}, 401,
		`{"code":2,"message":"验证信息错误","error":"invalid_refresh_token"}`)
	in.expectCall(t, http.MethodPost, "/client/logout", m{}, 401, unauthorizedAnswer, "Authorization", "Bearer "+next.Token)
	in.expectCall(t, http.MethodGet, "/client", nil, 401, `{"code":0,"message":"需要验证","error":"token_missing"}`)

	// A refresh token used after the grace is reuse: the session ends.
	other := in.loginOK(t)
	successor := in.refresh(t, other.RefreshToken)
	in.clock.Advance(10*time.Second + time.Millisecond)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": other.RefreshToken}, 401,
		`{"code":2,"message":"验证信息错误","error":"refresh_token_reused"}`)
	in.expectCall(t, http.MethodGet, "/client", nil, 401, unauthorizedAnswer, "token", successor.Token)
	in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": successor.RefreshToken}, 401,
		`{"code":2,"message":"验证信息错误","error":"invalid_refresh_token"}`)
}

// expectCall is call with the answer's status and body checked.
func (in *instance) expectCall(t testing.TB, method, path string, body any, status int, raw string, hdr ...string) answer {
	t.Helper()
	a := in.call(t, method, path, body, hdr...)
	if a.Status != status || a.Raw != raw {
		t.Fatalf("%s %s %v\n got  %d %s\n want %d %s", method, path, body, a.Status, a.Raw, status, raw)
	}
	return a
}

func testLogoutWithRefreshToken(t *testing.T, store options) {
	in := start(t, store)
	a := in.loggedIn(t)
	b := in.loginOK(t)
	// An app whose access token has expired logs out with its refresh
	// token, and nothing else.
	in.expectCall(t, http.MethodPost, "/client/logout", m{"refresh_token": a.RefreshToken}, 200, loggedOutAnswer)
	in.expectCall(t, http.MethodGet, "/client", nil, 401, unauthorizedAnswer, "token", a.Token)
	in.expectCall(t, http.MethodPost, "/client/logout", m{"refresh_token": a.RefreshToken}, 401, unauthorizedAnswer)
	// The other session lives.
	wantAccount(t, in.me(t, b.Token))
}

func testLogoutAll(t *testing.T, store options) {
	in := start(t, store)
	a := in.loggedIn(t)
	b := in.loginOK(t)
	c := in.loginOK(t)
	bNext := in.refresh(t, b.RefreshToken)
	in.expectCall(t, http.MethodPost, "/client/logout", m{"all": true}, 200, loggedOutAnswer, "token", a.Token)
	for name, tok := range map[string]string{"a": a.Token, "b": b.Token, "b refreshed": bNext.Token, "c": c.Token} {
		if got := in.me(t, tok); got.Status != 401 || got.Raw != unauthorizedAnswer {
			t.Errorf("session %s after logout all: %d %s", name, got.Status, got.Raw)
		}
	}
	if got := in.refresh(t, c.RefreshToken); got.Status != 401 || got.Error != "invalid_refresh_token" {
		t.Errorf("refresh of a session ended by logout all: %d %s", got.Status, got.Raw)
	}
	// Opened after it, in the same second of the test's clock: it lives,
	// and refreshes.
	after := in.loginOK(t)
	wantAccount(t, in.me(t, after.Token))
	if got := in.refresh(t, after.RefreshToken); got.Status != 200 || got.Code != 1 {
		t.Fatalf("refresh of a session opened after logout all: %s", got.Raw)
	}
}

// testTokensVerifyWithTheJWKS: an access token verifies with nothing but
// the published JWK set: its kid names a key there, and the key's
// Ed25519 signature holds over the token.
func testTokensVerifyWithTheJWKS(t *testing.T, store options) {
	in := start(t, store)
	login := in.loggedIn(t)
	resp, err := client.Get(in.base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use string }
	}
	raw := readAll(t, resp)
	checkContract(t, http.MethodGet, "/.well-known/jwks.json", resp.StatusCode, resp.Header, raw)
	if err := json.Unmarshal(raw, &set); err != nil || resp.StatusCode != 200 || len(set.Keys) != 1 {
		t.Fatalf("JWKS: %d %s (%v)", resp.StatusCode, raw, err)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("JWKS headers: %v", resp.Header)
	}
	parts := strings.Split(login.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("the token is no JWS: %q", login.Token)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(hdr, &h); err != nil || h.Alg != "EdDSA" {
		t.Fatalf("token header %s", hdr)
	}
	k := set.Keys[0]
	if k.Kid != h.Kid || k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" {
		t.Fatalf("JWKS key %+v does not name the token's kid %s", k, h.Kid)
	}
	pub, err := base64.RawURLEncoding.DecodeString(k.X)
	sig, serr := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || serr != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("the token's signature does not verify with the JWKS key")
	}
	if !ed25519.PrivateKey(ed25519.NewKeyFromSeed(signingSeed)).Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(pub)) {
		t.Fatal("the JWKS publishes another key than TOKEN_SIGNING_KEYS's")
	}
	// The start-up log says which key signs, by its kid alone.
	started := in.logs.FilterMessage("listening").All()
	if len(started) != 1 || started[0].ContextMap()["token_signing_kid"] != h.Kid {
		t.Fatalf("the start-up log does not name the signing kid %s: %v", h.Kid, started)
	}
	if strings.Contains(in.logText(), base64.StdEncoding.EncodeToString(signingSeed)) {
		t.Fatal("the logs show the signing key")
	}
}

func testSessionHostileInput(t *testing.T, store options) {
	in := start(t, store)
	login := in.loggedIn(t)
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodPost, "/client/token/refresh", `{"refresh_token":{"$ne":null}}`, 400},
		{http.MethodPost, "/client/token/refresh", `{"refresh_token":["x"]}`, 400},
		{http.MethodPost, "/client/token/refresh", `{"refresh_token":null}`, 400},
		{http.MethodPost, "/client/token/refresh", `{}`, 400},
		{http.MethodPost, "/client/token/refresh", `{"refresh_token":"` + strings.Repeat("x", 17<<10) + `"}`, 413},
		{http.MethodPost, "/client/logout", `{"refresh_token":{"$ne":null}}`, 400},
		{http.MethodPost, "/client/logout", `{"all":"true"}`, 400},
		{http.MethodPost, "/client/logout", `{"all":1}`, 400},
		{http.MethodPost, "/client/logout", `not json`, 400},
		{http.MethodGet, "/client/logout", `[]`, 400},
		{http.MethodPost, "/client/logout", `{"pad":"` + strings.Repeat("x", 17<<10) + `"}`, 413},
	} {
		a := in.call(t, c.method, c.path, c.body, "token", login.Token)
		if a.Status != c.status || a.Code != 0 {
			t.Errorf("%s %s %.50s: %d %s", c.method, c.path, c.body, a.Status, a.Raw)
		}
	}
	// An encoded body is refused, never inflated.
	a := in.call(t, http.MethodPost, "/client/token/refresh", `{"refresh_token":"x"}`, "Content-Encoding", "gzip")
	if a.Status != 415 || a.Error != "unsupported_encoding" {
		t.Errorf("encoded refresh: %d %s", a.Status, a.Raw)
	}
	// None of it touched the session.
	wantAccount(t, in.me(t, login.Token))
	if got := in.refresh(t, login.RefreshToken); got.Status != 200 {
		t.Fatalf("refresh after hostile input: %s", got.Raw)
	}
}
