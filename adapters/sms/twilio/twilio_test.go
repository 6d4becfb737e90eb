package twilio_test

import (
	"context"
	"errors"
	"net"
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
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/sms/internal/fakevendor"
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

type harness struct {
	fake   *fakevendor.Twilio
	sender *twilio.Sender
}

func newHarness(t *testing.T, mutate func(*twilio.Config)) *harness {
	t.Helper()
	fake := fakevendor.NewTwilio(t, sid, token)
	cfg := twilio.Config{
		AccountSID:   sid,
		AuthToken:    token,
		From:         from,
		BodyTemplate: twilio.DefaultBodyTemplate,
		BaseURL:      fake.URL(),
		Timeout:      200 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := twilio.New(cfg, zap.New(core), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		for _, e := range logs.All() {
			line := e.Message
			for k, v := range e.ContextMap() {
				if s, ok := v.(string); ok {
					line += " " + k + "=" + s
				}
			}
			for _, secret := range []string{token, code, phone.E164()} {
				if strings.Contains(line, secret) {
					t.Errorf("log line leaks %q: %s", secret, line)
				}
			}
		}
	})
	return &harness{fake: fake, sender: s}
}

func smsError(t *testing.T, err error) *application.SMSError {
	t.Helper()
	var se *application.SMSError
	if !errors.As(err, &se) {
		t.Fatalf("SendCode() = %v, want an *application.SMSError", err)
	}
	if se.Vendor != "twilio" {
		t.Errorf("Vendor = %q, want twilio", se.Vendor)
	}
	for _, secret := range []string{token, code} {
		if strings.Contains(se.Error(), secret) {
			t.Errorf("error string leaks %q: %s", secret, se.Error())
		}
	}
	return se
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
	se := smsError(t, h.sender.SendCode(context.Background(), phone, code, 5*time.Minute))
	if se.Kind != application.SMSRefused || se.Code != "20003" || se.Message != "Authenticate" {
		t.Errorf("got %+v, want the vendor's 20003 refusal", se)
	}
	if r := h.fake.Rejections(); len(r) != 1 {
		t.Errorf("fake rejections = %v, want one", r)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*fakevendor.Twilio)
		wantKind application.SMSErrorKind
		wantCode string
		wantMsg  string
	}{
		{"refusal passes the vendor's text verbatim", func(f *fakevendor.Twilio) {
			f.Refuse("21610", "Attempt to send to unsubscribed recipient")
		}, application.SMSRefused, "21610", "Attempt to send to unsubscribed recipient"},
		{"timeout after the request went out is uncertain", func(f *fakevendor.Twilio) { f.Set(fakevendor.Hang) },
			application.SMSUncertain, "", ""},
		{"garbage body is uncertain", func(f *fakevendor.Twilio) { f.Set(fakevendor.Garbage) },
			application.SMSUncertain, "", ""},
		{"HTTP 500 is not sent", func(f *fakevendor.Twilio) { f.Set(fakevendor.Fail500) },
			application.SMSNotSent, "20500", ""},
		{"HTTP 502 with an HTML body is not sent", func(f *fakevendor.Twilio) { f.Set(fakevendor.BadGateway) },
			application.SMSNotSent, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tt.setup(h.fake)
			start := time.Now()
			se := smsError(t, h.sender.SendCode(context.Background(), phone, code, 5*time.Minute))
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %s", took)
			}
			if se.Kind != tt.wantKind || se.Code != tt.wantCode || se.Message != tt.wantMsg {
				t.Errorf("got kind %d code %q message %q (%v), want %d %q %q", se.Kind, se.Code, se.Message, se.Err, tt.wantKind, tt.wantCode, tt.wantMsg)
			}
			if n := h.fake.Hits(); n != 1 {
				t.Errorf("vendor saw %d requests, want exactly 1 (no retry)", n)
			}
			if r := h.fake.Rejections(); len(r) != 0 {
				t.Errorf("fake rejected the request: %v", r)
			}
		})
	}
}

func TestConnectionRefusedIsNotSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := twilio.New(twilio.Config{AccountSID: sid, AuthToken: token, From: from, BodyTemplate: "{code}", BaseURL: "http://" + addr, Timeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	se := smsError(t, s.SendCode(context.Background(), phone, code, time.Minute))
	if se.Kind != application.SMSNotSent {
		t.Errorf("kind = %d, want SMSNotSent; err %v", se.Kind, se.Err)
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
