package test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/openapitest"
)

// The account changes (password reset, password change, phone change,
// account deletion) end to end: the wired service over HTTP, on every
// store, every answer checked against api/openapi.yaml. The rules are in
// docs/account-changes.md; the attacks on them in
// attack_account_test.go and docs/account-attacks.md.

const (
	resetDoneAnswer     = `{"code":1,"message":"密码重置成功"}`
	deletedAnswer       = `{"code":1,"message":"账号已注销"}`
	wrongPasswordAnswer = `{"code":0,"message":"密码错误","error":"wrong_password"}`
	noSuchUserAnswer    = `{"code":0,"message":"没有此用户","error":"no_such_user"}`
	phoneTakenAnswer    = `{"code":0,"message":"该手机号已被使用","error":"phone_taken"}`
	codeMismatchAnswer  = `{"code":0,"message":"验证没有通过","error":"code_mismatch"}`
	noPendingCodeAnswer = `{"code":0,"message":"验证没有通过","error":"no_pending_code"}`
	tooManyAnswer       = `{"code":0,"message":"验证没有通过","error":"too_many_attempts"}`
	replayedAnswer      = `{"code":0,"message":"登录请求已失效，请重试","error":"replayed_request"}`
	staleAnswer         = `{"code":0,"message":"登录请求已失效，请重试","error":"stale_request"}`
	lengthAnswer        = `{"code":0,"message":"密码长度不符合要求","error":"password_length"}`
	mismatchAnswer      = `{"code":0,"message":"密码和密码确认不一致","error":"password_mismatch"}`
	userExistsAnswer    = `{"code":0,"message":"该用户已经存在,注册失败","error":"user_exists"}`

	passwordChangedMessage = "密码修改成功"
	phoneChangedMessage    = "手机号修改成功"
)

// The paths of the account changes.
const (
	pathResetStep1     = "/client/reset-password-step-1"
	pathResetStep2     = "/client/reset-password-step-2"
	pathChangePassword = "/client/change-password"
	pathChangePhone1   = "/client/change-phone-step-1"
	pathChangePhone2   = "/client/change-phone-step-2"
	pathDeleteAccount  = "/client/delete-account"
)

func e164(phone string) string { return domain.MustParsePhoneNumber(phone).E164() }

// proofAt is the login proof of password with random_str r and
// time_stamp ts: what change-password, change-phone-step-1 and
// delete-account take, exactly as login does.
func proofAt(password, r string, ts int64) m {
	s := strconv.FormatInt(ts, 10)
	return m{"encryption_str": domain.LoginProof(password, r, s), "random_str": r, "time_stamp": s}
}

// proof is a fresh proof of password at the instance's time.
func (in *instance) proof(password string) m {
	return proofAt(password, nextRandom(), in.clock.Now().Unix())
}

// with is a copy of b with kv set (a nil value deletes the key).
func with(b m, kv ...any) m {
	return m(edit(b, kv...))
}

// authed posts body to path with token as a Bearer, and hdr.
func (in *instance) authed(t testing.TB, path, token string, body any, hdr ...string) answer {
	t.Helper()
	return in.postWith(t, path, body, append([]string{"Authorization", "Bearer " + token}, hdr...)...)
}

// expectAuthed is authed with the answer checked, byte for byte.
func (in *instance) expectAuthed(t testing.TB, path, token string, body any, status int, raw string, hdr ...string) answer {
	t.Helper()
	a := in.authed(t, path, token, body, hdr...)
	if a.Status != status || a.Raw != raw {
		t.Fatalf("POST %s %v\n got  %d %s\n want %d %s", path, body, a.Status, a.Raw, status, raw)
	}
	return a
}

// wantPair fails t unless a is a success carrying a fresh pair, in the
// shape of a refresh's answer, with message.
func wantPair(t testing.TB, what string, a answer, message string) {
	t.Helper()
	want := `{"code":1,"message":"` + message + `","token":"` + a.Token + `","expires_in":604800,"refresh_token":"` + a.RefreshToken + `","refresh_expires_in":2592000}`
	if a.Status != 200 || a.Token == "" || a.RefreshToken == "" || a.Raw != want {
		t.Fatalf("%s: %d %s\nwant %s", what, a.Status, a.Raw, want)
	}
}

// wantCodeRefused fails t unless a is a refusal of a code check: code 0,
// `验证没有通过`, one of the code reasons.
func wantCodeRefused(t testing.TB, what string, a answer) {
	t.Helper()
	switch a.Error {
	case "code_mismatch", "code_expired", "too_many_attempts", "no_pending_code", "no_pending_registration":
		if a.Status == 200 && a.Code == 0 && a.Message == "验证没有通过" {
			return
		}
	}
	t.Errorf("%s: %d %s, want a refused code (验证没有通过)", what, a.Status, a.Raw)
}

// subOf is the account id an access token names.
func subOf(t testing.TB, token string) string {
	t.Helper()
	_, claims := jwtOf(t, token)
	sub, _ := claims["sub"].(string)
	if sub == "" {
		t.Fatalf("token without sub: %v", claims)
	}
	return sub
}

// account is a registered account as the tests drive it.
type account struct {
	phone, password, email string
}

// loginAs logs in and fails t unless it succeeds with a's email.
func (in *instance) loginAs(t testing.TB, a account) answer {
	t.Helper()
	l := in.login(t, a.phone, a.password)
	if l.Status != 200 || l.Code != 1 || l.Email != a.email || l.Token == "" {
		t.Fatalf("login as %s: %d %s", a.phone, l.Status, l.Raw)
	}
	return l
}

// resetPassword runs both reset steps and fails t unless they succeed.
func (in *instance) resetPassword(t testing.TB, phone, password string) {
	t.Helper()
	in.expect(t, pathResetStep1, m{"phone_number": phone}, 200, sent)
	in.expect(t, pathResetStep2, m{"phone_number": phone, "validate_number": in.code(t, e164(phone)), "password": password, "password_confirm": password}, 200, resetDoneAnswer)
}

// changePassword changes the password of token's account from old to
// next and returns the fresh pair.
func (in *instance) changePassword(t testing.TB, token, old, next string) answer {
	t.Helper()
	a := in.authed(t, pathChangePassword, token, with(in.proof(old), "password", next, "password_confirm", next))
	wantPair(t, "change-password", a, passwordChangedMessage)
	return a
}

// changePhone moves token's account to next (step 1 with a proof of
// password, step 2 with the code sent to next) and returns the pair.
func (in *instance) changePhone(t testing.TB, token, password, next string) answer {
	t.Helper()
	in.expectAuthed(t, pathChangePhone1, token, with(in.proof(password), "new_phone_number", next), 200, sent)
	a := in.authed(t, pathChangePhone2, token, m{"new_phone_number": next, "validate_number": in.code(t, e164(next))})
	wantPair(t, "change-phone-step-2", a, phoneChangedMessage)
	return a
}

// deleteAccount deletes token's account.
func (in *instance) deleteAccount(t testing.TB, token, password string) {
	t.Helper()
	in.expectAuthed(t, pathDeleteAccount, token, in.proof(password), 200, deletedAnswer)
}

// wantSessionEnded fails t unless neither token of the pair s is
// accepted any more.
func (in *instance) wantSessionEnded(t testing.TB, what string, s answer) {
	t.Helper()
	in.wantRefused(t, what, s.Token)
	if a := in.refresh(t, s.RefreshToken); a.Status != 401 || a.Raw != invalidRefreshAnswer {
		t.Errorf("%s: its refresh token: %d %s", what, a.Status, a.Raw)
	}
}

// meIs fails t unless GET /client with token shows phone (E.164), email
// and created.
func (in *instance) meIs(t testing.TB, token, phone, email, created string) {
	t.Helper()
	want := `{"code":1,"message":"获取成功","phone_number":"` + phone + `","email":"` + email + `","created_at":"` + created + `"}`
	if a := in.me(t, token); a.Status != 200 || a.Raw != want {
		t.Fatalf("GET /client: %d %s\nwant %s", a.Status, a.Raw, want)
	}
}

// TestAccountChangesEndToEnd runs each account change as an app would,
// on every store.
func TestAccountChangesEndToEnd(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, options)
	}{
		{"ResetPassword", testResetPasswordFlow},
		{"ChangePassword", testChangePasswordFlow},
		{"ChangePhone", testChangePhoneFlow},
		{"DeleteAccount", testDeleteAccountFlow},
		{"LogsKeepSecretsAndMaskPhones", testAccountChangeLogs},
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, storeOptions(t, store)) })
			}
		})
	}
}

func testResetPasswordFlow(t *testing.T, store options) {
	in := start(t, store)
	a := account{"15850551102", "forgotten-pass-1", "reset@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	before := in.loginAs(t, a)
	created := in.me(t, before.Token).CreatedAt
	refreshed := in.refresh(t, in.loginAs(t, a).RefreshToken) // a session the store has recorded

	in.expect(t, pathResetStep1, m{"phone_number": "13900000000"}, 200, noSuchUserAnswer)
	in.clock.Advance(61 * time.Second) // the registration's code started the number's cooldown
	in.expect(t, pathResetStep1, m{"phone_number": "+86 158 5055 1102"}, 200, sent)
	code := in.code(t, e164(a.phone))
	step2 := func(code, pw, confirm string) m {
		return m{"phone_number": a.phone, "validate_number": code, "password": pw, "password_confirm": confirm}
	}
	// A rejected password is answered first and uses no attempt: six of
	// them, and the code still works.
	for range 3 {
		in.expect(t, pathResetStep2, step2(code, "short", "short"), 200, lengthAnswer)
		in.expect(t, pathResetStep2, step2(code, "new-password-1", "new-password-2"), 200, mismatchAnswer)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	in.expect(t, pathResetStep2, step2(wrong, "new-password-1", "new-password-1"), 200, codeMismatchAnswer)
	in.expect(t, pathResetStep2, step2(code, "new-password-1", "new-password-1"), 200, resetDoneAnswer)
	// The code verified once.
	wantCodeRefused(t, "the code again", in.post(t, pathResetStep2, step2(code, "new-password-2", "new-password-2")))

	if l := in.login(t, a.phone, a.password); l.Raw != wrongPasswordAnswer {
		t.Fatalf("the old password after a reset: %s", l.Raw)
	}
	a.password = "new-password-1"
	after := in.loginAs(t, a)
	in.meIs(t, after.Token, e164(a.phone), a.email, created)
	if subOf(t, after.Token) != subOf(t, before.Token) {
		t.Fatal("a reset changed the account's id")
	}
	in.wantSessionEnded(t, "a session opened before the reset", before)
	in.wantSessionEnded(t, "a refreshed session opened before the reset", refreshed)
}

func testChangePasswordFlow(t *testing.T, store options) {
	in := start(t, store)
	a := account{"15850551102", "current-pass-1", "change@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	here := in.loginAs(t, a)
	other := in.refresh(t, in.loginAs(t, a).RefreshToken) // another device
	created := in.me(t, here.Token).CreatedAt

	body := func(old, pw, confirm string) m {
		return with(in.proof(old), "password", pw, "password_confirm", confirm)
	}
	in.expectAuthed(t, pathChangePassword, here.Token, body(a.password, "short", "short"), 200, lengthAnswer)
	in.expectAuthed(t, pathChangePassword, here.Token, body(a.password, "next-pass-1", "next-pass-2"), 200, mismatchAnswer)
	in.expectAuthed(t, pathChangePassword, here.Token, body("not-the-password", "next-pass-1", "next-pass-1"), 200, wrongPasswordAnswer)
	in.expectCall(t, http.MethodPost, pathChangePassword, body(a.password, "next-pass-1", "next-pass-1"), 401, tokenMissingAnswer)
	// None of those changed anything: both devices are still in.
	in.meIs(t, here.Token, e164(a.phone), a.email, created)
	in.meIs(t, other.Token, e164(a.phone), a.email, created)

	fresh := in.changePassword(t, here.Token, a.password, "next-pass-1")
	// The fresh pair works and refreshes; every session before it ends,
	// the one that asked included.
	in.meIs(t, fresh.Token, e164(a.phone), a.email, created)
	if subOf(t, fresh.Token) != subOf(t, here.Token) {
		t.Fatal("the fresh pair names another account")
	}
	in.wantSessionEnded(t, "the session that changed the password", here)
	in.wantSessionEnded(t, "another device's session", other)
	next := in.refresh(t, fresh.RefreshToken)
	if next.Status != 200 || next.Code != 1 {
		t.Fatalf("refresh of the fresh pair: %d %s", next.Status, next.Raw)
	}
	in.meIs(t, next.Token, e164(a.phone), a.email, created)

	if l := in.login(t, a.phone, a.password); l.Raw != wrongPasswordAnswer {
		t.Fatalf("the old password after a change: %s", l.Raw)
	}
	a.password = "next-pass-1"
	in.loginAs(t, a)
	// The fresh pair's session is an ordinary one: it changes the
	// password again.
	again := in.changePassword(t, next.Token, a.password, "next-pass-2")
	in.wantSessionEnded(t, "the fresh pair after a second change", next)
	in.meIs(t, again.Token, e164(a.phone), a.email, created)
}

func testChangePhoneFlow(t *testing.T, store options) {
	in := start(t, store)
	a := account{"15850551102", "moving-pass-1", "move@qq.com"}
	const next = "13912345678"
	in.register(t, a.phone, a.password, a.email)
	s := in.loginAs(t, a)
	other := in.loginAs(t, a)
	created := in.me(t, s.Token).CreatedAt
	id := subOf(t, s.Token)
	oldCode := in.code(t, e164(a.phone))
	sends := in.sms.Sends()

	in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof("not-the-password"), "new_phone_number", next), 200, wrongPasswordAnswer)
	in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", "12345"), 200, `{"code":0,"message":"手机号格式不正确","error":"invalid_phone"}`)
	in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", "+14155552671"), 200, `{"code":0,"message":"暂不支持该地区的手机号","error":"country_not_allowed"}`)
	in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", a.phone), 200, phoneTakenAnswer)
	if in.sms.Sends() != sends {
		t.Fatal("a refused step 1 sent an SMS")
	}
	in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", "139 1234 5678"), 200, sent)
	// The code went to the new number, and only there.
	if in.sms.Sends() != sends+1 {
		t.Fatalf("%d SMS for one step 1", in.sms.Sends()-sends)
	}
	code := in.code(t, e164(next))
	if c, _ := in.sms.Code(e164(a.phone)); c != oldCode {
		t.Fatal("step 1 sent a code to the current number")
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	in.expectAuthed(t, pathChangePhone2, s.Token, m{"new_phone_number": next, "validate_number": wrong}, 200, codeMismatchAnswer)
	// Nothing moved until step 2 succeeds.
	in.meIs(t, s.Token, e164(a.phone), a.email, created)
	fresh := in.authed(t, pathChangePhone2, s.Token, m{"new_phone_number": "+86" + next, "validate_number": code})
	wantPair(t, "change-phone-step-2", fresh, phoneChangedMessage)

	in.meIs(t, fresh.Token, e164(next), a.email, created)
	if subOf(t, fresh.Token) != id {
		t.Fatal("a phone change changed the account's id")
	}
	in.wantSessionEnded(t, "the session that changed the number", s)
	in.wantSessionEnded(t, "another device's session", other)
	wantCodeRefused(t, "the code again", in.authed(t, pathChangePhone2, fresh.Token, m{"new_phone_number": next, "validate_number": code}))

	in.expect(t, "/client/login", loginBody(a.phone, a.password, nextRandom(), in.clock.Now().Unix()), 200, noSuchUserAnswer)
	moved := account{next, a.password, a.email}
	l := in.loginAs(t, moved) // the password was re-sealed under the new number
	in.meIs(t, l.Token, e164(next), a.email, created)
	in.expect(t, "/client/register-step-1", m{"phone_number": next}, 200, userExistsAnswer)
	in.expect(t, pathResetStep1, m{"phone_number": a.phone}, 200, noSuchUserAnswer)

	// The old number is free: someone else registers it.
	in.clock.Advance(61 * time.Second)
	b := account{a.phone, "newcomer-pass-1", "newcomer@qq.com"}
	in.register(t, b.phone, b.password, b.email)
	nb := in.loginAs(t, b)
	if subOf(t, nb.Token) == id {
		t.Fatal("the newcomer on the old number got the moved account's id")
	}
	in.loginAs(t, moved)
}

func testDeleteAccountFlow(t *testing.T, store options) {
	in := start(t, store)
	a := account{"15850551102", "leaving-pass-1", "leave@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	s := in.loginAs(t, a)
	other := in.refresh(t, in.loginAs(t, a).RefreshToken)
	id := subOf(t, s.Token)

	in.expectAuthed(t, pathDeleteAccount, s.Token, in.proof("not-the-password"), 200, wrongPasswordAnswer)
	in.expectCall(t, http.MethodPost, pathDeleteAccount, in.proof(a.password), 401, tokenMissingAnswer)
	in.loginAs(t, a)

	in.deleteAccount(t, s.Token, a.password)
	in.wantSessionEnded(t, "the session that deleted the account", s)
	in.wantSessionEnded(t, "another device's session", other)
	if got := in.authed(t, pathDeleteAccount, s.Token, in.proof(a.password)); got.Status != 401 || got.Raw != unauthorizedAnswer {
		t.Fatalf("delete-account again with the token: %d %s", got.Status, got.Raw)
	}
	in.expect(t, "/client/login", loginBody(a.phone, a.password, nextRandom(), in.clock.Now().Unix()), 200, noSuchUserAnswer)
	in.expect(t, pathResetStep1, m{"phone_number": a.phone}, 200, noSuchUserAnswer)

	// The number and the email register again, as a new account.
	in.clock.Advance(61 * time.Second)
	again := account{a.phone, "returning-pass-1", a.email}
	in.register(t, again.phone, again.password, again.email)
	l := in.loginAs(t, again)
	if subOf(t, l.Token) == id {
		t.Fatal("the new account has the deleted one's id")
	}
	// The deleted account's tokens stay dead, though its number lives again.
	in.wantSessionEnded(t, "the deleted account's session after its number registered again", s)
}

// TestOpenAPIAccountChanges: api/openapi.yaml describes every account
// change with the answers the service gives.
func TestOpenAPIAccountChanges(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	shared := []int{200, 400, 413, 415, 429, 500, 503}
	for _, op := range []struct {
		path   string
		authed bool
	}{
		{pathResetStep1, false}, {pathResetStep2, false},
		{pathChangePassword, true}, {pathChangePhone1, true}, {pathChangePhone2, true}, {pathDeleteAccount, true},
	} {
		item := doc.Paths.Value(op.path)
		if item == nil || item.Post == nil {
			t.Errorf("no POST %s", op.path)
			continue
		}
		statuses := shared
		if op.authed {
			statuses = append([]int{401}, shared...)
		}
		for _, status := range statuses {
			if item.Post.Responses.Status(status) == nil {
				t.Errorf("POST %s: no %d answer", op.path, status)
			}
		}
	}
}

// testAccountChangeLogs: every request of the flows is one access-log
// line, no log line holds a password, a code, a token, a proof or a
// whole phone number, and every answer is counted by operation and
// outcome.
func testAccountChangeLogs(t *testing.T, store options) {
	in := start(t, withVars(store, "SMS_HOURLY_LIMIT_PER_IP", "0"))
	a := account{"15850551102", "logged-pass-1", "logs@qq.com"}
	const next = "13912345678"
	in.register(t, a.phone, a.password, a.email)
	lines := func() int { return in.logs.FilterMessage("request").Len() }
	before := lines()
	s := in.loginAs(t, a)
	in.clock.Advance(61 * time.Second)
	in.expect(t, pathResetStep1, m{"phone_number": a.phone}, 200, sent)
	resetCode := in.code(t, e164(a.phone))
	in.expect(t, pathResetStep2, m{"phone_number": a.phone, "validate_number": resetCode, "password": "logged-pass-2", "password_confirm": "logged-pass-2"}, 200, resetDoneAnswer)
	s = in.loginAs(t, account{a.phone, "logged-pass-2", a.email})
	proof := in.proof("logged-pass-2")
	changed := in.authed(t, pathChangePassword, s.Token, with(proof, "password", "logged-pass-3", "password_confirm", "logged-pass-3"))
	wantPair(t, "change-password", changed, passwordChangedMessage)
	in.expectAuthed(t, pathChangePassword, changed.Token, with(in.proof("logged-wrong-1"), "password", "logged-pass-4", "password_confirm", "logged-pass-4"), 200, wrongPasswordAnswer)
	in.expectAuthed(t, pathChangePhone1, changed.Token, with(in.proof("logged-pass-3"), "new_phone_number", next), 200, sent)
	phoneCode := in.code(t, e164(next))
	moved := in.authed(t, pathChangePhone2, changed.Token, m{"new_phone_number": next, "validate_number": phoneCode})
	wantPair(t, "change-phone-step-2", moved, phoneChangedMessage)
	in.deleteAccount(t, moved.Token, "logged-pass-3")
	if n := lines() - before; n != 9 {
		t.Errorf("%d access-log lines for 9 requests", n)
	}
	// Each answer is counted by operation and outcome.
	_, _, metrics := in.get(t, "/metrics")
	for _, c := range []struct{ op, outcome string }{
		{"reset_password_send", "success"}, {"reset_password", "success"}, {"change_password", "success"},
		{"change_password", "wrong_password"}, {"change_phone_send", "success"}, {"change_phone", "success"}, {"delete_account", "success"},
	} {
		line := `phoneauth_account_operations_total{operation="` + c.op + `",outcome="` + c.outcome + `"} 1` + "\n"
		if !strings.Contains(metrics, line) {
			t.Errorf("GET /metrics lacks %q", line)
		}
	}
	logs := in.logText()
	for what, secret := range map[string]string{
		"the first password": a.password, "the reset password": "logged-pass-2", "the changed password": "logged-pass-3", "a wrong password": "logged-wrong-1",
		"the reset code": resetCode, "the phone-change code": phoneCode,
		"an access token": changed.Token, "a refresh token": changed.RefreshToken, "the last access token": moved.Token, "the last refresh token": moved.RefreshToken,
		"a proof":        proof["encryption_str"].(string),
		"the old number": a.phone[3:], "the new number": next[3:],
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %s", what)
		}
	}
}
