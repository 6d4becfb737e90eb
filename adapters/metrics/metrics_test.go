package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/metrics"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
)

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

// TestRegistriesAreIndependent: two services in one process (tests, the
// benchmark) must not collide on a global registry.
func TestRegistriesAreIndependent(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.SMSAttempt("cloopen", "sent")
	if got := countOf(t, b, "phoneauth_sms_sends_total"); got != 0 {
		t.Fatalf("b saw a's send: %v", got)
	}
	if got := countOf(t, a, "phoneauth_sms_sends_total"); got != 1 {
		t.Fatalf("a: %v sends", got)
	}
}

func TestObserveRequest(t *testing.T) {
	m := metrics.New()
	m.ObserveRequest(application.RequestOutcome{Route: "/client/login", Operation: application.OpLogin, Status: 200, Duration: time.Millisecond})
	m.ObserveRequest(application.RequestOutcome{Route: "/client/login", Operation: application.OpLogin, Status: 200, Reason: "wrong_password"})
	m.ObserveRequest(application.RequestOutcome{Route: "/client/register-step-2", Operation: application.OpVerifyCode, Status: 200, Reason: "code_mismatch"})
	m.ObserveRequest(application.RequestOutcome{Route: "/client/register-step-1", Operation: application.OpSendCode, Status: 429, Reason: "rate_limited", LimitKind: "ip_hourly"})
	m.ObserveRequest(application.RequestOutcome{Route: "/client/register-step-1", Operation: application.OpSendCode, Status: 429, Reason: "rate_limited", LimitKind: "brand_new_kind"})
	m.ObserveRequest(application.RequestOutcome{Route: "/client/change-phone-step-2", Operation: application.OpChangePhone, Status: 200, Reason: "phone_taken"})
	m.ObserveRequest(application.RequestOutcome{Route: "/client/reset-password-step-2", Operation: application.OpResetPassword, Status: 200})
	m.ObserveRequest(application.RequestOutcome{Route: "/client/delete-account", Operation: application.OpDeleteAccount, Status: 401, Reason: "unauthorized"})

	out := scrape(t, m)
	for _, want := range []string{
		`phoneauth_http_requests_total{route="/client/login",status="200"} 2`,
		`phoneauth_http_requests_total{route="/client/register-step-1",status="429"} 2`,
		`phoneauth_http_request_duration_seconds_count{route="/client/login"} 2`,
		`phoneauth_logins_total{outcome="success"} 1`,
		`phoneauth_logins_total{outcome="wrong_password"} 1`,
		`phoneauth_logins_total{outcome="account_locked"} 0`,
		`phoneauth_verifications_total{outcome="code_mismatch"} 1`,
		`phoneauth_verifications_total{outcome="success"} 0`,
		`phoneauth_account_operations_total{operation="change_phone",outcome="phone_taken"} 1`,
		`phoneauth_account_operations_total{operation="reset_password",outcome="success"} 1`,
		`phoneauth_account_operations_total{operation="delete_account",outcome="unauthorized"} 1`,
		`phoneauth_account_operations_total{operation="change_password",outcome="wrong_password"} 0`,
		`phoneauth_account_operations_total{operation="reset_password_send",outcome="success"} 0`,
		`phoneauth_rate_limited_total{kind="ip_hourly"} 1`,
		`phoneauth_rate_limited_total{kind="other"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want+" ") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, `operation="login"`) || strings.Contains(out, `operation="send_code"`) {
		t.Error("an operation that has its own metric is counted among the account's")
	}
	if strings.Contains(out, "brand_new_kind") {
		t.Error("an unknown rate-limit kind became a label value")
	}
}

// TestStoreDecorators: calls pass through unchanged, and each is timed
// under its store and operation; a store failure is told apart from a
// store's ordinary "no".
func TestStoreDecorators(t *testing.T) {
	m := metrics.New()
	ctx := context.Background()
	fu := apptest.NewUsers()
	u := m.Users(fu)
	phone := domain.MustParsePhoneNumber("15850551102")
	if _, err := u.ByPhone(ctx, phone); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatalf("ByPhone: %v", err)
	}
	fu.Err = fmt.Errorf("disk: %w", application.ErrUnavailable)
	if _, err := u.Exists(ctx, phone); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("Exists: %v", err)
	}
	p := m.PendingRegistrations(apptest.NewPending())
	if err := p.Update(ctx, phone, t0, func(*domain.PendingRegistration) error { return nil }); !errors.Is(err, domain.ErrNoPending) {
		t.Fatalf("Update: %v", err)
	}
	refused := errors.New("refused by fn")
	if err := m.RateLimits(apptest.NewLimits()).Update(ctx, "k", t0, func(*domain.FixedWindow) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("RateLimits.Update: %v", err)
	}
	if err := m.Lockouts(apptest.NewLockouts()).Update(ctx, "k", t0, func(*domain.LoginFailures) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if c, err := m.Nonces(apptest.NewNonces()).Claim(ctx, "n", t0.Add(time.Minute), t0); err != nil || c != application.NonceClaimed {
		t.Fatalf("Claim: %v %v", c, err)
	}

	out := scrape(t, m)
	for _, want := range []string{
		`phoneauth_store_operation_duration_seconds_count{operation="by_phone",result="ok",store="users"} 1`,
		`phoneauth_store_operation_duration_seconds_count{operation="exists",result="unavailable",store="users"} 1`,
		`phoneauth_store_operation_duration_seconds_count{operation="update",result="ok",store="pending_registrations"} 1`,
		`phoneauth_store_operation_duration_seconds_count{operation="update",result="ok",store="rate_limits"} 1`,
		`phoneauth_store_operation_duration_seconds_count{operation="update",result="ok",store="lockouts"} 1`,
		`phoneauth_store_operation_duration_seconds_count{operation="claim",result="ok",store="nonces"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

func countOf(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			sum += mt.GetCounter().GetValue()
		}
	}
	return sum
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("scrape: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}
