package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/phoneauth/phoneauth/domain"
)

// ResetPassword is a password reset's step 2: the code the SMS carried
// and the new password.
type ResetPassword struct {
	Phone           string
	Code            string
	Password        string
	PasswordConfirm string
	ClientNet       string
}

// ResetPasswordHandler sets a new password for the holder of a reset code.
type ResetPasswordHandler struct {
	users    Users
	codes    PendingCodes
	vault    PasswordVault
	lockouts Lockouts
	hasher   CodeHasher
	guard    *CodeGuard
	clock    Clock
	policy   Policy
}

// NewResetPasswordHandler builds the handler.
func NewResetPasswordHandler(users Users, codes PendingCodes, vault PasswordVault, lockouts Lockouts, hasher CodeHasher, guard *CodeGuard, clock Clock, policy Policy) *ResetPasswordHandler {
	return &ResetPasswordHandler{users: users, codes: codes, vault: vault, lockouts: lockouts, hasher: hasher, guard: guard, clock: clock, policy: policy}
}

// Handle checks the new password against the policy first (a rejected
// password uses no try of the code and nothing of the failure limits),
// then looks up the account that holds the number and verifies the
// number's reset code, bound to that account, under the rules of every
// code check (CodeGuard: tries, expiry, single use, failure limits). No
// live code, no account at the number, and a code sent for another
// account (the number's previous holder, who moved away or was deleted)
// are all domain.ErrNoPendingCode: the account has no code. A right code
// seals the new password under the account's number and stores it in
// one atomic step that also revokes every session of the account; then
// the account's login lock is lifted. The answer carries no tokens: the
// owner logs in.
func (h *ResetPasswordHandler) Handle(ctx context.Context, in ResetPassword) error {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return err
	}
	if err := h.policy.Password.Check(in.Password, in.PasswordConfirm); err != nil {
		return err
	}
	now := h.clock.Now()
	user, err := h.users.ByPhone(ctx, phone)
	if errors.Is(err, domain.ErrUserNotFound) {
		return h.guard.noPending(ctx, phone, in.ClientNet, now)
	}
	if err != nil {
		return fmt.Errorf("look up user: %w", err)
	}
	subject := domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: phone, Account: user.ID()}
	net, err := h.guard.verifyPending(ctx, h.codes, subject, h.hasher.HashCode(subject, in.Code), in.ClientNet, now)
	if err != nil {
		return err
	}
	h.guard.release(ctx, now, net) // a right code is no failure
	_, err = h.users.Update(ctx, user.ID(), func(u *domain.User) error {
		if u.Phone().E164() != phone.E164() {
			return domain.ErrUserNotFound // the account left the number
		}
		sealed, err := h.vault.Seal(u.Phone(), in.Password)
		if err != nil {
			return fmt.Errorf("seal password: %w", err)
		}
		u.ChangePassword(sealed)
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		// The account was deleted, or moved to another number, since it
		// was looked up: the code is for no account at the number.
		return domain.ErrNoPendingCode
	}
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if err := h.lockouts.Update(ctx, LoginLockoutKey(phone), now, resetFailures); err != nil {
		return fmt.Errorf("lift login lock: %w", err)
	}
	return nil
}
