// Package aliyun sends verification codes through Alibaba Cloud SMS
// (dysmsapi SendSms: sign name, template code, JSON template parameter)
// with the vendor's official SDK, github.com/alibabacloud-go/dysmsapi-20170525/v4.
// The SDK signs with the V3 scheme (ACS3-HMAC-SHA256 in the Authorization
// header) and never retries unless asked to.
//
// What the SDK does not allow, and how this package copes:
//   - It takes no context.Context. SendCode runs the call on a goroutine and
//     returns when the caller's context ends; the call itself is bounded by
//     ALIYUN_TIMEOUT (the SDK's read timeout, a total timeout for the
//     exchange), so the goroutine cannot outlive it by much.
//   - It owns its HTTP transport, so requests cannot be traced. Whether a
//     failed request was written is judged from the error (a failed lookup,
//     dial or TLS handshake means not), and an HTTP 5xx whose body is not
//     JSON reaches us as a bare decoding error: such answers count as
//     SMSUncertain, never as SMSNotSent (even a 503 or 429, whose status is
//     lost), so failover errs on the side of not sending twice. The
//     vendor's own 503 and 429 carry its JSON error and fail over.
//   - It prints request URLs (phone number and code included) to stdout when
//     the environment has DEBUG=tea; New warns if it does.
package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	dysmsapi "github.com/alibabacloud-go/dysmsapi-20170525/v4/client"
	"github.com/alibabacloud-go/tea/tea"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/sms/internal/smshttp"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Name is the provider name in SMS_PROVIDER and in SMSError.Vendor.
const Name = "aliyun"

// DefaultEndpoint is the mainland endpoint of dysmsapi.
const DefaultEndpoint = "dysmsapi.aliyuncs.com"

// Config is the account, signature and template, from the environment.
// The template parameter is a JSON object: {CodeParam: code}, plus
// {MinutesParam: minutes} when MinutesParam is set. Aliyun refuses a
// parameter the template does not name, and verification-code templates
// may name only one, so minutes are off by default.
type Config struct {
	AccessKeyID     string `env:"ALIYUN_ACCESS_KEY_ID"`
	AccessKeySecret string `env:"ALIYUN_ACCESS_KEY_SECRET"`
	SignName        string `env:"ALIYUN_SIGN_NAME"`
	TemplateCode    string `env:"ALIYUN_TEMPLATE_CODE"`
	CodeParam       string `env:"ALIYUN_CODE_PARAM" envDefault:"code"`
	MinutesParam    string `env:"ALIYUN_MINUTES_PARAM"`
	// Endpoint is a host (HTTPS is used) or a full http(s)://host[:port]
	// URL, which is how tests point the SDK at a local server.
	Endpoint string        `env:"ALIYUN_ENDPOINT" envDefault:"dysmsapi.aliyuncs.com"`
	Timeout  time.Duration `env:"ALIYUN_TIMEOUT" envDefault:"5s"`
}

// Validate reports the first missing or malformed variable by name.
func (c Config) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"ALIYUN_ACCESS_KEY_ID", c.AccessKeyID},
		{"ALIYUN_ACCESS_KEY_SECRET", c.AccessKeySecret},
		{"ALIYUN_SIGN_NAME", c.SignName},
		{"ALIYUN_TEMPLATE_CODE", c.TemplateCode},
		{"ALIYUN_CODE_PARAM", c.CodeParam},
		{"ALIYUN_ENDPOINT", c.Endpoint},
	} {
		if strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("%s is required for the aliyun SMS provider", f.name)
		}
	}
	if c.MinutesParam == c.CodeParam {
		return errors.New("ALIYUN_MINUTES_PARAM must differ from ALIYUN_CODE_PARAM")
	}
	if _, _, err := splitEndpoint(c.Endpoint); err != nil {
		return err
	}
	if c.Timeout < time.Millisecond {
		return errors.New("ALIYUN_TIMEOUT must be a positive duration of at least 1ms")
	}
	return nil
}

// String hides the access key secret, so that printing a Config is safe.
func (c Config) String() string {
	return fmt.Sprintf("aliyun.Config{AccessKeyID:%s AccessKeySecret:[redacted] SignName:%s TemplateCode:%s CodeParam:%s MinutesParam:%s Endpoint:%s Timeout:%s}",
		c.AccessKeyID, c.SignName, c.TemplateCode, c.CodeParam, c.MinutesParam, c.Endpoint, c.Timeout)
}

// splitEndpoint turns ALIYUN_ENDPOINT into the SDK's protocol and host.
func splitEndpoint(e string) (protocol, host string, err error) {
	e = strings.TrimRight(strings.TrimSpace(e), "/")
	if !strings.Contains(e, "://") {
		if strings.ContainsAny(e, "/?# ") {
			return "", "", fmt.Errorf("ALIYUN_ENDPOINT %q is neither a host nor an http(s) URL", e)
		}
		return "HTTPS", e, nil
	}
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		return "", "", fmt.Errorf("ALIYUN_ENDPOINT %q is neither a host nor an http(s)://host[:port] URL", e)
	}
	return strings.ToUpper(u.Scheme), u.Host, nil
}

// Sender implements application.SMSSender with Alibaba Cloud SMS.
type Sender struct {
	cfg    Config
	client *dysmsapi.Client
	log    *zap.Logger
}

var _ application.SMSSender = (*Sender)(nil)

// New checks cfg and builds the SDK client; it makes no network call.
func New(cfg Config, log *zap.Logger) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named(Name)
	protocol, host, _ := splitEndpoint(cfg.Endpoint)
	ms := int(cfg.Timeout / time.Millisecond)
	client, err := dysmsapi.NewClient(&openapi.Config{
		AccessKeyId:     tea.String(cfg.AccessKeyID),
		AccessKeySecret: tea.String(cfg.AccessKeySecret),
		Endpoint:        tea.String(host),
		Protocol:        tea.String(protocol),
		ReadTimeout:     tea.Int(ms),
		ConnectTimeout:  tea.Int(ms),
		MaxIdleConns:    tea.Int(16),
	})
	if err != nil {
		// The SDK's errors here are about the config, not secrets.
		return nil, fmt.Errorf("aliyun SMS client: %w", err)
	}
	for _, flag := range strings.Split(os.Getenv("DEBUG"), ",") {
		if flag == "tea" {
			log.Warn("DEBUG=tea makes the Aliyun SDK print every request URL to stdout, phone numbers and SMS codes included; unset it outside debugging")
		}
	}
	return &Sender{cfg: cfg, client: client, log: log}, nil
}

// Name returns "aliyun".
func (s *Sender) Name() string { return Name }

type result struct {
	resp *dysmsapi.SendSmsResponse
	err  error
}

// SendCode makes one SendSms call (the SDK's retry is off by default and
// left off).
func (s *Sender) SendCode(ctx context.Context, phone domain.PhoneNumber, code string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return &application.SMSError{Vendor: Name, Kind: application.SMSNotSent, Err: err}
	}
	params := map[string]string{s.cfg.CodeParam: code}
	if s.cfg.MinutesParam != "" {
		params[s.cfg.MinutesParam] = smshttp.Minutes(ttl)
	}
	param, err := json.Marshal(params)
	if err != nil {
		return &application.SMSError{Vendor: Name, Kind: application.SMSNotSent, Err: fmt.Errorf("encode template parameter: %w", err)}
	}
	req := &dysmsapi.SendSmsRequest{
		PhoneNumbers:  tea.String(recipient(phone)),
		SignName:      tea.String(s.cfg.SignName),
		TemplateCode:  tea.String(s.cfg.TemplateCode),
		TemplateParam: tea.String(string(param)),
	}

	log := s.log.With(zap.String("phone", phone.Masked()))
	done := make(chan result, 1)
	go func() {
		resp, err := s.client.SendSms(req)
		done <- result{resp, err}
	}()
	select {
	case <-ctx.Done():
		log.Debug("aliyun send abandoned: context done", zap.Error(ctx.Err()))
		return &application.SMSError{Vendor: Name, Kind: application.SMSUncertain, Err: fmt.Errorf("gave up waiting: %w", ctx.Err())}
	case r := <-done:
		return s.interpret(log, r)
	}
}

// interpret turns the SDK's answer into nil or an *SMSError.
func (s *Sender) interpret(log *zap.Logger, r result) error {
	if r.err != nil {
		var sdkErr *tea.SDKError
		if errors.As(r.err, &sdkErr) {
			return s.sdkError(log, sdkErr)
		}
		e := smshttp.TransportError(Name, r.err, !smshttp.BeforeWrite(r.err))
		log.Debug("aliyun request failed", zap.Error(e.Err))
		return e
	}
	var body *dysmsapi.SendSmsResponseBody
	if r.resp != nil {
		body = r.resp.Body
	}
	switch {
	case body == nil || body.Code == nil || *body.Code == "":
		e := &application.SMSError{Vendor: Name, Kind: application.SMSUncertain, Err: errors.New("answer without a Code")}
		log.Debug("aliyun answer not understood", zap.Error(e.Err))
		return e
	case *body.Code == "OK":
		log.Debug("aliyun accepted", zap.String("biz_id", tea.StringValue(body.BizId)), zap.String("request_id", tea.StringValue(body.RequestId)))
		return nil
	default:
		log.Debug("aliyun refused", zap.String("vendor_code", *body.Code), zap.String("vendor_message", smshttp.LogText(tea.StringValue(body.Message))),
			zap.String("request_id", tea.StringValue(body.RequestId)))
		return smshttp.Refused(Name, *body.Code, tea.StringValue(body.Message))
	}
}

// sdkError maps the SDK's error for an HTTP 4xx/5xx answer with a JSON
// body, or for a request it refused to build.
func (s *Sender) sdkError(log *zap.Logger, e *tea.SDKError) error {
	status := tea.IntValue(e.StatusCode)
	code := tea.StringValue(e.Code)
	// The SDK rewrites Message ("code: 400, <text> request id: <id>");
	// the vendor's own text is in Data.
	var data map[string]any
	_ = json.Unmarshal([]byte(tea.StringValue(e.Data)), &data)
	message := firstString(data, "Message", "message")
	cause := fmt.Errorf("HTTP %d, %s: %s", status, code, smshttp.LogText(message))
	var se *application.SMSError
	switch {
	case e.StatusCode == nil:
		// Raised before anything was sent (bad parameters, credentials).
		se = &application.SMSError{Vendor: Name, Kind: application.SMSNotSent, Code: code, Err: fmt.Errorf("SDK refused to send: %s", code)}
	case status >= 500 || status == http.StatusTooManyRequests || message == "":
		// Judged by the status alone: 503 and 429 mean nothing was
		// sent, any other 5xx that it may have been, a 4xx without a
		// text is a refusal the client cannot read.
		se = &application.SMSError{Vendor: Name, Kind: smshttp.StatusKind(status), Code: code, Err: cause}
	default:
		se = smshttp.Refused(Name, code, message)
		se.Err = cause
	}
	log.Debug("aliyun error answer", zap.Int("http_status", status), zap.String("vendor_code", code), zap.String("vendor_message", smshttp.LogText(message)))
	return se
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// recipient is PhoneNumbers: mainland numbers as the 11 national digits,
// others as country code + national number, without + or 00.
func recipient(p domain.PhoneNumber) string {
	if p.CountryCode() == 86 {
		return p.National()
	}
	return strconv.Itoa(p.CountryCode()) + p.National()
}
