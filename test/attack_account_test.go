package test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The attacks on the account changes, each played over HTTP against the
// wired service on every store. How each would be broken, and which test
// shows it holds, is docs/account-attacks.md.

func TestAttackAccount(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, options)
	}{
		{"PurposesNeverMix", testPurposesNeverMix},
		{"StaleResetCodeOfAMovedOrDeletedNumber", testStaleResetCode},
		{"SendLimitsSharedAcrossPurposes", testSendLimitsShared},
		{"WrongCodesCountAcrossPurposes", testWrongCodesCountAcrossPurposes},
		{"EnumerationAnswersCountAsFailures", testEnumerationAnswersCount},
		{"StolenTokenAlone", testStolenTokenAlone},
		{"ProofReplayAcrossEndpoints", testProofReplayAcrossEndpoints},
		{"DeleteProofReplayedAfterReRegistration", testDeleteProofAfterReRegistration},
		{"StaleProofs", testStaleProofs},
		{"LockoutSharedWithLogin", testLockoutSharedWithLogin},
		{"ParallelResetStep2", testParallelResetStep2},
		{"RaceForOneNumber", testRaceForOneNumber},
		{"RegistrationRacingPhoneChange", testRegistrationRacingPhoneChange},
		{"ParallelChangePassword", testParallelChangePassword},
		{"HostileBodies", testHostileAccountBodies},
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, storeOptions(t, store)) })
			}
		})
	}
}

// otherThan is a wrong code: never one of codes.
func otherThan(codes ...string) string {
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i*111111%1000000)
		taken := false
		for _, x := range codes {
			taken = taken || x == c
		}
		if !taken {
			return c
		}
	}
}

// testPurposesNeverMix: codes of every purpose pending at once, several
// for one number, and each presented to every other purpose's check
// (and to another account's, and for another number). Every one is
// refused; then each works where it belongs, so the refusals were about
// the purpose, not a dead record.
func testPurposesNeverMix(t *testing.T, store options) {
	in := start(t, withVars(store, "SMS_HOURLY_LIMIT_PER_IP", "0"))
	a := account{"13810000001", "purpose-pass-a", "pa@qq.com"}
	b := account{"13810000002", "purpose-pass-b", "pb@qq.com"}
	const x, elsewhere = "13810000011", "13810000012"
	in.register(t, a.phone, a.password, a.email)
	in.register(t, b.phone, b.password, b.email)
	sa, sb := in.loginAs(t, a), in.loginAs(t, b)

	// X, a free number, is pending a registration, A's phone change and
	// B's; B's number is pending a reset.
	in.expect(t, "/client/register-step-1", m{"phone_number": x}, 200, sent)
	cR := in.code(t, e164(x))
	in.clock.Advance(61 * time.Second)
	in.expectAuthed(t, pathChangePhone1, sa.Token, with(in.proof(a.password), "new_phone_number", x), 200, sent)
	cA := in.code(t, e164(x))
	in.clock.Advance(61 * time.Second)
	in.expectAuthed(t, pathChangePhone1, sb.Token, with(in.proof(b.password), "new_phone_number", x), 200, sent)
	cB := in.code(t, e164(x))
	in.expect(t, pathResetStep1, m{"phone_number": b.phone}, 200, sent)
	cS := in.code(t, e164(b.phone))

	distinct := map[string]bool{cR: true, cA: true, cB: true, cS: true}
	if len(distinct) < 4 {
		t.Skipf("two of the four random codes are equal (%s %s %s %s): nothing to tell apart this run", cR, cA, cB, cS)
	}
	register := func(code string) answer {
		return in.post(t, "/client/register-step-2", m{"phone_number": x, "validate_number": code})
	}
	reset := func(phone, code string) answer {
		return in.post(t, pathResetStep2, m{"phone_number": phone, "validate_number": code, "password": "taken-over-1", "password_confirm": "taken-over-1"})
	}
	change := func(s answer, phone, code string) answer {
		return in.authed(t, pathChangePhone2, s.Token, m{"new_phone_number": phone, "validate_number": code})
	}
	for _, c := range []struct {
		what string
		a    answer
	}{
		{"register code at reset (the reset's number)", reset(b.phone, cR)},
		{"register code at reset (its own number)", reset(x, cR)},
		{"register code at A's phone change", change(sa, x, cR)},
		{"reset code at registration", register(cS)},
		{"reset code at A's phone change", change(sa, x, cS)},
		{"A's phone-change code at registration", register(cA)},
		{"A's phone-change code at reset", reset(b.phone, cA)},
		{"A's phone-change code at B's phone change", change(sb, x, cA)},
		{"B's phone-change code at A's phone change", change(sa, x, cB)},
		{"A's phone-change code for another number", change(sa, elsewhere, cA)},
	} {
		wantCodeRefused(t, c.what, c.a)
	}
	// A reset code presented for a phone change to the number it was sent
	// to: that number is registered, so phone_taken is a refusal too.
	if got := change(sb, b.phone, cS); got.Code != 0 || (got.Message != "验证没有通过" && got.Raw != phoneTakenAnswer) {
		t.Errorf("reset code at B's phone change to its own number: %d %s", got.Status, got.Raw)
	}
	in.wantAccountIs(t, sa.Token, a)
	in.wantAccountIs(t, sb.Token, b)
	in.loginAs(t, a)
	in.loginAs(t, b)

	// Each code where it belongs.
	token := in.verify(t, x, cR)
	wantPair(t, "A's own code", change(sa, x, cA), phoneChangedMessage)
	in.expectAuthed(t, pathChangePhone2, sb.Token, m{"new_phone_number": x, "validate_number": cB}, 200, phoneTakenAnswer)
	// The registration verified before A took the number cannot finish.
	in.expect(t, "/client/register-step-3", with(step3("late-pass-1", token), "phone_number", x), 200, `{"code":1,"message":"提交密码成功"}`)
	in.expect(t, "/client/register-step-4", with(step4("late@qq.com", token), "phone_number", x), 200, `{"code":0,"message":"注册失败","error":"user_exists"}`)
	in.expect(t, pathResetStep2, m{"phone_number": b.phone, "validate_number": cS, "password": "b-new-pass-1", "password_confirm": "b-new-pass-1"}, 200, resetDoneAnswer)
	in.loginAs(t, account{x, a.password, a.email})
	in.loginAs(t, account{b.phone, "b-new-pass-1", b.email})
}

// wantAccountIs fails t unless token's account has a's number and email.
func (in *instance) wantAccountIs(t testing.TB, token string, a account) {
	t.Helper()
	got := in.me(t, token)
	if got.Status != 200 || got.PhoneNumber != e164(a.phone) || got.Email != a.email {
		t.Fatalf("GET /client: %d %s, want %s %s", got.Status, got.Raw, e164(a.phone), a.email)
	}
}

// testStaleResetCode: a reset code is bound to a number, not to an
// account. The number's owner asks for one, then moves to another number
// (or deletes the account), and a newcomer registers the old number
// within the code's life: the old code must not reset the newcomer's
// password.
func testStaleResetCode(t *testing.T, store options) {
	in := start(t, withVars(store, "SMS_HOURLY_LIMIT_PER_IP", "0"))
	for _, leave := range []string{"moves away", "deletes the account"} {
		t.Run(leave, func(t *testing.T) {
			old := account{"13820000001", "old-owner-pass", "old-" + strings.Fields(leave)[0] + "@qq.com"}
			if leave != "moves away" {
				old.phone = "13820000002"
			}
			in.register(t, old.phone, old.password, old.email)
			s := in.loginAs(t, old)
			in.clock.Advance(61 * time.Second)
			in.expect(t, pathResetStep1, m{"phone_number": old.phone}, 200, sent)
			stale := in.code(t, e164(old.phone))
			if leave == "moves away" {
				in.changePhone(t, s.Token, old.password, "13820000009")
			} else {
				in.deleteAccount(t, s.Token, old.password)
			}
			in.clock.Advance(61 * time.Second)
			newcomer := account{old.phone, "newcomer-pass-1", "new-" + strings.Fields(leave)[0] + "@qq.com"}
			in.register(t, newcomer.phone, newcomer.password, newcomer.email)
			in.clock.Advance(time.Minute) // still within the stale code's five minutes
			got := in.post(t, pathResetStep2, m{"phone_number": newcomer.phone, "validate_number": stale, "password": "hijacked-pass", "password_confirm": "hijacked-pass"})
			if got.Code == 1 {
				t.Fatalf("the old owner's reset code reset the newcomer's password: %s", got.Raw)
			}
			wantCodeRefused(t, "the old owner's reset code", got)
			in.loginAs(t, newcomer)
		})
	}
}

// testSendLimitsShared: the cooldown and the daily cap of a number count
// every purpose's sends; a phone-change send counts against the current
// number's cap too.
func testSendLimitsShared(t *testing.T, store options) {
	in := start(t, withVars(store, "SMS_HOURLY_LIMIT_PER_IP", "0", "SMS_DAILY_LIMIT_PER_PHONE", "3"))
	// limited fails t unless got is a 429 rate_limited whose wait is
	// longer than min: a minute's cooldown, or a day's cap.
	limited := func(what string, got answer, min int64) {
		t.Helper()
		if got.Status != 429 || got.Error != "rate_limited" || got.RetryAfter <= min {
			t.Fatalf("%s: %d %s, want 429 rate_limited with retry_after over %d", what, got.Status, got.Raw, min)
		}
	}
	const cooldown, cap = 0, 3600
	// A registration's send starts the cooldown a reset meets: the
	// number registers within the minute.
	a := account{"13830000001", "limits-pass-a", "la@qq.com"}
	in.register(t, a.phone, a.password, a.email) // A: 1 send
	limited("a reset send in the cooldown of a registration's", in.post(t, pathResetStep1, m{"phone_number": a.phone}), cooldown)
	in.clock.Advance(61 * time.Second)
	in.expect(t, pathResetStep1, m{"phone_number": a.phone}, 200, sent) // A: 2
	sa := in.loginAs(t, a)
	b := account{"13830000002", "limits-pass-b", "lb@qq.com"}
	in.register(t, b.phone, b.password, b.email)
	sb := in.loginAs(t, b)

	// A registration's send to X starts the cooldown A's phone change
	// meets, and the other way round for Y.
	const x, y, z = "13830000011", "13830000012", "13830000013"
	in.expect(t, "/client/register-step-1", m{"phone_number": x}, 200, sent) // X: 1
	limited("a phone-change send in the cooldown of a registration's", in.authed(t, pathChangePhone1, sa.Token, with(in.proof(a.password), "new_phone_number", x)), cooldown)
	in.expectAuthed(t, pathChangePhone1, sa.Token, with(in.proof(a.password), "new_phone_number", y), 200, sent) // Y: 1, A: 3
	limited("a registration's send in the cooldown of a phone change's", in.post(t, "/client/register-step-1", m{"phone_number": y}), cooldown)

	// The daily cap of 3 counts every purpose: X has had a registration's
	// code, then two of B's phone changes; a fourth send is refused.
	in.clock.Advance(61 * time.Second)
	in.expectAuthed(t, pathChangePhone1, sb.Token, with(in.proof(b.password), "new_phone_number", x), 200, sent) // X: 2
	in.clock.Advance(61 * time.Second)
	in.expectAuthed(t, pathChangePhone1, sb.Token, with(in.proof(b.password), "new_phone_number", x), 200, sent) // X: 3
	in.clock.Advance(61 * time.Second)
	limited("a registration's send past a cap that phone changes spent", in.post(t, "/client/register-step-1", m{"phone_number": x}), cap)

	// A's own number: its registration, its reset, and the phone change
	// to Y, which counts against the current number too, spend its cap.
	limited("a reset send past a cap spent in part by a phone change", in.post(t, pathResetStep1, m{"phone_number": a.phone}), cap)
	limited("a phone change past the current number's cap", in.authed(t, pathChangePhone1, sa.Token, with(in.proof(a.password), "new_phone_number", z)), cap)
	in.clock.Advance(24 * time.Hour)
	in.expect(t, pathResetStep1, m{"phone_number": a.phone}, 200, sent)
}

// testWrongCodesCountAcrossPurposes: wrong codes of every purpose count
// toward the client network's failures, and toward the number's daily
// wrong codes.
func testWrongCodesCountAcrossPurposes(t *testing.T, store options) {
	t.Run("per network", func(t *testing.T) {
		in := start(t, limitOptions(store, map[string]string{"FAILURES_HOURLY_PER_IP": "3", "SMS_HOURLY_LIMIT_PER_IP": "0"}))
		a := account{"13840000001", "wrong-codes-a", "wa@qq.com"}
		in.register(t, a.phone, a.password, a.email)
		s := in.loginAs(t, a)
		const x = "13840000011"
		const guesser = "203.0.113.50"
		in.expectFrom(t, "192.0.2.1", "/client/register-step-1", m{"phone_number": x}, 200, sent)
		in.clock.Advance(61 * time.Second)
		in.expectFrom(t, "192.0.2.1", pathResetStep1, m{"phone_number": a.phone}, 200, sent)
		in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", "13840000012"), 200, sent, "X-Forwarded-For", "192.0.2.1")
		cR, cS, cC := in.code(t, e164(x)), in.code(t, e164(a.phone)), in.code(t, e164("13840000012"))

		wantCodeRefused(t, "wrong registration code", in.from(t, guesser, "/client/register-step-2", m{"phone_number": x, "validate_number": otherThan(cR)}))
		wantCodeRefused(t, "wrong reset code", in.from(t, guesser, pathResetStep2, m{"phone_number": a.phone, "validate_number": otherThan(cS), "password": "guessed-pass", "password_confirm": "guessed-pass"}))
		wantCodeRefused(t, "wrong phone-change code", in.authed(t, pathChangePhone2, s.Token, m{"new_phone_number": "13840000012", "validate_number": otherThan(cC)}, "X-Forwarded-For", guesser))
		// Past the limit every code check of the network answers 429, the
		// right code too, before anything is looked up.
		for _, c := range []struct {
			what string
			a    answer
		}{
			{"registration", in.from(t, guesser, "/client/register-step-2", m{"phone_number": x, "validate_number": cR})},
			{"reset", in.from(t, guesser, pathResetStep2, m{"phone_number": a.phone, "validate_number": cS, "password": "guessed-pass", "password_confirm": "guessed-pass"})},
			{"phone change", in.authed(t, pathChangePhone2, s.Token, m{"new_phone_number": "13840000012", "validate_number": cC}, "X-Forwarded-For", guesser)},
		} {
			if c.a.Status != 429 || c.a.Error != "rate_limited" || c.a.RetryAfter < 1 {
				t.Errorf("%s with the right code from a network past its failures: %d %s", c.what, c.a.Status, c.a.Raw)
			}
		}
		// The owner, from another network, is not stopped.
		in.expectFrom(t, "192.0.2.1", pathResetStep2, m{"phone_number": a.phone, "validate_number": cS, "password": "owner-new-pass", "password_confirm": "owner-new-pass"}, 200, resetDoneAnswer)
	})

	t.Run("per number", func(t *testing.T) {
		in := start(t, limitOptions(store, map[string]string{"CODE_DAILY_FAILURES_PER_PHONE": "3", "SMS_HOURLY_LIMIT_PER_IP": "0"}))
		a := account{"13840000101", "wrong-codes-b", "wb@qq.com"}
		in.register(t, a.phone, a.password, a.email)
		s := in.loginAs(t, a)
		const x = "13840000111"
		// X is pending a registration and A's phone change.
		in.expect(t, "/client/register-step-1", m{"phone_number": x}, 200, sent)
		cR := in.code(t, e164(x))
		in.clock.Advance(61 * time.Second)
		in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", x), 200, sent)
		cC := in.code(t, e164(x))
		// Three wrong codes for X, from three networks, two purposes.
		wantCodeRefused(t, "wrong registration code", in.from(t, "198.18.0.1", "/client/register-step-2", m{"phone_number": x, "validate_number": otherThan(cR, cC)}))
		wantCodeRefused(t, "wrong phone-change code", in.authed(t, pathChangePhone2, s.Token, m{"new_phone_number": x, "validate_number": otherThan(cR, cC)}, "X-Forwarded-For", "198.18.0.2"))
		wantCodeRefused(t, "wrong registration code", in.from(t, "198.18.0.3", "/client/register-step-2", m{"phone_number": x, "validate_number": otherThan(cR, cC)}))
		// Every code of X is dead for the day, the right ones too.
		in.expectAuthed(t, pathChangePhone2, s.Token, m{"new_phone_number": x, "validate_number": cC}, 200, tooManyAnswer)
		in.expect(t, "/client/register-step-2", m{"phone_number": x, "validate_number": cR}, 200, tooManyAnswer)
		in.wantAccountIs(t, s.Token, a)

		// And for a registered number: wrong reset codes from rotating
		// networks kill its reset codes for the day.
		in.expect(t, pathResetStep1, m{"phone_number": a.phone}, 200, sent)
		cS := in.code(t, e164(a.phone))
		for i := range 3 {
			wantCodeRefused(t, "wrong reset code", in.from(t, "198.19.0."+strconv.Itoa(i), pathResetStep2, m{"phone_number": a.phone, "validate_number": otherThan(cS), "password": "guessed-pass", "password_confirm": "guessed-pass"}))
		}
		in.expect(t, pathResetStep2, m{"phone_number": a.phone, "validate_number": cS, "password": "owner-new-pass", "password_confirm": "owner-new-pass"}, 200, tooManyAnswer)
		in.loginAs(t, a)
	})
}

// testEnumerationAnswersCount: `no_such_user` and `phone_taken` tell
// whether a number is registered, so they count as the network's
// failures; past the limit the network hears 429 wherever such an answer
// could come, before any lookup.
func testEnumerationAnswersCount(t *testing.T, store options) {
	in := start(t, limitOptions(store, map[string]string{"FAILURES_HOURLY_PER_IP": "3", "SMS_HOURLY_LIMIT_PER_IP": "0"}))
	a := account{"13850000001", "enumerate-pass-a", "ea@qq.com"}
	b := account{"13850000002", "enumerate-pass-b", "eb@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	in.register(t, b.phone, b.password, b.email)
	s := in.loginAs(t, a)
	const lister = "203.0.113.77"
	in.expectFrom(t, lister, pathResetStep1, m{"phone_number": "13850000099"}, 200, noSuchUserAnswer)
	in.expectFrom(t, lister, pathResetStep1, m{"phone_number": "13850000098"}, 200, noSuchUserAnswer)
	if got := in.authed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", b.phone), "X-Forwarded-For", lister); got.Raw != phoneTakenAnswer {
		t.Fatalf("change-phone-step-1 to a taken number: %s", got.Raw)
	}
	for _, c := range []struct {
		what string
		a    answer
	}{
		{"reset step 1, a registered number", in.from(t, lister, pathResetStep1, m{"phone_number": b.phone})},
		{"reset step 1, a free number", in.from(t, lister, pathResetStep1, m{"phone_number": "13850000097"})},
		{"phone change to a taken number", in.authed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", b.phone), "X-Forwarded-For", lister)},
		{"phone change to a free number", in.authed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", "13850000096"), "X-Forwarded-For", lister)},
		{"login", in.from(t, lister, "/client/login", loginBody("13850000095", "x-password", nextRandom(), in.clock.Now().Unix()))},
	} {
		if c.a.Status != 429 || c.a.Error != "rate_limited" || c.a.RetryAfter < 1 {
			t.Errorf("%s from a network past its failures: %d %s", c.what, c.a.Status, c.a.Raw)
		}
	}
	// Another network is not stopped.
	in.expectFrom(t, "198.51.100.7", pathResetStep1, m{"phone_number": "13850000097"}, 200, noSuchUserAnswer)
	in.clock.Advance(time.Hour)
	in.expectFrom(t, lister, pathResetStep1, m{"phone_number": "13850000097"}, 200, noSuchUserAnswer)
}

// testStolenTokenAlone: a thief with an access token, but not the
// password, cannot change the password or the number, nor delete the
// account; a proof of the thief's own password does not help.
func testStolenTokenAlone(t *testing.T, store options) {
	in := start(t, store)
	victim := account{"13860000001", "victim-pass-1", "victim@qq.com"}
	thief := account{"13860000002", "thief-pass-1", "thief@qq.com"}
	in.register(t, victim.phone, victim.password, victim.email)
	in.register(t, thief.phone, thief.password, thief.email)
	stolen := in.loginAs(t, victim).Token
	sends := in.sms.Sends()
	const x = "13860000011"

	for _, guess := range []string{thief.password, "123456789", ""} {
		in.expectAuthed(t, pathChangePassword, stolen, with(in.proof(guess), "password", "thief-set-1", "password_confirm", "thief-set-1"), 200, wrongPasswordAnswer)
		in.expectAuthed(t, pathChangePhone1, stolen, with(in.proof(guess), "new_phone_number", x), 200, wrongPasswordAnswer)
		in.expectAuthed(t, pathDeleteAccount, stolen, in.proof(guess), 200, wrongPasswordAnswer)
		in.clock.Advance(15 * time.Minute) // keep the lock out of it: each round is three wrong proofs
	}
	// Without a proof at all.
	in.expectAuthed(t, pathChangePassword, stolen, m{"password": "thief-set-1", "password_confirm": "thief-set-1"}, 400, badRequestAnswer)
	in.expectAuthed(t, pathChangePhone1, stolen, m{"new_phone_number": x}, 400, badRequestAnswer)
	in.expectAuthed(t, pathDeleteAccount, stolen, m{}, 400, badRequestAnswer)
	// Step 2 without a step 1, with every code the thief could try first.
	for _, c := range []string{"000000", "123456"} {
		wantCodeRefused(t, "step 2 without step 1", in.authed(t, pathChangePhone2, stolen, m{"new_phone_number": x, "validate_number": c}))
	}
	// The thief's own number, with the thief's own proof, in the body:
	// the token's account is the one judged.
	in.expectAuthed(t, pathChangePassword, stolen, with(in.proof(thief.password), "phone_number", thief.phone, "password", "thief-set-1", "password_confirm", "thief-set-1"), 200, wrongPasswordAnswer)

	if in.sms.Sends() != sends {
		t.Fatal("the thief had a code sent")
	}
	in.wantAccountIs(t, stolen, victim)
	in.loginAs(t, victim)
	in.loginAs(t, thief)
}

// testProofReplayAcrossEndpoints: login, change-password, change-phone
// step 1 and delete-account share one single-use memory of proofs.
func testProofReplayAcrossEndpoints(t *testing.T, store options) {
	in := start(t, withVars(store, "SMS_HOURLY_LIMIT_PER_IP", "0"))
	a := account{"13870000001", "replay-pass-1", "replay@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	s := in.loginAs(t, a)
	now := in.clock.Now().Unix()

	// A login's triple, accepted by login, is refused everywhere else.
	used := loginBody(a.phone, a.password, "replay-1", now)
	if l := in.post(t, "/client/login", used); l.Code != 1 {
		t.Fatalf("login: %s", l.Raw)
	}
	triple := with(used, "phone_number", nil)
	in.expectAuthed(t, pathChangePassword, s.Token, with(triple, "password", "replay-next-1", "password_confirm", "replay-next-1"), 200, replayedAnswer)
	in.expectAuthed(t, pathChangePhone1, s.Token, with(triple, "new_phone_number", "13870000011"), 200, replayedAnswer)
	in.expectAuthed(t, pathDeleteAccount, s.Token, triple, 200, replayedAnswer)

	// A change-phone step 1's triple, accepted, is refused by login,
	// change-password and delete-account.
	p1 := proofAt(a.password, "replay-2", now)
	in.expectAuthed(t, pathChangePhone1, s.Token, with(p1, "new_phone_number", "13870000011"), 200, sent)
	in.expect(t, "/client/login", with(p1, "phone_number", a.phone), 200, replayedAnswer)
	in.expectAuthed(t, pathChangePassword, s.Token, with(p1, "password", "replay-next-1", "password_confirm", "replay-next-1"), 200, replayedAnswer)
	in.expectAuthed(t, pathDeleteAccount, s.Token, p1, 200, replayedAnswer)

	// A change-password proof, accepted, opens no session at login (it
	// proves the old password, and it is spent).
	p2 := proofAt(a.password, "replay-3", now)
	fresh := in.authed(t, pathChangePassword, s.Token, with(p2, "password", "replay-next-1", "password_confirm", "replay-next-1"))
	wantPair(t, "change-password", fresh, passwordChangedMessage)
	if l := in.post(t, "/client/login", with(p2, "phone_number", a.phone)); l.Code != 0 {
		t.Fatalf("a change-password triple at login: %s", l.Raw)
	}
	a.password = "replay-next-1"

	// A triple accepted before a phone change is refused at the new
	// number: the proof's hash binds no number.
	p4 := proofAt(a.password, "replay-5", now)
	if l := in.post(t, "/client/login", with(p4, "phone_number", a.phone)); l.Code != 1 {
		t.Fatalf("login: %s", l.Raw)
	}
	moved := in.changePhone(t, fresh.Token, a.password, "13870000013")
	in.expect(t, "/client/login", with(p4, "phone_number", "13870000013"), 200, replayedAnswer)
	in.expectAuthed(t, pathDeleteAccount, moved.Token, p4, 200, replayedAnswer)
	// The hex is compared without regard to case: in capitals it is the
	// same proof.
	in.expectAuthed(t, pathDeleteAccount, moved.Token, with(p4, "encryption_str", strings.ToUpper(p4["encryption_str"].(string))), 200, replayedAnswer)

	// A delete-account triple, accepted, is refused by login at once.
	p3 := proofAt(a.password, "replay-4", now)
	in.expectAuthed(t, pathDeleteAccount, moved.Token, p3, 200, deletedAnswer)
	in.expect(t, "/client/login", with(p3, "phone_number", "13870000013"), 200, noSuchUserAnswer)
}

// testDeleteProofAfterReRegistration: someone who saw a delete-account
// request replays its proof at login once the owner has registered the
// number again with the same password, within the time window. The
// triple was accepted once; it must not open a session now.
func testDeleteProofAfterReRegistration(t *testing.T, store options) {
	in := start(t, store)
	a := account{"13870000201", "replay-pass-2", "rereg@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	s := in.loginAs(t, a)
	p := proofAt(a.password, "replay-rereg", in.clock.Now().Unix())
	in.expectAuthed(t, pathDeleteAccount, s.Token, p, 200, deletedAnswer)
	in.clock.Advance(61 * time.Second)
	in.register(t, a.phone, a.password, "rereg-again@qq.com")
	in.expect(t, "/client/login", with(p, "phone_number", a.phone), 200, replayedAnswer)
}

// testStaleProofs: a proof outside the time window is refused on every
// endpoint that takes one, and changes nothing.
func testStaleProofs(t *testing.T, store options) {
	in := start(t, store)
	a := account{"13870000101", "stale-pass-1", "stale@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	s := in.loginAs(t, a)
	for _, skew := range []time.Duration{-301 * time.Second, 301 * time.Second, -24 * time.Hour} {
		ts := in.clock.Now().Add(skew).Unix()
		in.expectAuthed(t, pathChangePassword, s.Token, with(proofAt(a.password, nextRandom(), ts), "password", "stale-next-1", "password_confirm", "stale-next-1"), 200, staleAnswer)
		in.expectAuthed(t, pathChangePhone1, s.Token, with(proofAt(a.password, nextRandom(), ts), "new_phone_number", "13870000111"), 200, staleAnswer)
		in.expectAuthed(t, pathDeleteAccount, s.Token, proofAt(a.password, nextRandom(), ts), 200, staleAnswer)
	}
	// At the window's edge the proof is still good.
	edge := in.clock.Now().Add(-299 * time.Second).Unix() // time stamps are whole seconds
	in.expectAuthed(t, pathChangePhone1, s.Token, with(proofAt(a.password, nextRandom(), edge), "new_phone_number", "13870000111"), 200, sent)
	in.wantAccountIs(t, s.Token, a)
	in.loginAs(t, a)
}

// testLockoutSharedWithLogin: wrong proofs on the account endpoints
// count toward the login lock; the lock holds on all of them; a password
// reset lifts it.
func testLockoutSharedWithLogin(t *testing.T, store options) {
	in := start(t, store)
	a := account{"13880000001", "lock-pass-1", "lock@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	s := in.loginAs(t, a)
	locked := func(what string, got answer) {
		t.Helper()
		if got.Status != 429 || got.Error != "account_locked" || got.RetryAfter < 1 || got.RetryAfter > 900 {
			t.Fatalf("%s while locked: %d %s", what, got.Status, got.Raw)
		}
	}
	// Five wrong proofs on change-password lock login.
	for range 5 {
		in.expectAuthed(t, pathChangePassword, s.Token, with(in.proof("guess-pass-1"), "password", "lock-next-1", "password_confirm", "lock-next-1"), 200, wrongPasswordAnswer)
	}
	locked("login with the right password", in.login(t, a.phone, a.password))
	locked("change-password with the right proof", in.authed(t, pathChangePassword, s.Token, with(in.proof(a.password), "password", "lock-next-1", "password_confirm", "lock-next-1")))
	locked("change-phone-step-1 with the right proof", in.authed(t, pathChangePhone1, s.Token, with(in.proof(a.password), "new_phone_number", "13880000011")))
	locked("delete-account with the right proof", in.authed(t, pathDeleteAccount, s.Token, in.proof(a.password)))

	// A reset lifts the lock at once.
	in.clock.Advance(61 * time.Second) // past the registration code's cooldown, well within the lock
	in.resetPassword(t, a.phone, "lock-reset-1")
	a.password = "lock-reset-1"
	s = in.loginAs(t, a)

	// Wrong proofs spread over the endpoints and login count together.
	in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof("guess-pass-2"), "new_phone_number", "13880000011"), 200, wrongPasswordAnswer)
	in.expectAuthed(t, pathDeleteAccount, s.Token, in.proof("guess-pass-2"), 200, wrongPasswordAnswer)
	in.expectAuthed(t, pathChangePassword, s.Token, with(in.proof("guess-pass-2"), "password", "lock-next-1", "password_confirm", "lock-next-1"), 200, wrongPasswordAnswer)
	in.expect(t, "/client/login", loginBody(a.phone, "guess-pass-2", nextRandom(), in.clock.Now().Unix()), 200, wrongPasswordAnswer)
	in.expectAuthed(t, pathDeleteAccount, s.Token, in.proof("guess-pass-3"), 200, wrongPasswordAnswer)
	locked("delete-account after five wrong proofs on four endpoints", in.authed(t, pathDeleteAccount, s.Token, in.proof(a.password)))
	locked("login", in.login(t, a.phone, a.password))
	in.clock.Advance(15 * time.Minute)
	in.loginAs(t, a)
	in.wantAccountIs(t, s.Token, a)
}

// testParallelResetStep2: 20 reset step 2s with the right code at once,
// each setting its own password: exactly one succeeds, and its password
// is the account's.
func testParallelResetStep2(t *testing.T, store options) {
	in := start(t, withVars(store, "LOGIN_MAX_FAILURES", "100", "FAILURES_HOURLY_PER_IP", "0"))
	t.Cleanup(client.CloseIdleConnections)
	a := account{"13890000001", "race-reset-0", "racereset@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	in.clock.Advance(61 * time.Second)
	in.expect(t, pathResetStep1, m{"phone_number": a.phone}, 200, sent)
	code := in.code(t, e164(a.phone))
	const n = 20
	pw := func(i int) string { return fmt.Sprintf("race-reset-%02d", i+1) }
	stop := ticking(in.clock)
	answers := parallel(n, func(i int) answer {
		return in.post(t, pathResetStep2, m{"phone_number": a.phone, "validate_number": code, "password": pw(i), "password_confirm": pw(i)})
	})
	stop()
	winner := -1
	for i, got := range answers {
		switch {
		case got.Raw == resetDoneAnswer:
			if winner >= 0 {
				t.Fatalf("two resets succeeded with one code: %d and %d", winner, i)
			}
			winner = i
		default:
			wantCodeRefused(t, "a losing reset", got)
		}
	}
	if winner < 0 {
		t.Fatal("no reset succeeded")
	}
	a.password = pw(winner)
	in.loginAs(t, a)
	for i := range n {
		if i != winner {
			if l := in.login(t, a.phone, pw(i)); l.Code != 0 {
				t.Fatalf("a losing reset's password logs in: %s", l.Raw)
			}
		}
	}
}

// testRaceForOneNumber: six accounts, each holding a right code for one
// new number, move to it at once: exactly one owns it, the others hear
// phone_taken and keep their numbers.
func testRaceForOneNumber(t *testing.T, store options) {
	in := start(t, withVars(store, "SMS_HOURLY_LIMIT_PER_IP", "0", "SMS_DAILY_LIMIT_PER_PHONE", "0", "SMS_RESEND_INTERVAL", "1s"))
	t.Cleanup(client.CloseIdleConnections)
	const x, n = "13890000100", 6
	accounts := make([]account, n)
	sessions := make([]answer, n)
	codes := make([]string, n)
	for i := range accounts {
		accounts[i] = account{fmt.Sprintf("138900001%02d", i+1), "race-phone-pass", fmt.Sprintf("race%d@qq.com", i)}
		in.register(t, accounts[i].phone, accounts[i].password, accounts[i].email)
		sessions[i] = in.loginAs(t, accounts[i])
	}
	for i := range accounts {
		in.clock.Advance(2 * time.Second)
		in.expectAuthed(t, pathChangePhone1, sessions[i].Token, with(in.proof(accounts[i].password), "new_phone_number", x), 200, sent)
		codes[i] = in.code(t, e164(x))
	}
	stop := ticking(in.clock)
	answers := parallel(n, func(i int) answer {
		return in.authed(t, pathChangePhone2, sessions[i].Token, m{"new_phone_number": x, "validate_number": codes[i]})
	})
	stop()
	winner := -1
	for i, got := range answers {
		switch {
		case got.Code == 1:
			if winner >= 0 {
				t.Fatalf("two accounts moved to one number: %d and %d", winner, i)
			}
			wantPair(t, "the winner", got, phoneChangedMessage)
			winner = i
		case got.Raw == phoneTakenAnswer:
		default:
			t.Fatalf("a racer: %d %s", got.Status, got.Raw)
		}
	}
	if winner < 0 {
		t.Fatal("no account moved")
	}
	in.loginAs(t, account{x, accounts[winner].password, accounts[winner].email})
	in.wantAccountIs(t, answers[winner].Token, account{x, "", accounts[winner].email})
	for i, acc := range accounts {
		if i == winner {
			in.expect(t, "/client/login", loginBody(acc.phone, acc.password, nextRandom(), in.clock.Now().Unix()), 200, noSuchUserAnswer)
			continue
		}
		in.loginAs(t, acc)
		in.wantAccountIs(t, sessions[i].Token, acc)
	}
}

// testRegistrationRacingPhoneChange: a registration's step 4 and a phone
// change's step 2, for one number, at once, over several rounds: exactly
// one account holds the number each time.
func testRegistrationRacingPhoneChange(t *testing.T, store options) {
	in := start(t, withVars(store, "SMS_HOURLY_LIMIT_PER_IP", "0"))
	t.Cleanup(client.CloseIdleConnections)
	const rounds = 6
	outcomes := map[string]int{}
	for r := range rounds {
		mover := account{fmt.Sprintf("138910000%02d", r), "mover-pass-1", fmt.Sprintf("mover%d@qq.com", r)}
		x := fmt.Sprintf("138910001%02d", r)
		in.register(t, mover.phone, mover.password, mover.email)
		s := in.loginAs(t, mover)
		in.expect(t, "/client/register-step-1", m{"phone_number": x}, 200, sent)
		token := in.verify(t, x, in.code(t, e164(x)))
		in.expect(t, "/client/register-step-3", with(step3("newcomer-pass-1", token), "phone_number", x), 200, `{"code":1,"message":"提交密码成功"}`)
		in.clock.Advance(61 * time.Second)
		in.expectAuthed(t, pathChangePhone1, s.Token, with(in.proof(mover.password), "new_phone_number", x), 200, sent)
		code := in.code(t, e164(x))
		newcomerEmail := fmt.Sprintf("newcomer%d@qq.com", r)
		stop := ticking(in.clock)
		// Step 4 does less work than a move, so it would win every round:
		// in round r it first makes 3r round trips to /healthz, which
		// shifts it across the move's work as the rounds go.
		answers := parallel(2, func(i int) answer {
			if i == 0 {
				for range 3 * r {
					in.get(t, "/healthz")
				}
				return in.post(t, "/client/register-step-4", with(step4(newcomerEmail, token), "phone_number", x))
			}
			return in.authed(t, pathChangePhone2, s.Token, m{"new_phone_number": x, "validate_number": code})
		})
		stop()
		reg, mv := answers[0], answers[1]
		switch {
		case reg.Raw == `{"code":1,"message":"注册成功"}` && mv.Raw == phoneTakenAnswer:
			outcomes["registration"]++
			in.loginAs(t, account{x, "newcomer-pass-1", newcomerEmail})
			in.loginAs(t, mover)
		case reg.Raw == `{"code":0,"message":"注册失败","error":"user_exists"}` && mv.Code == 1:
			outcomes["phone change"]++
			wantPair(t, "the phone change", mv, phoneChangedMessage)
			in.loginAs(t, account{x, mover.password, mover.email})
			in.expect(t, "/client/login", loginBody(mover.phone, mover.password, nextRandom(), in.clock.Now().Unix()), 200, noSuchUserAnswer)
		default:
			t.Fatalf("round %d: step 4 %d %s; change-phone-step-2 %d %s", r, reg.Status, reg.Raw, mv.Status, mv.Raw)
		}
	}
	t.Logf("winners over %d rounds: %v", rounds, outcomes)
}

// testParallelChangePassword: eight password changes with one token at
// once, each with its own proof and new password. The account ends with
// exactly one of the new passwords; every success's pair whose password
// lost is refused; the winner's works.
func testParallelChangePassword(t *testing.T, store options) {
	in := start(t, withVars(store, "LOGIN_MAX_FAILURES", "100"))
	t.Cleanup(client.CloseIdleConnections)
	a := account{"13892000001", "parallel-pass-0", "parallel@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	s := in.loginAs(t, a)
	const n = 8
	pw := func(i int) string { return fmt.Sprintf("parallel-pass-%d", i+1) }
	bodies := make([]m, n)
	for i := range bodies {
		bodies[i] = with(in.proof(a.password), "password", pw(i), "password_confirm", pw(i))
	}
	stop := ticking(in.clock)
	answers := parallel(n, func(i int) answer { return in.authed(t, pathChangePassword, s.Token, bodies[i]) })
	stop()
	var won []int
	for i, got := range answers {
		switch {
		case got.Code == 1:
			wantPair(t, "a change", got, passwordChangedMessage)
			won = append(won, i)
		case got.Status == 401 && got.Raw == unauthorizedAnswer, got.Raw == wrongPasswordAnswer:
		default:
			t.Fatalf("a parallel change: %d %s", got.Status, got.Raw)
		}
	}
	if len(won) == 0 {
		t.Fatal("no change succeeded")
	}
	current := -1
	for i := range n {
		if l := in.login(t, a.phone, pw(i)); l.Code == 1 {
			if current >= 0 {
				t.Fatalf("two new passwords log in: %d and %d", current, i)
			}
			current = i
		}
	}
	if current < 0 || answers[current].Code != 1 {
		t.Fatalf("the password that logs in (%d) is not one a success answered for (%v)", current, won)
	}
	if l := in.login(t, a.phone, a.password); l.Code != 0 {
		t.Fatalf("the old password logs in: %s", l.Raw)
	}
	for _, i := range won {
		if i == current {
			in.wantAccountIs(t, answers[i].Token, a)
			continue
		}
		in.wantSessionEnded(t, fmt.Sprintf("success %d, whose password lost", i), answers[i])
	}
	in.wantSessionEnded(t, "the session that changed it", s)
	t.Logf("%d of %d parallel changes succeeded", len(won), n)
}

// testHostileAccountBodies: every new endpoint refuses operator objects,
// wrong types, oversized and compressed bodies, and ignores fields it
// does not take; none of it changes anything.
func testHostileAccountBodies(t *testing.T, store options) {
	in := start(t, store)
	t.Cleanup(client.CloseIdleConnections)
	a := account{"13893000001", "hostile-pass-1", "hostile@qq.com"}
	victim := account{"13893000002", "victim-pass-2", "victim2@qq.com"}
	in.register(t, a.phone, a.password, a.email)
	in.register(t, victim.phone, victim.password, victim.email)
	s := in.loginAs(t, a)
	sends := in.sms.Sends()
	pad := strings.Repeat("x", 17<<10)
	ne := `{"$ne":null}`
	p := in.proof(a.password)
	proofFields := `"encryption_str":"` + p["encryption_str"].(string) + `","random_str":"` + p["random_str"].(string) + `","time_stamp":"` + p["time_stamp"].(string) + `"`
	every := `{"phone_number":` + ne + `,"validate_number":` + ne + `,"password":` + ne + `,"password_confirm":` + ne + `,"new_phone_number":` + ne + `,"encryption_str":` + ne + `,"random_str":` + ne + `,"time_stamp":` + ne + `}`
	type probe struct {
		path, body string
		hdr        []string
		status     int
		raw        string
	}
	gz := []string{"Content-Encoding", "gzip"}
	var probes []probe
	for _, path := range []string{pathResetStep1, pathResetStep2, pathChangePassword, pathChangePhone1, pathChangePhone2, pathDeleteAccount} {
		probes = append(probes,
			probe{path, every, nil, 400, badRequestAnswer},
			probe{path, `not json`, nil, 400, badRequestAnswer},
			probe{path, `[]`, nil, 400, badRequestAnswer},
			probe{path, `{"pad":"` + pad + `"}`, nil, 413, tooLargeAnswer},
			probe{path, gzipped(t, `{"phone_number":"`+a.phone+`"}`), gz, 415, encodedAnswer},
		)
	}
	probes = append(probes,
		// An operator object or a wrong type in one field at a time.
		probe{pathResetStep1, `{"phone_number":` + ne + `}`, nil, 400, badRequestAnswer},
		probe{pathResetStep1, `{"phone_number":13893000001}`, nil, 400, badRequestAnswer},
		probe{pathResetStep1, `{"phone_number":["13893000001"]}`, nil, 400, badRequestAnswer},
		probe{pathResetStep2, `{"phone_number":"13893000001","validate_number":` + ne + `,"password":"hostile-next","password_confirm":"hostile-next"}`, nil, 400, badRequestAnswer},
		probe{pathResetStep2, `{"phone_number":"13893000001","validate_number":123456,"password":"hostile-next","password_confirm":"hostile-next"}`, nil, 400, badRequestAnswer},
		probe{pathResetStep2, `{"phone_number":"13893000001","validate_number":"123456","password":{"$gt":""},"password_confirm":{"$gt":""}}`, nil, 400, badRequestAnswer},
		probe{pathChangePassword, `{` + proofFields + `,"password":true,"password_confirm":true}`, nil, 400, badRequestAnswer},
		probe{pathChangePassword, `{"encryption_str":` + ne + `,"random_str":"r","time_stamp":"1","password":"hostile-next","password_confirm":"hostile-next"}`, nil, 400, badRequestAnswer},
		probe{pathChangePassword, `{` + strings.Replace(proofFields, `"time_stamp":"`, `"time_stamp":{"$gt":"`, 1) + `},"password":"hostile-next","password_confirm":"hostile-next"}`, nil, 400, badRequestAnswer},
		probe{pathChangePhone1, `{` + proofFields + `,"new_phone_number":` + ne + `}`, nil, 400, badRequestAnswer},
		probe{pathChangePhone1, `{` + proofFields + `,"new_phone_number":13893000011}`, nil, 400, badRequestAnswer},
		probe{pathChangePhone2, `{"new_phone_number":"13893000011","validate_number":` + ne + `}`, nil, 400, badRequestAnswer},
		probe{pathChangePhone2, `{"new_phone_number":["13893000011"],"validate_number":"123456"}`, nil, 400, badRequestAnswer},
		probe{pathDeleteAccount, `{"encryption_str":` + ne + `,"random_str":` + ne + `,"time_stamp":` + ne + `}`, nil, 400, badRequestAnswer},
		probe{pathDeleteAccount, `{"encryption_str":["x"],"random_str":"r","time_stamp":"1"}`, nil, 400, badRequestAnswer},
		probe{pathDeleteAccount, `{` + proofFields + `,"pad":"` + pad + `"}`, nil, 413, tooLargeAnswer},
		probe{pathDeleteAccount, gzipped(t, `{`+proofFields+`}`), gz, 415, encodedAnswer},
		probe{pathChangePassword, `{` + proofFields + `,"password":"hostile-next","password_confirm":"hostile-next"}`, []string{"Content-Encoding", "deflate"}, 415, encodedAnswer},
	)
	for _, pr := range probes {
		got := in.call(t, http.MethodPost, pr.path, pr.body, append([]string{"Authorization", "Bearer " + s.Token}, pr.hdr...)...)
		if got.Status != pr.status || got.Raw != pr.raw {
			t.Errorf("%s %.70q %q:\n got  %d %s\n want %d %s", pr.path, pr.body, pr.hdr, got.Status, got.Raw, pr.status, pr.raw)
		}
	}
	// The limit counts a body sent without a length as well.
	for _, path := range []string{pathResetStep1, pathChangePassword} {
		if status, raw := in.chunked(t, path, `{"phone_number":"`+a.phone+`","pad":"`+pad+`"}`, "Authorization", "Bearer "+s.Token); status != 413 || raw != tooLargeAnswer {
			t.Errorf("chunked body over the limit to %s: %d %s", path, status, raw)
		}
	}
	// Fields an endpoint does not take are ignored: another account's
	// number, id or email in the body never picks the account.
	in.expectAuthed(t, pathDeleteAccount, s.Token, with(in.proof("guess-pass-9"), "phone_number", victim.phone, "user_id", "x", "email", victim.email), 200, wrongPasswordAnswer)
	wantCodeRefused(t, "step 2 naming the victim", in.authed(t, pathChangePhone2, s.Token, m{"new_phone_number": "13893000011", "validate_number": "123456", "phone_number": victim.phone}))

	if in.sms.Sends() != sends {
		t.Fatal("hostile bodies sent an SMS")
	}
	// Nothing changed: the session lives, both accounts log in as they
	// were, and the proof the probes carried is unspent.
	in.wantAccountIs(t, s.Token, a)
	in.loginAs(t, a)
	in.loginAs(t, victim)
	fresh := in.authed(t, pathChangePassword, s.Token, with(p, "password", "hostile-next-1", "password_confirm", "hostile-next-1"))
	wantPair(t, "change-password with the probes' proof", fresh, passwordChangedMessage)
}
