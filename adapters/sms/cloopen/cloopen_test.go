package cloopen_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/sms/cloopen"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/fakevendor"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/smstest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

const (
	sid   = "8a48b5514a61a814014a8e9a3e1a0b1c"
	token = "f2c3b7e1d9a84c5e8b0a6d4f3e2c1b0a"
	appID = "8a216da85f5c89b1015f7c2e1a2b0c3d"
	code  = "454078"
)

var mainland = domain.MustParsePhoneNumber("15850551102")

// config is the adapter's configuration for the fake at baseURL.
func config(baseURL string, timeout time.Duration) cloopen.Config {
	return cloopen.Config{BaseURL: baseURL, AccountSID: sid, AuthToken: token, AppID: appID, TemplateID: "1", Timeout: timeout}
}

var vendor = smstest.Vendor{
	Name: "cloopen",
	Start: func(t *testing.T) smstest.Fake {
		return fakevendor.NewCloopen(t, sid, token, appID)
	},
	New: func(baseURL string, timeout time.Duration, log *zap.Logger) (application.SMSSender, error) {
		return cloopen.New(config(baseURL, timeout), log, nil)
	},
	Phone: mainland,
	Code:  code,
	// The Authorization header and the sig are made of the token.
	Secrets:              []string{token, code, "sig=", "Authorization", mainland.E164()},
	Refusal:              smstest.Refusal{Code: "160038", Message: "短信验证码发送过频繁"},
	Fail500Code:          "",
	StalledHandshakeKind: application.SMSNotSent,
}

func TestConformance(t *testing.T) { smstest.RunConformance(t, vendor) }

type harness struct {
	fake   *fakevendor.Cloopen
	sender *cloopen.Sender
}

func newHarness(t *testing.T, mutate func(*cloopen.Config)) *harness {
	t.Helper()
	fake := fakevendor.NewCloopen(t, sid, token, appID)
	cfg := config(fake.URL(), 200*time.Millisecond)
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := cloopen.New(cfg, vendor.Logger(t), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{fake: fake, sender: s}
}

func TestSendCodeSpeaksTheProtocol(t *testing.T) {
	tests := []struct {
		name   string
		phone  string
		ttl    time.Duration
		wantTo string
		wantM  string
	}{
		{"mainland without +86", "+8615850551102", 5 * time.Minute, "15850551102", "5"},
		{"other countries as 00 + country code", "+447911123456", 10 * time.Minute, "00447911123456", "10"},
		{"minutes round down", "15850551102", 150 * time.Second, "15850551102", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *cloopen.Config) { c.TemplateID = "77" })
			if err := h.sender.SendCode(context.Background(), domain.MustParsePhoneNumber(tt.phone), code, tt.ttl); err != nil {
				t.Fatalf("SendCode: %v (fake rejected: %v)", err, h.fake.Rejections())
			}
			if r := h.fake.Rejections(); len(r) != 0 {
				t.Fatalf("fake vendor rejected the request: %v", r)
			}
			got := h.fake.Requests()
			if len(got) != 1 {
				t.Fatalf("fake got %d requests, want 1", len(got))
			}
			want := fakevendor.CloopenRequest{To: tt.wantTo, AppID: appID, TemplateID: "77", Datas: []string{code, tt.wantM}}
			if got[0].To != want.To || got[0].AppID != want.AppID || got[0].TemplateID != want.TemplateID ||
				strings.Join(got[0].Datas, ",") != strings.Join(want.Datas, ",") {
				t.Errorf("request = %+v, want %+v", got[0], want)
			}
		})
	}
}

func TestBaseURLWithTrailingSlash(t *testing.T) {
	h := newHarness(t, nil)
	s, err := cloopen.New(config(h.fake.URL()+"/", time.Second), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendCode(context.Background(), mainland, code, 5*time.Minute); err != nil {
		t.Fatalf("SendCode: %v (%v)", err, h.fake.Rejections())
	}
}

func TestWrongTokenIsRefusedBySigCheck(t *testing.T) {
	h := newHarness(t, func(c *cloopen.Config) { c.AuthToken = "00000000000000000000000000000000" })
	se := vendor.Error(t, h.sender.SendCode(context.Background(), mainland, code, 5*time.Minute))
	if se.Kind != application.SMSRefused || se.Code != "111109" || se.Message != "sig校验失败" {
		t.Errorf("got %+v, want the vendor's 111109 refusal", se)
	}
	if r := h.fake.Rejections(); len(r) != 1 || r[0] != "sig mismatch" {
		t.Errorf("fake rejections = %v, want one sig mismatch", r)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	var cfg cloopen.Config
	err := env.ParseWithOptions(&cfg, env.Options{Environment: map[string]string{
		"CLOOPEN_ACCOUNT_SID": sid,
		"CLOOPEN_AUTH_TOKEN":  token,
		"CLOOPEN_APP_ID":      appID,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL != cloopen.ProductionURL || cfg.TemplateID != "1" || cfg.Timeout != 5*time.Second {
		t.Errorf("defaults = %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if strings.Contains(cfg.String(), token) {
		t.Errorf("String() shows the token: %s", cfg)
	}
}

func TestValidateNamesTheVariable(t *testing.T) {
	good := config(cloopen.SandboxURL, time.Second)
	tests := []struct {
		mutate func(*cloopen.Config)
		want   string
	}{
		{func(c *cloopen.Config) { c.AccountSID = "" }, "CLOOPEN_ACCOUNT_SID"},
		{func(c *cloopen.Config) { c.AuthToken = " " }, "CLOOPEN_AUTH_TOKEN"},
		{func(c *cloopen.Config) { c.AppID = "" }, "CLOOPEN_APP_ID"},
		{func(c *cloopen.Config) { c.TemplateID = "" }, "CLOOPEN_TEMPLATE_ID"},
		{func(c *cloopen.Config) { c.BaseURL = "" }, "CLOOPEN_BASE_URL"},
		{func(c *cloopen.Config) { c.BaseURL = "app.cloopen.com:8883" }, "CLOOPEN_BASE_URL"},
		{func(c *cloopen.Config) { c.Timeout = 0 }, "CLOOPEN_TIMEOUT"},
	}
	for _, tt := range tests {
		c := good
		tt.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
		}
		if _, err := cloopen.New(c, nil, nil); err == nil {
			t.Errorf("New accepted a config without %s", tt.want)
		}
	}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
}
