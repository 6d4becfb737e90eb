package twilio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/sms/internal/fakevendor"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/smstest"
	"github.com/phoneauth/phoneauth/adapters/sms/twilio"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

const (
	sid     = "AC0123456789abcdef0123456789abcdef"
	token   = "fedcba9876543210fedcba9876543210"
	from    = "+15005550006"
	service = "MG0123456789abcdef0123456789abcdef"
	code    = "454078"
)

var phone = domain.MustParsePhoneNumber("+8615850551102")

// config is the adapter's configuration for the fake at baseURL.
func config(baseURL string, timeout time.Duration) twilio.Config {
	return twilio.Config{
		AccountSID:   sid,
		AuthToken:    token,
		From:         from,
		BodyTemplate: twilio.DefaultBodyTemplate,
		BaseURL:      baseURL,
		Timeout:      timeout,
	}
}

var vendor = smstest.Vendor{
	Name: "twilio",
	Start: func(t *testing.T) smstest.Fake {
		return fakevendor.NewTwilio(t, sid, token)
	},
	New: func(baseURL string, timeout time.Duration, log *zap.Logger) (application.SMSSender, error) {
		return twilio.New(config(baseURL, timeout), log, nil)
	},
	Phone:                phone,
	Code:                 code,
	Secrets:              []string{token, code, phone.E164()},
	Refusal:              smstest.Refusal{Code: "21610", Message: "Attempt to send to unsubscribed recipient"},
	Fail500Code:          "20500",
	StalledHandshakeKind: application.SMSNotSent,
}

func TestConformance(t *testing.T) { smstest.RunConformance(t, vendor) }

type harness struct {
	fake   *fakevendor.Twilio
	sender *twilio.Sender
}

func newHarness(t *testing.T, mutate func(*twilio.Config)) *harness {
	t.Helper()
	fake := fakevendor.NewTwilio(t, sid, token)
	cfg := config(fake.URL(), 200*time.Millisecond)
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := twilio.New(cfg, vendor.Logger(t), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{fake: fake, sender: s}
}

func TestSendCodeIsAuthenticatedAndComplete(t *testing.T) {
	tests := []struct {
		name     string
		from     string
		template string
		want     fakevendor.TwilioRequest
	}{
		{"from a number, default text", from, twilio.DefaultBodyTemplate, fakevendor.TwilioRequest{
			To: "+8615850551102", From: from,
			Body: "Your verification code is 454078. It expires in 5 minutes."}},
		{"from a messaging service, own text", service, "【Acme】{code} 是您的验证码，{minutes}分钟内有效。", fakevendor.TwilioRequest{
			To: "+8615850551102", MessagingServiceSID: service,
			Body: "【Acme】454078 是您的验证码，5分钟内有效。"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *twilio.Config) { c.From, c.BodyTemplate = tt.from, tt.template })
			if err := h.sender.SendCode(context.Background(), phone, code, 5*time.Minute); err != nil {
				t.Fatalf("SendCode: %v (fake rejected: %v)", err, h.fake.Rejections())
			}
			if r := h.fake.Rejections(); len(r) != 0 {
				t.Fatalf("fake vendor rejected the request: %v", r)
			}
			got := h.fake.Requests()
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("requests = %+v, want [%+v]", got, tt.want)
			}
		})
	}
}

func TestBaseURLWithAPath(t *testing.T) {
	fake := fakevendor.NewTwilio(t, sid, token)
	target, _ := url.Parse(fake.URL())
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.StripPrefix("/twilio", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	})))
	t.Cleanup(proxy.Close)
	s, err := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BodyTemplate: "{code}", BaseURL: proxy.URL + "/twilio/", Timeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendCode(context.Background(), phone, code, time.Minute); err != nil {
		t.Fatalf("SendCode: %v (%v)", err, fake.Rejections())
	}
	if proxied.Load() != 1 || len(fake.Requests()) != 1 {
		t.Errorf("proxied %d, vendor got %d", proxied.Load(), len(fake.Requests()))
	}
}

func TestWrongTokenIsRefusedByBasicAuth(t *testing.T) {
	h := newHarness(t, func(c *twilio.Config) { c.AuthToken = "00000000000000000000000000000000" })
	se := vendor.Error(t, h.sender.SendCode(context.Background(), phone, code, 5*time.Minute))
	if se.Kind != application.SMSRefused || se.Code != "20003" || se.Message != "Authenticate" {
		t.Errorf("got %+v, want the vendor's 20003 refusal", se)
	}
	if r := h.fake.Rejections(); len(r) != 1 {
		t.Errorf("fake rejections = %v, want one", r)
	}
}

func TestConfig(t *testing.T) {
	var cfg twilio.Config
	err := env.ParseWithOptions(&cfg, env.Options{Environment: map[string]string{
		"TWILIO_ACCOUNT_SID": sid,
		"TWILIO_AUTH_TOKEN":  token,
		"TWILIO_FROM":        from,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL != twilio.DefaultBaseURL || cfg.BodyTemplate != twilio.DefaultBodyTemplate || cfg.Timeout != 5*time.Second {
		t.Errorf("defaults = %v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if strings.Contains(cfg.String(), token) {
		t.Errorf("String() shows the token: %s", cfg)
	}
	for _, tt := range []struct {
		mutate func(*twilio.Config)
		want   string
	}{
		{func(c *twilio.Config) { c.AccountSID = "" }, "TWILIO_ACCOUNT_SID"},
		{func(c *twilio.Config) { c.AccountSID = "SK0123456789abcdef0123456789abcdef" }, "TWILIO_ACCOUNT_SID"},
		{func(c *twilio.Config) { c.AuthToken = "" }, "TWILIO_AUTH_TOKEN"},
		{func(c *twilio.Config) { c.AuthToken = "has-dash" }, "TWILIO_AUTH_TOKEN"},
		{func(c *twilio.Config) { c.From = "" }, "TWILIO_FROM"},
		{func(c *twilio.Config) { c.BodyTemplate = "no placeholder" }, "TWILIO_BODY_TEMPLATE"},
		{func(c *twilio.Config) { c.BaseURL = "api.twilio.com" }, "TWILIO_BASE_URL"},
		{func(c *twilio.Config) { c.Timeout = -time.Second }, "TWILIO_TIMEOUT"},
	} {
		c := cfg
		tt.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
		}
	}
}
