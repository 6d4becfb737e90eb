package sms_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/sms"
	"github.com/phoneauth/phoneauth/adapters/sms/aliyun"
	"github.com/phoneauth/phoneauth/adapters/sms/capture"
	"github.com/phoneauth/phoneauth/adapters/sms/cloopen"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/fakevendor"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/smstest"
	"github.com/phoneauth/phoneauth/adapters/sms/twilio"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

const (
	cloopenSID   = "8a48b5514a61a814014a8e9a3e1a0b1c"
	cloopenToken = "f2c3b7e1d9a84c5e8b0a6d4f3e2c1b0a"
	cloopenApp   = "8a216da85f5c89b1015f7c2e1a2b0c3d"
	aliyunKey    = "LTAI5tFakeAccessKeyId01"
	aliyunSecret = "FakeAccessKeySecretFakeSecret0"
	twilioSID    = "AC0123456789abcdef0123456789abcdef"
	twilioToken  = "fedcba9876543210fedcba9876543210"
	code         = "454078"
)

var phone = domain.MustParsePhoneNumber("15850551102")

type vendors struct {
	cloopen *fakevendor.Cloopen
	aliyun  *fakevendor.Aliyun
	twilio  *fakevendor.Twilio
	cfg     sms.Config
}

// newVendors starts the three fake vendors and a Config pointing at them,
// with the short timeout the tests need.
func newVendors(t *testing.T, providers string) *vendors {
	v := &vendors{
		cloopen: fakevendor.NewCloopen(t, cloopenSID, cloopenToken, cloopenApp),
		aliyun:  fakevendor.NewAliyun(t, aliyunKey, aliyunSecret),
		twilio:  fakevendor.NewTwilio(t, twilioSID, twilioToken),
	}
	v.cfg = sms.Config{
		Providers: strings.Split(providers, ","),
		Cloopen: cloopen.Config{BaseURL: v.cloopen.URL(), AccountSID: cloopenSID, AuthToken: cloopenToken, AppID: cloopenApp,
			TemplateID: "1", Timeout: 200 * time.Millisecond},
		Aliyun: aliyun.Config{AccessKeyID: aliyunKey, AccessKeySecret: aliyunSecret, SignName: "签名", TemplateCode: "SMS_1",
			CodeParam: "code", Endpoint: v.aliyun.Endpoint(), Timeout: 200 * time.Millisecond},
		Twilio: twilio.Config{AccountSID: twilioSID, AuthToken: twilioToken, From: "+15005550006", BodyTemplate: twilio.DefaultBodyTemplate,
			BaseURL: v.twilio.URL(), Timeout: 200 * time.Millisecond},
	}
	return v
}

func TestFailoverOrderAcrossRealAdapters(t *testing.T) {
	tests := []struct {
		name      string
		providers string
		setup     func(*vendors)
		wantTries string
		wantKind  application.SMSErrorKind // 0: success
		wantMsg   string
	}{
		{"first vendor sends", "cloopen,aliyun", func(*vendors) {},
			"cloopen:sent", 0, ""},
		{"HTTP 503 fails over", "cloopen,aliyun", func(v *vendors) { v.cloopen.Fail(503) },
			"cloopen:not_sent aliyun:sent", 0, ""},
		{"HTTP 429 fails over", "aliyun,twilio", func(v *vendors) { v.aliyun.Fail(429) },
			"aliyun:not_sent twilio:sent", 0, ""},
		{"HTTP 500 does not fail over", "cloopen,aliyun", func(v *vendors) { v.cloopen.Fail(500) },
			"cloopen:uncertain", application.SMSUncertain, ""},
		{"HTTP 502 from a proxy does not fail over", "twilio,aliyun", func(v *vendors) { v.twilio.Set(fakevendor.BadGateway) },
			"twilio:uncertain", application.SMSUncertain, ""},
		{"connection refused fails over", "cloopen,aliyun", func(v *vendors) { v.cfg.Cloopen.BaseURL = closedURL(t) },
			"cloopen:not_sent aliyun:sent", 0, ""},
		{"a refusal does not fail over", "cloopen,aliyun", func(v *vendors) { v.cloopen.Refuse("160038", "短信验证码发送过频繁") },
			"cloopen:refused", application.SMSRefused, "短信验证码发送过频繁"},
		{"a timeout does not fail over", "cloopen,aliyun", func(v *vendors) { v.cloopen.Set(fakevendor.Hang) },
			"cloopen:uncertain", application.SMSUncertain, ""},
		{"garbage does not fail over", "cloopen,aliyun", func(v *vendors) { v.cloopen.Set(fakevendor.Garbage) },
			"cloopen:uncertain", application.SMSUncertain, ""},
		{"three vendors in the listed order", "aliyun,twilio,cloopen", func(v *vendors) {
			v.aliyun.Fail(503)
			v.twilio.Fail(429)
		}, "aliyun:not_sent twilio:not_sent cloopen:sent", 0, ""},
		{"all down returns the last error", "twilio,aliyun", func(v *vendors) {
			v.twilio.Fail(503)
			v.aliyun.Fail(503)
		}, "twilio:not_sent aliyun:not_sent", application.SMSNotSent, ""},
		{"a second vendor's refusal reaches the client", "twilio,aliyun", func(v *vendors) {
			v.twilio.Fail(503)
			v.aliyun.Refuse("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10")
		}, "twilio:not_sent aliyun:refused", application.SMSRefused, "触发天级流控Permits:10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVendors(t, tt.providers)
			tt.setup(v)
			rec := &smstest.Recorder{}
			core, logs := observer.New(zapcore.InfoLevel)
			sender, err := sms.NewWithObserver(v.cfg, zap.New(core), rec)
			if err != nil {
				t.Fatal(err)
			}
			err = sender.SendCode(context.Background(), phone, code, 5*time.Minute)

			if got := rec.String(); got != tt.wantTries {
				t.Errorf("attempts %q, want %q", got, tt.wantTries)
			}
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("SendCode = %v", err)
				}
			} else {
				var se *application.SMSError
				if !errors.As(err, &se) || se.Kind != tt.wantKind || se.Message != tt.wantMsg {
					t.Fatalf("SendCode = %#v, want kind %d message %q", err, tt.wantKind, tt.wantMsg)
				}
			}
			// Each vendor the chain did not reach saw nothing.
			hits := map[string]int{"cloopen": v.cloopen.Hits(), "aliyun": v.aliyun.Hits(), "twilio": v.twilio.Hits()}
			for name, n := range hits {
				want := strings.Count(tt.wantTries, name+":")
				if name == "cloopen" && v.cfg.Cloopen.BaseURL != v.cloopen.URL() {
					want = 0 // pointed at a closed port instead
				}
				if n != want {
					t.Errorf("%s saw %d requests, want %d", name, n, want)
				}
			}
			for _, f := range []interface{ Rejections() []string }{v.cloopen, v.aliyun, v.twilio} {
				if r := f.Rejections(); len(r) != 0 {
					t.Errorf("a fake vendor rejected a request: %v", r)
				}
			}
			if n := len(logs.FilterMessage("sms attempt").All()); n != strings.Count(tt.wantTries, ":") {
				t.Errorf("%d attempt log lines, want one per attempt", n)
			}
			for _, e := range logs.All() {
				for k, val := range e.ContextMap() {
					if s, ok := val.(string); ok && (strings.Contains(s, code) || strings.Contains(s, cloopenToken) || strings.Contains(s, aliyunSecret)) {
						t.Errorf("log field %s leaks a secret or the code: %s", k, s)
					}
				}
			}
		})
	}
}

func closedURL(t *testing.T) string {
	t.Helper()
	return "http://" + smstest.ClosedAddr(t)
}

func TestConsoleIsTheDefault(t *testing.T) {
	var cfg sms.Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Names(), ",") != "console" {
		t.Fatalf("default providers = %v", cfg.Providers)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := sms.New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if len(logs.FilterMessageSnippet("no SMS leaves this machine").All()) != 1 {
		t.Error("console did not warn at start")
	}
	if err := s.SendCode(context.Background(), phone, code, time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	var cfg sms.Config
	err := env.ParseWithOptions(&cfg, env.Options{Environment: map[string]string{
		"SMS_PROVIDER":             " Cloopen , aliyun ,",
		"CLOOPEN_ACCOUNT_SID":      cloopenSID,
		"CLOOPEN_AUTH_TOKEN":       cloopenToken,
		"CLOOPEN_APP_ID":           cloopenApp,
		"ALIYUN_ACCESS_KEY_ID":     aliyunKey,
		"ALIYUN_ACCESS_KEY_SECRET": aliyunSecret,
		"ALIYUN_SIGN_NAME":         "签名",
		"ALIYUN_TEMPLATE_CODE":     "SMS_1",
		"ALIYUN_TIMEOUT":           "2s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Names(), ","); got != "cloopen,aliyun" {
		t.Errorf("Names() = %q", got)
	}
	if cfg.Cloopen.BaseURL != cloopen.ProductionURL || cfg.Aliyun.Timeout != 2*time.Second || cfg.Twilio.BaseURL != twilio.DefaultBaseURL {
		t.Errorf("nested configs not loaded: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if _, err := sms.New(cfg, nil); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	v := newVendors(t, "cloopen")
	tests := []struct {
		providers []string
		mutate    func(*sms.Config)
		want      string
	}{
		{[]string{"nexmo"}, nil, "SMS_PROVIDER"},
		{[]string{" ", ""}, nil, "SMS_PROVIDER"},
		{[]string{"cloopen", "cloopen"}, nil, "SMS_PROVIDER"},
		{[]string{"cloopen", "console"}, nil, "SMS_PROVIDER"},
		{[]string{"cloopen"}, func(c *sms.Config) { c.Cloopen.AppID = "" }, "CLOOPEN_APP_ID"},
		{[]string{"cloopen", "aliyun"}, func(c *sms.Config) { c.Aliyun.SignName = "" }, "ALIYUN_SIGN_NAME"},
		{[]string{"twilio"}, func(c *sms.Config) { c.Twilio.From = "" }, "TWILIO_FROM"},
	}
	for _, tt := range tests {
		cfg := v.cfg
		cfg.Providers = tt.providers
		if tt.mutate != nil {
			tt.mutate(&cfg)
		}
		_, err := sms.New(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) = %v, want an error naming %s", tt.providers, err, tt.want)
		}
	}
	// A vendor that is not listed needs no variables.
	cfg := v.cfg
	cfg.Providers = []string{"cloopen"}
	cfg.Aliyun, cfg.Twilio = aliyun.Config{}, twilio.Config{}
	if _, err := sms.New(cfg, nil); err != nil {
		t.Errorf("unlisted vendors' variables were required: %v", err)
	}
}

// TestProvide: a preset sender is used as it is, without building (or
// warning about) any vendor; without one, the configured vendors are built
// under the logger named "sms", reporting every attempt to the observer.
func TestProvide(t *testing.T) {
	cfg := sms.Config{Providers: []string{"console"}}
	core, logs := observer.New(zapcore.InfoLevel)
	preset := capture.New()
	got, err := sms.Provide(cfg, sms.Preset{Sender: preset}, zap.New(core), nil)
	if err != nil || got != application.SMSSender(preset) {
		t.Fatalf("preset: %v, %v", got, err)
	}
	if n := logs.Len(); n != 0 {
		t.Fatalf("preset: %d log lines, want none (no vendor built): %v", n, logs.All())
	}

	rec := &smstest.Recorder{}
	got, err = sms.Provide(cfg, sms.Preset{}, zap.New(core), rec)
	if err != nil {
		t.Fatal(err)
	}
	if warned := logs.FilterLoggerName("sms.console").FilterMessageSnippet("no SMS leaves this machine").Len(); warned != 1 {
		t.Errorf("console built under %v, want sms.console", logs.All())
	}
	if err := got.SendCode(context.Background(), phone, code, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := rec.String(); got != "console:sent" {
		t.Errorf("observer saw %q, want console:sent", got)
	}
}
