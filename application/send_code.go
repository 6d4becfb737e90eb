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
	pending PendingRegistrations
	codes   codeSender
	clock   Clock
	policy  Policy
}

// NewSendCodeHandler builds the step-1 handler.
func NewSendCodeHandler(users Users, pending PendingRegistrations, limits RateLimits, hasher CodeHasher, sms SMSSender, clock Clock, policy Policy) *SendCodeHandler {
	return &SendCodeHandler{pending: pending, codes: codeSender{users: users, limits: limits, hasher: hasher, sms: sms, policy: policy}, clock: clock, policy: policy}
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
	exists, err := h.codes.registered(ctx, phone, in.ClientNet, now)
	if err != nil {
		return err
	}
	if exists {
		return domain.ErrUserExists
	}
	if !h.policy.AllowedCountries.Allows(phone) {
		return domain.ErrCountryNotAllowed
	}
	subject := domain.CodeSubject{Purpose: domain.PurposeRegister, Phone: phone}
	return h.codes.send(ctx, subject, h.policy.sendRules(phone, in.ClientNet), now,
		func(codeHash []byte) error {
			// The new code replaces the old one in the same atomic step
			// that keeps a verification already made: whoever asks for a
			// code cannot undo the owner's step 2.
			err := h.pending.Upsert(ctx, phone, now, func(cur *domain.PendingRegistration) *domain.PendingRegistration {
				return domain.RenewPendingRegistration(cur, phone, codeHash, now, h.policy.CodeTTL)
			})
			if err != nil {
				return fmt.Errorf("save pending registration: %w", err)
			}
			return nil
		},
		func() error {
			err := h.pending.Update(ctx, phone, now, func(p *domain.PendingRegistration) error {
				p.KillCode()
				return nil
			})
			if errors.Is(err, domain.ErrNoPending) {
				return nil
			}
			return err
		})
}

// codeSender is what every send of a code shares, whatever its purpose
// (registration, password reset, phone change): the lookup of whether a
// number is registered, charged to the client network as a failure when
// its answer refuses the request; the sending limits; and the send
// itself.
type codeSender struct {
	users  Users
	limits RateLimits
	hasher CodeHasher
	sms    SMSSender
	policy Policy
}

// registered reports whether phone has an account. Whether a number is
// registered is what an enumerating client wants: the lookup takes a unit
// of the client network's failures first (a network past its failures
// hears 429 before anything is looked up), and keeps it when the number
// is registered, the answer that refuses a registration or a phone
// change.
func (s codeSender) registered(ctx context.Context, phone domain.PhoneNumber, clientNet string, now time.Time) (bool, error) {
	failure, err := take(ctx, s.limits, s.policy.failureRule(clientNet), now)
	if err != nil {
		return false, err
	}
	exists, err := s.users.Exists(ctx, phone)
	settle(ctx, s.limits, failure, err == nil && exists, now)
	if err != nil {
		return false, fmt.Errorf("look up user: %w", err)
	}
	return exists, nil
}

// holder is the account that holds phone, nil when none: registered's
// lookup for a reset, where no account is the answer that refuses (and
// the code is bound to the account found).
func (s codeSender) holder(ctx context.Context, phone domain.PhoneNumber, clientNet string, now time.Time) (*domain.User, error) {
	failure, err := take(ctx, s.limits, s.policy.failureRule(clientNet), now)
	if err != nil {
		return nil, err
	}
	u, err := s.users.ByPhone(ctx, phone)
	if errors.Is(err, domain.ErrUserNotFound) {
		settle(ctx, s.limits, failure, true, now)
		return nil, nil
	}
	settle(ctx, s.limits, failure, false, now)
	if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	return u, nil
}

// send takes one unit of each sending limit (rules, in order; a refusal
// gives back what was taken), draws a code, has save store its hash
// (bound to subject), and sends it to subject.Phone. If the vendor fails,
// kill makes the stored code unable to verify, and the *SMSError is
// returned.
func (s codeSender) send(ctx context.Context, subject domain.CodeSubject, rules []rule, now time.Time, save func(codeHash []byte) error, kill func() error) error {
	if err := takeAll(ctx, s.limits, now, rules...); err != nil {
		return err
	}
	code, err := newCode()
	if err != nil {
		return fmt.Errorf("draw code: %w", err)
	}
	if err := save(s.hasher.HashCode(subject, code)); err != nil {
		return err
	}
	if sendErr := s.sms.SendCode(ctx, subject.Phone, code, s.policy.CodeTTL); sendErr != nil {
		if err := kill(); err != nil {
			return fmt.Errorf("kill unsent code after %v: %w", sendErr, err)
		}
		return sendErr
	}
	return nil
}

// sendPending is send for a code kept in codes (domain.PendingCode, one
// per subject's key): a new code replaces the key's earlier one.
func (s codeSender) sendPending(ctx context.Context, codes PendingCodes, subject domain.CodeSubject, rules []rule, now time.Time) error {
	key := subject.Key()
	return s.send(ctx, subject, rules, now,
		func(codeHash []byte) error {
			err := codes.Upsert(ctx, key, now, func(*domain.PendingCode) *domain.PendingCode {
				return domain.NewPendingCode(subject, codeHash, now, s.policy.CodeTTL)
			})
			if err != nil {
				return fmt.Errorf("save pending code: %w", err)
			}
			return nil
		},
		func() error {
			err := codes.Update(ctx, key, now, func(c *domain.PendingCode) error {
				c.KillCode()
				return nil
			})
			if errors.Is(err, domain.ErrNoPendingCode) {
				return nil
			}
			return err
		})
}

// sendRules are the sending limits of a code to phone, the most specific
// first: the phone's cooldown, its daily cap, the daily caps of alsoDaily
// (a phone change's current number), the client network's hourly cap,
// the global hourly budget. The phone's windows are keyed by its number
// alone, so every purpose shares them: a code sent to register starts
// the cooldown of a reset to the same number.
func (p Policy) sendRules(phone domain.PhoneNumber, clientNet string, alsoDaily ...domain.PhoneNumber) []rule {
	rules := make([]rule, 0, 4+len(alsoDaily))
	rules = append(rules,
		rule{LimitCooldown, "sms:cooldown:" + phone.E164(), 1, p.ResendInterval},
		rule{LimitPhoneDaily, "sms:day:" + phone.E164(), p.DailyLimitPerPhone, 24 * time.Hour})
	for _, other := range alsoDaily {
		rules = append(rules, rule{LimitPhoneDaily, "sms:day:" + other.E164(), p.DailyLimitPerPhone, 24 * time.Hour})
	}
	return append(rules,
		rule{LimitNetHourly, "sms:ip:" + clientNet, p.HourlyLimitPerIP, time.Hour},
		rule{LimitGlobalHourly, GlobalKeyPrefix + "sms", p.HourlyLimitGlobal, time.Hour})
}
