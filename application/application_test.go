package application_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
)

var (
	t0    = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	ctx   = context.Background()
	phone = "15850551102"
	e164  = "+8615850551102"
	// clientNet is the network of the client that verifies and continues
	// registrations in these tests.
	clientNet = "192.0.2.1"
)

func newFakes(t *testing.T) *apptest.Fakes {
	t.Helper()
	return apptest.New(t0, apptest.DefaultPolicy())
}

func sendCode(t *testing.T, f *apptest.Fakes, ph string) string {
	t.Helper()
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: ph, ClientNet: "192.0.2." + ph[len(ph)-2:]}); err != nil {
		t.Fatalf("SendCode(%s): %v", ph, err)
	}
	p := domain.MustParsePhoneNumber(ph)
	return f.SMS.Code(p.E164())
}

// register runs all four steps for ph.
func register(t *testing.T, f *apptest.Fakes, ph, password, email string) {
	t.Helper()
	withPassword(t, f, ph, password)
	if err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: ph, Email: email, ClientNet: clientNet}); err != nil {
		t.Fatalf("profile: %v", err)
	}
}

// withPassword runs steps 1 to 3 for ph from clientNet.
func withPassword(t *testing.T, f *apptest.Fakes, ph, password string) {
	t.Helper()
	code := sendCode(t, f, ph)
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: ph, Code: code, ClientNet: clientNet}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := f.App.SetPassword.Handle(ctx, application.SetPassword{Phone: ph, Password: password, PasswordConfirm: password, ClientNet: clientNet}); err != nil {
		t.Fatalf("password: %v", err)
	}
}

func TestSendCodeStoresOnlyAHashOfASixDigitCode(t *testing.T) {
	f := newFakes(t)
	seen := map[string]bool{}
	for i := range 30 {
		ph := "158505511" + strconv.Itoa(10+i)
		code := sendCode(t, f, ph)
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("code %q is not six digits", code)
		}
		seen[code] = true
		snap, ok := f.Pending.Snapshot(domain.MustParsePhoneNumber(ph))
		if !ok || string(snap.CodeHash) == code || len(snap.CodeHash) != 32 {
			t.Fatalf("stored %q for code %q", snap.CodeHash, code)
		}
		if !snap.ExpiresAt.Equal(t0.Add(5 * time.Minute)) {
			t.Fatalf("expires %v", snap.ExpiresAt)
		}
	}
	if len(seen) < 25 {
		t.Fatalf("30 codes gave only %d distinct values", len(seen))
	}
}

func TestSendCodeChecksInOrder(t *testing.T) {
	f := newFakes(t)
	register(t, f, phone, "password1", "a@example.com")
	// A registered phone hears user_exists even when it is rate-limited or
	// from a barred country.
	for range 3 {
		if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "+86 158 5055 1102"}); !errors.Is(err, domain.ErrUserExists) {
			t.Fatalf("registered phone: %v", err)
		}
	}
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "12345"}); !errors.Is(err, domain.ErrInvalidPhone) {
		t.Fatalf("invalid phone: %v", err)
	}
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "+14155552671"}); !errors.Is(err, domain.ErrCountryNotAllowed) {
		t.Fatalf("+1 with allow-list 86: %v", err)
	}
	if f.SMS.Sent() != 1 {
		t.Fatalf("sent %d SMS, want only the registration's", f.SMS.Sent())
	}
}

func TestSendCodeRateLimits(t *testing.T) {
	t.Run("cooldown", func(t *testing.T) {
		f := newFakes(t)
		sendCode(t, f, phone)
		f.Clock.Advance(59 * time.Second)
		err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone, ClientNet: "192.0.2.1"})
		var rl *application.RateLimitedError
		if !errors.As(err, &rl) || rl.Kind != "cooldown" || rl.RetryAfter != time.Second {
			t.Fatalf("resend at 59s: %v", err)
		}
		f.Clock.Advance(time.Second)
		sendCode(t, f, phone)
	})
	t.Run("daily per phone", func(t *testing.T) {
		f := newFakes(t)
		for range 10 {
			sendCode(t, f, phone)
			f.Clock.Advance(61 * time.Second)
		}
		var rl *application.RateLimitedError
		if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone, ClientNet: "192.0.2.1"}); !errors.As(err, &rl) || rl.Kind != "phone_daily" {
			t.Fatalf("11th send in a day: %v", err)
		}
		f.Clock.Advance(24 * time.Hour)
		sendCode(t, f, phone)
	})
	t.Run("hourly per IP", func(t *testing.T) {
		f := newFakes(t)
		for i := range 20 {
			if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "138000000" + strconv.Itoa(10+i), ClientNet: "192.0.2.9"}); err != nil {
				t.Fatal(err)
			}
		}
		var rl *application.RateLimitedError
		if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "13800000099", ClientNet: "192.0.2.9"}); !errors.As(err, &rl) || rl.Kind != "ip_hourly" {
			t.Fatalf("21st send from one IP: %v", err)
		}
		if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "13800000098", ClientNet: "192.0.2.10"}); err != nil {
			t.Fatalf("another IP: %v", err)
		}
	})
	t.Run("global hourly", func(t *testing.T) {
		p := apptest.DefaultPolicy()
		p.HourlyLimitGlobal = 3
		f := apptest.New(t0, p)
		for i := range 3 {
			if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "138000000" + strconv.Itoa(10+i), ClientNet: "198.51.100." + strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		var rl *application.RateLimitedError
		if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "13800000050", ClientNet: "203.0.113.1"}); !errors.As(err, &rl) || rl.Kind != "global_hourly" {
			t.Fatalf("over global budget: %v", err)
		}
		if f.SMS.Sent() != 3 {
			t.Fatalf("sent %d", f.SMS.Sent())
		}
	})
}

func TestSendCodeVendorRefusalKillsCode(t *testing.T) {
	f := newFakes(t)
	refusal := &application.SMSError{Vendor: "cloopen", Kind: application.SMSRefused, Code: "160038", Message: "短信验证码发送过频繁"}
	f.SMS.Fail = refusal
	err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone, ClientNet: "192.0.2.1"})
	if !errors.Is(err, refusal) {
		t.Fatalf("err = %v, want the vendor refusal", err)
	}
	snap, ok := f.Pending.Snapshot(domain.MustParsePhoneNumber(phone))
	if !ok || snap.CodeHash != nil {
		t.Fatalf("code still verifiable after refusal: %+v", snap)
	}
}

func TestVerifyCode(t *testing.T) {
	f := newFakes(t)
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: "123456", ClientNet: clientNet}); !errors.Is(err, domain.ErrNoPending) {
		t.Fatalf("no pending: %v", err)
	}
	code := sendCode(t, f, phone)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := 1; i <= 4; i++ {
		if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: wrong, ClientNet: clientNet}); !errors.Is(err, domain.ErrCodeMismatch) {
			t.Fatalf("wrong %d: %v", i, err)
		}
	}
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: "+86 158 5055 1102", Code: code, ClientNet: clientNet}); err != nil {
		t.Fatalf("right code on the 5th try (other spelling of the phone): %v", err)
	}
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet}); !errors.Is(err, domain.ErrCodeExpired) {
		t.Fatalf("code used twice: %v", err)
	}
}

func TestVerifyCodeDiesAfterFiveWrongTries(t *testing.T) {
	f := newFakes(t)
	code := sendCode(t, f, phone)
	for range 5 {
		_, _ = f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: "x", ClientNet: clientNet})
	}
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet}); !errors.Is(err, domain.ErrTooManyAttempts) {
		t.Fatalf("right code after 5 wrong: %v", err)
	}
	f.Clock.Advance(time.Minute)
	code = sendCode(t, f, phone)
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet}); err != nil {
		t.Fatalf("new code after a dead one: %v", err)
	}
}

func TestVerifyCodeConcurrentGuessesAreAllCounted(t *testing.T) {
	f := newFakes(t)
	code := sendCode(t, f, phone)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: "bad", ClientNet: clientNet})
		}()
	}
	wg.Wait()
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet}); !errors.Is(err, domain.ErrTooManyAttempts) {
		t.Fatalf("after 20 concurrent wrong guesses: %v", err)
	}
}

func TestVerifyCodeExpires(t *testing.T) {
	f := newFakes(t)
	code := sendCode(t, f, phone)
	f.Clock.Advance(5 * time.Minute)
	_, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet})
	// An unverified registration lives exactly as long as its code.
	if !errors.Is(err, domain.ErrNoPending) {
		t.Fatalf("code at 5 min: %v", err)
	}
}

func TestSetPassword(t *testing.T) {
	f := newFakes(t)
	in := application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", ClientNet: clientNet}
	if err := f.App.SetPassword.Handle(ctx, in); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("no registration: %v", err)
	}
	code := sendCode(t, f, phone)
	if err := f.App.SetPassword.Handle(ctx, in); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("unverified: %v", err)
	}
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet}); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		pw, confirm string
		want        error
	}{
		{"short", "short", domain.ErrPasswordLength},
		{"password1", "password2", domain.ErrPasswordMismatch},
	}
	for _, b := range bad {
		if err := f.App.SetPassword.Handle(ctx, application.SetPassword{Phone: phone, Password: b.pw, PasswordConfirm: b.confirm, ClientNet: clientNet}); !errors.Is(err, b.want) {
			t.Fatalf("%q/%q: %v", b.pw, b.confirm, err)
		}
	}
	if err := f.App.SetPassword.Handle(ctx, in); err != nil {
		t.Fatal(err)
	}
	snap, _ := f.Pending.Snapshot(domain.MustParsePhoneNumber(phone))
	if string(snap.SealedPassword) == "password1" || len(snap.SealedPassword) == 0 {
		t.Fatalf("stored password %q", snap.SealedPassword)
	}
	f.Clock.Advance(30 * time.Minute)
	if err := f.App.SetPassword.Handle(ctx, in); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("after the registration TTL: %v", err)
	}
}

func TestCompleteProfile(t *testing.T) {
	f := newFakes(t)
	in := application.CompleteProfile{Phone: phone, Email: "2214102327@qq.com", ClientNet: clientNet}
	if err := f.App.CompleteProfile.Handle(ctx, in); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("nothing pending: %v", err)
	}
	code := sendCode(t, f, phone)
	_, _ = f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet})
	if err := f.App.CompleteProfile.Handle(ctx, in); !errors.Is(err, domain.ErrPasswordMissing) {
		t.Fatalf("no password: %v", err)
	}
	_ = f.App.SetPassword.Handle(ctx, application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", ClientNet: clientNet})
	if err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: phone, Email: "not-an-email", ClientNet: clientNet}); !errors.Is(err, domain.ErrInvalidEmail) {
		t.Fatalf("bad email: %v", err)
	}
	register(t, f, "13900000001", "password2", "2214102327@QQ.com")
	if err := f.App.CompleteProfile.Handle(ctx, in); !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("taken email (domain case differs): %v", err)
	}
	if err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: phone, Email: "new@qq.com", ClientNet: clientNet}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Pending.Snapshot(domain.MustParsePhoneNumber(phone)); ok {
		t.Fatal("pending registration kept after step 4")
	}
	u, err := f.Users.ByPhone(ctx, domain.MustParsePhoneNumber(e164))
	if err != nil || u.Email().String() != "new@qq.com" || u.ID() == "" {
		t.Fatalf("user = %+v, %v", u, err)
	}
}

func TestCompleteProfileConcurrentMakesOneAccount(t *testing.T) {
	f := newFakes(t)
	code := sendCode(t, f, phone)
	_, _ = f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet})
	_ = f.App.SetPassword.Handle(ctx, application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", ClientNet: clientNet})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: phone, Email: "u" + strconv.Itoa(i) + "@qq.com", ClientNet: clientNet})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, domain.ErrUserExists) && !errors.Is(err, domain.ErrNotVerified) {
				t.Errorf("loser got %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || f.Users.Count() != 1 {
		t.Fatalf("%d successes, %d users", wins, f.Users.Count())
	}
}

func loginReq(password, random string, ts int64) application.Login {
	s := strconv.FormatInt(ts, 10)
	return application.Login{Phone: phone, EncryptionStr: domain.LoginProof(password, random, s), RandomStr: random, TimeStamp: s}
}

func TestLogin(t *testing.T) {
	f := newFakes(t)
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "r0", t0.Unix())); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatalf("no user: %v", err)
	}
	register(t, f, phone, "password1", "2214102327@qq.com")
	res, err := f.App.Login.Handle(ctx, loginReq("password1", "r1", t0.Unix()))
	if err != nil || res.Email != "2214102327@qq.com" || res.Token == "" || res.ExpiresIn != f.Policy.AccessTTL ||
		res.RefreshToken == "" || res.RefreshExpiresIn != f.Policy.RefreshTTL {
		t.Fatalf("login = %+v, %v", res, err)
	}
	// The pair opens a session of the account, under its generation; the
	// login wrote nothing of it.
	p, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: res.Token})
	if err != nil || p.User.Phone().E164() != e164 || p.Claims.SessionID == "" || p.Claims.Generation != p.User.SessionGeneration() {
		t.Fatalf("the login's token authenticates as %+v, %v", p, err)
	}
	if f.Sessions.Writes() != 0 {
		t.Fatalf("a login wrote %d session records", f.Sessions.Writes())
	}
	next, err := f.App.Login.Handle(ctx, loginReq("password1", "r1b", t0.Unix()))
	if err != nil || next.Token == res.Token || next.RefreshToken == res.RefreshToken {
		t.Fatalf("a second login: %+v, %v (want another session)", next, err)
	}
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "r1", t0.Unix())); !errors.Is(err, application.ErrReplayedRequest) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := f.App.Login.Handle(ctx, loginReq("password2", "r2", t0.Unix())); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	for _, skew := range []int64{301, -301} {
		if _, err := f.App.Login.Handle(ctx, loginReq("password1", "r3", t0.Unix()+skew)); !errors.Is(err, application.ErrStaleRequest) {
			t.Fatalf("skew %d: %v", skew, err)
		}
	}
	for _, skew := range []int64{300, -300} {
		if _, err := f.App.Login.Handle(ctx, loginReq("password1", "r4"+strconv.FormatInt(skew, 10), t0.Unix()+skew)); err != nil {
			t.Fatalf("skew %d: %v", skew, err)
		}
	}
	in := loginReq("password1", "r5", t0.Unix())
	in.EncryptionStr = strings.ToUpper(in.EncryptionStr)
	if _, err := f.App.Login.Handle(ctx, in); err != nil {
		t.Fatalf("upper-case proof: %v", err)
	}
	in = loginReq("password1", "r6", t0.Unix())
	in.TimeStamp = "not-a-number"
	if _, err := f.App.Login.Handle(ctx, in); !errors.Is(err, application.ErrStaleRequest) {
		t.Fatalf("garbage time stamp: %v", err)
	}
}

func TestLoginLockout(t *testing.T) {
	f := newFakes(t)
	register(t, f, phone, "password1", "a@qq.com")
	for i := range 5 {
		if _, err := f.App.Login.Handle(ctx, loginReq("wrong-pass", "w"+strconv.Itoa(i), f.Clock.Now().Unix())); !errors.Is(err, domain.ErrWrongPassword) {
			t.Fatalf("wrong %d: %v", i, err)
		}
	}
	var locked *application.AccountLockedError
	_, err := f.App.Login.Handle(ctx, loginReq("password1", "ok1", f.Clock.Now().Unix()))
	if !errors.As(err, &locked) || locked.RetryAfter != 15*time.Minute {
		t.Fatalf("right password while locked: %v", err)
	}
	f.Clock.Advance(15 * time.Minute)
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "ok2", f.Clock.Now().Unix())); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	// A success forgets earlier failures: four more wrong ones do not lock.
	for i := range 4 {
		_, _ = f.App.Login.Handle(ctx, loginReq("wrong-pass", "v"+strconv.Itoa(i), f.Clock.Now().Unix()))
	}
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "ok3", f.Clock.Now().Unix())); err != nil {
		t.Fatalf("after 4 failures: %v", err)
	}
}

// TestLoginReplayDoesNotReset: a replayed right proof is not a proof of
// the password: it must not forget the failures before it (or replaying
// one captured login would give an attacker endless guesses).
func TestLoginReplayDoesNotReset(t *testing.T) {
	f := newFakes(t)
	register(t, f, phone, "password1", "a@qq.com")
	good := loginReq("password1", "ok0", f.Clock.Now().Unix())
	if _, err := f.App.Login.Handle(ctx, good); err != nil {
		t.Fatalf("first login: %v", err)
	}
	for i := range 4 {
		if _, err := f.App.Login.Handle(ctx, loginReq("wrong-pass", "w"+strconv.Itoa(i), f.Clock.Now().Unix())); !errors.Is(err, domain.ErrWrongPassword) {
			t.Fatalf("wrong %d: %v", i, err)
		}
	}
	if _, err := f.App.Login.Handle(ctx, good); !errors.Is(err, application.ErrReplayedRequest) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := f.App.Login.Handle(ctx, loginReq("wrong-pass", "w5", f.Clock.Now().Unix())); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("fifth wrong: %v", err)
	}
	var locked *application.AccountLockedError
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "ok1", f.Clock.Now().Unix())); !errors.As(err, &locked) {
		t.Fatalf("after 4 wrong, a replay and 1 wrong: %v, want locked", err)
	}
}

// TestLoginParallelGuessesJudgedAtMostMax: guesses in flight together are
// judged no more than LoginMaxFailures times. Each comes from a network of
// its own, as from an attacker spread over many, so that the per-network
// failure limit (which holds a place for every request in flight) is not
// what stops them.
func TestLoginParallelGuessesJudgedAtMostMax(t *testing.T) {
	f := newFakes(t)
	register(t, f, phone, "password1", "a@qq.com")
	var wrong, locked atomicCount
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := loginReq("guess", "g"+strconv.Itoa(i), f.Clock.Now().Unix())
			in.ClientNet = "net-" + strconv.Itoa(i)
			_, err := f.App.Login.Handle(ctx, in)
			var le *application.AccountLockedError
			switch {
			case errors.Is(err, domain.ErrWrongPassword):
				wrong.add()
			case errors.As(err, &le):
				locked.add()
			default:
				t.Errorf("guess %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wrong.get() != 5 || locked.get() != 95 {
		t.Fatalf("%d judged wrong, %d locked; want 5, 95", wrong.get(), locked.get())
	}
}

// TestLoginHourlyLimitPerAccount: successful logins past the hourly cap
// are refused, and a refused one is not a reset of the failures.
func TestLoginHourlyLimitPerAccount(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.LoginHourlyLimitPerAccount = 2
	f := apptest.New(t0, p)
	register(t, f, phone, "password1", "a@qq.com")
	for i := range 2 {
		if _, err := f.App.Login.Handle(ctx, loginReq("password1", "ok"+strconv.Itoa(i), f.Clock.Now().Unix())); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	var rl *application.RateLimitedError
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "ok2", f.Clock.Now().Unix())); !errors.As(err, &rl) || rl.Kind != application.LimitLoginHourly {
		t.Fatalf("third login in the hour: %v", err)
	}
	f.Clock.Advance(time.Hour)
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "ok3", f.Clock.Now().Unix())); err != nil {
		t.Fatalf("after the hour: %v", err)
	}
}

type atomicCount struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCount) add()     { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *atomicCount) get() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func TestStoreOutageIsUnavailable(t *testing.T) {
	f := newFakes(t)
	f.Users.Err = application.ErrUnavailable
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone}); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("send with store down: %v", err)
	}
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "r", t0.Unix())); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("login with store down: %v", err)
	}
	if f.SMS.Sent() != 0 {
		t.Fatal("an SMS went out while the store was down")
	}
}

// TestSendCodeRefusedUsesNothing: a request refused by a later limit
// gives back what the earlier ones took: no cooldown, no daily unit.
func TestSendCodeRefusedUsesNothing(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.HourlyLimitPerIP, p.DailyLimitPerPhone = 1, 1
	f := apptest.New(t0, p)
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "13800000001", ClientNet: "a"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var rl *application.RateLimitedError
		if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "13800000002", ClientNet: "a"}); !errors.As(err, &rl) || rl.Kind != application.LimitNetHourly {
			t.Fatalf("over the network's limit: %v", err)
		}
	}
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: "13800000002", ClientNet: "b"}); err != nil {
		t.Fatalf("the stranger's own request: %v", err)
	}
}

// TestFailuresPerNetwork: unknown numbers and wrong passwords from one
// network are counted together; past the limit every answer that could
// tell is a 429, before any lookup, and other networks are unaffected.
func TestFailuresPerNetwork(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.FailuresHourlyPerNet = 3
	f := apptest.New(t0, p)
	register(t, f, phone, "password1", "a@qq.com")
	in := func(ph, pw, r string) application.Login {
		l := loginReq(pw, r, f.Clock.Now().Unix())
		l.Phone, l.ClientNet = ph, "spray"
		return l
	}
	// A success costs nothing.
	if _, err := f.App.Login.Handle(ctx, in(phone, "password1", "ok")); err != nil {
		t.Fatal(err)
	}
	for i, ph := range []string{"13900000001", phone, "13900000002"} {
		if _, err := f.App.Login.Handle(ctx, in(ph, "guess-guess", "s"+strconv.Itoa(i))); err == nil {
			t.Fatalf("spray %d succeeded", i)
		}
	}
	var rl *application.RateLimitedError
	if _, err := f.App.Login.Handle(ctx, in(phone, "password1", "ok2")); !errors.As(err, &rl) || rl.Kind != application.LimitFailuresHourly || rl.RetryAfter != time.Hour {
		t.Fatalf("past the limit: %v", err)
	}
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone, ClientNet: "spray"}); !errors.As(err, &rl) {
		t.Fatalf("step 1 past the limit: %v", err)
	}
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone, ClientNet: "other"}); !errors.Is(err, domain.ErrUserExists) {
		t.Fatalf("another network: %v", err)
	}
}

// TestCodeFailureLimits: wrong codes per number kill every code of the
// number, a right one too; the deployment's budget answers 429 and
// raises one alarm per window.
func TestCodeFailureLimits(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.CodeDailyFailuresPerPhone, p.CodeHourlyFailuresGlobal = 2, 3
	f := apptest.New(t0, p)
	code := sendCode(t, f, phone)
	for i := range 2 {
		if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: "x", ClientNet: strconv.Itoa(i)}); !errors.Is(err, domain.ErrCodeMismatch) {
			t.Fatalf("wrong %d: %v", i, err)
		}
	}
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code}); !errors.Is(err, domain.ErrTooManyAttempts) {
		t.Fatalf("right code past the number's limit: %v", err)
	}
	other := sendCode(t, f, "13900000003")
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: "13900000003", Code: "x"}); !errors.Is(err, domain.ErrCodeMismatch) {
		t.Fatalf("third wrong code: %v", err)
	}
	for range 3 {
		var rl *application.RateLimitedError
		if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: "13900000003", Code: other}); !errors.As(err, &rl) || rl.Kind != application.LimitCodeGlobalHourly {
			t.Fatalf("past the global budget: %v", err)
		}
	}
	if n := f.Alarms.Spent(); n != 1 {
		t.Fatalf("%d alarms for one spent window, want 1", n)
	}
	f.Clock.Advance(time.Hour)
	if _, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: "13900000003", Code: other}); !errors.Is(err, domain.ErrCodeExpired) && !errors.Is(err, domain.ErrNoPending) {
		t.Fatalf("after the hour the check runs again: %v", err)
	}
}

// TestEmailProbesAreFailures: step 4 answering email_taken tells whether an
// address has an account, so, like user_exists, it costs the client
// network a failure: one verified number cannot test addresses without end.
func TestEmailProbesAreFailures(t *testing.T) {
	p := apptest.DefaultPolicy()
	p.FailuresHourlyPerNet = 3
	f := apptest.New(t0, p)
	register(t, f, phone, "password1", "a@qq.com")
	const prober = "13900000009"
	withPassword(t, f, prober, "password2")
	for i := range 3 {
		if err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: prober, Email: "a@qq.com", ClientNet: clientNet}); !errors.Is(err, domain.ErrEmailTaken) {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	var rl *application.RateLimitedError
	if err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: prober, Email: "b@qq.com", ClientNet: clientNet}); !errors.As(err, &rl) || rl.Kind != application.LimitFailuresHourly {
		t.Fatalf("past the limit: %v", err)
	}
}
