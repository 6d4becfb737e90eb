package test

import (
	"context"
	"errors"
	"testing"
	"time"

	apiclient "github.com/phoneauth/phoneauth/client"
)

// TestGoClientAccountChanges drives the account recovery and change
// endpoints through the Go client, on both stores.
func TestGoClientAccountChanges(t *testing.T) {
	bothStores(t, testClientAccountChanges)
}

func testClientAccountChanges(t *testing.T, o options) {
	in := start(t, o)
	rt := newCounter(t)
	c := in.newClient(rt, nil)
	ctx := context.Background()
	loggedInClient(t, in, c)
	const newPhone, second, third = "+8613912345678", "second-pass-2", "third-pass-3"

	// A reset: the code, a new password, every session ended.
	in.clock.Advance(61 * time.Second) // past the number's resend interval
	if r, err := c.ResetPasswordSend(ctx, cliPhone); err != nil || r.Message != "发送成功" {
		t.Fatalf("reset step 1: %+v, %v", r, err)
	}
	code := in.code(t, cliPhone)
	if _, err := c.ResetPassword(ctx, cliPhone, code, second, "something else"); !errors.Is(err, apiclient.ErrPasswordMismatch) {
		t.Errorf("mismatch: %v", err)
	}
	if _, err := c.ResetPassword(ctx, cliPhone, "x"+code, second, second); !errors.Is(err, apiclient.ErrCodeMismatch) {
		t.Errorf("wrong code: %v", err)
	}
	if r, err := c.ResetPassword(ctx, cliPhone, code, second, second); err != nil || r.Message != "密码重置成功" {
		t.Fatalf("reset step 2: %+v, %v", r, err)
	}
	if _, err := c.Me(ctx); !errors.Is(err, apiclient.ErrLoginRequired) {
		t.Errorf("me after the reset: %v", err)
	}
	if _, err := c.Login(ctx, cliPhone, cliPassword); !errors.Is(err, apiclient.ErrWrongPassword) {
		t.Errorf("the old password: %v", err)
	}
	if _, err := c.Login(ctx, cliPhone, second); err != nil {
		t.Fatalf("the new password: %v", err)
	}

	// A password change: the fresh pair replaces the one held.
	before, _ := c.Session()
	if _, err := c.ChangePassword(ctx, "not-the-password", third, third); !errors.Is(err, apiclient.ErrWrongPassword) {
		t.Errorf("change with a wrong password: %v", err)
	}
	rn, err := c.ChangePassword(ctx, second, third, third)
	if err != nil || rn.Message != "密码修改成功" {
		t.Fatalf("change password: %+v, %v", rn, err)
	}
	if s, _ := c.Session(); s != rn.Session || s.RefreshToken == before.RefreshToken {
		t.Error("the pair of the change does not replace the one held")
	}
	if a := in.refresh(t, before.RefreshToken); a.Status != 401 {
		t.Errorf("the session before the change: %d %s", a.Status, a.Raw)
	}
	if _, err := c.Me(ctx); err != nil {
		t.Errorf("me after the change: %v", err)
	}

	// A phone change, to a number of its own, not to a taken one.
	other := in.newClient(newCounter(t), nil)
	in.clock.Advance(61 * time.Second)
	clientRegister(t, in, other, "+8613800138000", "other@qq.com")
	if _, err := c.ChangePhoneSend(ctx, "+8613800138000", third); !errors.Is(err, apiclient.ErrPhoneTaken) {
		t.Errorf("to a taken number: %v", err)
	}
	if r, err := c.ChangePhoneSend(ctx, newPhone, third); err != nil || r.Message != "发送成功" {
		t.Fatalf("change phone step 1: %+v, %v", r, err)
	}
	before, _ = c.Session()
	rn, err = c.ChangePhone(ctx, newPhone, in.code(t, newPhone))
	if err != nil || rn.Message != "手机号修改成功" {
		t.Fatalf("change phone step 2: %+v, %v", rn, err)
	}
	if s, _ := c.Session(); s != rn.Session || s.RefreshToken == before.RefreshToken {
		t.Error("the pair of the change does not replace the one held")
	}
	me, err := c.Me(ctx)
	if err != nil || me.PhoneNumber != newPhone || me.Email != cliEmail {
		t.Fatalf("me after the phone change: %+v, %v", me, err)
	}

	// The deletion.
	if _, err := c.DeleteAccount(ctx, second); !errors.Is(err, apiclient.ErrWrongPassword) {
		t.Errorf("delete with a wrong password: %v", err)
	}
	if r, err := c.DeleteAccount(ctx, third); err != nil || r.Message != "账号已注销" {
		t.Fatalf("delete: %+v, %v", r, err)
	}
	if _, ok := c.Session(); ok {
		t.Error("the session is kept after the deletion")
	}
	if _, err := c.Login(ctx, newPhone, third); !errors.Is(err, apiclient.ErrNoSuchUser) {
		t.Errorf("login after the deletion: %v", err)
	}
}
