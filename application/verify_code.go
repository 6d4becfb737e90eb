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
	clock   Clock
	policy  Policy
}

// NewVerifyCodeHandler builds the step-2 handler.
func NewVerifyCodeHandler(pending PendingRegistrations, hasher CodeHasher, clock Clock, policy Policy) *VerifyCodeHandler {
	return &VerifyCodeHandler{pending: pending, hasher: hasher, clock: clock, policy: policy}
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
	candidate := h.hasher.HashCode(phone, in.Code)
	now := h.clock.Now()
	var outcome error
	err = h.pending.Update(ctx, phone, now, func(p *domain.PendingRegistration) error {
		outcome = p.Verify(candidate, now, h.policy.CodeMaxAttempts, h.policy.RegistrationTTL, by)
		return nil // persist the attempt whatever the outcome
	})
	if err != nil {
		return VerifyCodeResult{}, err
	}
	if outcome != nil {
		return VerifyCodeResult{}, outcome
	}
	return VerifyCodeResult{RegistrationToken: by.Token}, nil
}
