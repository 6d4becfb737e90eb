package cloopen_test

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

	"github.com/phoneauth/phoneauth/adapters/sms/cloopen"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/fakevendor"
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

type harness struct {
	fake   *fakevendor.Cloopen
	sender *cloopen.Sender
	logs   *observer.ObservedLogs
}

func newHarness(t *testing.T, mutate func(*cloopen.Config)) *harness {
	t.Helper()
	fake := fakevendor.NewCloopen(t, sid, token, appID)
	cfg := cloopen.Config{
		BaseURL:    fake.URL(),
		AccountSID: sid,
		AuthToken:  token,
		AppID:      appID,
		TemplateID: "1",
		Timeout:    200 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := cloopen.New(cfg, zap.New(core), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{fake: fake, sender: s, logs: logs}
	t.Cleanup(func() { h.assertNoSecretsLogged(t) })
	return h
}

// assertNoSecretsLogged fails if any log line carries the token, the code,
// or what the Authorization header and sig are made of.
func (h *harness) assertNoSecretsLogged(t *testing.T) {
	t.Helper()
	for _, e := range h.logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + strings.ReplaceAll(strings.TrimSpace(toString(v)), "\n", " ")
		}
		for _, secret := range []string{token, code, "sig=", "Authorization"} {
			if strings.Contains(line, secret) {
				t.Errorf("log line leaks %q: %s", secret, line)
			}
		}
		if strings.Contains(line, mainland.E164()) {
			t.Errorf("log line has an unmasked phone: %s", line)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if err, ok := v.(error); ok {
		return err.Error()
	}
	return ""
}

func smsError(t *testing.T, err error) *application.SMSError {
	t.Helper()
	var se *application.SMSError
	if !errors.As(err, &se) {
		t.Fatalf("SendCode() = %v, want an *application.SMSError", err)
	}
	if se.Vendor != "cloopen" {
		t.Errorf("Vendor = %q, want cloopen", se.Vendor)
	}
	for _, secret := range []string{token, code} {
		if strings.Contains(se.Error(), secret) {
			t.Errorf("error string leaks %q: %s", secret, se.Error())
		}
	}
	return se
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
	s, err := cloopen.New(cloopen.Config{BaseURL: h.fake.URL() + "/", AccountSID: sid, AuthToken: token, AppID: appID, TemplateID: "1", Timeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendCode(context.Background(), mainland, code, 5*time.Minute); err != nil {
		t.Fatalf("SendCode: %v (%v)", err, h.fake.Rejections())
	}
}

func TestWrongTokenIsRefusedBySigCheck(t *testing.T) {
	h := newHarness(t, func(c *cloopen.Config) { c.AuthToken = "00000000000000000000000000000000" })
	se := smsError(t, h.sender.SendCode(context.Background(), mainland, code, 5*time.Minute))
	if se.Kind != application.SMSRefused || se.Code != "111109" || se.Message != "sig校验失败" {
		t.Errorf("got %+v, want the vendor's 111109 refusal", se)
	}
	if r := h.fake.Rejections(); len(r) != 1 || r[0] != "sig mismatch" {
		t.Errorf("fake rejections = %v, want one sig mismatch", r)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*fakevendor.Cloopen)
		wantKind  application.SMSErrorKind
		wantCode  string
		wantMsg   string
		wantUnder time.Duration
	}{
		{"refusal passes the vendor's text verbatim", func(f *fakevendor.Cloopen) { f.Refuse("160038", "短信验证码发送过频繁") },
			application.SMSRefused, "160038", "短信验证码发送过频繁", time.Second},
		{"refusal without text keeps the code", func(f *fakevendor.Cloopen) { f.Refuse("160040", "") },
			application.SMSRefused, "160040", "", time.Second},
		{"timeout after the request went out is uncertain", func(f *fakevendor.Cloopen) { f.Set(fakevendor.Hang) },
			application.SMSUncertain, "", "", 2 * time.Second},
		{"garbage body is uncertain", func(f *fakevendor.Cloopen) { f.Set(fakevendor.Garbage) },
			application.SMSUncertain, "", "", time.Second},
		{"HTTP 500 is not sent", func(f *fakevendor.Cloopen) { f.Set(fakevendor.Fail500) },
			application.SMSNotSent, "", "", time.Second},
		{"HTTP 502 from a proxy is not sent", func(f *fakevendor.Cloopen) { f.Set(fakevendor.BadGateway) },
			application.SMSNotSent, "", "", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tt.setup(h.fake)
			start := time.Now()
			se := smsError(t, h.sender.SendCode(context.Background(), mainland, code, 5*time.Minute))
			if took := time.Since(start); took > tt.wantUnder {
				t.Errorf("took %s, want under %s", took, tt.wantUnder)
			}
			if se.Kind != tt.wantKind || se.Code != tt.wantCode || se.Message != tt.wantMsg {
				t.Errorf("got kind %d code %q message %q, want %d %q %q", se.Kind, se.Code, se.Message, tt.wantKind, tt.wantCode, tt.wantMsg)
			}
			if se.Kind != application.SMSRefused && se.Err == nil {
				t.Error("a failure without a vendor text must carry its cause in Err, for the log")
			}
			if n := h.fake.Hits(); n != 1 {
				t.Errorf("vendor saw %d requests, want exactly 1 (no retry)", n)
			}
			if h.logs.Len() == 0 {
				t.Error("a failure must be logged (at debug: the failover wrapper logs each attempt)")
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
	s, err := cloopen.New(cloopen.Config{BaseURL: "http://" + addr, AccountSID: sid, AuthToken: token, AppID: appID, TemplateID: "1", Timeout: time.Second}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	se := smsError(t, s.SendCode(context.Background(), mainland, code, 5*time.Minute))
	if se.Kind != application.SMSNotSent {
		t.Errorf("kind = %d, want SMSNotSent; err %v", se.Kind, se.Err)
	}
	if strings.Contains(se.Error(), "sig=") {
		t.Errorf("error keeps the signed query: %s", se.Error())
	}
}

// A vendor that accepts the connection but never completes the TLS
// handshake times out before the request is written: nothing can have been
// sent, so another vendor may be tried.
func TestTimeoutBeforeTheRequestWentOutIsNotSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn // accepted, kept open, never answered
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-stopped
		for _, c := range held {
			c.Close()
		}
	})
	s, err := cloopen.New(cloopen.Config{BaseURL: "https://" + l.Addr().String(), AccountSID: sid, AuthToken: token, AppID: appID, TemplateID: "1",
		Timeout: 200 * time.Millisecond}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	se := smsError(t, s.SendCode(context.Background(), mainland, code, 5*time.Minute))
	if se.Kind != application.SMSNotSent {
		t.Errorf("kind = %d, want SMSNotSent; err %v", se.Kind, se.Err)
	}
}

func TestCancelledContextIsNotSent(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	se := smsError(t, h.sender.SendCode(ctx, mainland, code, 5*time.Minute))
	if se.Kind != application.SMSNotSent {
		t.Errorf("kind = %d, want SMSNotSent", se.Kind)
	}
	if h.fake.Hits() != 0 {
		t.Error("a cancelled send reached the vendor")
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
	good := cloopen.Config{BaseURL: cloopen.SandboxURL, AccountSID: sid, AuthToken: token, AppID: appID, TemplateID: "1", Timeout: time.Second}
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
