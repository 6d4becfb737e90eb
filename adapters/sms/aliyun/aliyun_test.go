package aliyun_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/sms/aliyun"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/fakevendor"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

const (
	keyID     = "LTAI5tFakeAccessKeyId01"
	keySecret = "FakeAccessKeySecretFakeSecret0"
	code      = "454078"
)

var mainland = domain.MustParsePhoneNumber("15850551102")

type harness struct {
	fake   *fakevendor.Aliyun
	sender *aliyun.Sender
	logs   *observer.ObservedLogs
}

func newHarness(t *testing.T, mutate func(*aliyun.Config)) *harness {
	t.Helper()
	fake := fakevendor.NewAliyun(t, keyID, keySecret)
	cfg := aliyun.Config{
		AccessKeyID:     keyID,
		AccessKeySecret: keySecret,
		SignName:        "阿里云短信测试",
		TemplateCode:    "SMS_154950909",
		CodeParam:       "code",
		Endpoint:        fake.Endpoint(),
		Timeout:         200 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := aliyun.New(cfg, zap.New(core))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{fake: fake, sender: s, logs: logs}
	t.Cleanup(func() {
		for _, e := range logs.All() {
			line := e.Message
			for k, v := range e.ContextMap() {
				if s, ok := v.(string); ok {
					line += " " + k + "=" + s
				}
			}
			for _, secret := range []string{keySecret, code, mainland.National()} {
				if strings.Contains(line, secret) {
					t.Errorf("log line leaks %q: %s", secret, line)
				}
			}
		}
	})
	return h
}

func smsError(t *testing.T, err error) *application.SMSError {
	t.Helper()
	var se *application.SMSError
	if !errors.As(err, &se) {
		t.Fatalf("SendCode() = %v, want an *application.SMSError", err)
	}
	if se.Vendor != "aliyun" {
		t.Errorf("Vendor = %q, want aliyun", se.Vendor)
	}
	for _, secret := range []string{keySecret, code, "TemplateParam", mainland.National()} {
		if strings.Contains(se.Error(), secret) {
			t.Errorf("error string leaks %q: %s", secret, se.Error())
		}
	}
	return se
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
	se := smsError(t, h.sender.SendCode(context.Background(), mainland, code, 5*time.Minute))
	if se.Kind != application.SMSRefused || se.Code != "SignatureDoesNotMatch" || se.Message != "Specified signature does not match our calculation." {
		t.Errorf("got %+v, want the vendor's signature refusal with its own text", se)
	}
	if r := h.fake.Rejections(); len(r) != 1 || r[0] != "signature mismatch" {
		t.Errorf("fake rejections = %v, want one signature mismatch", r)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*fakevendor.Aliyun)
		wantKind application.SMSErrorKind
		wantCode string
		wantMsg  string
	}{
		{"refusal passes the vendor's text verbatim", func(f *fakevendor.Aliyun) { f.Refuse("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1") },
			application.SMSRefused, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"},
		{"timeout after the request went out is uncertain", func(f *fakevendor.Aliyun) { f.Set(fakevendor.Hang) },
			application.SMSUncertain, "", ""},
		{"garbage body is uncertain", func(f *fakevendor.Aliyun) { f.Set(fakevendor.Garbage) },
			application.SMSUncertain, "", ""},
		{"HTTP 500 with the vendor's error body is not sent", func(f *fakevendor.Aliyun) { f.Set(fakevendor.Fail500) },
			application.SMSNotSent, "InternalError", ""},
		// The SDK hides the status of a non-JSON error answer: it must
		// err on the side of not sending twice.
		{"HTTP 502 with an HTML body is uncertain", func(f *fakevendor.Aliyun) { f.Set(fakevendor.BadGateway) },
			application.SMSUncertain, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tt.setup(h.fake)
			start := time.Now()
			se := smsError(t, h.sender.SendCode(context.Background(), mainland, code, 5*time.Minute))
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
	s, err := aliyun.New(aliyun.Config{AccessKeyID: keyID, AccessKeySecret: keySecret, SignName: "s", TemplateCode: "t", CodeParam: "code",
		Endpoint: "http://" + addr, Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	se := smsError(t, s.SendCode(context.Background(), mainland, code, 5*time.Minute))
	if se.Kind != application.SMSNotSent {
		t.Errorf("kind = %d, want SMSNotSent; err %v", se.Kind, se.Err)
	}
}

func TestContextEndsTheWait(t *testing.T) {
	h := newHarness(t, func(c *aliyun.Config) { c.Timeout = 5 * time.Second })
	h.fake.Set(fakevendor.Hang)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	se := smsError(t, h.sender.SendCode(ctx, mainland, code, 5*time.Minute))
	if time.Since(start) > time.Second {
		t.Errorf("SendCode ignored the context for %s", time.Since(start))
	}
	if se.Kind != application.SMSUncertain {
		t.Errorf("kind = %d, want SMSUncertain", se.Kind)
	}

	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	before := h.fake.Hits()
	se = smsError(t, h.sender.SendCode(cancelled, mainland, code, 5*time.Minute))
	if se.Kind != application.SMSNotSent || h.fake.Hits() != before {
		t.Errorf("a send with a cancelled context: kind %d, vendor hits %d -> %d", se.Kind, before, h.fake.Hits())
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
