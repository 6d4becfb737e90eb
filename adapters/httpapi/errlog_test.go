package httpapi_test

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// serveLogged serves f's application like serve, logging into an
// observer.
func serveLogged(t *testing.T, f *apptest.Fakes, cfg httpapi.Config) (*fixture, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.WarnLevel)
	return listen(t, f, httpapi.New(f.App, cfg, nil, zap.New(core))), logs
}

// TestDependencyFailureIsLoggedOncePerInterval: a store that is down
// fails request after request; the log gets the first failure at once,
// then one line per interval counting those it held back, and no stack
// trace. Unexpected errors are still logged every time.
func TestDependencyFailureIsLoggedOncePerInterval(t *testing.T) {
	const interval = 300 * time.Millisecond
	x, logs := serveLogged(t, apptest.New(t0, apptest.DefaultPolicy()), httpapi.Config{DependencyLogInterval: interval})
	x.f.Users.Err = application.ErrUnavailable
	const body = `{"phone_number":"15850551102"}`
	start := time.Now()
	for range 50 {
		if status, _ := x.post(t, "/client/register-step-1", body); status != 503 {
			t.Fatalf("status %d, want 503", status)
		}
	}
	if time.Since(start) >= interval {
		t.Skip("50 requests took longer than the interval: the machine is too slow for this test")
	}
	lines := logs.TakeAll()
	if len(lines) != 1 {
		t.Fatalf("%d log lines for 50 failures within the interval, want 1", len(lines))
	}
	if lines[0].Stack != "" {
		t.Errorf("a dependency failure is logged with a stack trace:\n%s", lines[0].Stack)
	}
	if got := lines[0].ContextMap()["suppressed"]; got != int64(0) {
		t.Errorf("first line: suppressed = %v, want 0", got)
	}
	time.Sleep(interval)
	x.post(t, "/client/register-step-1", body)
	lines = logs.TakeAll()
	if len(lines) != 1 || lines[0].ContextMap()["suppressed"] != int64(49) {
		t.Fatalf("after the interval: %d lines (%v), want 1 counting the 49 held back", len(lines), lines)
	}

	x.f.Users.Err = errors.New("disk on fire")
	for range 3 {
		if status, _ := x.post(t, "/client/register-step-1", body); status != 500 {
			t.Fatalf("status %d, want 500", status)
		}
	}
	if got := logs.FilterMessage("request failed").Len(); got != 3 {
		t.Errorf("%d lines for 3 unexpected errors, want 3", got)
	}
}
