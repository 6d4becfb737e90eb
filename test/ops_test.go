package test

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestOperationalEndpoints: probes, metrics and headers on the wired
// service, and the use cases showing up in the metrics.
func TestOperationalEndpoints(t *testing.T) {
	in := start(t, options{})
	for _, p := range []string{"/healthz", "/readyz"} {
		status, hdr, body := in.get(t, p)
		if status != 200 || body != `{"status":"ok"}` {
			t.Errorf("GET %s: %d %s", p, status, body)
		}
		if hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", p)
		}
	}

	const phone, password = "15850551102", "metrics-pass"
	in.register(t, phone, password, "metrics@qq.com")
	if a := in.login(t, phone, password); a.Code != 1 {
		t.Fatalf("login: %s", a.Raw)
	}
	in.login(t, phone, "wrong-password")
	in.login(t, "13900000000", password)
	in.expect(t, "/client/register-step-2", m{"phone_number": "13700000000", "validate_number": "123456"}, 200, "")
	in.expect(t, "/client/register-step-1", m{"phone_number": "13700000001"}, 200, "")
	in.expect(t, "/client/register-step-1", m{"phone_number": "13700000001"}, 429, "")

	status, hdr, out := in.get(t, "/metrics")
	if status != 200 || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /metrics: %d %v", status, hdr)
	}
	for _, want := range []string{
		`phoneauth_http_requests_total{route="/client/register-step-1",status="200"} 2`,
		`phoneauth_http_requests_total{route="/client/register-step-1",status="429"} 1`,
		`phoneauth_http_requests_total{route="/healthz",status="200"} 1`,
		`phoneauth_http_request_duration_seconds_count{route="/client/login"} 3`,
		`phoneauth_logins_total{outcome="success"} 1`,
		`phoneauth_logins_total{outcome="wrong_password"} 1`,
		`phoneauth_logins_total{outcome="no_such_user"} 1`,
		`phoneauth_verifications_total{outcome="success"} 1`,
		`phoneauth_verifications_total{outcome="no_pending_registration"} 1`,
		`phoneauth_rate_limited_total{kind="cooldown"} 1`,
		`phoneauth_store_operation_duration_seconds_count{operation="create",result="ok",store="users"} 1`,
		`phoneauth_store_operation_duration_seconds_count{operation="claim",result="ok",store="nonces"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{"15850551102", "13900000000", "13700000001", "metrics@qq.com"} {
		if strings.Contains(out, leak) {
			t.Errorf("metrics carry %q", leak)
		}
	}
}

// TestMetricsOnTheirOwnListener: METRICS_ADDR moves /metrics off the
// public listener, and shutting down stops both.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	in := start(t, options{vars: map[string]string{"METRICS_ADDR": "127.0.0.1:0"}})
	in.get(t, "/healthz") // Serve has started both listeners once this answers
	entries := in.logs.FilterMessage("metrics listening").All()
	if len(entries) != 1 {
		t.Fatalf("%d \"metrics listening\" log lines", len(entries))
	}
	addr, _ := entries[0].ContextMap()["addr"].(string)
	if addr == "" {
		t.Fatalf("no addr in %v", entries[0].ContextMap())
	}

	resp, err := client.Get(in.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("GET /metrics on the public listener: %d, want 404", resp.StatusCode)
	}
	status, hdr, out := getFrom(t, "http://"+addr, "/metrics")
	if status != 200 || !strings.Contains(out, `phoneauth_http_requests_total{route="/healthz",status="200"} 1`) {
		t.Fatalf("GET /metrics on %s: %d\n%s", addr, status, out)
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("metrics listener: no nosniff")
	}

	in.stop()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("metrics listener still accepts after shutdown")
	}
}

// TestTrustedProxiesForRateLimits: TRUSTED_PROXIES, as configured, decides
// whose X-Forwarded-For names the client IP that the per-IP SMS limit
// counts.
func TestTrustedProxiesForRateLimits(t *testing.T) {
	limits := map[string]string{"SMS_HOURLY_LIMIT_PER_IP": "2", "SMS_DAILY_LIMIT_PER_PHONE": "0"}
	send := func(in *instance, phone, xff string) answer {
		t.Helper()
		return in.postWith(t, "/client/register-step-1", m{"phone_number": phone}, "X-Forwarded-For", xff)
	}

	t.Run("behind a trusted proxy", func(t *testing.T) {
		vars := map[string]string{"TRUSTED_PROXIES": "127.0.0.0/8"}
		for k, v := range limits {
			vars[k] = v
		}
		in := start(t, options{vars: vars})
		// The proxy appends the address it saw; the left-most entries are
		// the client's to forge and prove nothing.
		for i, p := range []string{"13600000001", "13600000002"} {
			if a := send(in, p, "198.18.0."+string(rune('1'+i))+", 203.0.113.7"); a.Code != 1 {
				t.Fatalf("send %d from 203.0.113.7: %s", i, a.Raw)
			}
		}
		if a := send(in, "13600000003", "198.18.9.9, 203.0.113.7"); a.Status != 429 || a.Error != "rate_limited" {
			t.Fatalf("third send from 203.0.113.7: %d %s", a.Status, a.Raw)
		}
		if a := send(in, "13600000004", "203.0.113.8"); a.Code != 1 {
			t.Fatalf("another client behind the proxy: %s", a.Raw)
		}
		_, _, out := in.get(t, "/metrics")
		if !strings.Contains(out, `phoneauth_rate_limited_total{kind="ip_hourly"} 1`+"\n") {
			t.Errorf("the refusal is not counted as ip_hourly")
		}
	})

	t.Run("no trusted proxy", func(t *testing.T) {
		in := start(t, options{vars: limits})
		for i, p := range []string{"13600000001", "13600000002"} {
			if a := send(in, p, "203.0.113."+string(rune('1'+i))); a.Code != 1 {
				t.Fatalf("send %d: %s", i, a.Raw)
			}
		}
		// A forged header does not make a new client of the same peer.
		if a := send(in, "13600000003", "203.0.113.3"); a.Status != 429 || a.Error != "rate_limited" {
			t.Fatalf("third send from the same peer: %d %s", a.Status, a.Raw)
		}
	})
}
