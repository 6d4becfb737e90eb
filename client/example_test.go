package client_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/phoneauth/phoneauth/client"
)

// A registration in its four steps, then a login and the account. The
// code is the one the service's test SMS sender captured; a real app asks
// its user for it.
func Example() {
	svc := startService()
	defer svc.Close()
	ctx := context.Background()
	c := client.New(svc.URL)

	const phone, password = "+8615850551102", "correct horse battery"
	r, err := c.SendCode(ctx, phone)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Message)
	v, err := c.VerifyCode(ctx, phone, svc.code(phone))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Message)
	if r, err = c.SetPassword(ctx, phone, password, password); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Message)
	if r, err = c.CompleteProfile(ctx, phone, "li.lei@example.com"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Message)

	in, err := c.Login(ctx, "158 5055 1102", password)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(in.Message, in.Email)
	me, err := c.Me(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(me.Message, me.PhoneNumber)
	out, err := c.Logout(ctx, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Message)
	_, err = c.Me(ctx)
	fmt.Println(errors.Is(err, client.ErrLoginRequired))
	// Output:
	// 发送成功
	// 短信验证通过
	// 提交密码成功
	// 注册成功
	// 成功登录 li.lei@example.com
	// 获取成功 +8615850551102
	// 成功注销
	// true
}

// A failure is an *Error: its reason for errors.Is, its message for the
// user, and on a 429 how long to wait.
func ExampleError() {
	svc := startService()
	defer svc.Close()
	ctx := context.Background()
	c := client.New(svc.URL)

	if _, err := c.SendCode(ctx, "+8615850551102"); err != nil {
		fmt.Println(err)
		return
	}
	_, err := c.SendCode(ctx, "+8615850551102") // again, within the resend interval
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.HTTPStatus, e.Reason, e.Message, e.RetryAfter)
	}
	fmt.Println(errors.Is(err, client.ErrRateLimited))

	_, err = c.Login(ctx, "+8613800138000", "no such account")
	fmt.Println(errors.Is(err, client.ErrNoSuchUser), err)
	// Output:
	// 429 rate_limited 请求过于频繁，请稍后再试 1m0s
	// true
	// true phoneauth: no_such_user: 没有此用户
}

// The proof a login sends instead of the password.
func ExampleLoginProof() {
	fmt.Println(client.LoginProof("secret123", "abc", "1700000000"))
	// Output:
	// 51e328c7a17f53a1d75e3c0c2569cf5b8d0b8c02b9529fac7c57257cf8e2777f
}

// An app saves the session whenever it changes and starts the next
// client with it: no new login.
func ExampleOnSessionChange() {
	svc := startService()
	defer svc.Close()
	ctx := context.Background()
	register(svc, "+8615850551102", "correct horse battery")

	var saved client.Session // an app writes it to its key store
	c := client.New(svc.URL, client.OnSessionChange(func(s client.Session) { saved = s }))
	if _, err := c.Login(ctx, "+8615850551102", "correct horse battery"); err != nil {
		fmt.Println(err)
		return
	}

	later := client.New(svc.URL, client.WithSession(saved))
	me, err := later.Me(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(me.PhoneNumber)
	if _, err := later.Logout(ctx, false); err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.Me(ctx) // the first client's session has ended too
	fmt.Println(errors.Is(err, client.ErrLoginRequired))
	// Output:
	// +8615850551102
	// true
}
