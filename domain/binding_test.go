package domain_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

func verifiedBy(t *testing.T, by domain.RegistrationClient, at time.Time) *domain.PendingRegistration {
	t.Helper()
	p := domain.NewPendingRegistration(domain.MustParsePhoneNumber("15850551102"), []byte("h"), at, 5*time.Minute)
	if err := p.Verify([]byte("h"), at, 5, 30*time.Minute, by); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRegistrationBindingDecidesWhoContinues(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ownerNetNoToken := domain.RegistrationClient{Net: owner.Net}
	cases := []struct {
		name    string
		by      domain.RegistrationClient
		binding domain.RegistrationBinding
		want    error
	}{
		{"network: token from elsewhere", domain.RegistrationClient{Token: owner.Token, Net: "203.0.113.1"}, domain.BindingNetwork, nil},
		{"network: same network, no token", ownerNetNoToken, domain.BindingNetwork, nil},
		{"network: other network, no token", domain.RegistrationClient{Net: "203.0.113.1"}, domain.BindingNetwork, domain.ErrNotVerified},
		{"network: wrong token on the same network", domain.RegistrationClient{Token: "owner-tokeN", Net: owner.Net}, domain.BindingNetwork, domain.ErrNotVerified},
		{"network: token prefix", domain.RegistrationClient{Token: "owner-toke", Net: owner.Net}, domain.BindingNetwork, domain.ErrNotVerified},
		{"network: no network known", domain.RegistrationClient{}, domain.BindingNetwork, domain.ErrNotVerified},
		{"token: token", owner, domain.BindingToken, nil},
		{"token: same network, no token", ownerNetNoToken, domain.BindingToken, domain.ErrNotVerified},
		{"token: wrong token", domain.RegistrationClient{Token: "x", Net: owner.Net}, domain.BindingToken, domain.ErrNotVerified},
		{"off: anyone", domain.RegistrationClient{Net: "203.0.113.1"}, domain.BindingOff, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := verifiedBy(t, owner, now)
			if err := p.CheckContinue(now, c.by, c.binding); !errors.Is(err, c.want) {
				t.Fatalf("CheckContinue = %v, want %v", err, c.want)
			}
			err := p.SetPassword([]byte("sealed"), now, c.by, c.binding)
			if !errors.Is(err, c.want) {
				t.Fatalf("SetPassword = %v, want %v", err, c.want)
			}
			// A refused client sees an unverified registration, even one
			// without a password, and changes nothing.
			_, err = p.SealedPasswordForProfile(now, c.by, c.binding)
			if c.want != nil {
				if !errors.Is(err, domain.ErrNotVerified) {
					t.Fatalf("SealedPasswordForProfile = %v, want ErrNotVerified", err)
				}
				if _, err := p.SealedPasswordForProfile(now, owner, c.binding); !errors.Is(err, domain.ErrPasswordMissing) {
					t.Fatalf("the refused SetPassword stored a password: %v", err)
				}
			} else if err != nil {
				t.Fatalf("SealedPasswordForProfile = %v", err)
			}
		})
	}
}

func TestRegistrationTokenIsStoredAsItsHash(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := verifiedBy(t, owner, now).Snapshot()
	want := sha256.Sum256([]byte(owner.Token))
	if !bytes.Equal(s.TokenHash, want[:]) || s.ClientNet != owner.Net {
		t.Fatalf("TokenHash = %x, ClientNet = %q", s.TokenHash, s.ClientNet)
	}
	if !s.VerifiedUntil.Equal(now.Add(30 * time.Minute)) {
		t.Fatalf("VerifiedUntil = %v", s.VerifiedUntil)
	}
	round := domain.UnmarshalPendingRegistrationFromDatabase(s)
	if err := round.CheckContinue(now, domain.RegistrationClient{Token: owner.Token}, domain.BindingToken); err != nil {
		t.Fatalf("after a round trip: %v", err)
	}
}

func TestRenewKeepsAVerificationAndItsBinding(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	phone := domain.MustParsePhoneNumber("15850551102")
	p := verifiedBy(t, owner, now)
	if err := p.SetPassword([]byte("sealed"), now, owner, domain.BindingNetwork); err != nil {
		t.Fatal(err)
	}
	// 28 minutes in, a stranger asks for a new code.
	at := now.Add(28 * time.Minute)
	r := domain.RenewPendingRegistration(p, phone, []byte("new"), at, 5*time.Minute)
	if got, err := r.SealedPasswordForProfile(at, owner, domain.BindingNetwork); err != nil || string(got) != "sealed" {
		t.Fatalf("after a new step 1 the owner's registration answers %q, %v", got, err)
	}
	if err := r.CheckContinue(at, domain.RegistrationClient{Net: "203.0.113.1"}, domain.BindingNetwork); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("the stranger may continue: %v", err)
	}
	// The verification still ends when it would have; the new code
	// lives its whole lifetime.
	if r.IsVerified(now.Add(30 * time.Minute)) {
		t.Fatal("a new step 1 extended the verification")
	}
	if !r.ExpiresAt().Equal(at.Add(5 * time.Minute)) {
		t.Fatalf("ExpiresAt = %v, want the new code's expiry", r.ExpiresAt())
	}
	// The new code verifies, and binds to its verifier: the old token
	// and network no longer continue, and the old password is gone.
	stranger := domain.RegistrationClient{Token: "stranger-token", Net: "203.0.113.1"}
	if err := r.Verify([]byte("new"), at.Add(time.Minute), 5, 30*time.Minute, stranger); err != nil {
		t.Fatalf("the new code: %v", err)
	}
	if err := r.CheckContinue(at.Add(time.Minute), owner, domain.BindingNetwork); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("the earlier verifier may continue: %v", err)
	}
	if _, err := r.SealedPasswordForProfile(at.Add(time.Minute), stranger, domain.BindingNetwork); !errors.Is(err, domain.ErrPasswordMissing) {
		t.Fatalf("the earlier verifier's password survived a new verification: %v", err)
	}
	// The original is untouched (the store may retry with it).
	if err := p.CheckContinue(now, owner, domain.BindingNetwork); err != nil {
		t.Fatalf("Renew changed its argument: %v", err)
	}
}

func TestRenewOfNothingOrUnverifiedStartsAfresh(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	phone := domain.MustParsePhoneNumber("15850551102")
	fresh := domain.NewPendingRegistration(phone, []byte("h"), now, 5*time.Minute)
	_ = fresh.Verify([]byte("wrong"), now, 5, 30*time.Minute, owner)
	for name, cur := range map[string]*domain.PendingRegistration{"nothing": nil, "unverified": fresh} {
		r := domain.RenewPendingRegistration(cur, phone, []byte("new"), now.Add(time.Minute), 5*time.Minute)
		s := r.Snapshot()
		if s.Attempts != 0 || string(s.CodeHash) != "new" || !s.VerifiedAt.IsZero() || !s.ExpiresAt.Equal(now.Add(6*time.Minute)) {
			t.Errorf("%s: renewed to %+v", name, s)
		}
	}
}

func TestOldRecordsStayVerifiedUntilTheyExpire(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := domain.UnmarshalPendingRegistrationFromDatabase(domain.PendingRegistrationSnapshot{
		Phone: domain.MustParsePhoneNumber("15850551102"), VerifiedAt: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if !p.IsVerified(now.Add(59*time.Minute)) || p.IsVerified(now.Add(time.Hour)) {
		t.Fatal("a record without VerifiedUntil is not verified until ExpiresAt")
	}
	// It names no client, so only the seed's behaviour continues it.
	if err := p.CheckContinue(now, domain.RegistrationClient{}, domain.BindingNetwork); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("an unbound record continues under network binding: %v", err)
	}
}

func TestRegistrationBindingText(t *testing.T) {
	for _, b := range []domain.RegistrationBinding{domain.BindingNetwork, domain.BindingToken, domain.BindingOff} {
		text, _ := b.MarshalText()
		var got domain.RegistrationBinding
		if err := got.UnmarshalText(text); err != nil || got != b {
			t.Errorf("%v round trips to %v, %v", b, got, err)
		}
	}
	var b domain.RegistrationBinding
	for _, bad := range []string{"", "Network", "none", "tokens"} {
		if err := b.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
	if b != domain.BindingNetwork {
		t.Errorf("the zero value is %v, want network", b)
	}
}
