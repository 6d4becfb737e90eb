package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Session is a token pair and when each token expires, by the client's
// clock. Its zero value is "not logged in".
type Session struct {
	AccessToken   string    `json:"access_token"`
	AccessExpiry  time.Time `json:"access_expiry"`
	RefreshToken  string    `json:"refresh_token"`
	RefreshExpiry time.Time `json:"refresh_expiry"`
}

// Session returns the session the client holds, and false if it holds
// none.
func (c *Client) Session() (Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == nil {
		return Session{}, false
	}
	return *c.session, true
}

// SetSession replaces the session the client holds (the zero Session
// drops it).
func (c *Client) SetSession(s Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.AccessToken == "" && s.RefreshToken == "" {
		c.setLocked(nil)
		return
	}
	c.setLocked(&s)
}

// setLocked replaces the session; c.mu is held.
func (c *Client) setLocked(s *Session) {
	c.session = s
	c.gen++
	if c.hook != nil {
		if s == nil {
			c.hook(Session{})
		} else {
			c.hook(*s)
		}
	}
}

// sessionFrom reads the pair of an answer; sent is when the request
// left, so that the expiries err on the early side.
func sessionFrom(env *envelope, sent time.Time) Session {
	return Session{
		AccessToken:   env.Token,
		AccessExpiry:  sent.Add(time.Duration(env.ExpiresIn) * time.Second),
		RefreshToken:  env.RefreshToken,
		RefreshExpiry: sent.Add(time.Duration(env.RefreshExpiresIn) * time.Second),
	}
}

// keep stores the fresh pair of an answer, replacing the one held.
func (c *Client) keep(env *envelope, sent time.Time) Session {
	s := sessionFrom(env, sent)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(&s)
	return s
}

// proof is the login proof of password: a fresh random string, the
// current Unix time in decimal, and the lowercase hex SHA-256 of
// password ‖ random_str ‖ time_stamp.
type proof struct {
	EncryptionStr string `json:"encryption_str"`
	RandomStr     string `json:"random_str"`
	TimeStamp     string `json:"time_stamp"`
}

// LoginProof is the hash the service checks at login (and for a password
// or phone change and an account deletion): the lowercase hex SHA-256 of
// the bytes password ‖ randomStr ‖ timeStamp. The client computes it
// itself with a fresh random string and the current time; it is exported
// for apps that build the request some other way.
func LoginProof(password, randomStr, timeStamp string) string {
	sum := sha256.Sum256([]byte(password + randomStr + timeStamp))
	return hex.EncodeToString(sum[:])
}

func (c *Client) newProof(password string) (proof, error) {
	b := make([]byte, 16)
	r := c.rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return proof{}, fmt.Errorf("phoneauth: random string: %w", err)
	}
	rs := hex.EncodeToString(b)
	ts := strconv.FormatInt(c.now().Unix(), 10)
	return proof{EncryptionStr: LoginProof(password, rs, ts), RandomStr: rs, TimeStamp: ts}, nil
}

// LoggedIn is login's answer.
type LoggedIn struct {
	Message string // 成功登录
	Email   string
	Session Session
}

// Login logs in with the number and password: POST /client/login with a
// proof made now (the password never leaves the device). The session it
// opens replaces the one held. Failures: ErrNoSuchUser, ErrWrongPassword,
// ErrStaleRequest (the device's clock is more than the service's window
// off), ErrAccountLocked, ErrRateLimited.
func (c *Client) Login(ctx context.Context, phone, password string) (*LoggedIn, error) {
	p, err := c.newProof(password)
	if err != nil {
		return nil, err
	}
	body := struct {
		Phone string `json:"phone_number"`
		proof
	}{phone, p}
	sent := c.now()
	env, err := c.post(ctx, "/client/login", body)
	if err != nil {
		return nil, err
	}
	return &LoggedIn{Message: env.Message, Email: env.Email, Session: c.keep(env, sent)}, nil
}

// Renewed is the answer of a call that gives a fresh pair: a refresh, a
// password change, a phone change. The client already holds the pair.
type Renewed struct {
	Message string
	Session Session
}

// Refresh trades the refresh token for a fresh pair now, whether or not
// the access token has expired (authenticated calls refresh by
// themselves when it has). Concurrent refreshes share one request. When
// the service refuses the refresh token (ErrInvalidRefreshToken,
// ErrRefreshTokenReused) the session is dropped and the error is also
// ErrLoginRequired; other failures (the network, ErrUnavailable) keep the
// session for a later try.
func (c *Client) Refresh(ctx context.Context) (*Renewed, error) {
	f, err := c.startRefresh(func(*Session, uint64) bool { return true })
	if err != nil {
		return nil, err
	}
	if f == nil { // cannot happen: the condition always asks for one
		return nil, ErrLoginRequired
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return &Renewed{Message: f.message, Session: f.session}, nil
}

// flight is one refresh request, shared by every caller that needs it.
type flight struct {
	done    chan struct{}
	session Session
	message string
	err     error
}

// startRefresh returns the refresh in flight, or starts one when need
// says the session held (and its generation) calls for it; nil when it
// does not. It fails with ErrLoginRequired when no session is held.
func (c *Client) startRefresh(need func(s *Session, gen uint64) bool) (*flight, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flight; f != nil {
		return f, nil
	}
	if c.session == nil {
		return nil, ErrLoginRequired
	}
	if !need(c.session, c.gen) {
		return nil, nil
	}
	f := &flight{done: make(chan struct{})}
	c.flight = f
	go c.runRefresh(f, c.session.RefreshToken, c.gen)
	return f, nil
}

// runRefresh sends the refresh and settles f. It runs on its own, not
// under any caller's context: a refresh abandoned half-way may have
// rotated the token on the service while the answer is lost, which would
// leave the client with a spent token.
func (c *Client) runRefresh(f *flight, refreshToken string, gen uint64) {
	sent := c.now()
	env, err := c.post(context.Background(), "/client/token/refresh", map[string]string{"refresh_token": refreshToken})
	c.mu.Lock()
	var svcErr *Error
	switch {
	case err == nil:
		f.session, f.message = sessionFrom(env, sent), env.Message
		if c.gen == gen { // else a login or a change replaced the session meanwhile: it wins
			s := f.session
			c.setLocked(&s)
		}
	case errors.As(err, &svcErr) && (errors.Is(err, ErrInvalidRefreshToken) || errors.Is(err, ErrRefreshTokenReused)):
		f.err = &loginRequired{cause: svcErr}
		if c.gen == gen {
			c.setLocked(nil)
		}
	default:
		f.err = err
	}
	c.flight = nil
	c.mu.Unlock()
	close(f.done)
}

// accessToken returns a live access token and the generation of the
// session it belongs to, refreshing first when the token has expired or
// is within the margin, or when stale is the generation whose token the
// service has just refused.
func (c *Client) accessToken(ctx context.Context, stale uint64, forced bool) (string, uint64, error) {
	margin := c.margin
	for range 2 {
		f, err := c.startRefresh(func(s *Session, gen uint64) bool {
			return (forced && gen == stale) || s.AccessToken == "" || !c.now().Add(margin).Before(s.AccessExpiry)
		})
		if err != nil {
			return "", 0, err
		}
		if f == nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.session == nil {
				return "", 0, ErrLoginRequired
			}
			return c.session.AccessToken, c.gen, nil
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
		if f.err != nil {
			return "", 0, f.err
		}
		// The session has moved on: take it unless it has expired
		// already (not merely within the margin: a lifetime shorter than
		// the margin must not refresh twice in a row).
		forced, margin = false, 0
	}
	return "", 0, ErrLoginRequired
}

// authed sends an authenticated request. body builds the body afresh for
// each try (a proof must be new). When the service refuses a token that
// should be live (401 unauthorized), the client refreshes once and
// retries once.
func (c *Client) authed(ctx context.Context, method, path string, body func() (any, error)) (*envelope, error) {
	tok, gen, err := c.accessToken(ctx, 0, false)
	if err != nil {
		return nil, err
	}
	b, err := body()
	if err != nil {
		return nil, err
	}
	env, err := c.do(ctx, method, path, tok, b)
	if !errors.Is(err, ErrUnauthorized) {
		return env, err
	}
	if tok, _, err = c.accessToken(ctx, gen, true); err != nil {
		return nil, err
	}
	if b, err = body(); err != nil {
		return nil, err
	}
	return c.do(ctx, method, path, tok, b)
}

// noBody is the body of a request that sends none.
func noBody() (any, error) { return nil, nil }

// Account is the account of the session: GET /client.
type Account struct {
	Message     string // 获取成功
	PhoneNumber string // E.164
	Email       string
	CreatedAt   time.Time
}

// Me reads the account the session belongs to (GET /client).
func (c *Client) Me(ctx context.Context) (*Account, error) {
	env, err := c.authed(ctx, http.MethodGet, "/client", noBody)
	if err != nil {
		return nil, err
	}
	created, err := time.Parse(time.RFC3339, env.CreatedAt)
	if err != nil {
		return nil, &Error{HTTPStatus: http.StatusOK, Code: 1, Message: "created_at " + strconv.Quote(env.CreatedAt), Reason: ReasonUnexpectedAnswer}
	}
	return &Account{Message: env.Message, PhoneNumber: env.PhoneNumber, Email: env.Email, CreatedAt: created}, nil
}

// Logout ends the session (POST /client/logout), or with all every
// session of the account, and drops it. It sends the refresh token, so it
// works after the access token has expired, and never refreshes. When
// the service answers that the session is already unusable (401), the
// session is dropped too and that *Error is returned.
func (c *Client) Logout(ctx context.Context, all bool) (*Reply, error) {
	c.mu.Lock()
	if c.session == nil {
		c.mu.Unlock()
		return nil, ErrLoginRequired
	}
	s, gen := *c.session, c.gen
	c.mu.Unlock()
	body := struct {
		RefreshToken string `json:"refresh_token,omitempty"`
		All          bool   `json:"all,omitempty"`
	}{s.RefreshToken, all}
	token := ""
	if s.RefreshToken == "" {
		token = s.AccessToken
	}
	env, err := c.do(ctx, http.MethodPost, "/client/logout", token, body)
	var svcErr *Error
	if err == nil || (errors.As(err, &svcErr) && svcErr.HTTPStatus == http.StatusUnauthorized) {
		c.mu.Lock()
		if c.gen == gen {
			c.setLocked(nil)
		}
		c.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return &Reply{Message: env.Message}, nil
}
