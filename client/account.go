package client

import (
	"context"
	"net/http"
)

// Account recovery and changes. Every call here that answers a fresh
// pair replaces the session held with it; each ends every other session
// of the account.

// ResetPasswordSend asks for a reset code by SMS to the account's number
// (reset step 1). Failures: ErrNoSuchUser, ErrInvalidPhone,
// ErrCountryNotAllowed, ErrSMSVendor, ErrSMSUnavailable, ErrRateLimited.
func (c *Client) ResetPasswordSend(ctx context.Context, phone string) (*Reply, error) {
	env, err := c.post(ctx, "/client/reset-password-step-1", map[string]string{"phone_number": phone})
	if err != nil {
		return nil, err
	}
	return &Reply{Message: env.Message}, nil
}

// ResetPassword sets a new password with the code the number received
// (reset step 2). It ends every session of the account and opens none:
// log in with the new password. Failures: ErrPasswordLength,
// ErrPasswordMismatch (checked before the code, so they use no attempt),
// ErrCodeMismatch, ErrCodeExpired, ErrTooManyAttempts, ErrNoPendingCode,
// ErrRateLimited.
func (c *Client) ResetPassword(ctx context.Context, phone, code, password, confirm string) (*Reply, error) {
	env, err := c.post(ctx, "/client/reset-password-step-2", map[string]string{
		"phone_number": phone, "validate_number": code, "password": password, "password_confirm": confirm,
	})
	if err != nil {
		return nil, err
	}
	return &Reply{Message: env.Message}, nil
}

// ChangePassword replaces the password of the session's account, proving
// the current one as a login does. The answer's fresh pair replaces the
// session held; every other session ends. Failures: ErrWrongPassword,
// ErrStaleRequest, ErrReplayedRequest, ErrPasswordLength,
// ErrPasswordMismatch, ErrAccountLocked, ErrRateLimited, and
// ErrLoginRequired.
func (c *Client) ChangePassword(ctx context.Context, current, password, confirm string) (*Renewed, error) {
	return c.renew(ctx, "/client/change-password", func() (any, error) {
		p, err := c.newProof(current)
		if err != nil {
			return nil, err
		}
		return struct {
			proof
			Password        string `json:"password"`
			PasswordConfirm string `json:"password_confirm"`
		}{p, password, confirm}, nil
	})
}

// ChangePhoneSend asks for a code by SMS to newPhone, the number the
// account moves to (phone change step 1), proving the password: a stolen
// token alone cannot move the account. Failures: ErrWrongPassword,
// ErrStaleRequest, ErrReplayedRequest, ErrPhoneTaken, ErrInvalidPhone,
// ErrCountryNotAllowed, ErrSMSVendor, ErrSMSUnavailable, ErrRateLimited,
// ErrAccountLocked, and ErrLoginRequired.
func (c *Client) ChangePhoneSend(ctx context.Context, newPhone, password string) (*Reply, error) {
	env, err := c.authed(ctx, http.MethodPost, "/client/change-phone-step-1", func() (any, error) {
		p, err := c.newProof(password)
		if err != nil {
			return nil, err
		}
		return struct {
			NewPhone string `json:"new_phone_number"`
			proof
		}{newPhone, p}, nil
	})
	if err != nil {
		return nil, err
	}
	return &Reply{Message: env.Message}, nil
}

// ChangePhone moves the account to newPhone with the code it received
// (phone change step 2). The answer's fresh pair replaces the session
// held; every other session ends. Failures: ErrCodeMismatch,
// ErrCodeExpired, ErrTooManyAttempts, ErrNoPendingCode, ErrPhoneTaken,
// ErrRateLimited, and ErrLoginRequired.
func (c *Client) ChangePhone(ctx context.Context, newPhone, code string) (*Renewed, error) {
	return c.renew(ctx, "/client/change-phone-step-2", func() (any, error) {
		return map[string]string{"new_phone_number": newPhone, "validate_number": code}, nil
	})
}

// DeleteAccount deletes the session's account, proving the password,
// and drops the session. Failures: ErrWrongPassword, ErrStaleRequest,
// ErrReplayedRequest, ErrAccountLocked, ErrRateLimited, and
// ErrLoginRequired.
func (c *Client) DeleteAccount(ctx context.Context, password string) (*Reply, error) {
	env, err := c.authed(ctx, http.MethodPost, "/client/delete-account", func() (any, error) {
		p, err := c.newProof(password)
		return p, err
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.setLocked(nil)
	c.mu.Unlock()
	return &Reply{Message: env.Message}, nil
}

// renew sends an authenticated request whose answer is a fresh pair, and
// keeps the pair.
func (c *Client) renew(ctx context.Context, path string, body func() (any, error)) (*Renewed, error) {
	sent := c.now()
	env, err := c.authed(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, err
	}
	return &Renewed{Message: env.Message, Session: c.keep(env, sent)}, nil
}
