package application_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
)

// member creates an account with a password (sealed by the fake vault)
// and returns it with the principal of a session it just opened.
func member(t *testing.T, f *apptest.Fakes, id, ph, password string) application.Principal {
	t.Helper()
	p := domain.MustParsePhoneNumber(ph)
	sealed, _ := apptest.Vault{}.Seal(p, password)
	e, err := domain.ParseEmail(id + "@qq.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Users.Create(ctx, domain.NewUser(id, p, e, sealed, t0)); err != nil {
		t.Fatal(err)
	}
	return principal(t, f, logIn(t, f, id).Token)
}

func principal(t *testing.T, f *apptest.Fakes, token string) application.Principal {
	t.Helper()
	pr, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: token})
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	tokens.Store(pr.Claims.SessionID, token)
	return pr
}

// proof is the login proof of password at the clock's now for the
// account's number.
func proof(f *apptest.Fakes, password, random string) application.Proof {
	ts := strconv.FormatInt(f.Clock.Now().Unix(), 10)
	return application.Proof{EncryptionStr: domain.LoginProof(password, random, ts), RandomStr: random, TimeStamp: ts}
}

func resetSend(f *apptest.Fakes, ph, net string) error {
	return f.App.ResetPasswordSend.Handle(ctx, application.ResetPasswordSend{Phone: ph, ClientNet: net})
}

func reset(f *apptest.Fakes, ph, code, password, net string) error {
	return f.App.ResetPassword.Handle(ctx, application.ResetPassword{Phone: ph, Code: code, Password: password, PasswordConfirm: password, ClientNet: net})
}

func loginWith(f *apptest.Fakes, ph, password, random string) (application.LoginResult, error) {
	in := loginReq(password, random, f.Clock.Now().Unix())
	in.Phone = ph
	return f.App.Login.Handle(ctx, in)
}

func resetKey(ph string) string {
	return domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: domain.MustParsePhoneNumber(ph)}.Key()
}

func changeKey(id string) string {
	return domain.CodeSubject{Purpose: domain.PurposeChangePhone, Account: id}.Key()
}

func isLimited(err error, kind string) bool {
	var rl *application.RateLimitedError
	return errors.As(err, &rl) && rl.Kind == kind
}

func TestResetPasswordSendChecksInOrder(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.FailuresHourlyPerNet = 2
	f := apptest.New(t0, p)
	member(t, f, "u1", phone, "password1")
	member(t, f, "us", "+14155552671", "password1")
	if err := resetSend(f, "12345", "n"); !errors.Is(err, domain.ErrInvalidPhone) {
		t.Fatalf("bad number: %v", err)
	}
	// An unregistered number tells something: a failure of the network.
	if err := resetSend(f, "13900000001", "n"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatalf("unregistered: %v", err)
	}
	// Registered, outside the allow-list: refused after the lookup.
	if err := resetSend(f, "+14155552671", "n"); !errors.Is(err, domain.ErrCountryNotAllowed) {
		t.Fatalf("country: %v", err)
	}
	if err := resetSend(f, phone, "n"); err != nil {
		t.Fatalf("send: %v", err)
	}
	code := f.SMS.Code(e164)
	snap, ok := f.Codes.Snapshot(resetKey(phone))
	if !ok || len(code) != 6 || len(snap.CodeHash) != 32 || string(snap.CodeHash) == code ||
		snap.Subject.Purpose != domain.PurposeResetPassword || snap.Subject.Account != "u1" || !snap.CodeExpiresAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("stored %+v for code %q", snap, code)
	}
	// One more unregistered number spends the network's failures; then
	// the network hears 429 before any lookup, a registered number too.
	if err := resetSend(f, "13900000002", "n"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatalf("second unregistered: %v", err)
	}
	if err := resetSend(f, "13900000003", "n"); !isLimited(err, application.LimitFailuresHourly) {
		t.Fatalf("past the failures: %v", err)
	}
	f.Clock.Advance(time.Minute)
	if err := resetSend(f, phone, "n"); !isLimited(err, application.LimitFailuresHourly) {
		t.Fatalf("past the failures, registered: %v", err)
	}
}

// TestSendLimitsSharedAcrossPurposes: a number's cooldown and daily cap
// are one, whatever its codes are for.
func TestSendLimitsSharedAcrossPurposes(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.DailyLimitPerPhone = 2
	f := apptest.New(t0, p)
	sendCode(t, f, phone) // a registration's code: the cooldown starts
	member(t, f, "u1", phone, "password1")
	if err := resetSend(f, phone, "n"); !isLimited(err, application.LimitCooldown) {
		t.Fatalf("reset within the register send's cooldown: %v", err)
	}
	f.Clock.Advance(time.Minute)
	if err := resetSend(f, phone, "n"); err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
	f.Clock.Advance(time.Minute)
	if err := resetSend(f, phone, "n"); !isLimited(err, application.LimitPhoneDaily) {
		t.Fatalf("third code of the day: %v", err)
	}
}

func TestResetPasswordSendVendorRefusalKillsCode(t *testing.T) {
	f := newFakes(t)
	member(t, f, "u1", phone, "password1")
	f.SMS.Fail = &application.SMSError{Vendor: "v", Kind: application.SMSRefused, Message: "no"}
	var se *application.SMSError
	if err := resetSend(f, phone, "n"); !errors.As(err, &se) {
		t.Fatalf("vendor refusal: %v", err)
	}
	snap, ok := f.Codes.Snapshot(resetKey(phone))
	if !ok || snap.CodeHash != nil {
		t.Fatalf("the unsent code can still verify: %+v", snap)
	}
}

func TestResetPassword(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	if err := reset(f, phone, "123456", "password2", "n"); !errors.Is(err, domain.ErrNoPendingCode) {
		t.Fatalf("nothing sent: %v", err)
	}
	// Five wrong proofs lock the account.
	for i := range 5 {
		if _, err := loginWith(f, phone, "wrong-pass", "w"+strconv.Itoa(i)); !errors.Is(err, domain.ErrWrongPassword) {
			t.Fatalf("wrong %d: %v", i, err)
		}
	}
	if err := resetSend(f, phone, "n"); err != nil {
		t.Fatal(err)
	}
	code := f.SMS.Code(e164)
	// A rejected password is refused before the code is looked at: it
	// uses no try.
	if err := f.App.ResetPassword.Handle(ctx, application.ResetPassword{Phone: phone, Code: "000000", Password: "short", PasswordConfirm: "short"}); !errors.Is(err, domain.ErrPasswordLength) {
		t.Fatalf("short: %v", err)
	}
	if err := f.App.ResetPassword.Handle(ctx, application.ResetPassword{Phone: phone, Code: "000000", Password: "password2", PasswordConfirm: "password3"}); !errors.Is(err, domain.ErrPasswordMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	if snap, _ := f.Codes.Snapshot(resetKey(phone)); snap.Attempts != 0 {
		t.Fatalf("a rejected password used %d tries", snap.Attempts)
	}
	if err := reset(f, phone, "abcdef", "password2", "n"); !errors.Is(err, domain.ErrCodeMismatch) {
		t.Fatalf("wrong code: %v", err)
	}
	if snap, _ := f.Codes.Snapshot(resetKey(phone)); snap.Attempts != 1 {
		t.Fatalf("a wrong code counted %d tries", snap.Attempts)
	}
	if err := reset(f, phone, code, "password2", "n"); err != nil {
		t.Fatalf("reset: %v", err)
	}
	// Every session is revoked; the lock is lifted; the new password
	// logs in and the old one does not.
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: logInToken(pr)}); !errors.Is(err, application.ErrUnauthorized) {
		t.Fatalf("a session from before the reset: %v", err)
	}
	if _, err := loginWith(f, phone, "password1", "old"); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("old password: %v", err)
	}
	if _, err := loginWith(f, phone, "password2", "new"); err != nil {
		t.Fatalf("new password after a locked account's reset: %v", err)
	}
	// A code verifies once.
	if err := reset(f, phone, code, "password3", "n"); !errors.Is(err, domain.ErrCodeExpired) {
		t.Fatalf("the code again: %v", err)
	}
}

// tokens maps a session id to the access token principal authenticated.
var tokens sync.Map

// logInToken is the access token the principal was authenticated with.
func logInToken(p application.Principal) string {
	tok, _ := tokens.Load(p.Claims.SessionID)
	s, _ := tok.(string)
	return s
}

func TestResetPasswordTriesAndExpiry(t *testing.T) {
	f := newFakes(t)
	member(t, f, "u1", phone, "password1")
	if err := resetSend(f, phone, "n"); err != nil {
		t.Fatal(err)
	}
	code := f.SMS.Code(e164)
	for i := range 5 {
		want := domain.ErrCodeMismatch
		if i == 4 {
			want = domain.ErrTooManyAttempts
		}
		if err := reset(f, phone, "x", "password2", strconv.Itoa(i)); !errors.Is(err, want) {
			t.Fatalf("wrong %d: %v", i, err)
		}
	}
	if err := reset(f, phone, code, "password2", "n"); !errors.Is(err, domain.ErrTooManyAttempts) {
		t.Fatalf("right code after five wrong: %v", err)
	}
	f.Clock.Advance(time.Minute)
	if err := resetSend(f, phone, "n"); err != nil {
		t.Fatal(err)
	}
	code = f.SMS.Code(e164)
	f.Clock.Advance(5 * time.Minute)
	if err := reset(f, phone, code, "password2", "n"); !errors.Is(err, domain.ErrNoPendingCode) {
		t.Fatalf("expired code: %v", err)
	}
}

// TestResetPasswordUnknownNumber: a number no account holds has no code
// to check, and answers as a number without a code does, after the same
// failure limits: nothing tells it apart from a registered number.
func TestResetPasswordUnknownNumber(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.FailuresHourlyPerNet = 1
	f := apptest.New(t0, p)
	member(t, f, "u1", phone, "password1")
	for _, ph := range []string{"13900000001", phone} {
		if err := reset(f, ph, "123456", "password2", "n"); !errors.Is(err, domain.ErrNoPendingCode) {
			t.Fatalf("reset at %s with no code: %v", ph, err)
		}
	}
	// The network's one failure spent (an unregistered number's send),
	// both answer 429 alike.
	if err := resetSend(f, "13900000002", "m"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatal(err)
	}
	for _, ph := range []string{"13900000001", phone} {
		if err := reset(f, ph, "123456", "password2", "m"); !isLimited(err, application.LimitFailuresHourly) {
			t.Fatalf("reset at %s from a network past its failures: %v", ph, err)
		}
	}
}

// TestResetCodeBoundToAccount: a reset code is bound to the account it
// was sent for, not only to its number. An account that moves away, or
// is deleted while its reset code is being stored, leaves a code under
// the number; whoever registers the number next cannot have their
// password set with it: it is no code of theirs (no_pending_code).
func TestResetCodeBoundToAccount(t *testing.T) {
	for _, leave := range []string{"moves", "deleted"} {
		t.Run(leave, func(t *testing.T) {
			f := newFakes(t)
			pr := member(t, f, "u1", phone, "password1")
			if err := resetSend(f, phone, "n"); err != nil {
				t.Fatal(err)
			}
			oldCode := f.SMS.Code(e164) // the previous holder of the number keeps this
			switch leave {
			case "moves":
				const newNumber = "13900000003"
				code := changePhoneTo(t, f, pr, newNumber)
				if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: pr, NewPhone: newNumber, Code: code, ClientNet: "n"}); err != nil {
					t.Fatalf("change: %v", err)
				}
			case "deleted":
				// A reset's step 1 that looked the account up before the
				// deletion stores its code after the deletion removed the
				// number's codes.
				stale, ok := f.Codes.Snapshot(resetKey(phone))
				if !ok {
					t.Fatal("no reset code stored")
				}
				if err := f.Users.Delete(ctx, "u1"); err != nil {
					t.Fatal(err)
				}
				if _, ok := f.Codes.Snapshot(resetKey(phone)); ok {
					t.Fatal("the deletion left the account's reset code")
				}
				err := f.Codes.Upsert(ctx, resetKey(phone), f.Clock.Now(), func(*domain.PendingCode) *domain.PendingCode {
					return domain.UnmarshalPendingCodeFromDatabase(stale)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			f.Clock.Advance(61 * time.Second) // past the shared cooldown, well within the code's 5 min
			register(t, f, phone, "victimpass1", "victim@qq.com")
			if _, ok := f.Codes.Snapshot(resetKey(phone)); !ok && leave == "deleted" {
				t.Fatal("the test lost the stale code")
			}
			if err := reset(f, phone, oldCode, "attacker-pw1", "n"); !errors.Is(err, domain.ErrNoPendingCode) {
				t.Fatalf("reset of the new account with the code sent to the number's previous holder: %v", err)
			}
			if _, err := loginWith(f, phone, "victimpass1", "r1"); err != nil {
				t.Fatalf("the new account's password: %v", err)
			}
			// The new account's own reset replaces the stale code.
			f.Clock.Advance(61 * time.Second)
			if err := resetSend(f, phone, "n"); err != nil {
				t.Fatal(err)
			}
			if err := reset(f, phone, f.SMS.Code(e164), "password9", "n"); err != nil {
				t.Fatalf("the new account's own reset: %v", err)
			}
		})
	}
}

// TestResetParallelOneSuccess: many resets with the one right code in
// flight together: exactly one succeeds.
func TestResetParallelOneSuccess(t *testing.T) {
	f := newFakes(t)
	member(t, f, "u1", phone, "password1")
	if err := resetSend(f, phone, "n"); err != nil {
		t.Fatal(err)
	}
	code := f.SMS.Code(e164)
	var wins, used atomicCount
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Clock.Advance(time.Millisecond)
			err := reset(f, phone, code, "password"+strconv.Itoa(10+i), "net-"+strconv.Itoa(i))
			switch {
			case err == nil:
				wins.add()
			case errors.Is(err, domain.ErrCodeExpired):
				used.add()
			default:
				t.Errorf("reset %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins.get() != 1 || used.get() != 19 {
		t.Fatalf("%d successes, %d refused as used; want 1, 19", wins.get(), used.get())
	}
}

// TestCodesNeverMixPurposes: a code verifies only for the purpose, the
// number and (a phone change) the account it was sent for.
func TestCodesNeverMixPurposes(t *testing.T) {
	f := newFakes(t)
	regCode := sendCode(t, f, phone)
	f.Clock.Advance(time.Minute)
	a := member(t, f, "a", phone, "password1")
	b := member(t, f, "b", "13900000002", "password1")
	if err := resetSend(f, phone, "n"); err != nil {
		t.Fatal(err)
	}
	resetCode := f.SMS.Code(e164)
	if regCode == resetCode {
		t.Skip("the two codes drawn are equal (one in a million)")
	}
	// A register code cannot reset.
	if err := reset(f, phone, regCode, "password2", "n"); !errors.Is(err, domain.ErrCodeMismatch) {
		t.Fatalf("register code as a reset code: %v", err)
	}
	// A reset code cannot change a phone: account b has no change code.
	if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: b, NewPhone: phone, Code: resetCode}); !errors.Is(err, domain.ErrNoPendingCode) {
		t.Fatalf("reset code as a change code: %v", err)
	}
	// Account a asks to move to a new number; account b cannot use the code.
	const newNumber = "13900000003"
	if err := f.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: a, NewPhone: newNumber, Proof: proof(f, "password1", "cp1")}); err != nil {
		t.Fatalf("change send: %v", err)
	}
	changeCode := f.SMS.Code("+86" + newNumber)
	if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: b, NewPhone: newNumber, Code: changeCode}); !errors.Is(err, domain.ErrNoPendingCode) {
		t.Fatalf("another account's change code: %v", err)
	}
	// Nor can the change code reset the new number's password (there is
	// no account there), nor the account's own.
	if err := reset(f, phone, changeCode, "password2", "n"); !errors.Is(err, domain.ErrCodeMismatch) && changeCode != resetCode {
		t.Fatalf("change code as a reset code: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	other := principal(t, f, logIn(t, f, "u1").Token) // another session of the account
	in := func(old, random, pw string) application.ChangePassword {
		return application.ChangePassword{Principal: pr, Proof: proof(f, old, random), Password: pw, PasswordConfirm: pw, ClientNet: "n"}
	}
	// The policy first: the proof is not spent.
	short := in("password1", "p1", "short")
	if _, err := f.App.ChangePassword.Handle(ctx, short); !errors.Is(err, domain.ErrPasswordLength) {
		t.Fatalf("short: %v", err)
	}
	if _, err := f.App.ChangePassword.Handle(ctx, in("wrong-pass", "p2", "password2")); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("wrong proof: %v", err)
	}
	stale := in("password1", "p3", "password2")
	stale.Proof = application.Proof{EncryptionStr: "x", RandomStr: "p3", TimeStamp: strconv.FormatInt(t0.Unix()-301, 10)}
	if _, err := f.App.ChangePassword.Handle(ctx, stale); !errors.Is(err, application.ErrStaleRequest) {
		t.Fatalf("stale: %v", err)
	}
	good := short
	good.Password, good.PasswordConfirm = "password2", "password2"
	pair, err := f.App.ChangePassword.Handle(ctx, good)
	if err != nil {
		t.Fatalf("change: %v", err)
	}
	// Every session is revoked, the caller's and the other; the fresh
	// pair is of the new generation.
	for _, tok := range []string{logInToken(pr), logInToken(other)} {
		if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: tok}); !errors.Is(err, application.ErrUnauthorized) {
			t.Fatalf("a session from before the change: %v", err)
		}
	}
	fresh := principal(t, f, pair.Token)
	if fresh.Claims.Generation != fresh.User.SessionGeneration() || fresh.Claims.Generation != pr.Claims.Generation+1 {
		t.Fatalf("fresh pair under generation %d, account at %d", fresh.Claims.Generation, fresh.User.SessionGeneration())
	}
	if _, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: pair.RefreshToken}); err != nil {
		t.Fatalf("the fresh refresh token: %v", err)
	}
	if _, err := loginWith(f, phone, "password2", "l1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// The proof was single use; the old principal's session is gone.
	if _, err := f.App.ChangePassword.Handle(ctx, good); !errors.Is(err, application.ErrReplayedRequest) && !errors.Is(err, application.ErrUnauthorized) {
		t.Fatalf("the same request again: %v", err)
	}
}

// TestProofsShareMemoryAndLock: login, change-password, change-phone-step-1
// and delete-account share one single-use memory and one lock.
func TestProofsShareMemoryAndLock(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	p := proof(f, "password1", "shared")
	if _, err := f.App.Login.Handle(ctx, application.Login{Phone: phone, EncryptionStr: p.EncryptionStr, RandomStr: p.RandomStr, TimeStamp: p.TimeStamp}); err != nil {
		t.Fatalf("login: %v", err)
	}
	if _, err := f.App.ChangePassword.Handle(ctx, application.ChangePassword{Principal: pr, Proof: p, Password: "password2", PasswordConfirm: "password2"}); !errors.Is(err, application.ErrReplayedRequest) {
		t.Fatalf("change-password replaying a login: %v", err)
	}
	if err := f.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr, NewPhone: "13900000003", Proof: p}); !errors.Is(err, application.ErrReplayedRequest) {
		t.Fatalf("change-phone replaying a login: %v", err)
	}
	if err := f.App.DeleteAccount.Handle(ctx, application.DeleteAccount{Principal: pr, Proof: p}); !errors.Is(err, application.ErrReplayedRequest) {
		t.Fatalf("delete replaying a login: %v", err)
	}
	q := proof(f, "password1", "first-here")
	if err := f.App.DeleteAccount.Handle(ctx, application.DeleteAccount{Principal: pr, Proof: proof(f, "wrong-pass", "d0")}); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("delete, wrong: %v", err)
	}
	if _, err := f.App.ChangePassword.Handle(ctx, application.ChangePassword{Principal: pr, Proof: proof(f, "wrong-pass", "c0"), Password: "password2", PasswordConfirm: "password2"}); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("change, wrong: %v", err)
	}
	for i := range 3 {
		if err := f.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr, NewPhone: "13900000003", Proof: proof(f, "wrong-pass", "s"+strconv.Itoa(i))}); !errors.Is(err, domain.ErrWrongPassword) {
			t.Fatalf("change phone, wrong %d: %v", i, err)
		}
	}
	var locked *application.AccountLockedError
	if _, err := f.App.Login.Handle(ctx, application.Login{Phone: phone, EncryptionStr: q.EncryptionStr, RandomStr: q.RandomStr, TimeStamp: q.TimeStamp}); !errors.As(err, &locked) {
		t.Fatalf("login after five wrong proofs elsewhere: %v", err)
	}
	if err := f.App.DeleteAccount.Handle(ctx, application.DeleteAccount{Principal: pr, Proof: q}); !errors.As(err, &locked) {
		t.Fatalf("delete while locked: %v", err)
	}
}

// TestChangePasswordRaceOneWins: two changes in flight from one session
// with their own proofs: the first revokes the session, and the second
// is refused as unauthorized, never applied over it.
func TestChangePasswordRaceOneWins(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	var wins, refused atomicCount
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "password-" + strconv.Itoa(i)
			_, err := f.App.ChangePassword.Handle(ctx, application.ChangePassword{Principal: pr, Proof: proof(f, "password1", "r"+strconv.Itoa(i)), Password: pw, PasswordConfirm: pw, ClientNet: strconv.Itoa(i)})
			switch {
			case err == nil:
				wins.add()
			case errors.Is(err, application.ErrUnauthorized):
				refused.add()
			default:
				t.Errorf("change %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins.get() != 1 || refused.get() != 7 {
		t.Fatalf("%d changes applied, %d refused; want 1, 7", wins.get(), refused.get())
	}
}

func TestChangePhoneSendChecksInOrder(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.FailuresHourlyPerNet = 3
	f := apptest.New(t0, p)
	pr := member(t, f, "u1", phone, "password1")
	member(t, f, "u2", "13900000002", "password1")
	send := func(newPhone, password, random string) error {
		return f.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr, NewPhone: newPhone, Proof: proof(f, password, random), ClientNet: "n"})
	}
	if err := send("12345", "password1", "a"); !errors.Is(err, domain.ErrInvalidPhone) {
		t.Fatalf("bad number: %v", err)
	}
	if err := send("13900000003", "wrong-pass", "b"); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("wrong proof: %v", err)
	}
	if err := send("13900000002", "password1", "c"); !errors.Is(err, domain.ErrPhoneTaken) {
		t.Fatalf("another's number: %v", err)
	}
	if err := send(phone, "password1", "d"); !errors.Is(err, domain.ErrPhoneTaken) {
		t.Fatalf("own number: %v", err)
	}
	// A wrong proof and two taken answers: the network's failures are spent.
	if err := send("13900000003", "password1", "e"); !isLimited(err, application.LimitFailuresHourly) {
		t.Fatalf("past the failures: %v", err)
	}
	f2 := newFakes(t)
	pr2 := member(t, f2, "u1", phone, "password1")
	if err := f2.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr2, NewPhone: "+14155552671", Proof: proof(f2, "password1", "f")}); !errors.Is(err, domain.ErrCountryNotAllowed) {
		t.Fatalf("country: %v", err)
	}
	if err := f2.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr2, NewPhone: "13900000003", Proof: proof(f2, "password1", "g")}); err != nil {
		t.Fatalf("send: %v", err)
	}
	snap, ok := f2.Codes.Snapshot(changeKey("u1"))
	if !ok || snap.Subject.Phone.E164() != "+8613900000003" || snap.Subject.Account != "u1" || snap.Subject.Purpose != domain.PurposeChangePhone ||
		f2.SMS.Code("+8613900000003") == "" || f2.SMS.Code(e164) != "" {
		t.Fatalf("stored %+v; sent to the new number %q, to the old %q", snap, f2.SMS.Code("+8613900000003"), f2.SMS.Code(e164))
	}
	// A later send to another number replaces the account's code.
	f2.Clock.Advance(time.Minute)
	if err := f2.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr2, NewPhone: "13900000004", Proof: proof(f2, "password1", "h")}); err != nil {
		t.Fatalf("second send: %v", err)
	}
	if snap, _ := f2.Codes.Snapshot(changeKey("u1")); snap.Subject.Phone.E164() != "+8613900000004" || f2.Codes.Len() != 1 {
		t.Fatalf("after a second send: %+v, %d codes", snap, f2.Codes.Len())
	}
}

// TestChangePhoneSendCountsTheCurrentNumber: a phone change's sends
// count against the daily cap of the account's current number as well.
func TestChangePhoneSendCountsTheCurrentNumber(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.DailyLimitPerPhone = 1
	f := apptest.New(t0, p)
	pr := member(t, f, "u1", phone, "password1")
	if err := resetSend(f, phone, "n"); err != nil { // the current number's one code today
		t.Fatal(err)
	}
	err := f.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr, NewPhone: "13900000003", Proof: proof(f, "password1", "a")})
	if !isLimited(err, application.LimitPhoneDaily) {
		t.Fatalf("past the current number's cap: %v", err)
	}
	// Refused, it used nothing of the new number: a registration there
	// is not in a cooldown.
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "13900000003", ClientNet: "n"}); err != nil {
		t.Fatalf("the new number's own send: %v", err)
	}
}

func changePhoneTo(t *testing.T, f *apptest.Fakes, pr application.Principal, newPhone string) string {
	t.Helper()
	if err := f.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr, NewPhone: newPhone, Proof: proof(f, "password1", "cp-"+newPhone), ClientNet: "n"}); err != nil {
		t.Fatalf("change send: %v", err)
	}
	return f.SMS.Code(domain.MustParsePhoneNumber(newPhone).E164())
}

func TestChangePhone(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	const newNumber, newE164 = "13900000003", "+8613900000003"
	code := changePhoneTo(t, f, pr, newNumber)
	if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: pr, NewPhone: newNumber, Code: "x", ClientNet: "n"}); !errors.Is(err, domain.ErrCodeMismatch) {
		t.Fatalf("wrong code: %v", err)
	}
	pair, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: pr, NewPhone: newNumber, Code: code, ClientNet: "n"})
	if err != nil {
		t.Fatalf("change: %v", err)
	}
	u, err := f.Users.ByID(ctx, "u1")
	if err != nil || u.Phone().E164() != newE164 || u.Email().String() != "u1@qq.com" || !u.CreatedAt().Equal(t0) {
		t.Fatalf("account after the move: %+v, %v", u, err)
	}
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: logInToken(pr)}); !errors.Is(err, application.ErrUnauthorized) {
		t.Fatalf("a session from before the move: %v", err)
	}
	if fresh := principal(t, f, pair.Token); fresh.User.Phone().E164() != newE164 {
		t.Fatalf("fresh pair: %+v", fresh)
	}
	// The password was sealed again under the new number; the old number
	// is free.
	if _, err := loginWith(f, newNumber, "password1", "l1"); err != nil {
		t.Fatalf("login at the new number: %v", err)
	}
	if _, err := loginWith(f, phone, "password1", "l2"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatalf("login at the old number: %v", err)
	}
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone, ClientNet: "n"}); err != nil {
		t.Fatalf("registering the old number: %v", err)
	}
	// The code verifies once.
	if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: principal(t, f, pair.Token), NewPhone: newNumber, Code: code}); !errors.Is(err, domain.ErrCodeExpired) {
		t.Fatalf("the code again: %v", err)
	}
}

// TestChangePhoneOtherNumber: step 2 naming another number than the code
// was sent to is a wrong try of the account's code, charged to the
// client network but not to the typed number's daily wrong codes.
func TestChangePhoneOtherNumber(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.CodeDailyFailuresPerPhone = 1
	f := apptest.New(t0, p)
	pr := member(t, f, "u1", phone, "password1")
	code := changePhoneTo(t, f, pr, "13900000003")
	const stranger = "13900000009"
	if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: pr, NewPhone: stranger, Code: code}); !errors.Is(err, domain.ErrCodeMismatch) {
		t.Fatalf("the code, another number: %v", err)
	}
	if snap, _ := f.Codes.Snapshot(changeKey("u1")); snap.Attempts != 1 {
		t.Fatalf("tries after a wrong number: %d", snap.Attempts)
	}
	// The stranger's one wrong code of the day is not spent.
	strangerCode := sendCode(t, f, stranger)
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: stranger, Code: strangerCode}); err != nil {
		t.Fatalf("the stranger's own code: %v", err)
	}
	// The right number still verifies (four tries left).
	if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: pr, NewPhone: "13900000003", Code: code}); err != nil {
		t.Fatalf("the right number: %v", err)
	}
}

// TestChangePhoneTakenMeanwhile: a number registered between the two
// steps is refused by the store's atomic move.
func TestChangePhoneTakenMeanwhile(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.FailuresHourlyPerNet = 1
	f := apptest.New(t0, p)
	pr := member(t, f, "u1", phone, "password1")
	code := changePhoneTo(t, f, pr, "13900000003")
	member(t, f, "u2", "13900000003", "password1")
	if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: pr, NewPhone: "13900000003", Code: code, ClientNet: "n"}); !errors.Is(err, domain.ErrPhoneTaken) {
		t.Fatalf("taken meanwhile: %v", err)
	}
	if u, _ := f.Users.ByID(ctx, "u1"); u.Phone().E164() != e164 || u.SessionGeneration() != pr.Claims.Generation {
		t.Fatalf("the refused move changed the account: %+v", u)
	}
	// The answer told that the number is registered: a failure.
	if err := resetSend(f, "13900000005", "n"); !isLimited(err, application.LimitFailuresHourly) {
		t.Fatalf("after phone_taken the network's one failure is spent: %v", err)
	}
}

// TestDeleteAccountWithRevokedPrincipal: a deletion authenticated
// before a revocation of every session (a logout-all, a password change)
// is refused as a change of the account from that principal is: the
// proof was judged against a password or a session that no longer holds.
func TestDeleteAccountWithRevokedPrincipal(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	// Authenticated; then the owner logs out everywhere before the
	// handler runs.
	if _, err := f.Users.RevokeSessions(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	_, cerr := f.App.ChangePassword.Handle(ctx, application.ChangePassword{Principal: pr, Proof: proof(f, "password1", "c1"), Password: "password2", PasswordConfirm: "password2"})
	if !errors.Is(cerr, application.ErrUnauthorized) {
		t.Fatalf("change-password with a revoked principal: %v", cerr)
	}
	if err := f.App.DeleteAccount.Handle(ctx, application.DeleteAccount{Principal: pr, Proof: proof(f, "password1", "d1")}); !errors.Is(err, application.ErrUnauthorized) {
		t.Fatalf("delete-account from a session revoked before it ran: %v", err)
	}
	if f.Users.Count() != 1 {
		t.Fatal("a revoked principal deleted the account")
	}
	// A principal whose generation is current but whose account, as the
	// proof was judged against it, holds a password the account no
	// longer has: refused too.
	cur, err := f.Users.ByID(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	stale := pr
	sealed, _ := apptest.Vault{}.Seal(cur.Phone(), "password7")
	if _, err := f.Users.Update(ctx, "u1", func(u *domain.User) error {
		u.ChangePassword(sealed)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cur, _ = f.Users.ByID(ctx, "u1")
	stale.Claims.Generation = cur.SessionGeneration()
	if err := f.App.DeleteAccount.Handle(ctx, application.DeleteAccount{Principal: stale, Proof: proof(f, "password1", "d2")}); !errors.Is(err, application.ErrUnauthorized) {
		t.Fatalf("delete-account judged against a password the account no longer has: %v", err)
	}
	if f.Users.Count() != 1 {
		t.Fatal("a proof of the old password deleted the account")
	}
}

func TestDeleteAccount(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	if err := resetSend(f, phone, "n"); err != nil {
		t.Fatal(err)
	}
	changePhoneTo(t, f, pr, "13900000003")
	if err := f.App.DeleteAccount.Handle(ctx, application.DeleteAccount{Principal: pr, Proof: proof(f, "wrong-pass", "d1")}); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("wrong proof: %v", err)
	}
	if f.Users.Count() != 1 {
		t.Fatal("a wrong proof deleted the account")
	}
	if err := f.App.DeleteAccount.Handle(ctx, application.DeleteAccount{Principal: pr, Proof: proof(f, "password1", "d2")}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if f.Users.Count() != 0 || f.Codes.Len() != 0 {
		t.Fatalf("left %d accounts, %d codes", f.Users.Count(), f.Codes.Len())
	}
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: logInToken(pr)}); !errors.Is(err, application.ErrUnauthorized) {
		t.Fatalf("the deleted account's token: %v", err)
	}
	f.Clock.Advance(time.Minute)
	register(t, f, phone, "password2", "u1@qq.com") // number and email free again
}
