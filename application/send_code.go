package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// SendCode is step 1: a phone number asks for a verification code.
type SendCode struct {
	Phone string
	// ClientNet names the client's network (see Login.ClientNet).
	ClientNet string
}

// SendCodeHandler sends registration codes.
type SendCodeHandler struct {
	users   Users
	pending PendingRegistrations
	limits  RateLimiter
	hasher  CodeHasher
	sms     SMSSender
	clock   Clock
	policy  Policy
}

// NewSendCodeHandler builds the step-1 handler.
func NewSendCodeHandler(users Users, pending PendingRegistrations, limits RateLimiter, hasher CodeHasher, sms SMSSender, clock Clock, policy Policy) *SendCodeHandler {
	return &SendCodeHandler{users: users, pending: pending, limits: limits, hasher: hasher, sms: sms, clock: clock, policy: policy}
}

// Handle runs SPEC §3's checks in order (format, registered, country,
// limits), stores the code's hash, then sends it. If the vendor fails, the
// stored code is killed so that it can never verify, and the *SMSError is
// returned.
func (h *SendCodeHandler) Handle(ctx context.Context, in SendCode) error {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return err
	}
	exists, err := h.users.Exists(ctx, phone)
	if err != nil {
		return fmt.Errorf("look up user: %w", err)
	}
	if exists {
		return domain.ErrUserExists
	}
	if !h.policy.AllowedCountries.Allows(phone) {
		return domain.ErrCountryNotAllowed
	}
	now := h.clock.Now()
	if err := h.checkLimits(ctx, phone, in.ClientNet, now); err != nil {
		return err
	}
	code, err := newCode()
	if err != nil {
		return fmt.Errorf("draw code: %w", err)
	}
	codeHash := h.hasher.HashCode(phone, code)
	// The new code replaces the old one in the same atomic step that
	// keeps a verification already made: whoever asks for a code cannot
	// undo the owner's step 2.
	err = h.pending.Upsert(ctx, phone, now, func(cur *domain.PendingRegistration) *domain.PendingRegistration {
		return domain.RenewPendingRegistration(cur, phone, codeHash, now, h.policy.CodeTTL)
	})
	if err != nil {
		return fmt.Errorf("save pending registration: %w", err)
	}
	if sendErr := h.sms.SendCode(ctx, phone, code, h.policy.CodeTTL); sendErr != nil {
		err := h.pending.Update(ctx, phone, now, func(p *domain.PendingRegistration) error {
			p.KillCode()
			return nil
		})
		if err != nil && !errors.Is(err, domain.ErrNoPending) {
			return fmt.Errorf("kill unsent code after %v: %w", sendErr, err)
		}
		return sendErr
	}
	return nil
}

// checkLimits applies the cheapest and most specific limit first, so a
// refusal by the per-phone cooldown consumes nothing else.
func (h *SendCodeHandler) checkLimits(ctx context.Context, phone domain.PhoneNumber, ip string, now time.Time) error {
	checks := []struct {
		kind, key string
		limit     int
		window    time.Duration
	}{
		{"cooldown", "sms:cooldown:" + phone.E164(), 1, h.policy.ResendInterval},
		{"phone_daily", "sms:day:" + phone.E164(), h.policy.DailyLimitPerPhone, 24 * time.Hour},
		{"ip_hourly", "sms:ip:" + ip, h.policy.HourlyLimitPerIP, time.Hour},
		{"global_hourly", "sms:global", h.policy.HourlyLimitGlobal, time.Hour},
	}
	for _, c := range checks {
		if c.limit <= 0 || c.window <= 0 {
			continue // a limit of 0 switches it off (benchmarks)
		}
		d, err := h.limits.Allow(ctx, c.key, c.limit, c.window, now)
		if err != nil {
			return fmt.Errorf("rate limit %s: %w", c.kind, err)
		}
		if !d.Allowed {
			return &RateLimitedError{Kind: c.kind, RetryAfter: d.RetryAfter}
		}
	}
	return nil
}
