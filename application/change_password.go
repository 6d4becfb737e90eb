package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// ChangePassword is a logged-in owner's change of password: the proof of
// the current password, as at login, and the new one.
type ChangePassword struct {
	// Principal is who AuthenticateHandler found the request comes from.
	Principal Principal
	Proof
	Password        string
	PasswordConfirm string
	ClientNet       string
}

// ChangePasswordHandler changes passwords.
type ChangePasswordHandler struct {
	users  Users
	vault  PasswordVault
	proofs proofCheck
	issuer *SessionIssuer
	clock  Clock
	policy Policy
}

// NewChangePasswordHandler builds the handler.
func NewChangePasswordHandler(users Users, vault PasswordVault, lockouts Lockouts, limits RateLimits, nonces Nonces, issuer *SessionIssuer, clock Clock, policy Policy) *ChangePasswordHandler {
	return &ChangePasswordHandler{
		users: users, vault: vault,
		proofs: proofCheck{users: users, vault: vault, lockouts: lockouts, limits: limits, nonces: nonces, policy: policy},
		issuer: issuer, clock: clock, policy: policy,
	}
}

// Handle checks the new password against the policy first, then the
// proof of the current one exactly as login does (window, single use,
// lockout, failures per network), then seals the new password and stores
// it in one atomic step that revokes every session of the account,
// the caller's too. The answer is a fresh pair, opened under the
// account's new session generation, that replaces the caller's.
func (h *ChangePasswordHandler) Handle(ctx context.Context, in ChangePassword) (SessionTokens, error) {
	user, err := in.Principal.account()
	if err != nil {
		return SessionTokens{}, err
	}
	if err := h.policy.Password.Check(in.Password, in.PasswordConfirm); err != nil {
		return SessionTokens{}, err
	}
	now := h.clock.Now()
	if _, err := h.proofs.check(ctx, user.Phone(), user, in.Proof, in.ClientNet, rule{}, now); err != nil {
		return SessionTokens{}, err
	}
	updated, err := in.Principal.update(ctx, h.users, func(u *domain.User) error {
		sealed, err := h.vault.Seal(u.Phone(), in.Password)
		if err != nil {
			return fmt.Errorf("seal password: %w", err)
		}
		u.ChangePassword(sealed)
		return nil
	})
	if err != nil {
		return SessionTokens{}, err
	}
	return openSession(h.issuer, updated, now)
}

// openSession opens a session of u under its current generation: login's,
// and the one whose pair a change of the account answers with (under the
// generation the change moved the account to, so that it replaces the
// caller's revoked pair).
func openSession(issuer *SessionIssuer, u *domain.User, now time.Time) (SessionTokens, error) {
	pair, err := issuer.Open(u.ID(), u.SessionGeneration(), now)
	if err != nil {
		return SessionTokens{}, fmt.Errorf("open session: %w", err)
	}
	return pair, nil
}

// account is the principal's account as the token's check read it, or
// ErrUnauthorized for a principal AuthenticateHandler did not make.
func (p Principal) account() (*domain.User, error) {
	if p.User == nil {
		return nil, ErrUnauthorized
	}
	return p.User, nil
}

// update applies fn to the principal's account as it stands, with
// Users.Update (one atomic step), unless the principal's session was
// revoked since its token was checked (a concurrent change of the
// account came first): then ErrUnauthorized and nothing is written. An
// account that is gone is ErrUnauthorized too.
func (p Principal) update(ctx context.Context, users Users, fn func(*domain.User) error) (*domain.User, error) {
	u, err := users.Update(ctx, p.User.ID(), func(u *domain.User) error {
		if !u.AcceptsSession(p.Claims.Generation) {
			return fmt.Errorf("%w: sessions of the account revoked", ErrUnauthorized)
		}
		return fn(u)
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if err != nil {
		return nil, fmt.Errorf("update account: %w", err)
	}
	return u, nil
}
