package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client calls one phoneauth service. It holds the session of one user
// (the token pair) and the registration token of the registrations it
// runs, and is safe for concurrent use.
type Client struct {
	base   string
	hc     *http.Client
	now    func() time.Time
	rand   io.Reader
	margin time.Duration
	hook   func(Session)

	mu      sync.Mutex
	session *Session // nil: not logged in
	gen     uint64   // moves on whenever session is replaced or dropped
	flight  *flight  // the refresh in progress, if any
	regs    map[string]string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends every request through hc. The default is an
// http.Client with a 30-second timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithClock reads the time from now: the login proof's time stamp, and
// when the access token expires. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithRandom draws the login proof's random strings from r. The default
// is crypto/rand; another reader is for tests.
func WithRandom(r io.Reader) Option { return func(c *Client) { c.rand = r } }

// WithRefreshMargin refreshes the access token this long before it
// expires (default 30 seconds), so that a request never leaves with a
// token that expires on its way. Keep it well below the service's
// TOKEN_TTL: a token that is within the margin as soon as it is issued
// is refreshed before every call (never twice for one call).
func WithRefreshMargin(d time.Duration) Option { return func(c *Client) { c.margin = d } }

// WithSession starts the client with a session saved earlier (see
// Client.Session and OnSessionChange).
func WithSession(s Session) Option {
	return func(c *Client) {
		if s.RefreshToken != "" || s.AccessToken != "" {
			c.session = &s
		}
	}
}

// OnSessionChange calls fn with the new session whenever the client's
// session changes: a login, a refresh (automatic or not), a password or
// phone change, and with the zero Session when the session is dropped
// (logout, account deletion, a refused refresh). An app saves the pair
// there. fn runs while the client is locked: it must not call the
// client.
func OnSessionChange(fn func(Session)) Option { return func(c *Client) { c.hook = fn } }

// New returns a client of the service at baseURL (scheme, host, and the
// path prefix if the service has one: "https://api.example.com").
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		base:   strings.TrimRight(baseURL, "/"),
		hc:     &http.Client{Timeout: 30 * time.Second},
		now:    time.Now,
		margin: 30 * time.Second,
		regs:   map[string]string{},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// envelope is every answer's body: the shared fields and each
// endpoint's own.
type envelope struct {
	Code              *int   `json:"code"`
	Message           string `json:"message"`
	Error             string `json:"error"`
	RetryAfter        int64  `json:"retry_after"`
	RegistrationToken string `json:"registration_token"`
	Email             string `json:"email"`
	PhoneNumber       string `json:"phone_number"`
	CreatedAt         string `json:"created_at"`
	Token             string `json:"token"`
	ExpiresIn         int64  `json:"expires_in"`
	RefreshToken      string `json:"refresh_token"`
	RefreshExpiresIn  int64  `json:"refresh_expires_in"`
}

// do sends one request (body nil for none; token "" for none) and
// decodes the answer: an envelope whose code is 1, or an *Error.
func (c *Client) do(ctx context.Context, method, path, token string, body any) (*envelope, error) {
	status, raw, err := c.exchange(ctx, method, path, token, body)
	if err != nil {
		return nil, err
	}
	var env envelope
	if json.Unmarshal(raw, &env) != nil || env.Code == nil {
		return nil, unexpectedAnswer(status)
	}
	if *env.Code != 1 {
		return nil, &Error{
			HTTPStatus: status,
			Code:       *env.Code,
			Message:    env.Message,
			Reason:     env.Error,
			RetryAfter: time.Duration(env.RetryAfter) * time.Second,
		}
	}
	return &env, nil
}

// exchange sends one request (body nil for none, else JSON; token "" for
// none) and reads the answer's status and body (at most 1 MiB).
func (c *Client) exchange(ctx context.Context, method, path, token string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("phoneauth: %s %s: %w", method, path, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, fmt.Errorf("phoneauth: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("phoneauth: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("phoneauth: %s %s: read the answer: %w", method, path, err)
	}
	return resp.StatusCode, raw, nil
}

// unexpectedAnswer is an answer that is not what the service sends.
func unexpectedAnswer(status int) *Error {
	return &Error{HTTPStatus: status, Message: http.StatusText(status), Reason: ReasonUnexpectedAnswer}
}

// post sends a public POST.
func (c *Client) post(ctx context.Context, path string, body any) (*envelope, error) {
	return c.do(ctx, http.MethodPost, path, "", body)
}

// Reply is the answer of a call that returns nothing but its message.
type Reply struct {
	// Message is the service's text for the user ("发送成功", ...).
	Message string
}

// Keys is the service's JSON Web Key Set (RFC 7517): the public keys
// that verify its access tokens.
type Keys struct {
	Keys []Key `json:"keys"`
	// Raw is the set as the service sent it, for a JOSE library.
	Raw json.RawMessage `json:"-"`
}

// Key is one public key of the set.
type Key struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// Keys fetches GET /.well-known/jwks.json, the keys another service
// verifies access tokens with. The set is not the code/message envelope:
// a status other than 200 is an *Error with ReasonUnexpectedAnswer.
func (c *Client) Keys(ctx context.Context) (*Keys, error) {
	status, raw, err := c.exchange(ctx, http.MethodGet, "/.well-known/jwks.json", "", nil)
	if err != nil {
		return nil, err
	}
	var k Keys
	if status != http.StatusOK || json.Unmarshal(raw, &k) != nil {
		return nil, unexpectedAnswer(status)
	}
	k.Raw = raw
	return &k, nil
}
