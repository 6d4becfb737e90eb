package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/phoneauth/phoneauth/domain"
)

// CompleteProfile is step 4.
type CompleteProfile struct {
	Phone string
	Email string
	// RegistrationToken is the token step 2 handed out; empty if the
	// client sent none.
	RegistrationToken string
	ClientNet         string
}

// CompleteProfileHandler turns a finished registration into a User.
type CompleteProfileHandler struct {
	users   Users
	pending PendingRegistrations
	limits  RateLimits
	clock   Clock
	policy  Policy
}

// NewCompleteProfileHandler builds the step-4 handler.
func NewCompleteProfileHandler(users Users, pending PendingRegistrations, limits RateLimits, clock Clock, policy Policy) *CompleteProfileHandler {
	return &CompleteProfileHandler{users: users, pending: pending, limits: limits, clock: clock, policy: policy}
}

// Handle creates the account. Uniqueness of phone and email is the store's
// job (Users.Create is atomic), so concurrent requests for one phone make
// exactly one account; the losers hear domain.ErrUserExists, which, as
// it tells that the number is registered, costs the client network a
// failure; so does domain.ErrEmailTaken, which tells the same of an
// address (else one verified number could test addresses without end).
func (h *CompleteProfileHandler) Handle(ctx context.Context, in CompleteProfile) (err error) {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return err
	}
	now := h.clock.Now()
	failure, err := take(ctx, h.limits, h.policy.failureRule(in.ClientNet), now)
	if err != nil {
		return err
	}
	defer func() {
		settle(ctx, h.limits, failure, errors.Is(err, domain.ErrUserExists) || errors.Is(err, domain.ErrEmailTaken), now)
	}()
	reg, err := h.pending.Get(ctx, phone, now)
	if errors.Is(err, domain.ErrNoPending) {
		return domain.ErrNotVerified
	}
	if err != nil {
		return err
	}
	by := domain.RegistrationClient{Token: in.RegistrationToken, Net: in.ClientNet}
	sealed, err := reg.SealedPasswordForProfile(now, by, h.policy.Binding)
	if err != nil {
		return err
	}
	email, err := domain.ParseEmail(in.Email)
	if err != nil {
		return err
	}
	err = h.users.Create(ctx, domain.NewUser(newID(), phone, email, sealed, now))
	if err != nil && !errors.Is(err, domain.ErrUserExists) {
		return err
	}
	// The registration is finished either way: by this request, or by a
	// concurrent one that won.
	if delErr := h.pending.Delete(ctx, phone); delErr != nil && err == nil {
		return fmt.Errorf("delete finished registration: %w", delErr)
	}
	return err
}
