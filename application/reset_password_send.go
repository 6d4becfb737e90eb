package application

import (
	"context"

	"github.com/phoneauth/phoneauth/domain"
)

// ResetPasswordSend is a password reset's step 1: a phone number asks
// for a reset code.
type ResetPasswordSend struct {
	Phone     string
	ClientNet string
}

// ResetPasswordSendHandler sends reset codes.
type ResetPasswordSendHandler struct {
	codes  PendingCodes
	sender codeSender
	clock  Clock
	policy Policy
}

// NewResetPasswordSendHandler builds the handler.
func NewResetPasswordSendHandler(users Users, codes PendingCodes, limits RateLimits, hasher CodeHasher, sms SMSSender, clock Clock, policy Policy) *ResetPasswordSendHandler {
	return &ResetPasswordSendHandler{codes: codes, sender: codeSender{users: users, limits: limits, hasher: hasher, sms: sms, policy: policy}, clock: clock, policy: policy}
}

// Handle checks, in order: the phone's format, that it has an account
// (domain.ErrUserNotFound otherwise, charged to the client network as a
// failure: it tells that a number is not registered), the country
// allow-list, and the sending limits, which are registration's and
// shared with it (a code sent to register starts the number's cooldown
// for a reset too). It then stores the code's hash, bound to its purpose,
// number and the account found at the number (a code sent to a number's
// previous holder never resets its next one's password), replacing the
// number's earlier reset code, and sends it;
// if the vendor fails the stored code is killed and the *SMSError
// returned.
func (h *ResetPasswordSendHandler) Handle(ctx context.Context, in ResetPasswordSend) error {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return err
	}
	now := h.clock.Now()
	user, err := h.sender.holder(ctx, phone, in.ClientNet, now)
	if err != nil {
		return err
	}
	if user == nil {
		return domain.ErrUserNotFound
	}
	if !h.policy.AllowedCountries.Allows(phone) {
		return domain.ErrCountryNotAllowed
	}
	subject := domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: phone, Account: user.ID()}
	return h.sender.sendPending(ctx, h.codes, subject, h.policy.sendRules(phone, in.ClientNet), now)
}
