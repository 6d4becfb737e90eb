package aliyun_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/sms/aliyun"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/fakevendor"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/smstest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

const (
	keyID     = "LTAI5tFakeAccessKeyId01"
	keySecret = "FakeAccessKeySecretFakeSecret0"
	code      = "454078"
)

var mainland = domain.MustParsePhoneNumber("15850551102")

// config is the adapter's configuration for the fake at endpoint.
func config(endpoint string, timeout time.Duration) aliyun.Config {
	return aliyun.Config{
		AccessKeyID:     keyID,
		AccessKeySecret: keySecret,
		SignName:        "阿里云短信测试",
		TemplateCode:    "SMS_154950909",
		CodeParam:       "code",
		Endpoint:        endpoint,
		Timeout:         timeout,
	}
}

var vendor = smstest.Vendor{
	Name: "aliyun",
	Start: func(t *testing.T) smstest.Fake {
		return fakevendor.NewAliyun(t, keyID, keySecret)
	},
	New: func(endpoint string, timeout time.Duration, log *zap.Logger) (application.SMSSender, error) {
		return aliyun.New(config(endpoint, timeout), log)
	},
	Phone: mainland,
	Code:  code,
	// The template parameters carry the code.
	Secrets:     []string{keySecret, code, "TemplateParam", mainland.National()},
	Refusal:     smstest.Refusal{Code: "isv.BUSINESS_LIMIT_CONTROL", Message: "触发分钟级流控Permits:1"},
	Fail500Code: "InternalError",
	// The SDK owns its transport, so the write cannot be traced: a stall
	// counts as possibly written.
	StalledHandshakeKind: application.SMSUncertain,
}

func TestConformance(t *testing.T) { smstest.RunConformance(t, vendor) }

type harness struct {
	fake   *fakevendor.Aliyun
	sender *aliyun.Sender
}

func newHarness(t *testing.T, mutate func(*aliyun.Config)) *harness {
	t.Helper()
	fake := fakevendor.NewAliyun(t, keyID, keySecret)
	cfg := config(fake.Endpoint(), 200*time.Millisecond)
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := aliyun.New(cfg, vendor.Logger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{fake: fake, sender: s}
}

func TestSendCodeIsSignedAndComplete(t *testing.T) {
	tests := []struct {
		name      string
		phone     string
		minutes   string
		wantPhone string
		wantParam map[string]string
	}{
		{"mainland, code only", "+8615850551102", "", "15850551102", map[string]string{"code": code}},
		{"abroad, with minutes", "+447911123456", "ttl", "447911123456", map[string]string{"code": code, "ttl": "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *aliyun.Config) { c.MinutesParam = tt.minutes })
			if err := h.sender.SendCode(context.Background(), domain.MustParsePhoneNumber(tt.phone), code, 5*time.Minute); err != nil {
				t.Fatalf("SendCode: %v (fake rejected: %v)", err, h.fake.Rejections())
			}
			if r := h.fake.Rejections(); len(r) != 0 {
				t.Fatalf("fake vendor rejected the request: %v", r)
			}
			got := h.fake.Requests()
			if len(got) != 1 {
				t.Fatalf("fake got %d requests, want 1", len(got))
			}
			g := got[0]
			if g.PhoneNumbers != tt.wantPhone || g.SignName != "阿里云短信测试" || g.TemplateCode != "SMS_154950909" {
				t.Errorf("request = %+v", g)
			}
			if len(g.TemplateParam) != len(tt.wantParam) {
				t.Errorf("TemplateParam = %v, want %v", g.TemplateParam, tt.wantParam)
			}
			for k, v := range tt.wantParam {
				if g.TemplateParam[k] != v {
					t.Errorf("TemplateParam[%s] = %q, want %q", k, g.TemplateParam[k], v)
				}
			}
		})
	}
}

func TestWrongSecretFailsTheSignatureCheck(t *testing.T) {
	h := newHarness(t, func(c *aliyun.Config) { c.AccessKeySecret = "NotTheSecret" })
	se := vendor.Error(t, h.sender.SendCode(context.Background(), mainland, code, 5*time.Minute))
	if se.Kind != application.SMSRefused || se.Code != "SignatureDoesNotMatch" || se.Message != "Specified signature does not match our calculation." {
		t.Errorf("got %+v, want the vendor's signature refusal with its own text", se)
	}
	if r := h.fake.Rejections(); len(r) != 1 || r[0] != "signature mismatch" {
		t.Errorf("fake rejections = %v, want one signature mismatch", r)
	}
}

func TestConfig(t *testing.T) {
	var cfg aliyun.Config
	err := env.ParseWithOptions(&cfg, env.Options{Environment: map[string]string{
		"ALIYUN_ACCESS_KEY_ID":     keyID,
		"ALIYUN_ACCESS_KEY_SECRET": keySecret,
		"ALIYUN_SIGN_NAME":         "sign",
		"ALIYUN_TEMPLATE_CODE":     "SMS_1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != aliyun.DefaultEndpoint || cfg.Timeout != 5*time.Second || cfg.CodeParam != "code" || cfg.MinutesParam != "" {
		t.Errorf("defaults = %v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if strings.Contains(cfg.String(), keySecret) {
		t.Errorf("String() shows the secret: %s", cfg)
	}

	for _, tt := range []struct {
		mutate func(*aliyun.Config)
		want   string
	}{
		{func(c *aliyun.Config) { c.AccessKeyID = "" }, "ALIYUN_ACCESS_KEY_ID"},
		{func(c *aliyun.Config) { c.AccessKeySecret = "" }, "ALIYUN_ACCESS_KEY_SECRET"},
		{func(c *aliyun.Config) { c.SignName = "" }, "ALIYUN_SIGN_NAME"},
		{func(c *aliyun.Config) { c.TemplateCode = "" }, "ALIYUN_TEMPLATE_CODE"},
		{func(c *aliyun.Config) { c.Endpoint = "" }, "ALIYUN_ENDPOINT"},
		{func(c *aliyun.Config) { c.Endpoint = "ftp://x" }, "ALIYUN_ENDPOINT"},
		{func(c *aliyun.Config) { c.Endpoint = "http://127.0.0.1:1/path" }, "ALIYUN_ENDPOINT"},
		{func(c *aliyun.Config) { c.Timeout = 0 }, "ALIYUN_TIMEOUT"},
		{func(c *aliyun.Config) { c.MinutesParam = "code" }, "ALIYUN_MINUTES_PARAM"},
	} {
		c := cfg
		tt.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
		}
	}
	for _, ok := range []string{"dysmsapi.ap-southeast-1.aliyuncs.com", "https://dysmsapi.aliyuncs.com", "http://127.0.0.1:8080"} {
		c := cfg
		c.Endpoint = ok
		if err := c.Validate(); err != nil {
			t.Errorf("Endpoint %q: %v", ok, err)
		}
	}
}
