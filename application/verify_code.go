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
	guard   *CodeGuard
	clock   Clock
	policy  Policy
}

// NewVerifyCodeHandler builds the step-2 handler.
func NewVerifyCodeHandler(pending PendingRegistrations, hasher CodeHasher, guard *CodeGuard, clock Clock, policy Policy) *VerifyCodeHandler {
	return &VerifyCodeHandler{pending: pending, hasher: hasher, guard: guard, clock: clock, policy: policy}
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
	g, err := h.guard.reserve(ctx, phone, in.ClientNet, now)
	if err != nil {
		return VerifyCodeResult{}, err
	}
	var outcome error
	wrong := false
	counted := g.counted()
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
		h.guard.release(ctx, now, g.net, g.global, g.phone)
	}
	if err != nil {
		return VerifyCodeResult{}, err
	}
	if outcome != nil {
		return VerifyCodeResult{}, outcome
	}
	return VerifyCodeResult{RegistrationToken: by.Token}, nil
}

// CodeGuard is what every check of a code shares, whatever its purpose:
// the limits on wrong codes (the client network's failures, the number's
// wrong codes per day, the deployment's per hour), and the operator's
// alarm when the deployment's budget is spent, raised once per window
// whichever check met it. The wiring makes one for all the checks.
type CodeGuard struct {
	limits RateLimits
	alarms Alarms
	policy Policy
	// alarmed is the end (Unix ms) of the last global window reported
	// spent, so that the operator hears of each window once.
	alarmed atomic.Int64
}

// NewCodeGuard builds the guard of code checks.
func NewCodeGuard(limits RateLimits, alarms Alarms, policy Policy) *CodeGuard {
	return &CodeGuard{limits: limits, alarms: alarms, policy: policy}
}

// guess is the places one code check holds in the failure limits while
// its code is judged: the client network's failures, the deployment's
// wrong codes, the number's wrong codes.
type guess struct{ net, global, phone taken }

// counted reports whether any failure limit is on.
func (g guess) counted() bool { return g.net.key != "" || g.global.key != "" || g.phone.key != "" }

// reserve takes, before the code is judged, the place a wrong code would
// use in each failure limit: the client network's failures, the
// deployment's wrong codes per hour, and the number's wrong codes per day.
// The places are given back (release) unless the code turns out wrong, so
// that concurrent guesses never overshoot. Past the number's daily limit
// every code of the number is dead (domain.ErrTooManyAttempts), a right
// one too.
func (c *CodeGuard) reserve(ctx context.Context, phone domain.PhoneNumber, clientNet string, now time.Time) (guess, error) {
	var g guess
	var err error
	if g.net, err = take(ctx, c.limits, c.policy.failureRule(clientNet), now); err != nil {
		return guess{}, err
	}
	global := rule{LimitCodeGlobalHourly, GlobalKeyPrefix + "code-failures", c.policy.CodeHourlyFailuresGlobal, time.Hour}
	if g.global, err = take(ctx, c.limits, global, now); err != nil {
		c.release(ctx, now, g.net)
		var rl *RateLimitedError
		if errors.As(err, &rl) {
			c.alarm(now.Add(rl.RetryAfter))
		}
		return guess{}, err
	}
	perPhone := rule{"code_phone_daily", "code-failures:" + phone.E164(), c.policy.CodeDailyFailuresPerPhone, 24 * time.Hour}
	if g.phone, err = take(ctx, c.limits, perPhone, now); err != nil {
		c.release(ctx, now, g.net, g.global)
		var rl *RateLimitedError
		if errors.As(err, &rl) {
			return guess{}, domain.ErrTooManyAttempts
		}
		return guess{}, err
	}
	return g, nil
}

// release gives back places that turned out not to count.
func (c *CodeGuard) release(ctx context.Context, now time.Time, places ...taken) {
	for _, t := range places {
		giveBack(ctx, c.limits, t, now)
	}
}

// verifyPending judges candidate, the hash of the code the client typed
// bound to want (the subject the client claims), against the live code
// under want.Key() in codes, with the rules of every code check: the
// guard's places taken first, every wrong try stored atomically with
// the check (so concurrent guesses cannot pass the attempt limit), a right
// code used up. No live code is domain.ErrNoPendingCode.
//
// A code sent for another account than want's (a reset code sent to the
// number's previous holder, who moved away or was deleted) is no code of
// want's: domain.ErrNoPendingCode, nothing charged, the code untouched.
//
// A code whose subject is not want (a phone change's code sent to
// another number than the one typed) is a wrong try of that code: it
// counts against its attempts and the client network's failures, but
// not against the typed number's daily wrong codes, so that typing a
// stranger's number spends nothing of the stranger's.
//
// On success the client network's place is still held, and returned:
// the caller settles it when it knows whether its own answer is a
// failure.
func (c *CodeGuard) verifyPending(ctx context.Context, codes PendingCodes, want domain.CodeSubject, candidate []byte, clientNet string, now time.Time) (taken, error) {
	g, err := c.reserve(ctx, want.Phone, clientNet, now)
	if err != nil {
		return taken{}, err
	}
	var outcome error
	wrong, other := false, false
	err = codes.Update(ctx, want.Key(), now, func(p *domain.PendingCode) error {
		if p.Subject().Account != want.Account {
			// The key is the number's (a reset's) and the code was sent
			// for another account, the number's previous holder: it is
			// no code of want's account, which has none.
			return domain.ErrNoPendingCode
		}
		cand := candidate
		if other = !sameSubject(p.Subject(), want); other {
			cand = nil // matches no code
		}
		before := p.Snapshot().Attempts
		outcome = p.Verify(cand, now, c.policy.CodeMaxAttempts)
		wrong = p.Snapshot().Attempts > before
		return nil // persist the attempt whatever the outcome
	})
	switch {
	case err != nil || (!wrong && outcome != nil):
		c.release(ctx, now, g.net, g.global, g.phone)
	case wrong && other:
		c.release(ctx, now, g.phone)
	case outcome == nil:
		c.release(ctx, now, g.global, g.phone)
	}
	if err != nil {
		return taken{}, err
	}
	if outcome != nil {
		return taken{}, outcome
	}
	return g.net, nil
}

// noPending answers a check of a code where there is none to check (a
// number no account holds) as verifyPending answers a key that holds no
// live code: the failure limits are consulted (a client past them hears
// 429), nothing is charged, and the answer is domain.ErrNoPendingCode.
func (c *CodeGuard) noPending(ctx context.Context, phone domain.PhoneNumber, clientNet string, now time.Time) error {
	g, err := c.reserve(ctx, phone, clientNet, now)
	if err != nil {
		return err
	}
	c.release(ctx, now, g.net, g.global, g.phone)
	return domain.ErrNoPendingCode
}

// sameSubject compares subjects by what the code's hash binds.
func sameSubject(a, b domain.CodeSubject) bool {
	return a.Purpose == b.Purpose && a.Phone.E164() == b.Phone.E164() && a.Account == b.Account
}

// alarm tells the operator, once per window, that the deployment's wrong
// codes reached their hourly budget: someone is guessing codes across
// numbers, and honest users cannot verify until the window ends.
func (c *CodeGuard) alarm(until time.Time) {
	end := until.UnixMilli()
	for {
		last := c.alarmed.Load()
		if last == end {
			return // this window was reported
		}
		if c.alarmed.CompareAndSwap(last, end) {
			c.alarms.CodeFailuresBudgetSpent(c.policy.CodeHourlyFailuresGlobal, until)
			return
		}
	}
}
