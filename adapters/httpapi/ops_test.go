package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// serveReady is serve with a readiness check.
func serveReady(t *testing.T, cfg httpapi.Config, ready httpapi.Readiness) *fixture {
	t.Helper()
	return serveWith(t, apptest.New(t0, apptest.DefaultPolicy()), cfg, ready)
}

func TestReadyz(t *testing.T) {
	down := errors.New("store down")
	cases := []struct {
		name   string
		ready  httpapi.Readiness
		status int
		body   string
	}{
		{"no check", nil, 200, `{"status":"ok"}`},
		{"store answers", func(context.Context) error { return nil }, 200, `{"status":"ok"}`},
		{"store fails", func(context.Context) error { return down }, 503, `{"status":"unavailable"}`},
		{"store hangs", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, 503, `{"status":"unavailable"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := serveReady(t, httpapi.Config{ReadinessTimeout: 100 * time.Millisecond}, c.ready)
			start := time.Now()
			status, body, hdr := x.do(t, http.MethodGet, "/readyz", "")
			if status != c.status || body != c.body {
				t.Fatalf("got %d %s, want %d %s", status, body, c.status, c.body)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("readyz took %s with a 100ms timeout", took)
			}
			if hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("readyz without nosniff: %v", hdr)
			}
		})
	}
}

// TestHealthzTouchesNothing: liveness must not depend on the store, or a
// database outage would get every instance restarted.
func TestHealthzTouchesNothing(t *testing.T) {
	var calls atomic.Int32
	x := serveReady(t, httpapi.Config{}, func(context.Context) error { calls.Add(1); return errors.New("down") })
	status, body, hdr := x.do(t, http.MethodGet, "/healthz", "")
	if status != 200 || body != `{"status":"ok"}` || calls.Load() != 0 {
		t.Fatalf("healthz: %d %s, readiness called %d times", status, body, calls.Load())
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("healthz without nosniff: %v", hdr)
	}
}

// TestSecurityHeaders: nosniff on every answer, no-store on every auth
// answer and every error.
func TestSecurityHeaders(t *testing.T) {
	x := serveReady(t, httpapi.Config{
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("x 1\n")) }),
		OpenAPI: []byte("openapi: 3.1.0\n"),
	}, nil)
	cases := []struct {
		method, path, body string
		noStore            bool
	}{
		{http.MethodGet, "/healthz", "", false},
		{http.MethodGet, "/readyz", "", false},
		{http.MethodGet, "/metrics", "", false},
		{http.MethodGet, "/openapi.yaml", "", false},
		{http.MethodGet, "/nope", "", true},
		{http.MethodPost, "/client/register-step-1", `{"phone_number":"15850551102"}`, true},
		{http.MethodPost, "/client/register-step-2", `{"phone_number":"15850551102","validate_number":"1"}`, true},
		{http.MethodPost, "/client/login", `not json`, true},
	}
	for _, c := range cases {
		status, _, hdr := x.do(t, c.method, c.path, c.body)
		if hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s (%d): no nosniff", c.method, c.path, status)
		}
		if c.noStore && hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s (%d): Cache-Control %q", c.method, c.path, status, hdr.Get("Cache-Control"))
		}
	}
	status, body, hdr := x.do(t, http.MethodGet, "/openapi.yaml", "")
	if status != 200 || body != "openapi: 3.1.0\n" || hdr.Get("Content-Type") != "application/yaml" {
		t.Fatalf("openapi.yaml: %d %q %q", status, body, hdr.Get("Content-Type"))
	}
}

// TestWithoutOptionalRoutes: /metrics and /openapi.yaml exist only when
// configured (metrics may live on their own listener).
func TestWithoutOptionalRoutes(t *testing.T) {
	x := serveReady(t, httpapi.Config{}, nil)
	for _, p := range []string{"/metrics", "/openapi.yaml"} {
		if status, _, _ := x.do(t, http.MethodGet, p, ""); status != 404 {
			t.Errorf("GET %s: %d, want 404", p, status)
		}
	}
}

type recordingObserver struct {
	mu  sync.Mutex
	got []application.RequestOutcome
}

func (r *recordingObserver) ObserveRequest(o application.RequestOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, o)
}

func (r *recordingObserver) last(t *testing.T) application.RequestOutcome {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		t.Fatal("nothing observed")
	}
	return r.got[len(r.got)-1]
}

// TestObserverSeesTemplatesAndReasons: the observer gets the route
// template (never the raw path), the use case, the status, the answer's
// reason and the rate limit's kind.
func TestObserverSeesTemplatesAndReasons(t *testing.T) {
	obs := &recordingObserver{}
	x := serveReady(t, httpapi.Config{Observer: obs}, nil)
	cases := []struct {
		method, path, body string
		want               application.RequestOutcome
	}{
		{http.MethodPost, "/client/register-step-1", `{"phone_number":"15850551102"}`,
			application.RequestOutcome{Route: "/client/register-step-1", Operation: application.OpSendCode, Status: 200}},
		{http.MethodPost, "/client/register-step-1", `{"phone_number":"15850551102"}`,
			application.RequestOutcome{Route: "/client/register-step-1", Operation: application.OpSendCode, Status: 429, Reason: "rate_limited", LimitKind: "cooldown"}},
		{http.MethodPost, "/client/register-step-2", `{"phone_number":"15850551102","validate_number":"zzz"}`,
			application.RequestOutcome{Route: "/client/register-step-2", Operation: application.OpVerifyCode, Status: 200, Reason: "code_mismatch"}},
		{http.MethodPost, "/client/login", `{"phone_number":"15850551102"}`,
			application.RequestOutcome{Route: "/client/login", Operation: application.OpLogin, Status: 400, Reason: "bad_request"}},
		{http.MethodGet, "/healthz", "", application.RequestOutcome{Route: "/healthz", Status: 200}},
		// Passed through the /client group's middleware, served by no route.
		{http.MethodPost, "/client/15850551102", `{}`, application.RequestOutcome{Route: httpapi.RouteUnmatched, Status: 404, Reason: "not_found"}},
		{http.MethodGet, "/client/login", "", application.RequestOutcome{Route: httpapi.RouteUnmatched, Status: 405, Reason: "method_not_allowed"}},
	}
	for _, c := range cases {
		x.do(t, c.method, c.path, c.body)
		got := obs.last(t)
		got.Duration = 0
		if got != c.want {
			t.Errorf("%s %s:\n got  %+v\n want %+v", c.method, c.path, got, c.want)
		}
	}
}
