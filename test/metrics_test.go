package test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsLabelRoutesNotPaths drives the wired service, whose metrics
// observe its HTTP adapter: what a client does shows up under the route
// template, and a request no route served (an unknown path, a body over
// the limit) as "unmatched"; never under the raw path or a phone number.
func TestMetricsLabelRoutesNotPaths(t *testing.T) {
	in := start(t, options{})
	// post sends body as it is, whatever the path: an unknown path has no
	// contract to check the answer against.
	post := func(path, body string) int {
		t.Helper()
		resp, err := client.Post(in.base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	const phone = "15850551102"
	post("/client/register-step-1", `{"phone_number":"`+phone+`"}`)
	post("/client/register-step-1", `{"phone_number":"`+phone+`"}`) // cooldown
	wrong := "000000"
	if in.code(t, "+86"+phone) == wrong {
		wrong = "111111"
	}
	post("/client/register-step-2", `{"phone_number":"`+phone+`","validate_number":"`+wrong+`"}`)
	in.login(t, "13900000000", "password1")
	if status := post("/client/no-such-thing-"+phone, `{}`); status != http.StatusNotFound {
		t.Fatalf("unknown path: %d", status)
	}
	if status := post("/client/register-step-1", `{"pad":"`+strings.Repeat("x", 16<<10)+`"}`); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("body over the limit: %d", status)
	}

	status, _, out := in.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	for _, want := range []string{
		`phoneauth_http_requests_total{route="/client/register-step-1",status="200"} 1`,
		`phoneauth_http_requests_total{route="/client/register-step-1",status="429"} 1`,
		`phoneauth_http_requests_total{route="unmatched",status="404"} 1`,
		`phoneauth_http_requests_total{route="unmatched",status="413"} 1`,
		`phoneauth_rate_limited_total{kind="cooldown"} 1`,
		`phoneauth_verifications_total{outcome="code_mismatch"} 1`,
		`phoneauth_logins_total{outcome="no_such_user"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{phone, "13900000000", "no-such-thing"} {
		if strings.Contains(out, leak) {
			t.Errorf("metrics carry %q", leak)
		}
	}
}
