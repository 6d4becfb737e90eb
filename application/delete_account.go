package application

import (
	"bytes"
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
	proofs proofCheck
	clock  Clock
}

// NewDeleteAccountHandler builds the handler.
func NewDeleteAccountHandler(users Users, vault PasswordVault, lockouts Lockouts, limits RateLimits, nonces Nonces, clock Clock, policy Policy) *DeleteAccountHandler {
	return &DeleteAccountHandler{
		users:  users,
		proofs: proofCheck{users: users, vault: vault, lockouts: lockouts, limits: limits, nonces: nonces, policy: policy},
		clock:  clock,
	}
}

// Handle checks the proof of the password exactly as login does, then
// revokes every session of the account in one atomic step that refuses
// (ErrUnauthorized, nothing changed) when the principal's session was
// revoked, or the password changed, since the token was checked; then
// it deletes the account with everything the store keeps of it
// (Users.Delete): a token names an account that no longer exists. Its
// number and email may register again. The account's pending codes go
// with it, in the same Users.Delete.
func (h *DeleteAccountHandler) Handle(ctx context.Context, in DeleteAccount) error {
	user, err := in.Principal.account()
	if err != nil {
		return err
	}
	now := h.clock.Now()
	if _, err := h.proofs.check(ctx, user.Phone(), user, in.Proof, in.ClientNet, rule{}, now); err != nil {
		return err
	}
	// The proof was judged against the account as the token's check read
	// it. Revoking every session first, in one atomic step that refuses
	// when the principal's session was revoked meanwhile or the password
	// changed, makes that judgement the one that holds: a deletion
	// authenticated before a logout-all or a password change deletes
	// nothing, and no session of the account outlives the deletion's
	// start.
	_, err = in.Principal.update(ctx, h.users, func(u *domain.User) error {
		if !bytes.Equal(u.SealedPassword(), user.SealedPassword()) {
			return fmt.Errorf("%w: password changed since the proof was judged", ErrUnauthorized)
		}
		u.RevokeSessions()
		return nil
	})
	if err != nil {
		return err
	}
	err = h.users.Delete(ctx, user.ID())
	if errors.Is(err, domain.ErrUserNotFound) {
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	return nil
}
