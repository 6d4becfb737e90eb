package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/openapitest"
)

const (
	rs1 = "/client/reset-password-step-1"
	rs2 = "/client/reset-password-step-2"
	cpw = "/client/change-password"
	cp1 = "/client/change-phone-step-1"
	cp2 = "/client/change-phone-step-2"
	del = "/client/delete-account"

	newPhone = "13912345678"
	newE164  = "+8613912345678"
)

// proofFields is the JSON of a login proof of password, at t0, without
// the braces.
func proofFields(password, random string) string {
	ts := strconv.FormatInt(t0.Unix(), 10)
	return `"encryption_str":"` + domain.LoginProof(password, random, ts) + `","random_str":"` + random + `","time_stamp":"` + ts + `"`
}

// resetSent registers the account and sends it a reset code.
func (x *fixture) resetSent(t *testing.T) string {
	t.Helper()
	x.f.Clock.Advance(60e9) // past the registration's cooldown
	if err := x.f.App.ResetPasswordSend.Handle(context.Background(), application.ResetPasswordSend{Phone: phone, ClientNet: "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	return x.f.SMS.Code(e164)
}

// phoneChangeSent sends the account's phone-change code to newPhone.
func (x *fixture) phoneChangeSent(t *testing.T, pair application.SessionTokens) string {
	t.Helper()
	p, err := x.f.Authenticate.Handle(context.Background(), application.Authenticate{Token: pair.Token})
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(t0.Unix(), 10)
	in := application.ChangePhoneSend{Principal: p, NewPhone: newPhone, ClientNet: "192.0.2.9",
		Proof: application.Proof{EncryptionStr: domain.LoginProof("password1", "setup", ts), RandomStr: "setup", TimeStamp: ts}}
	if err := x.f.App.ChangePhoneSend.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return x.f.SMS.Code(newE164)
}

// TestAccountWireContract covers every answer of the account's recovery
// and changes, byte for byte (a fresh pair by its shape), and holds each
// to api/openapi.yaml.
func TestAccountWireContract(t *testing.T) {
	const (
		sent         = `{"code":1,"message":"发送成功"}`
		verifyFailed = `{"code":0,"message":"验证没有通过","error":"%s"}`
		wrong        = `{"code":0,"message":"密码错误","error":"wrong_password"}`
		stale        = `{"code":0,"message":"登录请求已失效，请重试","error":"stale_request"}`
		replayed     = `{"code":0,"message":"登录请求已失效，请重试","error":"replayed_request"}`
		length       = `{"code":0,"message":"密码长度不符合要求","error":"password_length"}`
		differ       = `{"code":0,"message":"密码和密码确认不一致","error":"password_mismatch"}`
		taken        = `{"code":0,"message":"该手机号已被使用","error":"phone_taken"}`
		country      = `{"code":0,"message":"暂不支持该地区的手机号","error":"country_not_allowed"}`
		invalidPhone = `{"code":0,"message":"手机号格式不正确","error":"invalid_phone"}`
		missing      = `{"code":0,"message":"需要验证","error":"token_missing"}`
		unauthorized = `{"code":2,"message":"验证信息错误","error":"unauthorized"}`
		locked       = `{"code":0,"message":"密码错误次数过多，请稍后再试","error":"account_locked","retry_after":900}`
	)
	failed := func(reason string) string { return strings.Replace(verifyFailed, "%s", reason, 1) }
	// In a body, {code} stands for the code the setup returned.
	type setup func(*fixture, *testing.T, application.SessionTokens) string
	cases := []struct {
		name   string
		setup  setup
		path   string
		body   string
		noAuth bool
		status int
		want   string // or, with pair, the message of a fresh pair
		pair   bool
	}{
		{name: "reset send", path: rs1, body: `{"phone_number":"15850551102"}`, noAuth: true, status: 200, want: sent,
			setup: func(x *fixture, t *testing.T, _ application.SessionTokens) string { x.f.Clock.Advance(60e9); return "" }},
		{name: "reset send no such user", path: rs1, body: `{"phone_number":"13900000001"}`, noAuth: true, status: 200, want: `{"code":0,"message":"没有此用户","error":"no_such_user"}`},
		{name: "reset send country", path: rs1, body: `{"phone_number":"+14155552671"}`, noAuth: true, status: 200, want: country,
			setup: func(x *fixture, t *testing.T, _ application.SessionTokens) string {
				u := domain.NewUser("us", domain.MustParsePhoneNumber("+14155552671"), mustEmail("us@qq.com"), []byte("s"), t0)
				if err := x.f.Users.Create(context.Background(), u); err != nil {
					t.Fatal(err)
				}
				return ""
			}},
		{name: "reset send invalid phone", path: rs1, body: `{"phone_number":"12345"}`, noAuth: true, status: 200, want: invalidPhone},
		{name: "reset send vendor refusal", path: rs1, body: `{"phone_number":"15850551102"}`, noAuth: true, status: 200, want: `{"code":0,"message":"短信验证码发送过频繁","error":"sms_vendor_error"}`,
			setup: func(x *fixture, t *testing.T, _ application.SessionTokens) string {
				x.f.Clock.Advance(60e9)
				x.f.SMS.Fail = &application.SMSError{Vendor: "cloopen", Kind: application.SMSRefused, Code: "160038", Message: "短信验证码发送过频繁"}
				return ""
			}},
		{name: "reset send rate limited", path: rs1, body: `{"phone_number":"15850551102"}`, noAuth: true, status: 429, want: `{"code":0,"message":"请求过于频繁，请稍后再试","error":"rate_limited","retry_after":60}`},

		{name: "reset", setup: resetCode, path: rs2, body: `{"phone_number":"15850551102","validate_number":"{code}","password":"password2","password_confirm":"password2"}`, noAuth: true, status: 200, want: `{"code":1,"message":"密码重置成功"}`},
		{name: "reset wrong code", setup: resetCode, path: rs2, body: `{"phone_number":"15850551102","validate_number":"abcdef","password":"password2","password_confirm":"password2"}`, noAuth: true, status: 200, want: failed("code_mismatch")},
		{name: "reset nothing pending", path: rs2, body: `{"phone_number":"15850551102","validate_number":"123456","password":"password2","password_confirm":"password2"}`, noAuth: true, status: 200, want: failed("no_pending_code")},
		{name: "reset code used", setup: func(x *fixture, t *testing.T, p application.SessionTokens) string {
			code := resetCode(x, t, p)
			if err := x.f.App.ResetPassword.Handle(context.Background(), application.ResetPassword{Phone: phone, Code: code, Password: "password2", PasswordConfirm: "password2"}); err != nil {
				t.Fatal(err)
			}
			return code
		}, path: rs2, body: `{"phone_number":"15850551102","validate_number":"{code}","password":"password3","password_confirm":"password3"}`, noAuth: true, status: 200, want: failed("code_expired")},
		{name: "reset too many attempts", setup: func(x *fixture, t *testing.T, p application.SessionTokens) string {
			code := resetCode(x, t, p)
			for range 5 {
				_ = x.f.App.ResetPassword.Handle(context.Background(), application.ResetPassword{Phone: phone, Code: "x", Password: "password2", PasswordConfirm: "password2"})
			}
			return code
		}, path: rs2, body: `{"phone_number":"15850551102","validate_number":"{code}","password":"password2","password_confirm":"password2"}`, noAuth: true, status: 200, want: failed("too_many_attempts")},
		{name: "reset length", setup: resetCode, path: rs2, body: `{"phone_number":"15850551102","validate_number":"{code}","password":"short","password_confirm":"short"}`, noAuth: true, status: 200, want: length},
		{name: "reset mismatch", setup: resetCode, path: rs2, body: `{"phone_number":"15850551102","validate_number":"{code}","password":"password2","password_confirm":"password3"}`, noAuth: true, status: 200, want: differ},

		{name: "change password", path: cpw, body: `{` + proofFields("password1", "c1") + `,"password":"password2","password_confirm":"password2"}`, status: 200, want: "密码修改成功", pair: true},
		{name: "change password with an integer time stamp", path: cpw, body: `{"encryption_str":"` + domain.LoginProof("password1", "c2", strconv.FormatInt(t0.Unix(), 10)) + `","random_str":"c2","time_stamp":` + strconv.FormatInt(t0.Unix(), 10) + `,"password":"password2","password_confirm":"password2"}`, status: 200, want: "密码修改成功", pair: true},
		{name: "change password wrong", path: cpw, body: `{` + proofFields("password9", "c3") + `,"password":"password2","password_confirm":"password2"}`, status: 200, want: wrong},
		{name: "change password stale", path: cpw, body: `{"encryption_str":"x","random_str":"c4","time_stamp":"1","password":"password2","password_confirm":"password2"}`, status: 200, want: stale},
		{name: "change password replayed login", setup: func(x *fixture, t *testing.T, _ application.SessionTokens) string {
			if status, body := x.post(t, "/client/login", loginBody("password1", "c5", t0.Unix())); status != 200 || !strings.Contains(body, `"code":1`) {
				t.Fatalf("login: %d %s", status, body)
			}
			return ""
		}, path: cpw, body: `{` + proofFields("password1", "c5") + `,"password":"password2","password_confirm":"password2"}`, status: 200, want: replayed},
		{name: "change password length", path: cpw, body: `{` + proofFields("password1", "c6") + `,"password":"short","password_confirm":"short"}`, status: 200, want: length},
		{name: "change password mismatch", path: cpw, body: `{` + proofFields("password1", "c7") + `,"password":"password2","password_confirm":"password3"}`, status: 200, want: differ},
		{name: "change password locked", setup: lockOut, path: cpw, body: `{` + proofFields("password1", "c8") + `,"password":"password2","password_confirm":"password2"}`, status: 429, want: locked},
		{name: "change password no token", path: cpw, body: `{` + proofFields("password1", "c9") + `,"password":"password2","password_confirm":"password2"}`, noAuth: true, status: 401, want: missing},

		{name: "change phone send", path: cp1, body: `{"new_phone_number":"13912345678",` + proofFields("password1", "p1") + `}`, status: 200, want: sent},
		{name: "change phone send taken", setup: func(x *fixture, t *testing.T, _ application.SessionTokens) string {
			u := domain.NewUser("other", domain.MustParsePhoneNumber(newPhone), mustEmail("other@qq.com"), []byte("s"), t0)
			if err := x.f.Users.Create(context.Background(), u); err != nil {
				t.Fatal(err)
			}
			return ""
		}, path: cp1, body: `{"new_phone_number":"13912345678",` + proofFields("password1", "p2") + `}`, status: 200, want: taken},
		{name: "change phone send own number", path: cp1, body: `{"new_phone_number":"+86 158 5055 1102",` + proofFields("password1", "p3") + `}`, status: 200, want: taken},
		{name: "change phone send invalid phone", path: cp1, body: `{"new_phone_number":"12345",` + proofFields("password1", "p4") + `}`, status: 200, want: invalidPhone},
		{name: "change phone send country", path: cp1, body: `{"new_phone_number":"+14155552671",` + proofFields("password1", "p5") + `}`, status: 200, want: country},
		{name: "change phone send wrong", path: cp1, body: `{"new_phone_number":"13912345678",` + proofFields("password9", "p6") + `}`, status: 200, want: wrong},
		{name: "change phone send stale", path: cp1, body: `{"new_phone_number":"13912345678","encryption_str":"x","random_str":"p7","time_stamp":"x"}`, status: 200, want: stale},
		{name: "change phone send sms unavailable", setup: func(x *fixture, t *testing.T, _ application.SessionTokens) string {
			x.f.SMS.Fail = &application.SMSError{Vendor: "cloopen", Kind: application.SMSUncertain, Err: errors.New("timeout")}
			return ""
		}, path: cp1, body: `{"new_phone_number":"13912345678",` + proofFields("password1", "p8") + `}`, status: 200, want: `{"code":0,"message":"短信发送失败，请稍后再试","error":"sms_unavailable"}`},

		{name: "change phone", setup: (*fixture).phoneChangeSent, path: cp2, body: `{"new_phone_number":"13912345678","validate_number":"{code}"}`, status: 200, want: "手机号修改成功", pair: true},
		{name: "change phone wrong code", setup: (*fixture).phoneChangeSent, path: cp2, body: `{"new_phone_number":"13912345678","validate_number":"abcdef"}`, status: 200, want: failed("code_mismatch")},
		{name: "change phone another number", setup: (*fixture).phoneChangeSent, path: cp2, body: `{"new_phone_number":"13912345679","validate_number":"{code}"}`, status: 200, want: failed("code_mismatch")},
		{name: "change phone nothing pending", path: cp2, body: `{"new_phone_number":"13912345678","validate_number":"123456"}`, status: 200, want: failed("no_pending_code")},
		{name: "change phone taken meanwhile", setup: func(x *fixture, t *testing.T, p application.SessionTokens) string {
			code := x.phoneChangeSent(t, p)
			u := domain.NewUser("other", domain.MustParsePhoneNumber(newPhone), mustEmail("other@qq.com"), []byte("s"), t0)
			if err := x.f.Users.Create(context.Background(), u); err != nil {
				t.Fatal(err)
			}
			return code
		}, path: cp2, body: `{"new_phone_number":"13912345678","validate_number":"{code}"}`, status: 200, want: taken},
		{name: "change phone revoked token", setup: func(x *fixture, t *testing.T, p application.SessionTokens) string {
			code := x.phoneChangeSent(t, p)
			if err := x.f.Logout.Handle(context.Background(), application.Logout{AccessToken: p.Token, All: true}); err != nil {
				t.Fatal(err)
			}
			return code
		}, path: cp2, body: `{"new_phone_number":"13912345678","validate_number":"{code}"}`, status: 401, want: unauthorized},

		{name: "delete", path: del, body: `{` + proofFields("password1", "d1") + `}`, status: 200, want: `{"code":1,"message":"账号已注销"}`},
		{name: "delete wrong", path: del, body: `{` + proofFields("password9", "d2") + `}`, status: 200, want: wrong},
		{name: "delete replayed", setup: func(x *fixture, t *testing.T, _ application.SessionTokens) string {
			x.post(t, "/client/login", loginBody("password1", "d3", t0.Unix()))
			return ""
		}, path: del, body: `{` + proofFields("password1", "d3") + `}`, status: 200, want: replayed},
		{name: "delete locked", setup: lockOut, path: del, body: `{` + proofFields("password1", "d4") + `}`, status: 429, want: locked},
		{name: "delete unavailable", setup: func(x *fixture, t *testing.T, _ application.SessionTokens) string {
			x.f.Users.Err = application.ErrUnavailable
			return ""
		}, path: del, body: `{` + proofFields("password1", "d5") + `}`, status: 503, want: `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newFixture(t, httpapi.Config{})
			pair := x.loggedIn(t)
			var code string
			if c.setup != nil {
				code = c.setup(x, t, pair)
			}
			if c.name == "reset send rate limited" {
				x.f.Clock.Advance(60e9)
				x.resetSent(t)
			}
			var hdr []string
			if !c.noAuth {
				hdr = []string{"Authorization", "Bearer " + pair.Token}
			}
			status, got, h := x.do(t, http.MethodPost, c.path, strings.ReplaceAll(c.body, "{code}", code), hdr...)
			if c.pair {
				m := pairAnswer(c.want).FindStringSubmatch(got)
				if status != 200 || m == nil {
					t.Fatalf("got %d %s, want a fresh pair with %s", status, got, c.want)
				}
				// The fresh pair works; the pair it replaces does not.
				if _, err := x.f.Authenticate.Handle(context.Background(), application.Authenticate{Token: m[1]}); err != nil {
					t.Fatalf("the fresh token: %v", err)
				}
				if _, err := x.f.Authenticate.Handle(context.Background(), application.Authenticate{Token: pair.Token}); !errors.Is(err, application.ErrUnauthorized) {
					t.Fatalf("the replaced token: %v", err)
				}
			} else if status != c.status || got != c.want {
				t.Fatalf("got  %d %s\nwant %d %s", status, got, c.status, c.want)
			}
			openapitest.Check(t, http.MethodPost, c.path, status, h, []byte(got))
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
				t.Errorf("security headers: %v", h)
			}
			if status == 429 && h.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
}

func resetCode(x *fixture, t *testing.T, _ application.SessionTokens) string { return x.resetSent(t) }

// lockOut spends the account's wrong passwords.
func lockOut(x *fixture, t *testing.T, _ application.SessionTokens) string {
	for i := range 5 {
		x.post(t, "/client/login", loginBody("wrongpass", "w"+strconv.Itoa(i), t0.Unix()))
	}
	return ""
}

// TestAccountBadInput: every field of every new endpoint refuses an
// operator object, a number where a string belongs, null and an array
// with 400 and changes nothing; a body over the limit is 413 and an
// encoded one 415.
func TestAccountBadInput(t *testing.T) {
	x := newFixture(t, httpapi.Config{})
	pair := x.loggedIn(t)
	auth := []string{"Authorization", "Bearer " + pair.Token}
	ts := strconv.FormatInt(t0.Unix(), 10)
	good := map[string]map[string]string{
		rs1: {"phone_number": `"15850551102"`},
		rs2: {"phone_number": `"15850551102"`, "validate_number": `"123456"`, "password": `"password2"`, "password_confirm": `"password2"`},
		cpw: {"encryption_str": `"` + domain.LoginProof("password1", "b", ts) + `"`, "random_str": `"b"`, "time_stamp": `"` + ts + `"`, "password": `"password2"`, "password_confirm": `"password2"`},
		cp1: {"new_phone_number": `"13912345678"`, "encryption_str": `"` + domain.LoginProof("password1", "b", ts) + `"`, "random_str": `"b"`, "time_stamp": `"` + ts + `"`},
		cp2: {"new_phone_number": `"13912345678"`, "validate_number": `"123456"`},
		del: {"encryption_str": `"` + domain.LoginProof("password1", "b", ts) + `"`, "random_str": `"b"`, "time_stamp": `"` + ts + `"`},
	}
	body := func(fields map[string]string, field, value string) string {
		var parts []string
		for k, v := range fields {
			if k == field {
				if value == "" {
					continue // absent
				}
				v = value
			}
			parts = append(parts, `"`+k+`":`+v)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	const badRequest = `{"code":0,"message":"请求参数错误","error":"bad_request"}`
	for path, fields := range good {
		for field := range fields {
			for _, v := range []string{`{"$ne": null}`, `{"$gt":""}`, `1`, `null`, `["x"]`, `true`, `1.5`, ""} {
				if field == "time_stamp" && v == `1` {
					continue // an integer time stamp is allowed
				}
				status, got, h := x.do(t, http.MethodPost, path, body(fields, field, v), auth...)
				if status != 400 || got != badRequest {
					t.Errorf("%s with %s = %s: %d %s", path, field, v, status, got)
				}
				openapitest.Check(t, http.MethodPost, path, status, h, []byte(got))
			}
		}
		for _, b := range []string{``, `null`, `[]`, `"x"`, `{`, body(fields, "", "") + ` x`} {
			if status, got, _ := x.do(t, http.MethodPost, path, b, auth...); status != 400 || got != badRequest {
				t.Errorf("%s with body %q: %d %s", path, b, status, got)
			}
		}
		big := `{"pad":"` + strings.Repeat("x", 16<<10) + `",` + body(fields, "", "")[1:]
		if status, got, h := x.do(t, http.MethodPost, path, big, auth...); status != 413 || got != `{"code":0,"message":"请求体过大","error":"body_too_large"}` {
			t.Errorf("%s oversized: %d %s", path, status, got)
		} else {
			openapitest.Check(t, http.MethodPost, path, status, h, []byte(got))
		}
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		_, _ = w.Write([]byte(body(fields, "", "")))
		_ = w.Close()
		if status, got, h := x.do(t, http.MethodPost, path, gz.String(), append([]string{"Content-Encoding", "gzip"}, auth...)...); status != 415 || got != refusedEncoding {
			t.Errorf("%s gzip: %d %s", path, status, got)
		} else {
			openapitest.Check(t, http.MethodPost, path, status, h, []byte(got))
		}
	}
	// Nothing changed: no code sent, the account as it was, its session live.
	if x.f.SMS.Sent() != 1 || x.f.Codes.Len() != 0 || x.f.Users.Count() != 1 {
		t.Fatalf("bad input changed state: %d SMS, %d codes, %d accounts", x.f.SMS.Sent(), x.f.Codes.Len(), x.f.Users.Count())
	}
	if _, err := x.f.Authenticate.Handle(context.Background(), application.Authenticate{Token: pair.Token}); err != nil {
		t.Fatalf("bad input revoked the session: %v", err)
	}
}

// TestAccountRoutesAreAuthenticated: the changes answer 401 without a
// token or with a bad one, before the body is read; the recovery routes
// need none.
func TestAccountRoutesAreAuthenticated(t *testing.T) {
	x := newFixture(t, httpapi.Config{})
	x.registered(t)
	for _, path := range []string{cpw, cp1, cp2, del} {
		if status, got, h := x.do(t, http.MethodPost, path, `{"$ne":1}`); status != 401 || got != `{"code":0,"message":"需要验证","error":"token_missing"}` {
			t.Errorf("%s without a token: %d %s", path, status, got)
		} else {
			openapitest.Check(t, http.MethodPost, path, status, h, []byte(got))
		}
		if status, got, _ := x.do(t, http.MethodPost, path, `{}`, "token", "forged"); status != 401 || got != `{"code":2,"message":"验证信息错误","error":"unauthorized"}` {
			t.Errorf("%s with a forged token: %d %s", path, status, got)
		}
	}
}

// TestAccountObserved: each new route is observed under its operation.
func TestAccountObserved(t *testing.T) {
	obs := &recordingObserver{}
	x := serveReady(t, httpapi.Config{Observer: obs}, nil)
	x.registered(t)
	pair := x.login(t)
	for path, op := range map[string]string{rs1: application.OpResetPasswordSend, rs2: application.OpResetPassword, cpw: application.OpChangePassword,
		cp1: application.OpChangePhoneSend, cp2: application.OpChangePhone, del: application.OpDeleteAccount} {
		x.do(t, http.MethodPost, path, `{}`, "Authorization", "Bearer "+pair.Token)
		got := obs.last(t)
		if got.Route != path || got.Operation != op || got.Reason != "bad_request" {
			t.Errorf("%s observed as %+v", path, got)
		}
	}
}
