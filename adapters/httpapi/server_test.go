package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/openapitest"
)

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

const (
	phone = "15850551102"
	e164  = "+8615850551102"
)

type fixture struct {
	f    *apptest.Fakes
	srv  *httpapi.Server
	base string
	// token is the registration token of the last verification; a test
	// body's {token} stands for it.
	token string
}

// loopback is the client network of every request the tests send.
const loopback = "127.0.0.1"

// newFixture serves the app on a loopback port, as clients see it: a
// real TCP connection, so body limits and headers behave as in production.
func newFixture(t *testing.T, cfg httpapi.Config) *fixture {
	t.Helper()
	return serve(t, apptest.New(t0, apptest.DefaultPolicy()), cfg)
}

func serve(t *testing.T, f *apptest.Fakes, cfg httpapi.Config) *fixture {
	t.Helper()
	return serveWith(t, f, cfg, nil)
}

// serveWith serves f's application with readiness check ready on a
// loopback port until the test ends.
func serveWith(t *testing.T, f *apptest.Fakes, cfg httpapi.Config, ready httpapi.Readiness) *fixture {
	t.Helper()
	return listen(t, f, httpapi.New(f.App, cfg, ready, zap.NewNop()))
}

// listen serves srv, built on f's application, on a loopback port until
// the test ends.
func listen(t *testing.T, f *apptest.Fakes, srv *httpapi.Server) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = srv.App().Shutdown() })
	return &fixture{f: f, srv: srv, base: "http://" + ln.Addr().String()}
}

func (x *fixture) do(t *testing.T, method, path, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, x.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (x *fixture) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	status, b, _ := x.do(t, http.MethodPost, path, body)
	return status, b
}

// Setup helpers drive the fakes straight through the application.
func (x *fixture) sent(t *testing.T) string {
	t.Helper()
	if err := x.f.App.SendCode.Handle(context.Background(), application.SendCode{Phone: phone, ClientNet: "192.0.2.200"}); err != nil {
		t.Fatal(err)
	}
	return x.f.SMS.Code(e164)
}

// verified verifies from the tests' own network.
func (x *fixture) verified(t *testing.T) { t.Helper(); x.verifiedFrom(t, loopback) }

// verifiedElsewhere verifies from another network than the tests'.
func (x *fixture) verifiedElsewhere(t *testing.T) { t.Helper(); x.verifiedFrom(t, "198.51.100.7") }

func (x *fixture) verifiedFrom(t *testing.T, net string) {
	t.Helper()
	res, err := x.f.App.VerifyCode.Handle(context.Background(), application.VerifyCode{Phone: phone, Code: x.sent(t), ClientNet: net})
	if err != nil {
		t.Fatal(err)
	}
	x.token = res.RegistrationToken
}

func (x *fixture) withPassword(t *testing.T) {
	t.Helper()
	x.verified(t)
	if err := x.f.App.SetPassword.Handle(context.Background(), application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", ClientNet: loopback}); err != nil {
		t.Fatal(err)
	}
}

// withPasswordElsewhere is withPassword by a client on another network,
// which holds the token.
func (x *fixture) withPasswordElsewhere(t *testing.T) {
	t.Helper()
	x.verifiedElsewhere(t)
	if err := x.f.App.SetPassword.Handle(context.Background(), application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", RegistrationToken: x.token}); err != nil {
		t.Fatal(err)
	}
}

func (x *fixture) registered(t *testing.T) {
	t.Helper()
	x.withPassword(t)
	if err := x.f.App.CompleteProfile.Handle(context.Background(), application.CompleteProfile{Phone: phone, Email: "2214102327@qq.com", ClientNet: loopback}); err != nil {
		t.Fatal(err)
	}
}

func loginBody(password, random string, ts int64) string {
	s := strconv.FormatInt(ts, 10)
	return `{"phone_number":"` + phone + `","encryption_str":"` + domain.LoginProof(password, random, s) +
		`","random_str":"` + random + `","time_stamp":"` + s + `"}`
}

// TestWireContract covers every message and reason of docs/api.md (its
// table "Messages and reasons"), answer by answer, byte for byte; those
// of the session endpoints are TestSessionWireContract's.
func TestWireContract(t *testing.T) {
	const (
		s1 = "/client/register-step-1"
		s2 = "/client/register-step-2"
		s3 = "/client/register-step-3"
		s4 = "/client/register-step-4"
		lg = "/client/login"
	)
	step1Body := `{"phone_number":"15850551102"}`
	cases := []struct {
		name   string
		setup  func(*fixture, *testing.T)
		path   string
		body   string
		status int
		want   string
	}{
		// The original API's outcomes.
		{"step1 sent", nil, s1, step1Body, 200, `{"code":1,"message":"发送成功"}`},
		{"step1 user exists", (*fixture).registered, s1, step1Body, 200, `{"code":0,"message":"该用户已经存在,注册失败","error":"user_exists"}`},
		{"step1 vendor refusal verbatim", func(x *fixture, t *testing.T) {
			x.f.SMS.Fail = &application.SMSError{Vendor: "cloopen", Kind: application.SMSRefused, Code: "160038", Message: "短信验证码发送过频繁"}
		}, s1, step1Body, 200, `{"code":0,"message":"短信验证码发送过频繁","error":"sms_vendor_error"}`},
		{"step2 verified", nil, s2, "", 200, `{"code":1,"message":"短信验证通过","registration_token":"{token}"}`},
		{"step2 mismatch", func(x *fixture, t *testing.T) { x.sent(t) }, s2, `{"phone_number":"15850551102","validate_number":"abcdef"}`, 200, `{"code":0,"message":"验证没有通过","error":"code_mismatch"}`},
		{"step2 code used", func(x *fixture, t *testing.T) { x.verified(t) }, s2, `{"phone_number":"15850551102","validate_number":"000000"}`, 200, `{"code":0,"message":"验证没有通过","error":"code_expired"}`},
		{"step2 too many attempts", func(x *fixture, t *testing.T) {
			x.sent(t)
			for range 5 {
				_, _ = x.f.App.VerifyCode.Handle(context.Background(), application.VerifyCode{Phone: phone, Code: "x"})
			}
		}, s2, `{"phone_number":"15850551102","validate_number":"abcdef"}`, 200, `{"code":0,"message":"验证没有通过","error":"too_many_attempts"}`},
		{"step2 nothing pending", nil, s2, `{"phone_number":"15850551102","validate_number":"123456"}`, 200, `{"code":0,"message":"验证没有通过","error":"no_pending_registration"}`},
		{"step3 set", (*fixture).verified, s3, `{"phone_number":"15850551102","password":"password1","password_confirm":"password1"}`, 200, `{"code":1,"message":"提交密码成功"}`},
		{"step3 not verified", func(x *fixture, t *testing.T) { x.sent(t) }, s3, `{"phone_number":"15850551102","password":"password1","password_confirm":"password1"}`, 200, `{"code":0,"message":"验证码没有通过","error":"not_verified"}`},
		{"step3 length", (*fixture).verified, s3, `{"phone_number":"15850551102","password":"123456","password_confirm":"123456"}`, 200, `{"code":0,"message":"密码长度不符合要求","error":"password_length"}`},
		{"step3 mismatch", (*fixture).verified, s3, `{"phone_number":"15850551102","password":"password1","password_confirm":"password2"}`, 200, `{"code":0,"message":"密码和密码确认不一致","error":"password_mismatch"}`},
		{"step3 set with the token", (*fixture).verifiedElsewhere, s3, `{"phone_number":"15850551102","password":"password1","password_confirm":"password1","registration_token":"{token}"}`, 200, `{"code":1,"message":"提交密码成功"}`},
		{"step3 length with the token", (*fixture).verifiedElsewhere, s3, `{"phone_number":"15850551102","password":"x","password_confirm":"x","registration_token":"{token}"}`, 200, `{"code":0,"message":"密码长度不符合要求","error":"password_length"}`},
		{"step3 stranger's probe", (*fixture).verifiedElsewhere, s3, `{"phone_number":"15850551102","password":"x","password_confirm":"x"}`, 200, `{"code":0,"message":"验证码没有通过","error":"not_verified"}`},
		{"step3 wrong token", (*fixture).verified, s3, `{"phone_number":"15850551102","password":"x","password_confirm":"x","registration_token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, 200, `{"code":0,"message":"验证码没有通过","error":"not_verified"}`},
		{"step3 empty token is none", (*fixture).verified, s3, `{"phone_number":"15850551102","password":"password1","password_confirm":"password1","registration_token":""}`, 200, `{"code":1,"message":"提交密码成功"}`},
		{"step4 registered", (*fixture).withPassword, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com"}`, 200, `{"code":1,"message":"注册成功"}`},
		{"step4 registered with the token", (*fixture).withPasswordElsewhere, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com","registration_token":"{token}"}`, 200, `{"code":1,"message":"注册成功"}`},
		{"step4 stranger", (*fixture).withPasswordElsewhere, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com"}`, 200, `{"code":0,"message":"验证码没有通过","error":"not_verified"}`},
		{"step4 wrong token", (*fixture).withPassword, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com","registration_token":"wrong"}`, 200, `{"code":0,"message":"验证码没有通过","error":"not_verified"}`},
		{"step4 not verified", nil, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com"}`, 200, `{"code":0,"message":"验证码没有通过","error":"not_verified"}`},
		{"step4 invalid email", (*fixture).withPassword, s4, `{"phone_number":"15850551102","email":"not an email"}`, 200, `{"code":0,"message":"注册失败","error":"invalid_email"}`},
		{"step4 email taken", func(x *fixture, t *testing.T) {
			x.withPassword(t)
			u := domain.NewUser("other", domain.MustParsePhoneNumber("13900000000"), mustEmail("2214102327@qq.com"), []byte("s"), t0)
			if err := x.f.Users.Create(context.Background(), u); err != nil {
				t.Fatal(err)
			}
		}, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com"}`, 200, `{"code":0,"message":"注册失败","error":"email_taken"}`},
		{"step4 password missing", (*fixture).verified, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com"}`, 200, `{"code":0,"message":"注册失败","error":"password_missing"}`},
		{"step4 user exists", func(x *fixture, t *testing.T) {
			x.withPassword(t)
			u := domain.NewUser("first", domain.MustParsePhoneNumber(phone), mustEmail("first@qq.com"), []byte("s"), t0)
			if err := x.f.Users.Create(context.Background(), u); err != nil {
				t.Fatal(err)
			}
		}, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com"}`, 200, `{"code":0,"message":"注册失败","error":"user_exists"}`},
		{"login no user", nil, lg, loginBody("password1", "r1", t0.Unix()), 200, `{"code":0,"message":"没有此用户","error":"no_such_user"}`},
		{"login wrong password", (*fixture).registered, lg, loginBody("password2", "r1", t0.Unix()), 200, `{"code":0,"message":"密码错误","error":"wrong_password"}`},

		// Outcomes the original API does not name.
		{"not JSON", nil, s1, `phone_number=15850551102`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"empty body", nil, s1, ``, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"JSON null", nil, s1, `null`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"JSON array", nil, s1, `["15850551102"]`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"missing field", nil, s2, `{"phone_number":"15850551102"}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"number phone", nil, s1, `{"phone_number":15850551102}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"operator object", nil, lg, `{"phone_number":{"$ne":null},"encryption_str":"x","random_str":"y","time_stamp":"1"}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"array field", nil, s4, `{"phone_number":["15850551102"],"email":"a@b.cn"}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"null field", nil, s3, `{"phone_number":null,"password":"password1","password_confirm":"password1"}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"number token", (*fixture).verified, s3, `{"phone_number":"15850551102","password":"password1","password_confirm":"password1","registration_token":1}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"null token", (*fixture).verified, s3, `{"phone_number":"15850551102","password":"password1","password_confirm":"password1","registration_token":null}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"operator object token", (*fixture).withPassword, s4, `{"phone_number":"15850551102","email":"2214102327@qq.com","registration_token":{"$ne":null}}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"float time stamp", (*fixture).registered, lg, `{"phone_number":"15850551102","encryption_str":"x","random_str":"y","time_stamp":1.7e9}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"bool time stamp", (*fixture).registered, lg, `{"phone_number":"15850551102","encryption_str":"x","random_str":"y","time_stamp":true}`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"trailing garbage", nil, s1, `{"phone_number":"15850551102"} x`, 400, `{"code":0,"message":"请求参数错误","error":"bad_request"}`},
		{"invalid phone", nil, s1, `{"phone_number":"12345"}`, 200, `{"code":0,"message":"手机号格式不正确","error":"invalid_phone"}`},
		{"invalid phone at login", nil, lg, `{"phone_number":"abc","encryption_str":"x","random_str":"y","time_stamp":"1"}`, 200, `{"code":0,"message":"手机号格式不正确","error":"invalid_phone"}`},
		{"country not allowed", nil, s1, `{"phone_number":"+14155552671"}`, 200, `{"code":0,"message":"暂不支持该地区的手机号","error":"country_not_allowed"}`},
		{"sms unavailable", func(x *fixture, t *testing.T) {
			x.f.SMS.Fail = &application.SMSError{Vendor: "cloopen", Kind: application.SMSUncertain, Err: errors.New("timeout")}
		}, s1, step1Body, 200, `{"code":0,"message":"短信发送失败，请稍后再试","error":"sms_unavailable"}`},
		{"body too large", nil, s1, `{"phone_number":"15850551102","pad":"` + strings.Repeat("x", 16<<10) + `"}`, 413, `{"code":0,"message":"请求体过大","error":"body_too_large"}`},
		{"rate limited", func(x *fixture, t *testing.T) { x.sent(t); x.f.Clock.Advance(20 * time.Second) }, s1, step1Body, 429, `{"code":0,"message":"请求过于频繁，请稍后再试","error":"rate_limited","retry_after":40}`},
		{"stale request", (*fixture).registered, lg, loginBody("password1", "r1", t0.Unix()-301), 200, `{"code":0,"message":"登录请求已失效，请重试","error":"stale_request"}`},
		{"replayed request", func(x *fixture, t *testing.T) {
			x.registered(t)
			if status, body := x.post(t, lg, loginBody("password1", "r1", t0.Unix())); status != 200 || !strings.Contains(body, `"code":1`) {
				t.Fatalf("first login: %d %s", status, body)
			}
		}, lg, loginBody("password1", "r1", t0.Unix()), 200, `{"code":0,"message":"登录请求已失效，请重试","error":"replayed_request"}`},
		{"account locked", func(x *fixture, t *testing.T) {
			x.registered(t)
			for i := range 5 {
				x.post(t, lg, loginBody("wrongpass", "w"+strconv.Itoa(i), t0.Unix()))
			}
			x.f.Clock.Advance(5 * time.Minute)
		}, lg, loginBody("password1", "r1", t0.Unix()+300), 429, `{"code":0,"message":"密码错误次数过多，请稍后再试","error":"account_locked","retry_after":600}`},
		{"unavailable", func(x *fixture, t *testing.T) { x.f.Users.Err = application.ErrUnavailable }, s1, step1Body, 503, `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`},
		{"internal error", func(x *fixture, t *testing.T) { x.f.Users.Err = errors.New("disk on fire") }, s1, step1Body, 500, `{"code":0,"message":"服务器内部错误","error":"internal_error"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newFixture(t, httpapi.Config{})
			if c.setup != nil {
				c.setup(x, t)
			}
			body := c.body
			if c.path == s2 && body == "" {
				body = `{"phone_number":"15850551102","validate_number":"` + x.sent(t) + `"}`
			}
			body = strings.ReplaceAll(body, "{token}", x.token)
			status, got, hdr := x.do(t, http.MethodPost, c.path, body)
			want := c.want
			if strings.Contains(want, "{token}") {
				// The token is random: check its shape, then compare the
				// rest byte for byte.
				m := regexp.MustCompile(`"registration_token":"([A-Za-z0-9_-]{43})"`).FindStringSubmatch(got)
				if m == nil {
					t.Fatalf("no 256-bit base64url registration_token in %s", got)
				}
				want = strings.ReplaceAll(want, "{token}", m[1])
			}
			if status != c.status || got != want {
				t.Fatalf("got  %d %s\nwant %d %s", status, got, c.status, c.want)
			}
			// Every answer is in api/openapi.yaml, as served.
			openapitest.Check(t, http.MethodPost, c.path, status, hdr, []byte(got))
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("security headers: %v", hdr)
			}
			if status == 429 && hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
}

func mustEmail(s string) domain.Email {
	e, err := domain.ParseEmail(s)
	if err != nil {
		panic(err)
	}
	return e
}

func TestLoginSuccessShape(t *testing.T) {
	x := newFixture(t, httpapi.Config{})
	x.registered(t)
	ts := strconv.FormatInt(t0.Unix(), 10)
	// time_stamp as a JSON number: the hash covers its decimal text.
	body := `{"phone_number":"+86 158 5055 1102","encryption_str":"` + strings.ToUpper(domain.LoginProof("password1", "r9", ts)) +
		`","random_str":"r9","time_stamp":` + ts + `}`
	status, got := x.post(t, "/client/login", body)
	// The seed's fields first, then the pair's lifetimes in seconds: the
	// access token's 7 days, the refresh token's 30.
	shape := regexp.MustCompile(`^\{"code":1,"message":"成功登录","email":"2214102327@qq.com","token":"([A-Za-z0-9_.-]+)","expires_in":604800,"refresh_token":"([A-Za-z0-9_.-]+)","refresh_expires_in":2592000\}$`)
	m := shape.FindStringSubmatch(got)
	if status != 200 || m == nil {
		t.Fatalf("login: %d %s", status, got)
	}
	if _, err := x.f.Authenticate.Handle(context.Background(), application.Authenticate{Token: m[1]}); err != nil {
		t.Fatalf("the login's token does not authenticate: %v", err)
	}
	if _, err := x.f.Refresh.Handle(context.Background(), application.Refresh{RefreshToken: m[2]}); err != nil {
		t.Fatalf("the login's refresh token does not refresh: %v", err)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	x := newFixture(t, httpapi.Config{})
	hostile := []string{
		`{"phone_number":{"$ne":null}}`, `{"phone_number":{"$gt":""}}`, `{"phone_number":["1"]}`,
		`{"phone_number":"15850551102","phone_number":{"$ne":null}}`, `{`, `"15850551102"`,
	}
	for _, b := range hostile {
		for _, p := range []string{"/client/register-step-1", "/client/register-step-2", "/client/register-step-3", "/client/register-step-4", "/client/login"} {
			if status, _ := x.post(t, p, b); status != 400 {
				t.Errorf("%s %s: status %d", p, b, status)
			}
		}
	}
	if x.f.SMS.Sent() != 0 || x.f.Users.Count() != 0 {
		t.Fatal("hostile input changed state")
	}
	if _, ok := x.f.Pending.Snapshot(domain.MustParsePhoneNumber(phone)); ok {
		t.Fatal("hostile input created a pending registration")
	}
}

func TestNotFoundAndMethod(t *testing.T) {
	x := newFixture(t, httpapi.Config{})
	if status, body, _ := x.do(t, http.MethodGet, "/client/nope", ""); status != 404 || !strings.Contains(body, `"error":"not_found"`) {
		t.Fatalf("404: %d %s", status, body)
	}
	if status, body, _ := x.do(t, http.MethodGet, "/healthz", ""); status != 200 || body != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", status, body)
	}
}

func TestPanicBecomes500(t *testing.T) {
	f := apptest.New(t0, apptest.DefaultPolicy())
	f.App.SendCode = nil // a nil handler panics inside the route
	x := serve(t, f, httpapi.Config{})
	status, body := x.post(t, "/client/register-step-1", `{"phone_number":"15850551102"}`)
	if status != 500 || body != `{"code":0,"message":"服务器内部错误","error":"internal_error"}` {
		t.Fatalf("panic: %d %s", status, body)
	}
	// The process survived: the next request is served.
	if status, _, _ := x.do(t, http.MethodGet, "/healthz", ""); status != 200 {
		t.Fatalf("after a panic: %d", status)
	}
}

func TestClientNetForRateLimits(t *testing.T) {
	// With a trusted peer, the right-most untrusted X-Forwarded-For entry
	// is the client: 20 sends from 203.0.113.7 exhaust its budget even when
	// the client forges a different left-most entry each time.
	p := apptest.DefaultPolicy()
	p.ResendInterval = 0
	p.DailyLimitPerPhone = 0
	x := serve(t, apptest.New(t0, p), httpapi.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}})
	send := func(xff string) int {
		status, _, _ := x.do(t, http.MethodPost, "/client/register-step-1", `{"phone_number":"15850551102"}`, "X-Forwarded-For", xff)
		return status
	}
	for i := range 20 {
		if s := send("198.18.0." + strconv.Itoa(i) + ", 203.0.113.7, 10.0.0.1"); s != 200 {
			t.Fatalf("send %d: %d", i, s)
		}
	}
	if s := send("1.1.1.1, 203.0.113.7"); s != 429 {
		t.Fatalf("21st send from 203.0.113.7: %d", s)
	}
	if s := send("203.0.113.8"); s != 200 {
		t.Fatalf("another client: %d", s)
	}
}

func TestUntrustedPeerCannotForgeClientNet(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.ResendInterval = 0
	p.DailyLimitPerPhone = 0
	x := serve(t, apptest.New(t0, p), httpapi.Config{}) // no trusted proxies
	for i := range 21 {
		status, _, _ := x.do(t, http.MethodPost, "/client/register-step-1", `{"phone_number":"15850551102"}`, "X-Forwarded-For", "198.18.1."+strconv.Itoa(i))
		if want := map[bool]int{true: 200, false: 429}[i < 20]; status != want {
			t.Fatalf("send %d: %d, want %d", i, status, want)
		}
	}
}

// TestHeadersTooLarge: a request whose headers overflow the read buffer
// (4 KiB) is refused before it is routed, with 431 and the bad-request
// answer the OpenAPI document gives every operation for it, and reaches
// no use case.
func TestHeadersTooLarge(t *testing.T) {
	x := newFixture(t, httpapi.Config{})
	for _, path := range []string{"/client/login", "/client/reset-password-step-1", "/client/change-password"} {
		status, got, h := x.do(t, http.MethodPost, path, `{}`, "X-Padding", strings.Repeat("a", 5000))
		if status != http.StatusRequestHeaderFieldsTooLarge || got != `{"code":0,"message":"请求参数错误","error":"bad_request"}` {
			t.Errorf("%s: %d %s, want 431 bad_request", path, status, got)
		}
		openapitest.Check(t, http.MethodPost, path, status, h, []byte(got))
	}
	if n := x.f.Users.Count(); n != 0 {
		t.Errorf("%d accounts after refused requests", n)
	}
}
