// Package cloopen sends verification codes through 容联云 (Cloopen) template
// SMS, speaking the REST protocol of docs/cloopen.md directly with
// net/http. Failures come back as *application.SMSError carrying every
// detail (HTTP status, vendor code and text, transport error, never the
// token or signature); this package logs them only at debug level, since
// the failover wrapper that package sms puts around every vendor logs one
// line per attempt. The vendor's Go SDK is not used: it is unmaintained, has no
// go.mod, signs with lower-case MD5 and URL-safe base64 (both unlike the
// vendor's documentation and other SDKs), and logs the Authorization header.
package cloopen

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/sms/internal/smshttp"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Name is the provider name in SMS_PROVIDER and in SMSError.Vendor.
const Name = "cloopen"

// Base URLs of the vendor's two environments.
const (
	ProductionURL = "https://app.cloopen.com:8883"
	SandboxURL    = "https://sandboxapp.cloopen.com:8883"
)

// statusOK is the statusCode of an accepted message.
const statusOK = "000000"

// timestampLayout is yyyyMMddHHmmss, in China Standard Time.
const timestampLayout = "20060102150405"

// chinaStandardTime is UTC+8 without daylight saving; a fixed zone keeps the
// adapter independent of the machine's tzdata.
var chinaStandardTime = time.FixedZone("CST", 8*60*60)

// Config is the account and template, from the environment (docs/sms.md,
// 容联云).
type Config struct {
	BaseURL    string        `env:"CLOOPEN_BASE_URL" envDefault:"https://app.cloopen.com:8883"`
	AccountSID string        `env:"CLOOPEN_ACCOUNT_SID"`
	AuthToken  string        `env:"CLOOPEN_AUTH_TOKEN"`
	AppID      string        `env:"CLOOPEN_APP_ID"`
	TemplateID string        `env:"CLOOPEN_TEMPLATE_ID" envDefault:"1"`
	Timeout    time.Duration `env:"CLOOPEN_TIMEOUT" envDefault:"5s"`
}

// Validate reports the first missing or malformed variable by name.
func (c Config) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"CLOOPEN_BASE_URL", c.BaseURL},
		{"CLOOPEN_ACCOUNT_SID", c.AccountSID},
		{"CLOOPEN_AUTH_TOKEN", c.AuthToken},
		{"CLOOPEN_APP_ID", c.AppID},
		{"CLOOPEN_TEMPLATE_ID", c.TemplateID},
	} {
		if strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("%s is required for the cloopen SMS provider", f.name)
		}
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return fmt.Errorf("CLOOPEN_BASE_URL must be an http(s) URL such as %s", ProductionURL)
	}
	if c.Timeout <= 0 {
		return errors.New("CLOOPEN_TIMEOUT must be a positive duration")
	}
	return nil
}

// String hides the auth token, so that printing a Config is safe.
func (c Config) String() string {
	return fmt.Sprintf("cloopen.Config{BaseURL:%s AccountSID:%s AuthToken:[redacted] AppID:%s TemplateID:%s Timeout:%s}",
		c.BaseURL, c.AccountSID, c.AppID, c.TemplateID, c.Timeout)
}

// Sender implements application.SMSSender with Cloopen.
type Sender struct {
	cfg      Config
	endpoint string // base + path, without the sig query
	client   *http.Client
	log      *zap.Logger
	now      func() time.Time
}

var _ application.SMSSender = (*Sender)(nil)

// New checks cfg and returns a Sender. A nil client means a default one
// that does not follow redirects; its requests are bounded by cfg.Timeout
// in any case.
func New(cfg Config, log *zap.Logger, client *http.Client) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		client = smshttp.NewClient()
	}
	if log == nil {
		log = zap.NewNop()
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	return &Sender{
		cfg:      cfg,
		endpoint: base + "/2013-12-26/Accounts/" + url.PathEscape(cfg.AccountSID) + "/SMS/TemplateSMS",
		client:   client,
		log:      log.Named(Name),
		now:      time.Now,
	}, nil
}

// Name returns "cloopen".
func (s *Sender) Name() string { return Name }

// request is the JSON body of TemplateSMS.
type request struct {
	To         string   `json:"to"`
	AppID      string   `json:"appId"`
	TemplateID string   `json:"templateId"`
	Datas      []string `json:"datas"`
}

// response is the JSON answer; Success carries templateSMS, failure
// statusMsg.
type response struct {
	StatusCode  *string `json:"statusCode"`
	StatusMsg   string  `json:"statusMsg"`
	TemplateSMS *struct {
		SMSMessageSID string `json:"smsMessageSid"`
	} `json:"templateSMS"`
}

// SendCode sends one template SMS with datas [code, minutes]. It makes
// exactly one HTTP request: nothing is retried, since the vendor may have
// executed a request whose answer was lost.
func (s *Sender) SendCode(ctx context.Context, phone domain.PhoneNumber, code string, ttl time.Duration) error {
	body, err := json.Marshal(request{
		To:         recipient(phone),
		AppID:      s.cfg.AppID,
		TemplateID: s.cfg.TemplateID,
		Datas:      []string{code, smshttp.Minutes(ttl)},
	})
	if err != nil {
		return &application.SMSError{Vendor: Name, Kind: application.SMSNotSent, Err: fmt.Errorf("encode request: %w", err)}
	}

	ts := s.now().In(chinaStandardTime).Format(timestampLayout)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ctx, tracker := smshttp.Track(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"?sig="+sig(s.cfg.AccountSID, s.cfg.AuthToken, ts), bytes.NewReader(body))
	if err != nil {
		return &application.SMSError{Vendor: Name, Kind: application.SMSNotSent, Err: smshttp.Redact(err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	req.Header.Set("Authorization", authorization(s.cfg.AccountSID, ts))

	log := s.log.With(zap.String("phone", phone.Masked()))
	resp, err := s.client.Do(req)
	if err != nil {
		e := smshttp.TransportError(Name, err, tracker.Wrote())
		log.Debug("cloopen request failed", zap.Bool("request_written", tracker.Wrote()), zap.Error(e.Err))
		return e
	}
	defer resp.Body.Close()
	raw, err := smshttp.ReadBody(resp.Body)
	if err != nil {
		// The status line arrived, so the request was written; the
		// status alone says what is known.
		e := smshttp.TransportError(Name, fmt.Errorf("HTTP %d, reading body: %w", resp.StatusCode, err), true)
		e.Kind = smshttp.StatusKind(resp.StatusCode)
		log.Debug("cloopen answer unreadable", zap.Int("http_status", resp.StatusCode), zap.Error(e.Err))
		return e
	}
	return s.interpret(log, resp.StatusCode, raw)
}

// interpret turns an answer into nil or an *SMSError (docs/cloopen.md,
// Answer).
func (s *Sender) interpret(log *zap.Logger, status int, raw []byte) error {
	var r response
	decodeErr := json.Unmarshal(raw, &r)
	parsed := decodeErr == nil && r.StatusCode != nil && *r.StatusCode != ""
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		// The status decides, whatever the body says: 503 and 429 mean
		// nothing was sent, any other 5xx that it may have been.
		e := smshttp.StatusError(Name, status, raw, nil)
		if parsed {
			e.Code = *r.StatusCode
		}
		log.Debug("cloopen server error", zap.Int("http_status", status), zap.String("status_code", e.Code), zap.Error(e.Err))
		return e
	case !parsed:
		e := smshttp.StatusError(Name, status, raw, decodeErr)
		log.Debug("cloopen answer not understood", zap.Int("http_status", status), zap.Error(e.Err))
		return e
	case *r.StatusCode == statusOK && status >= 200 && status < 300:
		sid := ""
		if r.TemplateSMS != nil {
			sid = r.TemplateSMS.SMSMessageSID
		}
		log.Debug("cloopen accepted", zap.String("sms_message_sid", sid))
		return nil
	case *r.StatusCode == statusOK:
		// "Accepted" on a 3xx/4xx is self-contradictory: nobody knows.
		e := smshttp.StatusError(Name, status, raw, errors.New("statusCode 000000 on a non-2xx answer"))
		e.Kind = application.SMSUncertain
		log.Debug("cloopen answer contradictory", zap.Int("http_status", status), zap.Error(e.Err))
		return e
	default:
		log.Debug("cloopen refused", zap.Int("http_status", status), zap.String("status_code", *r.StatusCode), zap.String("status_msg", smshttp.LogText(r.StatusMsg)))
		return smshttp.Refused(Name, *r.StatusCode, r.StatusMsg)
	}
}

// recipient is the "to" field: mainland numbers as the 11 national digits,
// others as 00 + country code + national number.
func recipient(p domain.PhoneNumber) string {
	if p.CountryCode() == 86 {
		return p.National()
	}
	return "00" + strconv.Itoa(p.CountryCode()) + p.National()
}

// sig is the sig query parameter: upper-case hex MD5 of accountSid +
// authToken + timestamp.
func sig(accountSID, authToken, timestamp string) string {
	sum := md5.Sum([]byte(accountSID + authToken + timestamp))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// authorization is the header value: standard base64, with padding, of
// accountSid:timestamp.
func authorization(accountSID, timestamp string) string {
	return base64.StdEncoding.EncodeToString([]byte(accountSID + ":" + timestamp))
}
