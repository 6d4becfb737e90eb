package httpapi_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/openapitest"
)

// loggedIn registers the fixture's account and logs it in through the
// application: the pair a client holds after POST /client/login.
func (x *fixture) loggedIn(t *testing.T) application.SessionTokens {
	t.Helper()
	x.registered(t)
	return x.login(t)
}

// login logs the registered account in once more: another session.
func (x *fixture) login(t *testing.T) application.SessionTokens {
	t.Helper()
	res, err := x.f.App.Login.Handle(context.Background(), loginRequest("password1"))
	if err != nil {
		t.Fatal(err)
	}
	return res.SessionTokens
}

var loginSeq atomic.Int64

// loginRequest is a login of the fixture's account, with a random_str of
// its own.
func loginRequest(password string) application.Login {
	r, ts := "rs"+strconv.FormatInt(loginSeq.Add(1), 10), strconv.FormatInt(t0.Unix(), 10)
	return application.Login{Phone: phone, EncryptionStr: domain.LoginProof(password, r, ts), RandomStr: r, TimeStamp: ts}
}

// pairAnswer is the shape of an answer carrying a fresh pair, after its
// message: the fakes' tokens are base64url and dots.
func pairAnswer(message string) *regexp.Regexp {
	return regexp.MustCompile(`^\{"code":1,"message":"` + message + `","token":"([A-Za-z0-9_.-]+)","expires_in":604800,"refresh_token":"([A-Za-z0-9_.-]+)","refresh_expires_in":2592000\}$`)
}

// TestSessionWireContract covers every answer of the session endpoints
// (docs/api.md, "Messages and reasons"), byte for byte, and holds each
// to api/openapi.yaml.
func TestSessionWireContract(t *testing.T) {
	const (
		rf = "/client/token/refresh"
		me = "/client"
		lo = "/client/logout"

		missing      = `{"code":0,"message":"需要验证","error":"token_missing"}`
		unauthorized = `{"code":2,"message":"验证信息错误","error":"unauthorized"}`
		invalid      = `{"code":2,"message":"验证信息错误","error":"invalid_refresh_token"}`
		reused       = `{"code":2,"message":"验证信息错误","error":"refresh_token_reused"}`
		badRequest   = `{"code":0,"message":"请求参数错误","error":"bad_request"}`
		loggedOut    = `{"code":1,"message":"成功注销"}`
		account      = `{"code":1,"message":"获取成功","phone_number":"+8615850551102","email":"2214102327@qq.com","created_at":"2026-11-24T08:00:00Z"}`
	)
	// A body or header value's {at} stands for the pair's access token,
	// {rt} for its refresh token.
	cases := []struct {
		name   string
		setup  func(*fixture, *testing.T, application.SessionTokens)
		method string
		path   string
		body   string
		hdr    []string
		status int
		want   string // or a pattern, for a fresh pair
		pair   *regexp.Regexp
	}{
		{"refresh", nil, http.MethodPost, rf, `{"refresh_token":"{rt}"}`, nil, 200, "", pairAnswer("刷新成功")},
		{"refresh again within the grace", func(x *fixture, t *testing.T, p application.SessionTokens) {
			refresh(t, x, p.RefreshToken)
			x.f.Clock.Advance(10 * time.Second)
		}, http.MethodPost, rf, `{"refresh_token":"{rt}"}`, nil, 200, "", pairAnswer("刷新成功")},
		{"refresh reused after the grace", func(x *fixture, t *testing.T, p application.SessionTokens) {
			refresh(t, x, p.RefreshToken)
			x.f.Clock.Advance(10*time.Second + time.Millisecond)
		}, http.MethodPost, rf, `{"refresh_token":"{rt}"}`, nil, 401, reused, nil},
		{"refresh garbage", nil, http.MethodPost, rf, `{"refresh_token":"pa_rt1_garbage"}`, nil, 401, invalid, nil},
		{"refresh empty", nil, http.MethodPost, rf, `{"refresh_token":""}`, nil, 401, invalid, nil},
		{"refresh with the access token", nil, http.MethodPost, rf, `{"refresh_token":"{at}"}`, nil, 401, invalid, nil},
		{"refresh after logout", func(x *fixture, t *testing.T, p application.SessionTokens) {
			logout(t, x, application.Logout{AccessToken: p.Token})
		}, http.MethodPost, rf, `{"refresh_token":"{rt}"}`, nil, 401, invalid, nil},
		{"refresh expired", func(x *fixture, t *testing.T, p application.SessionTokens) {
			x.f.Clock.Advance(30 * 24 * time.Hour)
		}, http.MethodPost, rf, `{"refresh_token":"{rt}"}`, nil, 401, invalid, nil},
		{"refresh operator object", nil, http.MethodPost, rf, `{"refresh_token":{"$ne":null}}`, nil, 400, badRequest, nil},
		{"refresh number", nil, http.MethodPost, rf, `{"refresh_token":1}`, nil, 400, badRequest, nil},
		{"refresh missing field", nil, http.MethodPost, rf, `{}`, nil, 400, badRequest, nil},
		{"refresh empty body", nil, http.MethodPost, rf, ``, nil, 400, badRequest, nil},
		{"refresh not JSON", nil, http.MethodPost, rf, `refresh_token=x`, nil, 400, badRequest, nil},
		{"refresh body too large", nil, http.MethodPost, rf, `{"refresh_token":"` + strings.Repeat("x", 16<<10) + `"}`, nil, 413, `{"code":0,"message":"请求体过大","error":"body_too_large"}`, nil},
		{"refresh store down", func(x *fixture, t *testing.T, p application.SessionTokens) {
			x.f.Sessions.Err = application.ErrUnavailable
		}, http.MethodPost, rf, `{"refresh_token":"{rt}"}`, nil, 503, `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`, nil},

		{"me bearer", nil, http.MethodGet, me, "", []string{"Authorization", "Bearer {at}"}, 200, account, nil},
		{"me token header", nil, http.MethodGet, me, "", []string{"token", "{at}"}, 200, account, nil},
		{"me no token", nil, http.MethodGet, me, "", nil, 401, missing, nil},
		{"me forged", nil, http.MethodGet, me, "", []string{"token", "forged"}, 401, unauthorized, nil},
		{"me refresh token", nil, http.MethodGet, me, "", []string{"token", "{rt}"}, 401, unauthorized, nil},
		{"me expired", func(x *fixture, t *testing.T, p application.SessionTokens) {
			x.f.Clock.Advance(7 * 24 * time.Hour)
		}, http.MethodGet, me, "", []string{"token", "{at}"}, 401, unauthorized, nil},
		{"me logged out", func(x *fixture, t *testing.T, p application.SessionTokens) {
			logout(t, x, application.Logout{AccessToken: p.Token})
		}, http.MethodGet, me, "", []string{"token", "{at}"}, 401, unauthorized, nil},
		{"me store down", func(x *fixture, t *testing.T, p application.SessionTokens) {
			x.f.Users.Err = application.ErrUnavailable
		}, http.MethodGet, me, "", []string{"token", "{at}"}, 503, `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`, nil},

		{"logout POST bearer", nil, http.MethodPost, lo, `{}`, []string{"Authorization", "Bearer {at}"}, 200, loggedOut, nil},
		{"logout POST empty body", nil, http.MethodPost, lo, ``, []string{"Authorization", "Bearer {at}"}, 200, loggedOut, nil},
		{"logout GET token header", nil, http.MethodGet, lo, ``, []string{"token", "{at}"}, 200, loggedOut, nil},
		{"logout refresh token", nil, http.MethodPost, lo, `{"refresh_token":"{rt}"}`, nil, 200, loggedOut, nil},
		{"logout all", nil, http.MethodPost, lo, `{"all":true}`, []string{"token", "{at}"}, 200, loggedOut, nil},
		{"logout all false", nil, http.MethodPost, lo, `{"all":false}`, []string{"token", "{at}"}, 200, loggedOut, nil},
		{"logout no token", nil, http.MethodPost, lo, `{}`, nil, 401, missing, nil},
		{"logout GET no token", nil, http.MethodGet, lo, ``, nil, 401, missing, nil},
		{"logout forged", nil, http.MethodPost, lo, `{}`, []string{"token", "forged"}, 401, unauthorized, nil},
		{"logout forged refresh token", nil, http.MethodPost, lo, `{"refresh_token":"pa_rt1_forged"}`, nil, 401, unauthorized, nil},
		{"logout twice", func(x *fixture, t *testing.T, p application.SessionTokens) {
			logout(t, x, application.Logout{AccessToken: p.Token})
		}, http.MethodPost, lo, `{}`, []string{"token", "{at}"}, 401, unauthorized, nil},
		{"logout all as a string", nil, http.MethodPost, lo, `{"all":"true"}`, []string{"token", "{at}"}, 400, badRequest, nil},
		{"logout operator object", nil, http.MethodPost, lo, `{"refresh_token":{"$ne":null}}`, nil, 400, badRequest, nil},
		{"logout null", nil, http.MethodPost, lo, `null`, []string{"token", "{at}"}, 400, badRequest, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newFixture(t, httpapi.Config{})
			p := x.loggedIn(t)
			if c.setup != nil {
				c.setup(x, t, p)
			}
			fill := strings.NewReplacer("{at}", p.Token, "{rt}", p.RefreshToken).Replace
			hdr := make([]string, len(c.hdr))
			for i, h := range c.hdr {
				hdr[i] = fill(h)
			}
			status, got, header := x.do(t, c.method, c.path, fill(c.body), hdr...)
			switch {
			case c.pair != nil:
				m := c.pair.FindStringSubmatch(got)
				if status != c.status || m == nil {
					t.Fatalf("got  %d %s\nwant %d %s", status, got, c.status, c.pair)
				}
			case status != c.status || got != c.want:
				t.Fatalf("got  %d %s\nwant %d %s", status, got, c.status, c.want)
			}
			openapitest.Check(t, c.method, c.path, status, header, []byte(got))
			if ct := header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if header.Get("X-Content-Type-Options") != "nosniff" || header.Get("Cache-Control") != "no-store" {
				t.Errorf("security headers: %v", header)
			}
		})
	}
}

func refresh(t *testing.T, x *fixture, token string) application.SessionTokens {
	t.Helper()
	p, err := x.f.Refresh.Handle(context.Background(), application.Refresh{RefreshToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func logout(t *testing.T, x *fixture, in application.Logout) {
	t.Helper()
	if err := x.f.Logout.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// TestLogoutEnds: each way of logging out ends what it says, as the next
// request sees it.
func TestLogoutEnds(t *testing.T) {
	authed := func(x *fixture, token string) int {
		status, _, _ := x.do(t, http.MethodGet, "/client", "", "token", token)
		return status
	}
	t.Run("the session of the access token", func(t *testing.T) {
		x := newFixture(t, httpapi.Config{})
		p := x.loggedIn(t)
		other := x.login(t)
		if status, body, _ := x.do(t, http.MethodGet, "/client/logout", "", "token", p.Token); status != 200 {
			t.Fatalf("logout: %d %s", status, body)
		}
		if authed(x, p.Token) != 401 || authed(x, other.Token) != 200 {
			t.Fatal("logout ended another session, or not its own")
		}
		if _, err := x.f.Refresh.Handle(context.Background(), application.Refresh{RefreshToken: p.RefreshToken}); err == nil {
			t.Fatal("the logged-out session still refreshes")
		}
	})
	t.Run("not by HEAD", func(t *testing.T) {
		// A link checker or a health probe that sends HEAD with a token
		// it was given must not end the session: HEAD is not a logout.
		x := newFixture(t, httpapi.Config{})
		p := x.loggedIn(t)
		if status, _, _ := x.do(t, http.MethodHead, "/client/logout", "", "token", p.Token); status != http.StatusMethodNotAllowed {
			t.Fatalf("HEAD /client/logout answered %d, want 405", status)
		}
		if authed(x, p.Token) != 200 {
			t.Fatal("HEAD /client/logout ended the session")
		}
	})
	t.Run("the session of the refresh token", func(t *testing.T) {
		x := newFixture(t, httpapi.Config{})
		p := x.loggedIn(t)
		if status, body, _ := x.do(t, http.MethodPost, "/client/logout", `{"refresh_token":"`+p.RefreshToken+`"}`); status != 200 {
			t.Fatalf("logout: %d %s", status, body)
		}
		if authed(x, p.Token) != 401 {
			t.Fatal("the access token of a session logged out by its refresh token still authenticates")
		}
	})
	t.Run("every session", func(t *testing.T) {
		x := newFixture(t, httpapi.Config{})
		p := x.loggedIn(t)
		other := x.login(t)
		if status, body, _ := x.do(t, http.MethodPost, "/client/logout", `{"all":true}`, "Authorization", "Bearer "+p.Token); status != 200 {
			t.Fatalf("logout all: %d %s", status, body)
		}
		after := x.login(t)
		if authed(x, p.Token) != 401 || authed(x, other.Token) != 401 || authed(x, after.Token) != 200 {
			t.Fatal("logout all left a session open, or ended one opened after it")
		}
	})
}

// TestJWKSServed: the JWK set is served as it is given, as JSON, not in
// the API's envelope, and cacheable; without one the path is unknown.
func TestJWKSServed(t *testing.T) {
	set := `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k","alg":"EdDSA","use":"sig"}]}`
	x := newFixture(t, httpapi.Config{JWKS: []byte(set)})
	status, body, hdr := x.do(t, http.MethodGet, httpapi.JWKSPath, "")
	if status != 200 || body != set {
		t.Fatalf("GET %s: %d %s", httpapi.JWKSPath, status, body)
	}
	if hdr.Get("Content-Type") != "application/json" || hdr.Get("Cache-Control") != httpapi.JWKSCacheControl || !strings.HasPrefix(httpapi.JWKSCacheControl, "public, max-age=") {
		t.Fatalf("headers: %v", hdr)
	}
	openapitest.Check(t, http.MethodGet, httpapi.JWKSPath, status, hdr, []byte(body))
	if status, _, _ := newFixture(t, httpapi.Config{}).do(t, http.MethodGet, httpapi.JWKSPath, ""); status != 404 {
		t.Fatalf("without a JWK set: %d", status)
	}
}

// TestPathPrefix: with a prefix every route answers under it exactly as
// at its own path, is observed under its own template, and keeps its
// headers; paths outside both are unknown.
func TestPathPrefix(t *testing.T) {
	obs := &recordingObserver{}
	x := newFixture(t, httpapi.Config{PathPrefix: "/api/v1_1", Observer: obs, JWKS: []byte(`{"keys":[]}`)})
	p := x.loggedIn(t)
	for _, path := range []string{"/client", "/api/v1_1/client"} {
		status, body, hdr := x.do(t, http.MethodGet, path, "", "token", p.Token)
		if status != 200 || !strings.Contains(body, `"message":"获取成功"`) || hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s: %d %s %v", path, status, body, hdr)
		}
		if got := obs.last(t); got.Route != "/client" || got.Operation != application.OpMe {
			t.Errorf("GET %s observed as %+v", path, got)
		}
	}
	for _, path := range []string{"/healthz", "/api/v1_1/healthz", httpapi.JWKSPath, "/api/v1_1" + httpapi.JWKSPath} {
		if status, _, _ := x.do(t, http.MethodGet, path, ""); status != 200 {
			t.Errorf("GET %s: %d", path, status)
		}
	}
	status, body, _ := x.do(t, http.MethodPost, "/api/v1_1/client/register-step-1", `{"phone_number":{"$ne":null}}`)
	if status != 400 || body != `{"code":0,"message":"请求参数错误","error":"bad_request"}` {
		t.Fatalf("bad input under the prefix: %d %s", status, body)
	}
	for _, path := range []string{"/api/client", "/api/v1_1/v1_1/client", "/api/v1_1x/client"} {
		if status, _, _ := x.do(t, http.MethodGet, path, "", "token", p.Token); status != 404 {
			t.Errorf("GET %s: %d, want 404", path, status)
		}
	}
}
