package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// whoami is the test-only authenticated route: it answers what the
// verified claims say.
const whoami = "/client/whoami"

// fakeTokens accepts "good" (and "good-2") and says whose it is; any
// other token is refused, "expired" with a wrapped ErrUnauthorized, and
// "down" is a verifier that cannot answer. It keeps every token it was
// handed.
type fakeTokens struct {
	mu   sync.Mutex
	seen []string
}

func (f *fakeTokens) authenticate(ctx context.Context, token string) (application.AccessClaims, error) {
	f.mu.Lock()
	f.seen = append(f.seen, token)
	f.mu.Unlock()
	if ctx == nil {
		return application.AccessClaims{}, fmt.Errorf("no context")
	}
	switch token {
	case "good", "good-2":
		return application.AccessClaims{UserID: "u-" + token, SessionID: "s1"}, nil
	case "expired":
		return application.AccessClaims{}, fmt.Errorf("%w: token expired", application.ErrUnauthorized)
	case "down":
		return application.AccessClaims{}, application.ErrUnavailable
	}
	return application.AccessClaims{}, application.ErrUnauthorized
}

func (f *fakeTokens) tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// serveWhoami serves the application with the whoami route added
// through the same registration as every route; served counts the
// requests its handler got.
func serveWhoami(t *testing.T, cfg httpapi.Config) (x *fixture, served *int) {
	t.Helper()
	f := apptest.New(t0, apptest.DefaultPolicy())
	srv := httpapi.New(f.App, cfg, nil, zap.NewNop())
	served = new(int)
	var mu sync.Mutex
	srv.AddRoute(whoami, func(c *fiber.Ctx) error {
		mu.Lock()
		*served++
		mu.Unlock()
		claims := httpapi.ClaimsOf(c)
		return c.JSON(fiber.Map{"code": 1, "user": claims.UserID, "session": claims.SessionID})
	}, httpapi.Authenticated)
	return listen(t, f, srv), served
}

func TestAuthenticatedRoute(t *testing.T) {
	const (
		missing      = `{"code":0,"message":"需要验证","error":"token_missing"}`
		unauthorized = `{"code":2,"message":"验证信息错误","error":"unauthorized"}`
		unavailable  = `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`
		welcome      = `{"code":1,"session":"s1","user":"u-good"}`
	)
	cases := []struct {
		name   string
		hdr    []string
		status int
		body   string
		token  string // what the verifier was handed, "" if not asked
	}{
		{"no token", nil, 401, missing, ""},
		{"bearer", []string{"Authorization", "Bearer good"}, 200, welcome, "good"},
		{"bearer in lower case, spaces around", []string{"Authorization", "bearer   good "}, 200, welcome, "good"},
		{"token header", []string{"token", "good"}, 200, welcome, "good"},
		{"bearer first", []string{"Authorization", "Bearer good", "token", "bad"}, 200, welcome, "good"},
		{"empty bearer, token header", []string{"Authorization", "Bearer ", "token", "good"}, 200, welcome, "good"},
		{"another scheme is no token", []string{"Authorization", "Basic Z29vZA=="}, 401, missing, ""},
		{"bare authorization is no token", []string{"Authorization", "good"}, 401, missing, ""},
		{"empty token header", []string{"token", " "}, 401, missing, ""},
		{"invalid bearer", []string{"Authorization", "Bearer forged"}, 401, unauthorized, "forged"},
		{"invalid token header", []string{"token", "forged"}, 401, unauthorized, "forged"},
		{"wrapped invalid", []string{"Authorization", "Bearer expired"}, 401, unauthorized, "expired"},
		{"verifier down", []string{"Authorization", "Bearer down"}, 503, unavailable, "down"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tokens := &fakeTokens{}
			x, served := serveWhoami(t, httpapi.Config{Authenticate: tokens.authenticate})
			status, body, hdr := x.do(t, http.MethodGet, whoami, "", c.hdr...)
			if status != c.status || body != c.body {
				t.Fatalf("got  %d %s\nwant %d %s", status, body, c.status, c.body)
			}
			if got := strings.Join(tokens.tokens(), ","); got != c.token {
				t.Errorf("the verifier was handed %q, want %q", got, c.token)
			}
			if wantServed := map[bool]int{true: 1, false: 0}[status == 200]; *served != wantServed {
				t.Errorf("the handler ran %d times, want %d", *served, wantServed)
			}
			if hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers: %v", hdr)
			}
		})
	}
}

// TestTokenOutlivesItsRequest: the verifier may keep the token it was
// handed (a cache); the requests that follow on the same connection must
// not rewrite it.
func TestTokenOutlivesItsRequest(t *testing.T) {
	tokens := &fakeTokens{}
	x, _ := serveWhoami(t, httpapi.Config{Authenticate: tokens.authenticate})
	sent := []string{"good", "zzzz-forged", "yyyyyyyyyyyyyyyy", "good-2"}
	for i, token := range sent {
		if i%2 == 0 {
			x.do(t, http.MethodGet, whoami, "", "Authorization", "Bearer "+token)
		} else {
			x.do(t, http.MethodGet, whoami, "", "token", token)
		}
	}
	if got := strings.Join(tokens.tokens(), ","); got != strings.Join(sent, ",") {
		t.Fatalf("the tokens the verifier kept read %q after the requests that followed, want %q", got, strings.Join(sent, ","))
	}
}

// TestAuthRefusalsAreObserved: a refusal reaches the observer with its
// reason, like any answer.
func TestAuthRefusalsAreObserved(t *testing.T) {
	obs := &recordingObserver{}
	tokens := &fakeTokens{}
	x, _ := serveWhoami(t, httpapi.Config{Authenticate: tokens.authenticate, Observer: obs})
	x.do(t, http.MethodGet, whoami, "")
	if got := obs.last(t); got.Route != whoami || got.Status != 401 || got.Reason != "token_missing" {
		t.Errorf("no token: observed %+v", got)
	}
	x.do(t, http.MethodGet, whoami, "", "token", "forged")
	if got := obs.last(t); got.Route != whoami || got.Status != 401 || got.Reason != "unauthorized" {
		t.Errorf("forged token: observed %+v", got)
	}
}

// TestAuthenticatedRouteNeedsAVerifier: without Config.Authenticate an
// authenticated route is refused when it is registered, before anything
// is served, rather than served to anyone.
func TestAuthenticatedRouteNeedsAVerifier(t *testing.T) {
	srv := httpapi.New(apptest.New(t0, apptest.DefaultPolicy()).App, httpapi.Config{}, nil, zap.NewNop())
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "GET "+whoami) || !strings.Contains(msg, "Config.Authenticate") {
			t.Fatalf("registering an authenticated route without a verifier: recovered %v", r)
		}
	}()
	srv.AddRoute(whoami, func(*fiber.Ctx) error { return nil }, httpapi.Authenticated)
}

// TestClaimsOnAPublicRoute: a handler that reads claims on a route
// registered as public fails (500) instead of acting for nobody.
func TestClaimsOnAPublicRoute(t *testing.T) {
	f := apptest.New(t0, apptest.DefaultPolicy())
	srv := httpapi.New(f.App, httpapi.Config{}, nil, zap.NewNop())
	srv.AddRoute(whoami, func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"user": httpapi.ClaimsOf(c).UserID})
	}, httpapi.Public)
	x := listen(t, f, srv)
	status, body, _ := x.do(t, http.MethodGet, whoami, "", "token", "good")
	if status != 500 || body != `{"code":0,"message":"服务器内部错误","error":"internal_error"}` {
		t.Fatalf("claims on a public route: %d %s", status, body)
	}
}
