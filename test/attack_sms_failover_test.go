package test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/phoneauth/phoneauth/domain"
)

// vendorFake is a minimal SMS vendor on loopback: it counts requests and
// answers as told. The adapters' own fakes (which check signatures) live
// in an internal package; these only need to be reachable and to answer.
type vendorFake struct {
	srv *httptest.Server

	mu     sync.Mutex
	status int    // HTTP status of a failure; 0 accepts
	refuse string // a refusal text (cloopen's statusMsg), answered with 200
	hits   int
	bodies []string
}

func newVendorFake(t *testing.T, accept func(w http.ResponseWriter)) *vendorFake {
	t.Helper()
	f := &vendorFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.hits++
		f.bodies = append(f.bodies, r.PostForm.Get("Body"))
		status, refuse := f.status, f.refuse
		f.mu.Unlock()
		switch {
		case status != 0:
			w.WriteHeader(status)
			_, _ = w.Write([]byte(http.StatusText(status)))
		case refuse != "":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"statusCode": "160042", "statusMsg": refuse})
		default:
			accept(w)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *vendorFake) set(status int, refuse string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.refuse = status, refuse
}

func (f *vendorFake) seen() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits, append([]string(nil), f.bodies...)
}

// startWithTwoVendors serves the wired service with SMS_PROVIDER=cloopen,twilio,
// each pointed at a fake.
func startWithTwoVendors(t *testing.T, store options) (*instance, *vendorFake, *vendorFake) {
	t.Helper()
	cloopen := newVendorFake(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"statusCode":"000000","templateSMS":{"smsMessageSid":"ff8080813c373cab013c94b0f0512345"}}`))
	})
	twilio := newVendorFake(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM3b4f0f6bb0cf4f2d9b3c1a2e5d6f7a8b","status":"queued"}`))
	})
	if store.vars == nil {
		store.vars = map[string]string{}
	}
	for k, v := range map[string]string{
		"SMS_PROVIDER":     "cloopen,twilio",
		"CLOOPEN_BASE_URL": cloopen.srv.URL, "CLOOPEN_ACCOUNT_SID": "8a48b5514a61a814014a8e9a3e1a0b1c",
		"CLOOPEN_AUTH_TOKEN": "f2c3b7e1d9a84c5e8b0a6d4f3e2c1b0a", "CLOOPEN_APP_ID": "8a216da85f5c89b1015f7c2e1a2b0c3d",
		"CLOOPEN_TIMEOUT": "2s",
		"TWILIO_BASE_URL": twilio.srv.URL, "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
		"TWILIO_AUTH_TOKEN": "fedcba9876543210fedcba9876543210", "TWILIO_FROM": "+15005550006",
		"TWILIO_TIMEOUT": "2s",
	} {
		store.vars[k] = v
	}
	store.configuredSMS = true
	return start(t, store), cloopen, twilio
}

// TestSMSFailoverEndToEnd: with two vendors configured, a first vendor that
// answers HTTP 500 may have sent the SMS, so the second must not be asked
// (a second SMS would be a second code); one that answers 503 certainly did
// not, so the second sends, and its code verifies. A vendor's refusal
// reaches the client verbatim, and the log only with the number masked.
func TestSMSFailoverEndToEnd(t *testing.T) {
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			t.Run("HTTP 500 stops the chain", func(t *testing.T) {
				in, first, second := startWithTwoVendors(t, storeOptions(t, store))
				first.set(http.StatusInternalServerError, "")
				in.expect(t, "/client/register-step-1", m{"phone_number": "15850551102"}, 200,
					`{"code":0,"message":"短信发送失败，请稍后再试","error":"sms_unavailable"}`)
				if n, _ := first.seen(); n != 1 {
					t.Errorf("first vendor saw %d requests, want 1", n)
				}
				if n, _ := second.seen(); n != 0 {
					t.Errorf("second vendor saw %d requests after a 500, want 0: the code may be sent twice", n)
				}
			})
			for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
				t.Run("HTTP "+http.StatusText(status)+" fails over", func(t *testing.T) {
					in, first, second := startWithTwoVendors(t, storeOptions(t, store))
					first.set(status, "")
					in.expect(t, "/client/register-step-1", m{"phone_number": "15850551102"}, 200, `{"code":1,"message":"发送成功"}`)
					n, bodies := second.seen()
					if n != 1 {
						t.Fatalf("second vendor saw %d requests, want 1", n)
					}
					code := regexp.MustCompile(`\b[0-9]{6}\b`).FindString(bodies[0])
					if code == "" {
						t.Fatalf("no code in the SMS the second vendor sent: %q", bodies[0])
					}
					in.expect(t, "/client/register-step-2", m{"phone_number": "15850551102", "validate_number": code}, 200, "")
				})
			}
			t.Run("refusal text verbatim to the client, masked in the log", func(t *testing.T) {
				in, first, second := startWithTwoVendors(t, storeOptions(t, store))
				const text = "号码 15850551102 无法接收短信, 流水号 20261130123456789"
				first.set(0, text)
				a := in.expect(t, "/client/register-step-1", m{"phone_number": "+86 158 5055 1102"}, 200, "")
				if a.Code != 0 || a.Message != text || a.Error != "sms_vendor_error" {
					t.Fatalf("answer %s, want the vendor's text verbatim with sms_vendor_error", a.Raw)
				}
				if n, _ := second.seen(); n != 0 {
					t.Errorf("second vendor saw %d requests after a refusal", n)
				}
				logs := in.logText()
				for _, digits := range []string{"15850551102", "8615850551102", "20261130123456789"} {
					if strings.Contains(logs, digits) {
						t.Errorf("the log carries %s unmasked:\n%s", digits, logs)
					}
				}
				if !strings.Contains(logs, domain.MaskDigitRuns(text)) {
					t.Errorf("the log does not carry the vendor's text masked:\n%s", logs)
				}
			})
		})
	}
}
