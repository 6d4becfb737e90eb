package test

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// testTokens checks tokens as the service configured by start signs
// them.
func testTokens(t *testing.T) *crypto.Tokens {
	t.Helper()
	tk, err := crypto.NewTokens([]ed25519.PrivateKey{ed25519.NewKeyFromSeed(signingSeed)}, tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestEndToEnd runs the seed flow and its rules against every store: the
// embedded one, and MongoDB in a container (see test/mongotest).
func TestEndToEnd(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, options)
	}{
		{"SeedFlow", testSeedFlowEndToEnd},
		{"PhoneSpellingsAreOneAccount", testPhoneSpellingsAreOneAccount},
		{"ConcurrentStep4MakesExactlyOneAccount", testConcurrentStep4MakesExactlyOneAccount},
		{"RegisteredUserSurvivesRestart", testRegisteredUserSurvivesRestart},
		{"ExpiryIsReal", testExpiryIsReal},
		{"HostileInputChangesNothing", testHostileInputChangesNothing},
		{"LogsKeepSecretsAndMaskPhones", testLogsKeepSecretsAndMaskPhones},
		{"RateLimitsAndLockoutOverHTTP", testRateLimitsAndLockoutOverHTTP},
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, storeOptions(t, store)) })
			}
		})
	}
}

func testSeedFlowEndToEnd(t *testing.T, store options) {
	in := start(t, store)
	const phone, password, email = "15850551102", "correct-horse-9", "2214102327@qq.com"
	in.register(t, phone, password, email)

	a := in.login(t, phone, password)
	if a.Status != 200 || a.Code != 1 || a.Message != "成功登录" || a.Email != email || a.ExpiresIn != 7*24*3600 ||
		a.RefreshToken == "" || a.RefreshExpiresIn != 30*24*3600 {
		t.Fatalf("login: %s", a.Raw)
	}
	tokens := testTokens(t)
	claims, err := tokens.ParseAccess(a.Token, in.clock.Now())
	if err != nil || claims.UserID == "" || claims.SessionID == "" {
		t.Fatalf("token does not verify: %v %+v", err, claims)
	}
	b := in.login(t, phone, password)
	if c2, err := tokens.ParseAccess(b.Token, in.clock.Now()); err != nil || c2.SessionID == claims.SessionID || c2.UserID != claims.UserID {
		t.Fatal("two logins share a session id, or name different users")
	}

	in.expect(t, "/client/login", loginBody(phone, "wrong-password", "r-x", in.clock.Now().Unix()), 200, `{"code":0,"message":"密码错误","error":"wrong_password"}`)
	in.expect(t, "/client/login", loginBody("13900000000", password, "r-y", in.clock.Now().Unix()), 200, `{"code":0,"message":"没有此用户","error":"no_such_user"}`)
	in.expect(t, "/client/register-step-1", m{"phone_number": phone}, 200, `{"code":0,"message":"该用户已经存在,注册失败","error":"user_exists"}`)

	// time_stamp as a JSON number.
	body := loginBody(phone, password, "numeric-ts", in.clock.Now().Unix())
	body["time_stamp"] = in.clock.Now().Unix()
	if a := in.post(t, "/client/login", body); a.Code != 1 {
		t.Fatalf("numeric time_stamp: %s", a.Raw)
	}
	// The same request again is a replay.
	in.expect(t, "/client/login", body, 200, `{"code":0,"message":"登录请求已失效，请重试","error":"replayed_request"}`)
}

func testPhoneSpellingsAreOneAccount(t *testing.T, store options) {
	in := start(t, store)
	in.register(t, "15850551102", "password-one", "one@qq.com")
	for _, p := range []string{"+8615850551102", "+86 158 5055 1102", "158-5055-1102"} {
		in.expect(t, "/client/register-step-1", m{"phone_number": p}, 200, `{"code":0,"message":"该用户已经存在,注册失败","error":"user_exists"}`)
		if a := in.login(t, p, "password-one"); a.Code != 1 || a.Email != "one@qq.com" {
			t.Fatalf("login as %q: %s", p, a.Raw)
		}
	}
}

func testConcurrentStep4MakesExactlyOneAccount(t *testing.T, store options) {
	in := start(t, store)
	const phone = "13812345678"
	in.expect(t, "/client/register-step-1", m{"phone_number": phone}, 200, "")
	in.expect(t, "/client/register-step-2", m{"phone_number": phone, "validate_number": in.code(t, "+86"+phone)}, 200, "")
	in.expect(t, "/client/register-step-3", m{"phone_number": phone, "password": "password-x", "password_confirm": "password-x"}, 200, "")

	const n = 20
	var wg sync.WaitGroup
	answers := make([]answer, n)
	startGun := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGun
			answers[i] = in.post(t, "/client/register-step-4", m{"phone_number": phone, "email": "user" + string(rune('a'+i)) + "@qq.com"})
		}()
	}
	close(startGun)
	wg.Wait()
	winner := ""
	for i, a := range answers {
		switch {
		case a.Code == 1:
			if winner != "" {
				t.Fatalf("two successes: %s and %s", winner, a.Raw)
			}
			winner = "user" + string(rune('a'+i)) + "@qq.com"
		case a.Message == "注册失败" && a.Error == "user_exists", a.Message == "验证码没有通过" && a.Error == "not_verified":
		default:
			t.Fatalf("unexpected answer %d %s", a.Status, a.Raw)
		}
	}
	if winner == "" {
		t.Fatal("no request succeeded")
	}
	if a := in.login(t, phone, "password-x"); a.Code != 1 || a.Email != winner {
		t.Fatalf("login after the race: %s, want email %s", a.Raw, winner)
	}
}

func testRegisteredUserSurvivesRestart(t *testing.T, store options) {
	dir := t.TempDir()
	clock := apptest.NewClock(time.Now())
	// The embedded store generates its keys in DATA_DIR and must find them
	// again; Mongo mode refuses to start without configured keys.
	_, mongo := store.vars["MONGO_URI"]
	store.dataDir, store.noKeys, store.clock = dir, !mongo, clock
	first := start(t, store)
	first.register(t, "15850551102", "durable-pass", "durable@qq.com")
	// A session opened before the restart lives on after it: its keys are
	// kept (or configured), its state is in its tokens.
	session := first.login(t, "15850551102", "durable-pass")
	// A verified, unfinished registration is durable too.
	first.expect(t, "/client/register-step-1", m{"phone_number": "13700000001"}, 200, "")
	first.expect(t, "/client/register-step-2", m{"phone_number": "13700000001", "validate_number": first.code(t, "+8613700000001")}, 200, "")
	first.stop()

	for _, name := range []string{"password.key", "token.key", "code_hmac.key", "token_signing.key"} {
		if mongo {
			break
		}
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, st, err)
		}
	}

	second := start(t, store)
	if a := second.login(t, "15850551102", "durable-pass"); a.Code != 1 || a.Email != "durable@qq.com" {
		t.Fatalf("login after restart: %s", a.Raw)
	}
	if a := second.call(t, "GET", "/client", nil, "token", session.Token); a.Status != 200 || a.Code != 1 {
		t.Fatalf("a token of the first start after restart: %s", a.Raw)
	}
	if a := second.post(t, "/client/token/refresh", m{"refresh_token": session.RefreshToken}); a.Status != 200 || a.Code != 1 {
		t.Fatalf("a refresh token of the first start after restart: %s", a.Raw)
	}
	second.expect(t, "/client/register-step-3", m{"phone_number": "13700000001", "password": "password-2", "password_confirm": "password-2"}, 200, `{"code":1,"message":"提交密码成功"}`)
	second.expect(t, "/client/register-step-4", m{"phone_number": "13700000001", "email": "later@qq.com"}, 200, `{"code":1,"message":"注册成功"}`)
}

func testExpiryIsReal(t *testing.T, store options) {
	in := start(t, store)
	in.expect(t, "/client/register-step-1", m{"phone_number": "13600000001"}, 200, "")
	in.expect(t, "/client/register-step-1", m{"phone_number": "13600000002"}, 200, "")
	in.expect(t, "/client/register-step-2", m{"phone_number": "13600000002", "validate_number": in.code(t, "+8613600000002")}, 200, "")
	in.clock.Advance(5 * time.Minute)
	code := in.code(t, "+8613600000001")
	in.expect(t, "/client/register-step-2", m{"phone_number": "13600000001", "validate_number": code}, 200, `{"code":0,"message":"验证没有通过","error":"no_pending_registration"}`)

	n, err := in.svc.Sweeper.SweepOnce(t.Context())
	if err != nil || n < 1 {
		t.Fatalf("sweep removed %d records (%v); want the expired code's registration at least", n, err)
	}
	// The verified one lives for REGISTRATION_TTL from its verification.
	in.expect(t, "/client/register-step-3", m{"phone_number": "13600000002", "password": "password-3", "password_confirm": "password-3"}, 200, `{"code":1,"message":"提交密码成功"}`)
	in.clock.Advance(30 * time.Minute)
	in.expect(t, "/client/register-step-4", m{"phone_number": "13600000002", "email": "late@qq.com"}, 200, `{"code":0,"message":"验证码没有通过","error":"not_verified"}`)
	if n, err := in.svc.Sweeper.SweepOnce(t.Context()); err != nil || n < 1 {
		t.Fatalf("second sweep removed %d (%v)", n, err)
	}
}

func testHostileInputChangesNothing(t *testing.T, store options) {
	in := start(t, store)
	paths := []string{"/client/register-step-1", "/client/register-step-2", "/client/register-step-3", "/client/register-step-4", "/client/login", "/client/token/refresh"}
	bodies := []string{
		`{"phone_number":{"$ne":null},"validate_number":{"$ne":null},"password":{"$gt":""},"password_confirm":{"$gt":""},"email":{"$ne":null},"encryption_str":{"$ne":null},"random_str":"x","time_stamp":"1"}`,
		`{"phone_number":["15850551102"]}`, `{"phone_number":15850551102}`, `not json`, `[]`, `null`,
		`{"phone_number":"15850551102","pad":"` + strings.Repeat("x", 17<<10) + `"}`,
	}
	for _, p := range paths {
		for _, b := range bodies {
			a := in.post(t, p, b)
			if a.Code != 0 || (a.Status != 400 && a.Status != 413) {
				t.Fatalf("%s %.60s: %d %s", p, b, a.Status, a.Raw)
			}
		}
	}
	if in.sms.Sends() != 0 {
		t.Fatal("hostile input sent an SMS")
	}
	// Nothing was stored: there is no registration to verify, and the
	// phone is free to register.
	in.expect(t, "/client/register-step-2", m{"phone_number": "15850551102", "validate_number": "123456"}, 200, `{"code":0,"message":"验证没有通过","error":"no_pending_registration"}`)
	in.register(t, "15850551102", "password-ok", "ok@qq.com")
}

func testLogsKeepSecretsAndMaskPhones(t *testing.T, store options) {
	in := start(t, store)
	const phone, password = "15850551102", "s3cret-Passw0rd"
	in.register(t, phone, password, "secret@qq.com")
	code := in.code(t, "+8615850551102")
	body := loginBody(phone, password, "rand-for-log", in.clock.Now().Unix())
	a := in.post(t, "/client/login", body)
	if a.Code != 1 {
		t.Fatalf("login: %s", a.Raw)
	}
	in.post(t, "/client/register-step-1", `{"phone_number":{"$ne":null}}`)
	in.post(t, "/client/login", loginBody(phone, "wrong-password", "r2", in.clock.Now().Unix()))

	logs := in.logText()
	secrets := map[string]string{
		"password": password, "code": code, "token": a.Token, "refresh token": a.RefreshToken, "encryption_str": body["encryption_str"].(string),
		"token key": base64.StdEncoding.EncodeToString(tokenKey), "password key": base64.StdEncoding.EncodeToString(passwordKey),
		"phone": "15850551102",
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain the %s", what)
		}
	}
	requests := in.logs.FilterMessage("request").All()
	if len(requests) != 7 {
		t.Fatalf("%d access-log lines for 7 requests", len(requests))
	}
	for _, e := range requests {
		f := e.ContextMap()
		for _, k := range []string{"request_id", "method", "path", "status", "latency", "ip"} {
			if _, ok := f[k]; !ok {
				t.Fatalf("access log line lacks %s: %v", k, f)
			}
		}
	}
}

func testRateLimitsAndLockoutOverHTTP(t *testing.T, store options) {
	in := start(t, store)
	in.expect(t, "/client/register-step-1", m{"phone_number": "13500000001"}, 200, "")
	a := in.expect(t, "/client/register-step-1", m{"phone_number": "13500000001"}, 429, "")
	if a.Error != "rate_limited" || a.RetryAfter < 1 || a.RetryAfter > 60 {
		t.Fatalf("cooldown: %s", a.Raw)
	}
	in.register(t, "13500000002", "lock-me-please", "lock@qq.com")
	for range 5 {
		in.login(t, "13500000002", "not-the-password")
	}
	a = in.login(t, "13500000002", "lock-me-please")
	if a.Status != 429 || a.Error != "account_locked" || a.RetryAfter != 900 {
		t.Fatalf("locked: %s", a.Raw)
	}
	in.clock.Advance(15 * time.Minute)
	if a := in.login(t, "13500000002", "lock-me-please"); a.Code != 1 {
		t.Fatalf("after the lockout: %s", a.Raw)
	}
}
