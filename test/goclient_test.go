package test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application/apptest"
	apiclient "github.com/phoneauth/phoneauth/client"
	"github.com/phoneauth/phoneauth/domain"
)

// TestGoClient drives the wired service through the Go client package,
// over HTTP, on both stores.
func TestGoClient(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, options)
	}{
		{"RegisterLoginSession", testClientFlow},
		{"Proof", testClientProof},
		{"SingleFlightRefresh", testClientSingleFlight},
		{"RetryOnceOn401", testClientRetryOn401},
		{"RevokedSessionNoLoop", testClientRevoked},
		{"RefreshTokenReused", testClientReuse},
		{"TypedErrors", testClientErrors},
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, storeOptions(t, store)) })
			}
		})
	}
}

// counter is a RoundTripper that counts the requests by method and path
// and keeps the bodies sent to one path.
type counter struct {
	tr     *http.Transport
	mu     sync.Mutex
	calls  map[string]int
	bodies map[string][]string
}

// newCounter makes a counter with a transport of its own, whose idle
// connections are closed when the test ends (before the service stops,
// if the service was started first), so that the service's graceful
// shutdown does not wait for them.
func newCounter(t *testing.T) *counter {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &counter{tr: tr, calls: map[string]int{}, bodies: map[string][]string{}}
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.Method + " " + r.URL.Path
	var body string
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		r.Body = io.NopCloser(strings.NewReader(body))
	}
	c.mu.Lock()
	c.calls[key]++
	c.bodies[key] = append(c.bodies[key], body)
	c.mu.Unlock()
	return c.tr.RoundTrip(r)
}

func (c *counter) n(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[key]
}

func (c *counter) sent(key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bodies[key]...)
}

const (
	refreshPath = "POST /client/token/refresh"
	mePath      = "GET /client"
	cliPhone    = "+8615850551102"
	cliPassword = "client-pass-1"
	cliEmail    = "client@qq.com"
)

// newClient is a client of in whose requests rt counts and whose clock
// is clock (the service's, unless given).
func (in *instance) newClient(rt *counter, clock *apptest.Clock, opts ...apiclient.Option) *apiclient.Client {
	if clock == nil {
		clock = in.clock
	}
	opts = append([]apiclient.Option{apiclient.WithHTTPClient(&http.Client{Transport: rt, Timeout: 10 * time.Second}), apiclient.WithClock(clock.Now)}, opts...)
	return apiclient.New(in.base, opts...)
}

// clientRegister registers the account through c's four steps.
func clientRegister(t *testing.T, in *instance, c *apiclient.Client, phone, email string) {
	t.Helper()
	ctx := context.Background()
	steps := []func() (string, error){
		func() (string, error) { r, err := c.SendCode(ctx, phone); return msg(r, err) },
		func() (string, error) {
			v, err := c.VerifyCode(ctx, phone, in.code(t, domain.MustParsePhoneNumber(phone).E164()))
			if err != nil {
				return "", err
			}
			return v.Message, nil
		},
		func() (string, error) {
			r, err := c.SetPassword(ctx, phone, cliPassword, cliPassword)
			return msg(r, err)
		},
		func() (string, error) { r, err := c.CompleteProfile(ctx, phone, email); return msg(r, err) },
	}
	want := []string{"发送成功", "短信验证通过", "提交密码成功", "注册成功"}
	for i, step := range steps {
		got, err := step()
		if err != nil || got != want[i] {
			t.Fatalf("register step %d: %q, %v; want %q", i+1, got, err, want[i])
		}
	}
}

func msg(r *apiclient.Reply, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return r.Message, nil
}

// loggedInClient registers the account and logs c in.
func loggedInClient(t *testing.T, in *instance, c *apiclient.Client) *apiclient.LoggedIn {
	t.Helper()
	clientRegister(t, in, c, cliPhone, cliEmail)
	li, err := c.Login(context.Background(), cliPhone, cliPassword)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return li
}

// testClientFlow registers (in the token binding mode, so steps 3 and 4
// pass only if the client sends the registration token by itself), logs
// in, reads the account, refreshes, fetches the keys and logs out.
func testClientFlow(t *testing.T, o options) {
	in := start(t, withVars(o, "REGISTRATION_BINDING", "token"))
	rt := newCounter(t)
	var saved []apiclient.Session
	c := in.newClient(rt, nil, apiclient.OnSessionChange(func(s apiclient.Session) { saved = append(saved, s) }))
	ctx := context.Background()

	li := loggedInClient(t, in, c)
	if li.Message != "成功登录" || li.Email != cliEmail || li.Session.AccessToken == "" || li.Session.RefreshToken == "" {
		t.Fatalf("login: %+v", li)
	}
	if want := in.clock.Now().Add(168 * time.Hour); !li.Session.AccessExpiry.Equal(want) {
		t.Errorf("access expiry %v, want %v", li.Session.AccessExpiry, want)
	}
	if s, ok := c.Session(); !ok || s != li.Session {
		t.Errorf("session held %+v, %v; want the login's", s, ok)
	}
	me, err := c.Me(ctx)
	if err != nil || me.Message != "获取成功" || me.PhoneNumber != cliPhone || me.Email != cliEmail || me.CreatedAt.IsZero() {
		t.Fatalf("me: %+v, %v", me, err)
	}
	rn, err := c.Refresh(ctx)
	if err != nil || rn.Message != "刷新成功" || rn.Session.RefreshToken == li.Session.RefreshToken {
		t.Fatalf("refresh: %+v, %v", rn, err)
	}
	if s, _ := c.Session(); s != rn.Session {
		t.Errorf("the refreshed pair does not replace the one held")
	}
	keys, err := c.Keys(ctx)
	if err != nil || len(keys.Keys) != 1 || keys.Keys[0].Kid == "" || keys.Keys[0].Crv != "Ed25519" {
		t.Fatalf("keys: %+v, %v", keys, err)
	}
	out, err := c.Logout(ctx, false)
	if err != nil || out.Message != "成功注销" {
		t.Fatalf("logout: %+v, %v", out, err)
	}
	if _, ok := c.Session(); ok {
		t.Error("session kept after logout")
	}
	// The session ended on the service, not only in the client.
	if a := in.refresh(t, rn.Session.RefreshToken); a.Status != 401 {
		t.Errorf("refresh after logout: %d %s", a.Status, a.Raw)
	}
	calls := rt.n(mePath)
	if _, err := c.Me(ctx); !errors.Is(err, apiclient.ErrLoginRequired) {
		t.Errorf("me after logout: %v", err)
	}
	if rt.n(mePath) != calls {
		t.Error("me without a session went to the service")
	}
	if len(saved) != 3 || saved[0] != li.Session || saved[1] != rn.Session || saved[2] != (apiclient.Session{}) {
		t.Errorf("sessions reported: %+v", saved)
	}
	// A client started with the saved session works without a login.
	c2 := in.newClient(rt, nil, apiclient.WithSession(saved[1]))
	if _, err := c2.Me(ctx); !errors.Is(err, apiclient.ErrLoginRequired) {
		t.Errorf("a saved session of a logged-out session: %v", err)
	}
	li2, err := c.Login(ctx, cliPhone, cliPassword)
	if err != nil {
		t.Fatal(err)
	}
	c3 := in.newClient(rt, nil, apiclient.WithSession(li2.Session))
	if me, err := c3.Me(ctx); err != nil || me.PhoneNumber != cliPhone {
		t.Errorf("a saved session: %+v, %v", me, err)
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// testClientProof checks the proof the client sends: the service's own
// hash of the password, the random string and the time stamp it sent; a
// fresh random string each time; the time stamp the clock's.
func testClientProof(t *testing.T, o options) {
	for _, v := range [][3]string{{"secret123", "abc", "1700000000"}, {"密码 with spaces", "", "0"}} {
		if got, want := apiclient.LoginProof(v[0], v[1], v[2]), domain.LoginProof(v[0], v[1], v[2]); got != want {
			t.Errorf("LoginProof%q = %s, want %s", v, got, want)
		}
	}
	if got := apiclient.LoginProof("secret123", "abc", "1700000000"); got != "51e328c7a17f53a1d75e3c0c2569cf5b8d0b8c02b9529fac7c57257cf8e2777f" {
		t.Errorf("known vector: %s", got)
	}
	in := start(t, o)
	rt := newCounter(t)
	c := in.newClient(rt, nil)
	loggedInClient(t, in, c)
	if _, err := c.Login(context.Background(), cliPhone, cliPassword); err != nil {
		t.Fatal(err)
	}
	bodies := rt.sent("POST /client/login")
	if len(bodies) != 2 {
		t.Fatalf("%d logins sent", len(bodies))
	}
	var seen []string
	for _, b := range bodies {
		var p struct{ Phone, Enc, Rnd, TS string }
		var raw map[string]string
		if err := json.Unmarshal([]byte(b), &raw); err != nil {
			t.Fatalf("login body %s: %v", b, err)
		}
		p.Phone, p.Enc, p.Rnd, p.TS = raw["phone_number"], raw["encryption_str"], raw["random_str"], raw["time_stamp"]
		if strings.Contains(b, cliPassword) {
			t.Errorf("the password crossed the wire: %s", b)
		}
		if p.Phone != cliPhone || !hex32.MatchString(p.Rnd) || p.TS != strconv.FormatInt(in.clock.Now().Unix(), 10) {
			t.Errorf("login body %s", b)
		}
		if p.Enc != domain.LoginProof(cliPassword, p.Rnd, p.TS) {
			t.Errorf("encryption_str %s is not the proof of the password", p.Enc)
		}
		seen = append(seen, p.Rnd)
	}
	if seen[0] == seen[1] {
		t.Errorf("random_str repeated: %s", seen[0])
	}
}

// testClientSingleFlight: many calls at once with an expired access
// token make exactly one refresh request, and all of them succeed with
// the fresh token.
func testClientSingleFlight(t *testing.T, o options) {
	in := start(t, withVars(o, "TOKEN_TTL", "15m"))
	rt := newCounter(t)
	clock := apptest.NewClock(in.clock.Now())
	var changes atomic.Int32
	c := in.newClient(rt, clock, apiclient.OnSessionChange(func(apiclient.Session) { changes.Add(1) }))
	li := loggedInClient(t, in, c)
	ctx := context.Background()

	clock.Advance(15*time.Minute + time.Second) // expired by the client's clock only
	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	gun := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gun
			_, errs[i] = c.Me(ctx)
		})
	}
	close(gun)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if got := rt.n(refreshPath); got != 1 {
		t.Errorf("%d refresh requests reached the service, want 1", got)
	}
	if got := rt.n(mePath); got != n {
		t.Errorf("%d GET /client, want %d (none retried)", got, n)
	}
	if changes.Load() != 2 {
		t.Errorf("%d session changes, want 2 (the login, one refresh)", changes.Load())
	}
	s, _ := c.Session()
	if s.RefreshToken == li.Session.RefreshToken || !s.AccessExpiry.After(clock.Now()) {
		t.Errorf("session after the refresh: %+v", s)
	}

	// Within the margin (30 s by default) counts as expired too.
	clock.Advance(15*time.Minute - 29*time.Second)
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rt.n(refreshPath); got != 2 {
		t.Errorf("%d refresh requests, want 2: the token was within the margin", got)
	}
	// A live token does not refresh.
	if _, err := c.Me(ctx); err != nil || rt.n(refreshPath) != 2 {
		t.Errorf("a live token refreshed: %d, %v", rt.n(refreshPath), err)
	}
	// Logout with an expired access token sends the refresh token and
	// does not refresh.
	clock.Advance(time.Hour)
	if _, err := c.Logout(ctx, false); err != nil || rt.n(refreshPath) != 2 {
		t.Errorf("logout with an expired token: %d refreshes, %v", rt.n(refreshPath), err)
	}
}

// testClientRetryOn401: a token the client holds as live but the
// service refuses (the service's clock is ahead) is refreshed once and
// the call retried once.
func testClientRetryOn401(t *testing.T, o options) {
	in := start(t, withVars(o, "TOKEN_TTL", "15m"))
	rt := newCounter(t)
	clock := apptest.NewClock(in.clock.Now())
	c := in.newClient(rt, clock)
	loggedInClient(t, in, c)

	in.clock.Advance(16 * time.Minute) // expired by the service's clock only
	me, err := c.Me(context.Background())
	if err != nil || me.PhoneNumber != cliPhone {
		t.Fatalf("me: %+v, %v", me, err)
	}
	if r, g := rt.n(refreshPath), rt.n(mePath); r != 1 || g != 2 {
		t.Errorf("%d refreshes and %d GET /client, want 1 and 2", r, g)
	}
}

// testClientRevoked: when every session of the account has ended
// elsewhere, a call hears 401, the refresh is refused, and the client
// drops the session and says to log in, after exactly one refresh.
func testClientRevoked(t *testing.T, o options) {
	in := start(t, o)
	rt := newCounter(t)
	c := in.newClient(rt, nil)
	loggedInClient(t, in, c)
	other := in.login(t, cliPhone, cliPassword) // another session of the account ends them all
	in.expect(t, "/client/logout", m{"refresh_token": other.RefreshToken, "all": true}, 200, loggedOutAnswer)

	_, err := c.Me(context.Background())
	if !errors.Is(err, apiclient.ErrLoginRequired) || !errors.Is(err, apiclient.ErrInvalidRefreshToken) {
		t.Fatalf("me after logout all: %v", err)
	}
	if r, g := rt.n(refreshPath), rt.n(mePath); r != 1 || g != 1 {
		t.Errorf("%d refreshes and %d GET /client, want 1 and 1", r, g)
	}
	if _, ok := c.Session(); ok {
		t.Error("the session is kept")
	}
	if _, err := c.Me(context.Background()); !errors.Is(err, apiclient.ErrLoginRequired) || rt.n(refreshPath) != 1 {
		t.Errorf("a second call: %v, %d refreshes", err, rt.n(refreshPath))
	}
}

// testClientReuse: the client presents a refresh token someone else
// already spent, after the grace: the service ends the session and the
// client drops it and says to log in.
func testClientReuse(t *testing.T, o options) {
	in := start(t, o)
	rt := newCounter(t)
	c := in.newClient(rt, nil)
	li := loggedInClient(t, in, c)
	stolen := in.refresh(t, li.Session.RefreshToken)
	if stolen.Code != 1 {
		t.Fatalf("refresh: %s", stolen.Raw)
	}
	in.clock.Advance(11 * time.Second) // past REFRESH_REUSE_GRACE

	_, err := c.Refresh(context.Background())
	var e *apiclient.Error
	if !errors.Is(err, apiclient.ErrLoginRequired) || !errors.Is(err, apiclient.ErrRefreshTokenReused) || !errors.As(err, &e) {
		t.Fatalf("refresh of a spent token: %v", err)
	}
	if e.HTTPStatus != 401 || e.Code != 2 || e.Message != "验证信息错误" {
		t.Errorf("error %+v", e)
	}
	if _, ok := c.Session(); ok {
		t.Error("the session is kept")
	}
	// The whole session ended: the thief's pair too.
	if a := in.me(t, stolen.Token); a.Status != 401 {
		t.Errorf("the stolen pair after reuse: %d %s", a.Status, a.Raw)
	}
	if _, err := c.Me(context.Background()); !errors.Is(err, apiclient.ErrLoginRequired) || rt.n(refreshPath) != 1 {
		t.Errorf("after reuse: %v, %d refreshes", err, rt.n(refreshPath))
	}
}

// testClientErrors: failures are *Error values with the reason, the
// message, the status and the wait.
func testClientErrors(t *testing.T, o options) {
	in := start(t, o)
	c := in.newClient(newCounter(t), nil)
	ctx := context.Background()
	if _, err := c.SendCode(ctx, cliPhone); err != nil {
		t.Fatal(err)
	}
	_, err := c.SendCode(ctx, cliPhone)
	var e *apiclient.Error
	if !errors.As(err, &e) || !errors.Is(err, apiclient.ErrRateLimited) {
		t.Fatalf("second send: %v", err)
	}
	if *e != (apiclient.Error{HTTPStatus: 429, Code: 0, Message: "请求过于频繁，请稍后再试", Reason: "rate_limited", RetryAfter: 60 * time.Second}) {
		t.Errorf("error %+v", e)
	}
	if errors.Is(err, apiclient.ErrAccountLocked) {
		t.Error("rate_limited is account_locked")
	}
	_, err = c.VerifyCode(ctx, cliPhone, "000000")
	if !errors.Is(err, apiclient.ErrCodeMismatch) && in.code(t, cliPhone) != "000000" {
		t.Errorf("wrong code: %v", err)
	}
	_, err = c.Login(ctx, "not a phone", "x")
	if !errors.As(err, &e) || *e != (apiclient.Error{HTTPStatus: 200, Message: "手机号格式不正确", Reason: "invalid_phone"}) {
		t.Errorf("invalid phone: %v", err)
	}

	clientRegister(t, in, c, "+8613800138000", "locked@qq.com")
	for range 5 {
		if _, err := c.Login(ctx, "+8613800138000", "wrong password"); !errors.Is(err, apiclient.ErrWrongPassword) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	_, err = c.Login(ctx, "+8613800138000", cliPassword)
	if !errors.As(err, &e) || !errors.Is(err, apiclient.ErrAccountLocked) || e.HTTPStatus != 429 || e.RetryAfter != 15*time.Minute {
		t.Errorf("locked: %+v", err)
	}
	if got, want := err.Error(), "phoneauth: account_locked: 密码错误次数过多，请稍后再试 (retry after 900s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
