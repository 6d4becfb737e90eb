package application_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// TestLoginStaleWhenReplayMemoryForgot: a nonce store that forgot the
// oldest triples under pressure answers stale for them, and the login is
// refused as stale (the client retries with a fresh time stamp), not
// accepted and not failed as unavailable; newer requests go through.
func TestLoginStaleWhenReplayMemoryForgot(t *testing.T) {
	f := newFakes(t)
	register(t, f, phone, "password1", "a@qq.com")
	window := f.Policy.LoginTimeWindow
	// The store forgot every triple stamped up to t0-100 s.
	f.Nonces.Floor = t0.Add(-100 * time.Second).Add(window + time.Second)
	for _, age := range []int64{100, 250} {
		res, err := f.App.Login.Handle(ctx, loginReq("password1", "old", t0.Unix()-age))
		if !errors.Is(err, application.ErrStaleRequest) || res.Token != "" {
			t.Errorf("login stamped %d s ago = %+v, %v; want application.ErrStaleRequest", age, res, err)
		}
	}
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "new", t0.Unix()-99)); err != nil {
		t.Errorf("login stamped after the forgotten ones: %v", err)
	}
}

// TestProofReplayedAfterPhoneChange: a proof's hash binds no number, so
// its single-use memory names the triple by the account: a proof
// accepted at the old number (here change-phone-step-1's own) is not
// accepted again as a login at the new number while its time stamp is
// in the window.
func TestProofReplayedAfterPhoneChange(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	const newNumber = "13900000003"
	p := proof(f, "password1", "seen-once")
	if err := f.App.ChangePhoneSend.Handle(ctx, application.ChangePhoneSend{Principal: pr, NewPhone: newNumber, Proof: p, ClientNet: "n"}); err != nil {
		t.Fatalf("change send: %v", err)
	}
	code := f.SMS.Code(domain.MustParsePhoneNumber(newNumber).E164())
	if _, err := f.App.ChangePhone.Handle(ctx, application.ChangePhone{Principal: pr, NewPhone: newNumber, Code: code, ClientNet: "n"}); err != nil {
		t.Fatalf("change: %v", err)
	}
	_, err := f.App.Login.Handle(ctx, application.Login{Phone: newNumber, EncryptionStr: p.EncryptionStr, RandomStr: p.RandomStr, TimeStamp: p.TimeStamp, ClientNet: "m"})
	if !errors.Is(err, application.ErrReplayedRequest) {
		t.Fatalf("step 1's proof replayed as a login at the new number: %v", err)
	}
}

// TestDeletionProofReplayedAtTheNumberRegisteredAgain: a delete-account
// proof names no account; once the number is registered again with the
// same password, replaying it as a login must still be refused, and so
// must the same proof spelt in capitals.
func TestDeletionProofReplayedAtTheNumberRegisteredAgain(t *testing.T) {
	f := newFakes(t)
	pr := member(t, f, "u1", phone, "password1")
	p := proof(f, "password1", "seen-once")
	if err := f.App.DeleteAccount.Handle(ctx, application.DeleteAccount{Principal: pr, Proof: p}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	member(t, f, "u2", phone, "password1")
	for _, enc := range []string{p.EncryptionStr, strings.ToUpper(p.EncryptionStr)} {
		_, err := f.App.Login.Handle(ctx, application.Login{Phone: phone, EncryptionStr: enc, RandomStr: p.RandomStr, TimeStamp: p.TimeStamp, ClientNet: "m"})
		if !errors.Is(err, application.ErrReplayedRequest) {
			t.Errorf("the deletion's proof replayed as a login to the number's next account: %v", err)
		}
	}
}
