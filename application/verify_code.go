package application

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// VerifyCode is step 2: the code the user typed.
type VerifyCode struct {
	Phone     string
	Code      string
	ClientNet string
}

// VerifyCodeResult is step 2's success.
type VerifyCodeResult struct {
	// RegistrationToken lets the client that verified continue the
	// registration from any network; only its hash is stored.
	RegistrationToken string
}

// VerifyCodeHandler checks codes.
type VerifyCodeHandler struct {
	pending PendingRegistrations
	hasher  CodeHasher
	limits  RateLimits
	alarms  Alarms
	clock   Clock
	policy  Policy
	// alarmed is the end (Unix ms) of the last global window reported
	// spent, so that the operator hears of each window once.
	alarmed atomic.Int64
}

// NewVerifyCodeHandler builds the step-2 handler.
func NewVerifyCodeHandler(pending PendingRegistrations, hasher CodeHasher, limits RateLimits, alarms Alarms, clock Clock, policy Policy) *VerifyCodeHandler {
	return &VerifyCodeHandler{pending: pending, hasher: hasher, limits: limits, alarms: alarms, clock: clock, policy: policy}
}

// Handle verifies the code against the pending registration. A wrong try
// is stored as well as a right one, atomically with the check, so
// concurrent guesses cannot exceed the attempt limit. Success binds the
// registration to this client (its new token and its network).
func (h *VerifyCodeHandler) Handle(ctx context.Context, in VerifyCode) (VerifyCodeResult, error) {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return VerifyCodeResult{}, err
	}
	by := domain.RegistrationClient{Token: newRegistrationToken(), Net: in.ClientNet}
	candidate := h.hasher.HashCode(domain.CodeSubject{Purpose: domain.PurposeRegister, Phone: phone}, in.Code)
	now := h.clock.Now()
	held, err := h.reserveGuess(ctx, phone, in.ClientNet, now)
	if err != nil {
		return VerifyCodeResult{}, err
	}
	var outcome error
	wrong := false
	counted := held[0].key != "" || held[1].key != "" || held[2].key != ""
	err = h.pending.Update(ctx, phone, now, func(p *domain.PendingRegistration) error {
		if !counted { // no failure limit is on: nothing to tell apart
			outcome = p.Verify(candidate, now, h.policy.CodeMaxAttempts, h.policy.RegistrationTTL, by)
			return nil
		}
		// A wrong code is a try that counted; a dead or expired code is
		// not a guess judged.
		before := p.Snapshot().Attempts
		outcome = p.Verify(candidate, now, h.policy.CodeMaxAttempts, h.policy.RegistrationTTL, by)
		wrong = p.Snapshot().Attempts > before
		return nil // persist the attempt whatever the outcome
	})
	if err != nil || !wrong {
		for _, t := range held {
			giveBack(ctx, h.limits, t, now)
		}
	}
	if err != nil {
		return VerifyCodeResult{}, err
	}
	if outcome != nil {
		return VerifyCodeResult{}, outcome
	}
	return VerifyCodeResult{RegistrationToken: by.Token}, nil
}

// reserveGuess takes, before the code is judged, the place a wrong code
// would use in each failure limit: the client network's failures, the
// deployment's wrong codes per hour, and the number's wrong codes per day.
// The places are given back unless the code turns out wrong, so that
// concurrent guesses never overshoot. Past the number's daily limit every
// code of the number is dead (domain.ErrTooManyAttempts), a right one too.
func (h *VerifyCodeHandler) reserveGuess(ctx context.Context, phone domain.PhoneNumber, clientNet string, now time.Time) ([3]taken, error) {
	var held [3]taken
	var err error
	if held[0], err = take(ctx, h.limits, h.policy.failureRule(clientNet), now); err != nil {
		return held, err
	}
	release := func() {
		for _, t := range held {
			giveBack(ctx, h.limits, t, now)
		}
	}
	global := rule{LimitCodeGlobalHourly, GlobalKeyPrefix + "code-failures", h.policy.CodeHourlyFailuresGlobal, time.Hour}
	if held[1], err = take(ctx, h.limits, global, now); err != nil {
		release()
		var rl *RateLimitedError
		if errors.As(err, &rl) {
			h.alarm(now.Add(rl.RetryAfter))
		}
		return held, err
	}
	perPhone := rule{"code_phone_daily", "code-failures:" + phone.E164(), h.policy.CodeDailyFailuresPerPhone, 24 * time.Hour}
	if held[2], err = take(ctx, h.limits, perPhone, now); err != nil {
		release()
		var rl *RateLimitedError
		if errors.As(err, &rl) {
			return held, domain.ErrTooManyAttempts
		}
		return held, err
	}
	return held, nil
}

// alarm tells the operator, once per window, that the deployment's wrong
// codes reached their hourly budget: someone is guessing codes across
// numbers, and honest users cannot verify until the window ends.
func (h *VerifyCodeHandler) alarm(until time.Time) {
	end := until.UnixMilli()
	for {
		last := h.alarmed.Load()
		if last == end {
			return // this window was reported
		}
		if h.alarmed.CompareAndSwap(last, end) {
			h.alarms.CodeFailuresBudgetSpent(h.policy.CodeHourlyFailuresGlobal, until)
			return
		}
	}
}
