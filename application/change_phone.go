package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/phoneauth/phoneauth/domain"
)

// ChangePhone is a phone change's step 2: the code the new number
// received.
type ChangePhone struct {
	// Principal is who AuthenticateHandler found the request comes from.
	Principal Principal
	NewPhone  string
	Code      string
	ClientNet string
}

// ChangePhoneHandler moves accounts to a new number.
type ChangePhoneHandler struct {
	users  Users
	codes  PendingCodes
	vault  PasswordVault
	hasher CodeHasher
	guard  *CodeGuard
	issuer *SessionIssuer
	clock  Clock
}

// NewChangePhoneHandler builds the handler.
func NewChangePhoneHandler(users Users, codes PendingCodes, vault PasswordVault, hasher CodeHasher, guard *CodeGuard, issuer *SessionIssuer, clock Clock) *ChangePhoneHandler {
	return &ChangePhoneHandler{users: users, codes: codes, vault: vault, hasher: hasher, guard: guard, issuer: issuer, clock: clock}
}

// Handle verifies the account's phone-change code under the rules of
// every code check (CodeGuard). The code must have been sent for this
// account to the number typed: the code's hash binds both, and a code
// sent to another number is a wrong try (CodeGuard.verifyPending). A
// right code moves the account in one atomic step: the password opened
// under the old number and sealed under the new one, the number moved,
// every session revoked. A number another account took meanwhile is
// domain.ErrPhoneTaken (the store's answer: no two accounts ever hold
// one number), charged to the client network as a failure. The answer is
// a fresh pair under the account's new session generation.
func (h *ChangePhoneHandler) Handle(ctx context.Context, in ChangePhone) (SessionTokens, error) {
	user, err := in.Principal.account()
	if err != nil {
		return SessionTokens{}, err
	}
	phone, err := domain.ParsePhoneNumber(in.NewPhone)
	if err != nil {
		return SessionTokens{}, err
	}
	now := h.clock.Now()
	subject := domain.CodeSubject{Purpose: domain.PurposeChangePhone, Phone: phone, Account: user.ID()}
	net, err := h.guard.verifyPending(ctx, h.codes, subject, h.hasher.HashCode(subject, in.Code), in.ClientNet, now)
	if err != nil {
		return SessionTokens{}, err
	}
	updated, err := in.Principal.update(ctx, h.users, func(u *domain.User) error {
		if u.Phone().E164() == phone.E164() {
			return domain.ErrPhoneTaken // moved there already
		}
		password, err := h.vault.Open(u.Phone(), u.SealedPassword())
		if err != nil {
			return fmt.Errorf("open password: %w", err)
		}
		sealed, err := h.vault.Seal(phone, password)
		if err != nil {
			return fmt.Errorf("seal password: %w", err)
		}
		u.ChangePhone(phone, sealed)
		return nil
	})
	settle(ctx, h.guard.limits, net, errors.Is(err, domain.ErrPhoneTaken), now)
	if err != nil {
		return SessionTokens{}, err
	}
	return openSession(h.issuer, updated, now)
}
