package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth/client"
)

// A forgotten password: a code to the number, a new password, then a
// login with it.
func ExampleClient_ResetPassword() {
	svc := startService()
	defer svc.Close()
	ctx := context.Background()
	const phone = "+8615850551102"
	register(svc, phone, "forgotten password")
	svc.clock.Advance(61 * time.Second) // past the number's resend interval

	c := client.New(svc.URL, client.WithClock(svc.clock.Now))
	r, err := c.ResetPasswordSend(ctx, phone)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Message)
	if r, err = c.ResetPassword(ctx, phone, svc.code(phone), "a new password", "a new password"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Message)
	in, err := c.Login(ctx, phone, "a new password")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(in.Message)
	// Output:
	// 发送成功
	// 密码重置成功
	// 成功登录
}

// The changes of a logged-in account: each proves the password, and the
// pair it answers replaces the one held.
func ExampleClient_ChangePassword() {
	svc := startService()
	defer svc.Close()
	ctx := context.Background()
	const phone, newPhone = "+8615850551102", "+8613912345678"
	register(svc, phone, "old password")

	c := client.New(svc.URL, client.WithClock(svc.clock.Now))
	if _, err := c.Login(ctx, phone, "old password"); err != nil {
		fmt.Println(err)
		return
	}
	rn, err := c.ChangePassword(ctx, "old password", "new password", "new password")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rn.Message)

	svc.clock.Advance(61 * time.Second)
	r, err := c.ChangePhoneSend(ctx, newPhone, "new password")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Message)
	if rn, err = c.ChangePhone(ctx, newPhone, svc.code(newPhone)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rn.Message)
	me, err := c.Me(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(me.PhoneNumber)

	_, err = c.DeleteAccount(ctx, "old password")
	fmt.Println(errors.Is(err, client.ErrWrongPassword))
	if r, err = c.DeleteAccount(ctx, "new password"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Message)
	// Output:
	// 密码修改成功
	// 发送成功
	// 手机号修改成功
	// +8613912345678
	// true
	// 账号已注销
}
