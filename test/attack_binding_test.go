package test

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// The registration takeover: steps 3 and 4 name the registration by its
// phone number alone, so a stranger who knows the number could watch
// step 3's answer change the moment the owner verifies and then set their
// own password and email. These tests run the attack over HTTP against
// the wired service, on both stores. Networks are simulated by a trusted
// proxy on loopback that names the client in X-Forwarded-For.
func TestAttackRegistrationBinding(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, options)
	}{
		{"StrangerCannotProbeOrTakeOver", testStrangerCannotTakeOver},
		{"TokenContinuesFromAnyNetwork", testTokenContinuesFromAnyNetwork},
		{"WrongTokenRefusedOnOwnersNetwork", testWrongTokenRefusedOnOwnersNetwork},
		{"StrangersStep1DoesNotUnverify", testStrangersStep1DoesNotUnverify},
		{"ConcurrentStep1sDoNotUnverify", testConcurrentStep1sDoNotUnverify},
		{"RedoingStep2RebindsToTheLastVerifier", testRedoingStep2Rebinds},
		{"TokenModeRefusesTokenlessRequests", testTokenModeRefusesTokenless},
		{"OffModeBehavesAsTheSeed", testOffModeBehavesAsTheSeed},
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, storeOptions(t, store)) })
			}
		})
	}
}

// Client networks, as the trusted proxy reports them.
const (
	ownerNet    = "198.51.100.7"
	strangerNet = "203.0.113.9"
	otherNet    = "192.0.2.44"
)

const (
	victim        = "15850551102"
	victimE164    = "+8615850551102"
	notVerified   = `{"code":0,"message":"验证码没有通过","error":"not_verified"}`
	passwordSet   = `{"code":1,"message":"提交密码成功"}`
	registered    = `{"code":1,"message":"注册成功"}`
	codeSent      = `{"code":1,"message":"发送成功"}`
	ownerPassword = "owner-secret-1"
	ownerEmail    = "owner@qq.com"
)

// startBehindProxy starts an instance that believes loopback's
// X-Forwarded-For, with extra variables.
func startBehindProxy(t *testing.T, store options, extra ...string) *instance {
	t.Helper()
	vars := map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"}
	for k, v := range store.vars {
		vars[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		vars[extra[i]] = extra[i+1]
	}
	store.vars = vars
	return start(t, store)
}

// expectOKFrom is from, failing the test unless the answer is want, byte
// for byte.
func (in *instance) expectOKFrom(t *testing.T, net, path string, body m, want string) answer {
	t.Helper()
	a := in.from(t, net, path, body)
	if a.Status != 200 || a.Raw != want {
		t.Fatalf("POST %s from %s %v\n got  %d %s\n want 200 %s", path, net, body, a.Status, a.Raw, want)
	}
	return a
}

// sendFrom runs step 1 for victim from net.
func (in *instance) sendFrom(t *testing.T, net string) string {
	t.Helper()
	in.expectOKFrom(t, net, "/client/register-step-1", m{"phone_number": victim}, codeSent)
	return in.code(t, victimE164)
}

// verifyFrom runs step 2 for victim from net and returns the token.
func (in *instance) verifyFrom(t *testing.T, net, code string) string {
	t.Helper()
	return in.verify(t, victim, code, "X-Forwarded-For", net)
}

func step3(password string, token ...string) m {
	b := m{"phone_number": victim, "password": password, "password_confirm": password}
	if len(token) > 0 {
		b["registration_token"] = token[0]
	}
	return b
}

func step4(email string, token ...string) m {
	b := m{"phone_number": victim, "email": email}
	if len(token) > 0 {
		b["registration_token"] = token[0]
	}
	return b
}

// loginWorks fails the test unless victim logs in with password.
func (in *instance) loginWorks(t *testing.T, password, email string) {
	t.Helper()
	if a := in.login(t, victim, password); a.Code != 1 || a.Email != email {
		t.Fatalf("login with %s's password: %s", email, a.Raw)
	}
}

func testStrangerCannotTakeOver(t *testing.T, store options) {
	in := startBehindProxy(t, store)
	code := in.sendFrom(t, ownerNet)

	// The probe: a one-letter password, so that a verified registration
	// would answer 密码长度不符合要求 instead.
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("x"), notVerified)
	in.verifyFrom(t, ownerNet, code)
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("x"), notVerified)
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("x", ""), notVerified)
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("stranger-pass-1"), notVerified)
	in.expectOKFrom(t, strangerNet, "/client/register-step-4", step4("stranger@qq.com"), notVerified)

	// The owner, a seed client that sends no token, continues from its
	// own network.
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword), passwordSet)
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("stranger-pass-1"), notVerified)
	in.expectOKFrom(t, strangerNet, "/client/register-step-4", step4("stranger@qq.com"), notVerified)
	in.expectOKFrom(t, ownerNet, "/client/register-step-4", step4(ownerEmail), registered)
	in.loginWorks(t, ownerPassword, ownerEmail)
	if a := in.login(t, victim, "stranger-pass-1"); a.Error != "wrong_password" {
		t.Fatalf("the stranger's password logs in: %s", a.Raw)
	}
}

func testTokenContinuesFromAnyNetwork(t *testing.T, store options) {
	in := startBehindProxy(t, store)
	token := in.verifyFrom(t, ownerNet, in.sendFrom(t, ownerNet))
	// The app moved from Wi-Fi to cellular between the steps.
	in.expectOKFrom(t, otherNet, "/client/register-step-3", step3("x", token), `{"code":0,"message":"密码长度不符合要求","error":"password_length"}`)
	in.expectOKFrom(t, otherNet, "/client/register-step-3", step3(ownerPassword, token), passwordSet)
	in.expectOKFrom(t, strangerNet, "/client/register-step-4", step4(ownerEmail, token), registered)
	in.loginWorks(t, ownerPassword, ownerEmail)
	// The token is a secret: it is never logged.
	if logs := in.logText(); strings.Contains(logs, token) || strings.Contains(logs, token[:20]) {
		t.Fatal("the registration token is in the log")
	}
}

func testWrongTokenRefusedOnOwnersNetwork(t *testing.T, store options) {
	in := startBehindProxy(t, store)
	token := in.verifyFrom(t, ownerNet, in.sendFrom(t, ownerNet))
	wrong := strings.Repeat("A", len(token))
	if wrong == token {
		wrong = strings.Repeat("B", len(token))
	}
	// Judged by the token alone: the owner's network does not rescue a
	// wrong one, and the refusal comes before the password checks.
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3("x", wrong), notVerified)
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword, wrong), notVerified)
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword, token[:42]), notVerified)
	// Nothing was stored: step 4 still finds no password.
	in.expectOKFrom(t, ownerNet, "/client/register-step-4", step4(ownerEmail), `{"code":0,"message":"注册失败","error":"password_missing"}`)
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword), passwordSet)
	in.expectOKFrom(t, ownerNet, "/client/register-step-4", step4(ownerEmail, wrong), notVerified)
	in.expectOKFrom(t, ownerNet, "/client/register-step-4", step4(ownerEmail, token), registered)
	in.loginWorks(t, ownerPassword, ownerEmail)
}

func testStrangersStep1DoesNotUnverify(t *testing.T, store options) {
	in := startBehindProxy(t, store)
	in.verifyFrom(t, ownerNet, in.sendFrom(t, ownerNet))
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword), passwordSet)
	// Past the resend cooldown, the stranger asks for a new code.
	in.clock.Advance(61 * time.Second)
	in.sendFrom(t, strangerNet)
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("x"), notVerified)
	in.expectOKFrom(t, ownerNet, "/client/register-step-4", step4(ownerEmail), registered)
	in.loginWorks(t, ownerPassword, ownerEmail)
}

func testConcurrentStep1sDoNotUnverify(t *testing.T, store options) {
	in := startBehindProxy(t, store, "SMS_RESEND_INTERVAL", "1ns",
		"SMS_DAILY_LIMIT_PER_PHONE", "0", "SMS_HOURLY_LIMIT_PER_IP", "0", "SMS_HOURLY_LIMIT_GLOBAL", "0")
	in.verifyFrom(t, ownerNet, in.sendFrom(t, ownerNet))
	// The stranger asks for code after code while the owner sets the
	// password over and over: each step 1 races the owner's step 3s.
	const rounds, owners = 16, 4
	var wg sync.WaitGroup
	errs := make(chan string, rounds*(owners+1))
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for range rounds {
			// The test clock stands still: move it past the cooldown.
			in.clock.Advance(time.Second)
			if a := in.from(t, strangerNet, "/client/register-step-1", m{"phone_number": victim}); a.Raw != codeSent {
				errs <- "stranger's step 1: " + a.Raw
			}
		}
	})
	for i := range owners {
		wg.Go(func() {
			pw := ownerPassword + string(rune('a'+i))
			for n := 0; ; n++ {
				select {
				case <-done:
					if n > 0 {
						return
					}
				default:
				}
				if a := in.from(t, ownerNet, "/client/register-step-3", step3(pw)); a.Raw != passwordSet {
					errs <- "owner's step 3 during a stranger's step 1: " + a.Raw
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}
	if n := in.sms.Sends(); n != 1+rounds {
		t.Fatalf("%d codes sent, want %d", n, 1+rounds)
	}
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("x"), notVerified)
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword), passwordSet)
	in.expectOKFrom(t, ownerNet, "/client/register-step-4", step4(ownerEmail), registered)
	in.loginWorks(t, ownerPassword, ownerEmail)
}

func testRedoingStep2Rebinds(t *testing.T, store options) {
	in := startBehindProxy(t, store)
	first := in.verifyFrom(t, ownerNet, in.sendFrom(t, ownerNet))
	// The owner's phone changed network, heard 验证码没有通过, and redoes
	// steps 1 and 2 from the new one.
	in.expectOKFrom(t, otherNet, "/client/register-step-3", step3(ownerPassword), notVerified)
	in.clock.Advance(61 * time.Second)
	second := in.verifyFrom(t, otherNet, in.sendFrom(t, otherNet))
	if second == first {
		t.Fatal("a new verification kept the old token")
	}
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword), notVerified)
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword, first), notVerified)
	in.expectOKFrom(t, otherNet, "/client/register-step-3", step3(ownerPassword), passwordSet)
	in.expectOKFrom(t, strangerNet, "/client/register-step-4", step4(ownerEmail, second), registered)
	in.loginWorks(t, ownerPassword, ownerEmail)
}

func testTokenModeRefusesTokenless(t *testing.T, store options) {
	in := startBehindProxy(t, store, "REGISTRATION_BINDING", "token")
	token := in.verifyFrom(t, ownerNet, in.sendFrom(t, ownerNet))
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3("x"), notVerified)
	in.expectOKFrom(t, ownerNet, "/client/register-step-3", step3(ownerPassword), notVerified)
	in.expectOKFrom(t, otherNet, "/client/register-step-3", step3(ownerPassword, token), passwordSet)
	in.expectOKFrom(t, ownerNet, "/client/register-step-4", step4(ownerEmail), notVerified)
	in.expectOKFrom(t, otherNet, "/client/register-step-4", step4(ownerEmail, token), registered)
	in.loginWorks(t, ownerPassword, ownerEmail)
}

func testOffModeBehavesAsTheSeed(t *testing.T, store options) {
	in := startBehindProxy(t, store, "REGISTRATION_BINDING", "off")
	code := in.sendFrom(t, ownerNet)
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("x"), notVerified)
	in.verifyFrom(t, ownerNet, code)
	// As the seed: the phone number alone names the registration.
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("x"), `{"code":0,"message":"密码长度不符合要求","error":"password_length"}`)
	in.expectOKFrom(t, strangerNet, "/client/register-step-3", step3("stranger-pass-1"), passwordSet)
	in.expectOKFrom(t, strangerNet, "/client/register-step-4", step4("stranger@qq.com"), registered)
	in.loginWorks(t, "stranger-pass-1", "stranger@qq.com")
}
