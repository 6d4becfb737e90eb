// Package twilio sends verification codes as plain SMS through Twilio
// Programmable Messaging (POST /2010-04-01/Accounts/{Sid}/Messages.json),
// using the vendor's official SDK, github.com/twilio/twilio-go.
//
// The SDK hard-codes https://api.twilio.com, takes no context.Context and
// cannot say whether a failed request went out. Each send therefore gives
// the SDK an http.Client whose transport (a) points the request at
// TWILIO_BASE_URL, (b) puts the caller's context, bounded by
// TWILIO_TIMEOUT, on it, with a trace that records whether the request was
// written, (c) records the HTTP status, and (d) refuses a second round trip,
// so nothing in the SDK can ever repeat a send.
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/sms/internal/smshttp"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Name is the provider name in SMS_PROVIDER and in SMSError.Vendor.
const Name = "twilio"

// DefaultBaseURL is Twilio's REST API.
const DefaultBaseURL = "https://api.twilio.com"

// DefaultBodyTemplate is the message text; {code} and {minutes} are
// replaced.
const DefaultBodyTemplate = "Your verification code is {code}. It expires in {minutes} minutes."

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSIDPattern = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	alphanumeric      = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
)

// Config is the account, sender and message text, from the environment.
// From is a sender phone number (E.164), an alphanumeric sender ID, or a
// Messaging Service SID (MG…), which is then sent as MessagingServiceSid.
type Config struct {
	AccountSID   string        `env:"TWILIO_ACCOUNT_SID"`
	AuthToken    string        `env:"TWILIO_AUTH_TOKEN"`
	From         string        `env:"TWILIO_FROM"`
	BodyTemplate string        `env:"TWILIO_BODY_TEMPLATE" envDefault:"Your verification code is {code}. It expires in {minutes} minutes."`
	BaseURL      string        `env:"TWILIO_BASE_URL" envDefault:"https://api.twilio.com"`
	Timeout      time.Duration `env:"TWILIO_TIMEOUT" envDefault:"5s"`
}

// Validate reports the first missing or malformed variable by name.
func (c Config) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"TWILIO_ACCOUNT_SID", c.AccountSID},
		{"TWILIO_AUTH_TOKEN", c.AuthToken},
		{"TWILIO_FROM", c.From},
		{"TWILIO_BODY_TEMPLATE", c.BodyTemplate},
		{"TWILIO_BASE_URL", c.BaseURL},
	} {
		if strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("%s is required for the twilio SMS provider", f.name)
		}
	}
	if !accountSIDPattern.MatchString(c.AccountSID) {
		return errors.New("TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits")
	}
	if !alphanumeric.MatchString(c.AuthToken) {
		return errors.New("TWILIO_AUTH_TOKEN must be letters and digits only")
	}
	if !strings.Contains(c.BodyTemplate, "{code}") {
		return errors.New("TWILIO_BODY_TEMPLATE must contain {code}")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return fmt.Errorf("TWILIO_BASE_URL must be an http(s) URL such as %s", DefaultBaseURL)
	}
	if c.Timeout <= 0 {
		return errors.New("TWILIO_TIMEOUT must be a positive duration")
	}
	return nil
}

// String hides the auth token, so that printing a Config is safe.
func (c Config) String() string {
	return fmt.Sprintf("twilio.Config{AccountSID:%s AuthToken:[redacted] From:%s BodyTemplate:%q BaseURL:%s Timeout:%s}",
		c.AccountSID, c.From, c.BodyTemplate, c.BaseURL, c.Timeout)
}

// Sender implements application.SMSSender with Twilio.
type Sender struct {
	cfg       Config
	base      *url.URL
	transport http.RoundTripper
	log       *zap.Logger
}

var _ application.SMSSender = (*Sender)(nil)

// New checks cfg and returns a Sender. Requests go through client's
// transport (http.DefaultTransport if client or its transport is nil); the
// client's own timeout and redirect policy are not used: each send is
// bounded by cfg.Timeout and never follows a redirect.
func New(cfg Config, log *zap.Logger, client *http.Client) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	rt := http.DefaultTransport
	if client != nil && client.Transport != nil {
		rt = client.Transport
	}
	return &Sender{cfg: cfg, base: base, transport: rt, log: log.Named(Name)}, nil
}

// Name returns "twilio".
func (s *Sender) Name() string { return Name }

// SendCode creates one message.
func (s *Sender) SendCode(ctx context.Context, phone domain.PhoneNumber, code string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ctx, tracker := smshttp.Track(ctx)
	rt := &oneShot{ctx: ctx, base: s.base, next: s.transport}

	c := &twclient.Client{
		Credentials: twclient.NewCredentials(s.cfg.AccountSID, s.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport:     rt,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(s.cfg.AccountSID)
	// Edge and region stay empty: TWILIO_BASE_URL says where to go.
	svc := api.NewApiService(&twclient.RequestHandler{Client: c})

	params := &api.CreateMessageParams{}
	params.SetTo(phone.E164())
	params.SetBody(strings.NewReplacer("{code}", code, "{minutes}", smshttp.Minutes(ttl)).Replace(s.cfg.BodyTemplate))
	if serviceSIDPattern.MatchString(s.cfg.From) {
		params.SetMessagingServiceSid(s.cfg.From)
	} else {
		params.SetFrom(s.cfg.From)
	}

	log := s.log.With(zap.String("phone", phone.Masked()))
	msg, err := svc.CreateMessage(params)
	status := rt.statusCode()
	if err == nil {
		if msg == nil || msg.Sid == nil || *msg.Sid == "" {
			e := smshttp.StatusError(Name, status, nil, errors.New("answer without a message sid"))
			log.Debug("twilio answer not understood", zap.Error(e.Err))
			return e
		}
		log.Debug("twilio accepted", zap.String("message_sid", *msg.Sid), zap.String("status", deref(msg.Status)))
		return nil
	}

	var restErr *twclient.TwilioRestError
	switch {
	case errors.As(err, &restErr):
		vendorCode := strconv.Itoa(restErr.Code)
		cause := fmt.Errorf("HTTP %d, code %d: %s", restErr.Status, restErr.Code, smshttp.LogText(restErr.Message))
		log.Debug("twilio error answer", zap.Int("http_status", restErr.Status), zap.String("vendor_code", vendorCode), zap.String("vendor_message", smshttp.LogText(restErr.Message)))
		// A 5xx or 429 is judged by its status, whatever its text; a 4xx
		// without a text refuses with nothing to show the client.
		if restErr.Status >= 500 || restErr.Status == http.StatusTooManyRequests || restErr.Message == "" {
			return &application.SMSError{Vendor: Name, Kind: smshttp.StatusKind(restErr.Status), Code: vendorCode, Err: cause}
		}
		e := smshttp.Refused(Name, vendorCode, restErr.Message)
		e.Err = cause
		return e
	case status != 0:
		// An answer came but the SDK could not decode it.
		e := smshttp.StatusError(Name, status, nil, smshttp.Redact(err))
		log.Debug("twilio answer not understood", zap.Int("http_status", status), zap.Error(e.Err))
		return e
	default:
		e := smshttp.TransportError(Name, err, tracker.Wrote())
		log.Debug("twilio request failed", zap.Bool("request_written", tracker.Wrote()), zap.Error(e.Err))
		return e
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// errSecondRoundTrip stops anything in the SDK from repeating a send.
var errSecondRoundTrip = errors.New("twilio: refusing a second request for one send")

// oneShot is the transport of one send: it rewrites the SDK's URL onto the
// configured base URL, carries the send's context, records the status, and
// allows a single round trip.
type oneShot struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper

	mu     sync.Mutex
	used   bool
	status int
}

func (t *oneShot) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	if t.used {
		t.mu.Unlock()
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errSecondRoundTrip
	}
	t.used = true
	t.mu.Unlock()

	out := req.Clone(t.ctx)
	out.URL.Scheme = t.base.Scheme
	out.URL.Host = t.base.Host
	out.URL.Path = t.base.Path + req.URL.Path
	out.URL.RawPath = ""
	out.Host = ""
	resp, err := t.next.RoundTrip(out)
	if resp != nil {
		t.mu.Lock()
		t.status = resp.StatusCode
		t.mu.Unlock()
	}
	return resp, err
}

func (t *oneShot) statusCode() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}
