package application

import (
	"context"

	"github.com/phoneauth/phoneauth/domain"
)

// ChangePhoneSend is a phone change's step 1: a logged-in owner, proving
// the password, asks for a code at the new number.
type ChangePhoneSend struct {
	// Principal is who AuthenticateHandler found the request comes from.
	Principal Principal
	NewPhone  string
	Proof
	ClientNet string
}

// ChangePhoneSendHandler sends phone-change codes.
type ChangePhoneSendHandler struct {
	codes  PendingCodes
	sender codeSender
	proofs proofCheck
	clock  Clock
	policy Policy
}

// NewChangePhoneSendHandler builds the handler.
func NewChangePhoneSendHandler(users Users, codes PendingCodes, vault PasswordVault, lockouts Lockouts, limits RateLimits, nonces Nonces, hasher CodeHasher, sms SMSSender, clock Clock, policy Policy) *ChangePhoneSendHandler {
	return &ChangePhoneSendHandler{
		codes:  codes,
		sender: codeSender{users: users, limits: limits, hasher: hasher, sms: sms, policy: policy},
		proofs: proofCheck{users: users, vault: vault, lockouts: lockouts, limits: limits, nonces: nonces, policy: policy},
		clock:  clock, policy: policy,
	}
}

// Handle checks, in order: the new number's format, the proof of the
// password exactly as login does (a stolen token alone cannot move the
// account), that the new number has no account (the account's own
// included: domain.ErrPhoneTaken, charged to the client network as a
// failure, as it tells that a number is registered), the country
// allow-list, and the sending limits: the new number's cooldown and
// daily cap, the daily cap of the account's current number as well, the
// client network's and the global budget. It then stores the code's
// hash, bound to its purpose, the new number and the account, in the
// account's one phone-change record (replacing an earlier code, to
// whatever number), and sends it to the new number.
func (h *ChangePhoneSendHandler) Handle(ctx context.Context, in ChangePhoneSend) error {
	user, err := in.Principal.account()
	if err != nil {
		return err
	}
	phone, err := domain.ParsePhoneNumber(in.NewPhone)
	if err != nil {
		return err
	}
	now := h.clock.Now()
	if _, err := h.proofs.check(ctx, user.Phone(), user, in.Proof, in.ClientNet, rule{}, now); err != nil {
		return err
	}
	// The account's own number is registered too: no lookup is spared.
	taken, err := h.sender.registered(ctx, phone, in.ClientNet, now)
	if err != nil {
		return err
	}
	if taken {
		return domain.ErrPhoneTaken
	}
	if !h.policy.AllowedCountries.Allows(phone) {
		return domain.ErrCountryNotAllowed
	}
	subject := domain.CodeSubject{Purpose: domain.PurposeChangePhone, Phone: phone, Account: user.ID()}
	return h.sender.sendPending(ctx, h.codes, subject, h.policy.sendRules(phone, in.ClientNet, user.Phone()), now)
}
