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
	limits  RateLimits
	hasher  CodeHasher
	sms     SMSSender
	clock   Clock
	policy  Policy
}

// NewSendCodeHandler builds the step-1 handler.
func NewSendCodeHandler(users Users, pending PendingRegistrations, limits RateLimits, hasher CodeHasher, sms SMSSender, clock Clock, policy Policy) *SendCodeHandler {
	return &SendCodeHandler{users: users, pending: pending, limits: limits, hasher: hasher, sms: sms, clock: clock, policy: policy}
}

// Handle runs step 1's checks in the order docs/api.md gives (format,
// registered, country, limits), stores the code's hash, then sends it. If
// the vendor fails, the stored code is killed so that it can never
// verify, and the *SMSError is returned.
func (h *SendCodeHandler) Handle(ctx context.Context, in SendCode) error {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return err
	}
	now := h.clock.Now()
	// Whether a number is registered is what an enumerating client wants:
	// the answer costs its network a failure, and a network past its
	// failures hears 429 before anything is looked up.
	failure, err := take(ctx, h.limits, h.policy.failureRule(in.ClientNet), now)
	if err != nil {
		return err
	}
	exists, err := h.users.Exists(ctx, phone)
	settle(ctx, h.limits, failure, err == nil && exists, now)
	if err != nil {
		return fmt.Errorf("look up user: %w", err)
	}
	if exists {
		return domain.ErrUserExists
	}
	if !h.policy.AllowedCountries.Allows(phone) {
		return domain.ErrCountryNotAllowed
	}
	if err := h.reserveLimits(ctx, phone, in.ClientNet, now); err != nil {
		return err
	}
	code, err := newCode()
	if err != nil {
		return fmt.Errorf("draw code: %w", err)
	}
	codeHash := h.hasher.HashCode(domain.CodeSubject{Purpose: domain.PurposeRegister, Phone: phone}, code)
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

// reserveLimits takes one unit of each sending limit, the most specific
// first: the phone's cooldown, its daily cap, the client network's hourly
// cap, the global hourly budget. A refusal gives back what was taken, so
// a refused request starts no cooldown and spends no quota.
func (h *SendCodeHandler) reserveLimits(ctx context.Context, phone domain.PhoneNumber, clientNet string, now time.Time) error {
	return takeAll(ctx, h.limits, now,
		rule{LimitCooldown, "sms:cooldown:" + phone.E164(), 1, h.policy.ResendInterval},
		rule{LimitPhoneDaily, "sms:day:" + phone.E164(), h.policy.DailyLimitPerPhone, 24 * time.Hour},
		rule{LimitNetHourly, "sms:ip:" + clientNet, h.policy.HourlyLimitPerIP, time.Hour},
		rule{LimitGlobalHourly, GlobalKeyPrefix + "sms", h.policy.HourlyLimitGlobal, time.Hour},
	)
}
