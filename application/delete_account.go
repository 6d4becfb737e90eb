package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/phoneauth/phoneauth/domain"
)

// DeleteAccount is a logged-in owner's deletion of the account, proving
// the password.
type DeleteAccount struct {
	// Principal is who AuthenticateHandler found the request comes from.
	Principal Principal
	Proof
	ClientNet string
}

// DeleteAccountHandler deletes accounts.
type DeleteAccountHandler struct {
	users  Users
	codes  PendingCodes
	proofs proofCheck
	clock  Clock
}

// NewDeleteAccountHandler builds the handler.
func NewDeleteAccountHandler(users Users, codes PendingCodes, vault PasswordVault, lockouts Lockouts, limits RateLimits, nonces Nonces, clock Clock, policy Policy) *DeleteAccountHandler {
	return &DeleteAccountHandler{
		users: users, codes: codes,
		proofs: proofCheck{users: users, vault: vault, lockouts: lockouts, limits: limits, nonces: nonces, policy: policy},
		clock:  clock,
	}
}

// Handle checks the proof of the password exactly as login does, then
// deletes the account with everything the store keeps of it
// (Users.Delete), which ends every session: a token names an account
// that no longer exists. Its number and email may register again. The
// account's pending codes go with it in the store; they are deleted here
// again, best effort, for a store that might have left them.
func (h *DeleteAccountHandler) Handle(ctx context.Context, in DeleteAccount) error {
	user, err := in.Principal.account()
	if err != nil {
		return err
	}
	now := h.clock.Now()
	if _, err := h.proofs.check(ctx, user.Phone(), user, in.Proof, in.ClientNet, rule{}, now); err != nil {
		return err
	}
	err = h.users.Delete(ctx, user.ID())
	if errors.Is(err, domain.ErrUserNotFound) {
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	for _, s := range []domain.CodeSubject{
		{Purpose: domain.PurposeResetPassword, Phone: user.Phone()},
		{Purpose: domain.PurposeChangePhone, Account: user.ID()},
	} {
		_ = h.codes.Delete(ctx, s.Key())
	}
	return nil
}
