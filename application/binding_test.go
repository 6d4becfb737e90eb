package application_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
)

const strangerNet = "203.0.113.9"

// verified runs steps 1 and 2 for phone from clientNet and returns the
// registration token.
func verified(t *testing.T, f *apptest.Fakes) string {
	t.Helper()
	code := sendCode(t, f, phone)
	res, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: code, ClientNet: clientNet})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res.RegistrationToken
}

func TestVerifyCodeHandsOutATokenStoredAsItsHash(t *testing.T) {
	f := newFakes(t)
	token := verified(t, f)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 || len(token) != 43 {
		t.Fatalf("token %q is not 256 bits of base64url without padding (%v)", token, err)
	}
	snap, _ := f.Pending.Snapshot(domain.MustParsePhoneNumber(phone))
	want := sha256.Sum256([]byte(token))
	if string(snap.TokenHash) != string(want[:]) || snap.ClientNet != clientNet {
		t.Fatalf("stored TokenHash %x, ClientNet %q", snap.TokenHash, snap.ClientNet)
	}
	// A failed verification hands out nothing.
	if res, err := f.App.VerifyCode.Handle(ctx, application.VerifyCode{Phone: phone, Code: "000000", ClientNet: clientNet}); err == nil || res.RegistrationToken != "" {
		t.Fatalf("a used code answered %+v, %v", res, err)
	}
	if other := verified(t, newFakes(t)); other == token {
		t.Fatal("two verifications share a token")
	}
}

func TestStrangerHearsNotVerifiedBeforeAnyPasswordCheck(t *testing.T) {
	f := newFakes(t)
	verified(t, f)
	for _, in := range []application.SetPassword{
		{Phone: phone, Password: "x", PasswordConfirm: "x", ClientNet: strangerNet},
		{Phone: phone, Password: "password1", PasswordConfirm: "password2", ClientNet: strangerNet},
		{Phone: phone, Password: "password1", PasswordConfirm: "password1", ClientNet: strangerNet},
		{Phone: phone, Password: "x", PasswordConfirm: "x", RegistrationToken: "forged", ClientNet: clientNet},
	} {
		if err := f.App.SetPassword.Handle(ctx, in); !errors.Is(err, domain.ErrNotVerified) {
			t.Errorf("%+v: %v, want ErrNotVerified", in, err)
		}
	}
	if err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: phone, Email: "s@qq.com", ClientNet: strangerNet}); !errors.Is(err, domain.ErrNotVerified) {
		t.Errorf("stranger's step 4: %v, want ErrNotVerified", err)
	}
	snap, _ := f.Pending.Snapshot(domain.MustParsePhoneNumber(phone))
	if len(snap.SealedPassword) != 0 {
		t.Fatal("a refused step 3 stored a password")
	}
}

func TestTokenContinuesFromAnotherNetwork(t *testing.T) {
	f := newFakes(t)
	token := verified(t, f)
	if err := f.App.SetPassword.Handle(ctx, application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", RegistrationToken: token, ClientNet: strangerNet}); err != nil {
		t.Fatal(err)
	}
	if err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: phone, Email: "a@qq.com", RegistrationToken: token, ClientNet: "198.51.100.1"}); err != nil {
		t.Fatal(err)
	}
}

func TestBindingModes(t *testing.T) {
	sameNetNoToken := application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", ClientNet: clientNet}
	otherNetNoToken := application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", ClientNet: strangerNet}
	for _, c := range []struct {
		binding           domain.RegistrationBinding
		sameNet, otherNet error
	}{
		{domain.BindingNetwork, nil, domain.ErrNotVerified},
		{domain.BindingToken, domain.ErrNotVerified, domain.ErrNotVerified},
		{domain.BindingOff, nil, nil},
	} {
		policy := apptest.DefaultPolicy()
		policy.Binding = c.binding
		f := apptest.New(t0, policy)
		verified(t, f)
		if err := f.App.SetPassword.Handle(ctx, otherNetNoToken); !errors.Is(err, c.otherNet) {
			t.Errorf("%v, other network: %v, want %v", c.binding, err, c.otherNet)
		}
		if err := f.App.SetPassword.Handle(ctx, sameNetNoToken); !errors.Is(err, c.sameNet) {
			t.Errorf("%v, same network: %v, want %v", c.binding, err, c.sameNet)
		}
	}
}

func TestNewCodeKeepsTheVerification(t *testing.T) {
	f := newFakes(t)
	token := verified(t, f)
	if err := f.App.SetPassword.Handle(ctx, application.SetPassword{Phone: phone, Password: "password1", PasswordConfirm: "password1", ClientNet: clientNet}); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Minute)
	// A stranger's step 1; then one the vendor refuses, which kills the
	// new code but must not touch the verification either.
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone, ClientNet: strangerNet}); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Minute)
	f.SMS.Fail = &application.SMSError{Vendor: "x", Kind: application.SMSRefused, Message: "no"}
	if err := f.App.SendCode.Handle(ctx, application.SendCode{Phone: phone, ClientNet: strangerNet}); err == nil {
		t.Fatal("refused send succeeded")
	}
	if err := f.App.CompleteProfile.Handle(ctx, application.CompleteProfile{Phone: phone, Email: "a@qq.com", RegistrationToken: token, ClientNet: strangerNet}); err != nil {
		t.Fatalf("the owner's registration after a stranger's step 1: %v", err)
	}
}
