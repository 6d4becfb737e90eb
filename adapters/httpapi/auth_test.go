package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
)

// whoami is the test-only authenticated route: it answers who the
// principal is.
const whoami = "/client/whoami"

// recordingTokens is the fakes' signer, keeping every access token it
// was asked to verify: what the application's Authenticate use case was
// handed by the route.
type recordingTokens struct {
	apptest.Signer
	mu   sync.Mutex
	seen []string
}

func (r *recordingTokens) ParseAccess(token string, now time.Time) (application.AccessClaims, error) {
	r.mu.Lock()
	r.seen = append(r.seen, token)
	r.mu.Unlock()
	return r.Signer.ParseAccess(token, now)
}

func (r *recordingTokens) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// authFixture serves the fakes' application with the whoami route
// added through the same registration as every route, its tokens
// verified through rec. It holds the access tokens of two accounts'
// sessions, u-good's (good) and u-good-2's (good2), and one of u-good's
// that expired (expired); names replaces the names of those tokens in a
// string by the tokens.
type authFixture struct {
	*fixture
	rec                  *recordingTokens
	good, good2, expired string
	names                *strings.Replacer
	served               *int
}

func serveWhoami(t *testing.T, cfg httpapi.Config) *authFixture {
	t.Helper()
	f := apptest.New(t0, apptest.DefaultPolicy())
	rec := &recordingTokens{}
	f.App.Authenticate = application.NewAuthenticateHandler(rec, f.Users, f.Sessions, f.Clock, f.Policy)
	a := &authFixture{rec: rec, served: new(int)}
	open := func(id, ph string, at time.Time) string {
		if _, err := f.Users.ByID(t.Context(), id); err != nil {
			if err := f.Users.Create(t.Context(), domain.NewUser(id, domain.MustParsePhoneNumber(ph), mustEmail(id+"@qq.com"), []byte("s"), t0)); err != nil {
				t.Fatal(err)
			}
		}
		p, err := f.Issuer.Open(id, 0, at)
		if err != nil {
			t.Fatal(err)
		}
		return p.Token
	}
	a.good = open("u-good", "13900000001", t0)
	a.good2 = open("u-good-2", "13900000002", t0)
	a.expired = open("u-good", "13900000001", t0.Add(-f.Policy.AccessTTL-time.Second))
	a.names = strings.NewReplacer("good-2", a.good2, "good", a.good, "expired", a.expired)

	srv := httpapi.New(f.App, cfg, nil, zap.NewNop())
	var mu sync.Mutex
	srv.AddRoute(whoami, func(c *fiber.Ctx) error {
		mu.Lock()
		*a.served++
		mu.Unlock()
		p := httpapi.PrincipalOf(c)
		return c.JSON(fiber.Map{"code": 1, "user": p.User.ID(), "session": p.Claims.SessionID})
	}, httpapi.Authenticated)
	a.fixture = listen(t, f, srv)
	return a
}

// sessionOf is the session id of an access token of the fakes.
func sessionOf(t *testing.T, token string) string {
	t.Helper()
	c, err := apptest.Signer{}.ParseAccess(token, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c.SessionID
}

func TestAuthenticatedRoute(t *testing.T) {
	const (
		missing      = `{"code":0,"message":"需要验证","error":"token_missing"}`
		unauthorized = `{"code":2,"message":"验证信息错误","error":"unauthorized"}`
		unavailable  = `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`
		welcome      = `{"code":1,"session":"{sid}","user":"u-good"}`
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
		{"expired", []string{"Authorization", "Bearer expired"}, 401, unauthorized, "expired"},
		{"store down", []string{"Authorization", "Bearer good"}, 503, unavailable, "good"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := serveWhoami(t, httpapi.Config{})
			if c.name == "store down" {
				x.f.Sessions.Err = application.ErrUnavailable
			}
			hdr := make([]string, len(c.hdr))
			for i, h := range c.hdr {
				hdr[i] = x.names.Replace(h)
			}
			want := strings.ReplaceAll(c.body, "{sid}", sessionOf(t, x.good))
			status, body, got := x.do(t, http.MethodGet, whoami, "", hdr...)
			if status != c.status || body != want {
				t.Fatalf("got  %d %s\nwant %d %s", status, body, c.status, want)
			}
			if handed := strings.Join(x.rec.tokens(), ","); handed != x.names.Replace(c.token) {
				t.Errorf("the verifier was handed %q, want %q", handed, c.token)
			}
			if wantServed := map[bool]int{true: 1, false: 0}[status == 200]; *x.served != wantServed {
				t.Errorf("the handler ran %d times, want %d", *x.served, wantServed)
			}
			if got.Get("Cache-Control") != "no-store" || got.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers: %v", got)
			}
		})
	}
}

// TestTokenOutlivesItsRequest: the verifier may keep the token it was
// handed (a cache); the requests that follow on the same connection must
// not rewrite it.
func TestTokenOutlivesItsRequest(t *testing.T) {
	x := serveWhoami(t, httpapi.Config{})
	sent := []string{x.good, "zzzz-forged", "yyyyyyyyyyyyyyyy", x.good2}
	for i, token := range sent {
		if i%2 == 0 {
			x.do(t, http.MethodGet, whoami, "", "Authorization", "Bearer "+token)
		} else {
			x.do(t, http.MethodGet, whoami, "", "token", token)
		}
	}
	if got := strings.Join(x.rec.tokens(), ","); got != strings.Join(sent, ",") {
		t.Fatalf("the tokens the verifier kept read %q after the requests that followed, want %q", got, strings.Join(sent, ","))
	}
}

// TestAuthRefusalsAreObserved: a refusal reaches the observer with its
// reason, like any answer.
func TestAuthRefusalsAreObserved(t *testing.T) {
	obs := &recordingObserver{}
	x := serveWhoami(t, httpapi.Config{Observer: obs})
	x.do(t, http.MethodGet, whoami, "")
	if got := obs.last(t); got.Route != whoami || got.Status != 401 || got.Reason != "token_missing" {
		t.Errorf("no token: observed %+v", got)
	}
	x.do(t, http.MethodGet, whoami, "", "token", "forged")
	if got := obs.last(t); got.Route != whoami || got.Status != 401 || got.Reason != "unauthorized" {
		t.Errorf("forged token: observed %+v", got)
	}
}

// TestAuthenticatedRouteNeedsAVerifier: without App.Authenticate an
// authenticated route is refused when it is registered, in New, before
// anything is served, rather than served to anyone.
func TestAuthenticatedRouteNeedsAVerifier(t *testing.T) {
	app := *apptest.New(t0, apptest.DefaultPolicy()).App
	app.Authenticate = nil
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "GET /client ") || !strings.Contains(msg, "App.Authenticate") {
			t.Fatalf("registering an authenticated route without a verifier: recovered %v", r)
		}
	}()
	httpapi.New(&app, httpapi.Config{}, nil, zap.NewNop())
}

// TestPrincipalOnAPublicRoute: a handler that reads the principal on a
// route registered as public fails (500) instead of acting for nobody.
func TestPrincipalOnAPublicRoute(t *testing.T) {
	f := apptest.New(t0, apptest.DefaultPolicy())
	srv := httpapi.New(f.App, httpapi.Config{}, nil, zap.NewNop())
	srv.AddRoute(whoami, func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"user": httpapi.PrincipalOf(c).Claims.UserID})
	}, httpapi.Public)
	x := listen(t, f, srv)
	p, err := f.Issuer.Open("u-good", 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := x.do(t, http.MethodGet, whoami, "", "token", p.Token)
	if status != 500 || body != `{"code":0,"message":"服务器内部错误","error":"internal_error"}` {
		t.Fatalf("principal on a public route: %d %s", status, body)
	}
}
