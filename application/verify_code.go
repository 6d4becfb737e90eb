package application

import (
	"context"

	"github.com/phoneauth/phoneauth/domain"
)

// VerifyCode is step 2: the code the user typed.
type VerifyCode struct {
	Phone     string
	Code      string
	ClientNet string
}

// VerifyCodeHandler checks codes.
type VerifyCodeHandler struct {
	pending PendingRegistrations
	hasher  CodeHasher
	clock   Clock
	policy  Policy
}

// NewVerifyCodeHandler builds the step-2 handler.
func NewVerifyCodeHandler(pending PendingRegistrations, hasher CodeHasher, clock Clock, policy Policy) *VerifyCodeHandler {
	return &VerifyCodeHandler{pending: pending, hasher: hasher, clock: clock, policy: policy}
}

// Handle verifies the code against the pending registration. A wrong try
// is stored as well as a right one, atomically with the check, so
// concurrent guesses cannot exceed the attempt limit.
func (h *VerifyCodeHandler) Handle(ctx context.Context, in VerifyCode) error {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return err
	}
	candidate := h.hasher.HashCode(phone, in.Code)
	now := h.clock.Now()
	var outcome error
	err = h.pending.Update(ctx, phone, now, func(p *domain.PendingRegistration) error {
		outcome = p.Verify(candidate, now, h.policy.CodeMaxAttempts, h.policy.RegistrationTTL)
		return nil // persist the attempt whatever the outcome
	})
	if err != nil {
		return err
	}
	return outcome
}
