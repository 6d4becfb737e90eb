package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/phoneauth/phoneauth/domain"
)

// SetPassword is step 3.
type SetPassword struct {
	Phone           string
	Password        string
	PasswordConfirm string
	// RegistrationToken is the token step 2 handed out; empty if the
	// client sent none.
	RegistrationToken string
	ClientNet         string
}

// SetPasswordHandler stores the sealed password on a verified registration.
type SetPasswordHandler struct {
	pending PendingRegistrations
	vault   PasswordVault
	clock   Clock
	policy  Policy
}

// NewSetPasswordHandler builds the step-3 handler.
func NewSetPasswordHandler(pending PendingRegistrations, vault PasswordVault, clock Clock, policy Policy) *SetPasswordHandler {
	return &SetPasswordHandler{pending: pending, vault: vault, clock: clock, policy: policy}
}

// Handle answers an unverified phone, and a client that may not continue
// the registration, with domain.ErrNotVerified before it looks at the
// password, so the endpoint tells nothing to a caller who has not proven
// the number.
func (h *SetPasswordHandler) Handle(ctx context.Context, in SetPassword) error {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return err
	}
	now := h.clock.Now()
	reg, err := h.pending.Get(ctx, phone, now)
	if errors.Is(err, domain.ErrNoPending) {
		return domain.ErrNotVerified
	}
	if err != nil {
		return err
	}
	by := domain.RegistrationClient{Token: in.RegistrationToken, Net: in.ClientNet}
	if err := reg.CheckContinue(now, by, h.policy.Binding); err != nil {
		return err
	}
	if err := h.policy.Password.Check(in.Password, in.PasswordConfirm); err != nil {
		return err
	}
	sealed, err := h.vault.Seal(phone, in.Password)
	if err != nil {
		return fmt.Errorf("seal password: %w", err)
	}
	err = h.pending.Update(ctx, phone, now, func(p *domain.PendingRegistration) error {
		return p.SetPassword(sealed, now, by, h.policy.Binding)
	})
	if errors.Is(err, domain.ErrNoPending) {
		return domain.ErrNotVerified
	}
	return err
}
