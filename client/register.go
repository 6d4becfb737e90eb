package client

import "context"

// The four steps of a registration. Call them in order for one number;
// the registration token step 2 answers is kept by the client, under the
// number exactly as given, and sent by steps 3 and 4, so that only this
// client can continue the registration it verified.

// SendCode asks for a registration code by SMS (register step 1).
// Failures: ErrUserExists, ErrInvalidPhone, ErrCountryNotAllowed,
// ErrSMSVendor (Message is the vendor's text), ErrSMSUnavailable,
// ErrRateLimited (a new code within the resend interval, too many today).
func (c *Client) SendCode(ctx context.Context, phone string) (*Reply, error) {
	env, err := c.post(ctx, "/client/register-step-1", map[string]string{"phone_number": phone})
	if err != nil {
		return nil, err
	}
	return &Reply{Message: env.Message}, nil
}

// Verified is register step 2's answer.
type Verified struct {
	Message string // 短信验证通过
	// RegistrationToken proves this client verified the number; the
	// client sends it in steps 3 and 4 by itself.
	RegistrationToken string
}

// VerifyCode checks the code the number received (register step 2).
// Failures: ErrCodeMismatch, ErrCodeExpired, ErrTooManyAttempts,
// ErrNoPendingRegistration, ErrRateLimited.
func (c *Client) VerifyCode(ctx context.Context, phone, code string) (*Verified, error) {
	env, err := c.post(ctx, "/client/register-step-2", map[string]string{"phone_number": phone, "validate_number": code})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.regs[phone] = env.RegistrationToken
	c.mu.Unlock()
	return &Verified{Message: env.Message, RegistrationToken: env.RegistrationToken}, nil
}

// registration is the body of steps 3 and 4: the number, the step's
// fields, and the registration token if the client verified the number.
func (c *Client) registration(phone string, fields map[string]string) map[string]string {
	fields["phone_number"] = phone
	c.mu.Lock()
	if tok := c.regs[phone]; tok != "" {
		fields["registration_token"] = tok
	}
	c.mu.Unlock()
	return fields
}

// SetPassword sets the account's password (register step 3); confirm
// must equal password. Failures: ErrNotVerified, ErrPasswordLength,
// ErrPasswordMismatch.
func (c *Client) SetPassword(ctx context.Context, phone, password, confirm string) (*Reply, error) {
	env, err := c.post(ctx, "/client/register-step-3", c.registration(phone, map[string]string{"password": password, "password_confirm": confirm}))
	if err != nil {
		return nil, err
	}
	return &Reply{Message: env.Message}, nil
}

// CompleteProfile gives the email and creates the account (register step
// 4). It does not log in: call Login next. Failures: ErrNotVerified,
// ErrInvalidEmail, ErrEmailTaken, ErrPasswordMissing, ErrUserExists,
// ErrRateLimited.
func (c *Client) CompleteProfile(ctx context.Context, phone, email string) (*Reply, error) {
	env, err := c.post(ctx, "/client/register-step-4", c.registration(phone, map[string]string{"email": email}))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	delete(c.regs, phone)
	c.mu.Unlock()
	return &Reply{Message: env.Message}, nil
}
