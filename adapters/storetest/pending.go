package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Code policy used by the pending subtests.
const (
	maxAttempts = 5
	codeTTL     = 5 * time.Minute
	regTTL      = 30 * time.Minute
)

var (
	rightCode = bytes.Repeat([]byte{0xC0}, 32)
	wrongCode = bytes.Repeat([]byte{0x0D}, 32)
	// owner is the client that verifies in the pending subtests.
	owner = domain.RegistrationClient{Token: "owner-token", Net: "2001:db8:1:2::/64"}
)

func testPending(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) application.PendingRegistrations {
		t.Helper()
		s := newStores(t)
		if s.Pending == nil {
			t.Skip("PendingRegistrations not implemented by these stores")
		}
		return s.Pending
	}
	fresh := func(i int) *domain.PendingRegistration {
		return domain.NewPendingRegistration(phone(i), rightCode, base, codeTTL)
	}

	t.Run("GetRoundTripsEverySnapshotField", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		// Not a state the domain reaches (verified with a live code), but
		// it sets every field at once, each to a distinct value.
		want := domain.PendingRegistrationSnapshot{
			Phone:          phone(1),
			CodeHash:       everyByte()[:32],
			CodeExpiresAt:  base.Add(5*time.Minute + 1*time.Millisecond),
			Attempts:       3,
			VerifiedAt:     base.Add(2*time.Minute + 7*time.Millisecond),
			VerifiedUntil:  base.Add(32*time.Minute + 9*time.Millisecond),
			TokenHash:      everyByte()[100:132],
			ClientNet:      "2001:db8:ffff:1::/64",
			SealedPassword: everyByte(),
			CreatedAt:      base.Add(123 * time.Millisecond),
			ExpiresAt:      base.Add(30*time.Minute + 5*time.Millisecond),
		}
		if err := pending.Save(ctx, domain.UnmarshalPendingRegistrationFromDatabase(want)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		got, err := pending.Get(ctx, domain.MustParsePhoneNumber("13800000001"), base.Add(time.Minute))
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		checkSnapshot(t, got.Snapshot(), want)
	})

	t.Run("UsedCodeStaysUsed", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		reg := fresh(1)
		if err := reg.Verify(rightCode, base.Add(time.Second), maxAttempts, regTTL, owner); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if err := pending.Save(ctx, reg); err != nil {
			t.Fatalf("Save: %v", err)
		}
		got, err := pending.Get(ctx, phone(1), base.Add(2*time.Second))
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		checkSnapshot(t, got.Snapshot(), reg.Snapshot())
		// A store that turned the absent hash into an empty one would make
		// the used code count as a wrong guess instead of a dead code.
		if err := got.Verify(rightCode, base.Add(3*time.Second), maxAttempts, regTTL, owner); !errors.Is(err, domain.ErrCodeExpired) {
			t.Errorf("Verify of a used code after a round trip = %v, want domain.ErrCodeExpired", err)
		}
	})

	t.Run("UnknownPhone", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		if err := pending.Save(ctx, fresh(1)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		if _, err := pending.Get(ctx, phone(2), base); !errors.Is(err, domain.ErrNoPending) {
			t.Errorf("Get(unknown) error = %v, want domain.ErrNoPending", err)
		}
		called := false
		err := pending.Update(ctx, phone(2), base, func(*domain.PendingRegistration) error { called = true; return nil })
		if !errors.Is(err, domain.ErrNoPending) || called {
			t.Errorf("Update(unknown) = %v, fn called %v; want domain.ErrNoPending, not called", err, called)
		}
	})

	t.Run("SaveReplaces", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		old := fresh(1)
		_ = old.Verify(wrongCode, base, maxAttempts, regTTL, owner)
		if err := pending.Save(ctx, old); err != nil {
			t.Fatalf("Save: %v", err)
		}
		replacement := domain.NewPendingRegistration(phone(1), wrongCode, base.Add(time.Minute), codeTTL)
		if err := pending.Save(ctx, replacement); err != nil {
			t.Fatalf("second Save: %v", err)
		}
		got, err := pending.Get(ctx, phone(1), base.Add(time.Minute))
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		checkSnapshot(t, got.Snapshot(), replacement.Snapshot())
	})

	t.Run("ExpiredIsAbsent", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		if err := pending.Save(ctx, fresh(1)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		expiry := base.Add(codeTTL)
		if _, err := pending.Get(ctx, phone(1), expiry.Add(-time.Millisecond)); err != nil {
			t.Errorf("Get just before expiry: %v", err)
		}
		if _, err := pending.Get(ctx, phone(1), expiry); !errors.Is(err, domain.ErrNoPending) {
			t.Errorf("Get at expiry error = %v, want domain.ErrNoPending", err)
		}
		called := false
		err := pending.Update(ctx, phone(1), expiry.Add(time.Hour), func(*domain.PendingRegistration) error { called = true; return nil })
		if !errors.Is(err, domain.ErrNoPending) || called {
			t.Errorf("Update after expiry = %v, fn called %v; want domain.ErrNoPending, not called", err, called)
		}
	})

	t.Run("UpdateStoresTheResult", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		if err := pending.Save(ctx, fresh(1)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		verifiedAt := base.Add(time.Minute)
		var outcome error
		err := pending.Update(ctx, phone(1), verifiedAt, func(p *domain.PendingRegistration) error {
			outcome = p.Verify(rightCode, verifiedAt, maxAttempts, regTTL, owner)
			return nil
		})
		if err != nil || outcome != nil {
			t.Fatalf("Update(Verify) = %v, outcome %v", err, outcome)
		}
		// Past the code's lifetime but within the verification's: the
		// store must judge expiry by the updated record.
		later := base.Add(codeTTL + time.Minute)
		sealed := everyByte()
		err = pending.Update(ctx, phone(1), later, func(p *domain.PendingRegistration) error {
			return p.SetPassword(sealed, later, owner, domain.BindingToken)
		})
		if err != nil {
			t.Fatalf("Update(SetPassword): %v", err)
		}
		got, err := pending.Get(ctx, phone(1), later)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !sameMillis(got.ExpiresAt(), verifiedAt.Add(regTTL)) {
			t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt(), verifiedAt.Add(regTTL))
		}
		if p, err := got.SealedPasswordForProfile(later, owner, domain.BindingToken); err != nil || !bytes.Equal(p, sealed) {
			t.Errorf("SealedPasswordForProfile = %x, %v; want the password set", p, err)
		}
	})

	t.Run("UpdateErrorStoresNothing", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		if err := pending.Save(ctx, fresh(1)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		refused := errors.New("refused by fn")
		err := pending.Update(ctx, phone(1), base, func(p *domain.PendingRegistration) error {
			_ = p.Verify(wrongCode, base, maxAttempts, regTTL, owner)
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("Update error = %v, want fn's error", err)
		}
		got, err := pending.Get(ctx, phone(1), base)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if n := got.Snapshot().Attempts; n != 0 {
			t.Errorf("Attempts = %d after a refused Update, want 0", n)
		}
	})

	t.Run("ConcurrentUpdatesLoseNothing", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		if err := pending.Save(ctx, fresh(1)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		// A limit above the number of guesses keeps every guess counting.
		errs := race(concurrency, func(int) error {
			return pending.Update(ctx, phone(1), base, func(p *domain.PendingRegistration) error {
				_ = p.Verify(wrongCode, base, 10*concurrency, regTTL, owner)
				return nil
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		}
		got, err := pending.Get(ctx, phone(1), base)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if n := got.Snapshot().Attempts; n != concurrency {
			t.Errorf("Attempts = %d after %d concurrent wrong guesses", n, concurrency)
		}
	})

	t.Run("UpsertInsertsWhenAbsentOrExpired", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		// phone(2) has a registration that expires at base+codeTTL.
		if err := pending.Save(ctx, fresh(2)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		now := base.Add(codeTTL)
		for _, i := range []int{1, 2} {
			want := domain.NewPendingRegistration(phone(i), wrongCode, now, codeTTL)
			err := pending.Upsert(ctx, phone(i), now, func(cur *domain.PendingRegistration) *domain.PendingRegistration {
				if cur != nil {
					t.Errorf("Upsert(phone %d) gave fn %+v, want nil", i, cur.Snapshot())
				}
				return want
			})
			if err != nil {
				t.Fatalf("Upsert(phone %d): %v", i, err)
			}
			got, err := pending.Get(ctx, phone(i), now)
			if err != nil {
				t.Fatalf("Get(phone %d): %v", i, err)
			}
			checkSnapshot(t, got.Snapshot(), want.Snapshot())
		}
	})

	t.Run("UpsertKeepsAVerificationAndItsBinding", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		reg := fresh(1)
		verifiedAt := base.Add(time.Minute)
		if err := reg.Verify(rightCode, verifiedAt, maxAttempts, regTTL, owner); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if err := reg.SetPassword(everyByte(), verifiedAt, owner, domain.BindingNetwork); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		if err := pending.Save(ctx, reg); err != nil {
			t.Fatalf("Save: %v", err)
		}
		// A new step 1, late in the verification's life.
		now := verifiedAt.Add(regTTL - time.Minute)
		err := pending.Upsert(ctx, phone(1), now, func(cur *domain.PendingRegistration) *domain.PendingRegistration {
			if cur == nil {
				t.Error("Upsert gave fn nil for a live registration")
				return domain.NewPendingRegistration(phone(1), wrongCode, now, codeTTL)
			}
			return domain.RenewPendingRegistration(cur, phone(1), wrongCode, now, codeTTL)
		})
		if err != nil {
			t.Fatalf("Upsert: %v", err)
		}
		got, err := pending.Get(ctx, phone(1), now)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		for _, by := range []domain.RegistrationClient{{Token: owner.Token}, {Net: owner.Net}} {
			if p, err := got.SealedPasswordForProfile(now, by, domain.BindingNetwork); err != nil || !bytes.Equal(p, everyByte()) {
				t.Errorf("after a new code, %+v continues with %x, %v; want the password set", by, p, err)
			}
		}
		if err := got.CheckContinue(now, domain.RegistrationClient{Net: "2001:db8:9::/64"}, domain.BindingNetwork); !errors.Is(err, domain.ErrNotVerified) {
			t.Errorf("another network continues: %v", err)
		}
		// The new code outlives the verification, and still verifies.
		later := verifiedAt.Add(regTTL + time.Minute)
		var outcome error
		err = pending.Update(ctx, phone(1), later, func(p *domain.PendingRegistration) error {
			if p.IsVerified(later) {
				t.Error("a new code extended the verification")
			}
			outcome = p.Verify(wrongCode, later, maxAttempts, regTTL, owner)
			return nil
		})
		if err != nil || outcome != nil {
			t.Fatalf("verifying the new code past the old verification: %v, %v", err, outcome)
		}
	})

	t.Run("ConcurrentUpsertsLoseNothing", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		// The first to run creates the registration; every other counts
		// one wrong guess on it. Racing inserts as well as racing
		// replacements must lose none.
		errs := race(concurrency, func(int) error {
			return pending.Upsert(ctx, phone(1), base, func(cur *domain.PendingRegistration) *domain.PendingRegistration {
				if cur == nil {
					return fresh(1)
				}
				_ = cur.Verify(wrongCode, base, 10*concurrency, regTTL, owner)
				return cur
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("Upsert %d: %v", i, err)
			}
		}
		got, err := pending.Get(ctx, phone(1), base)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if n := got.Snapshot().Attempts; n != concurrency-1 {
			t.Errorf("Attempts = %d after %d concurrent upserts, want %d", n, concurrency, concurrency-1)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		pending, ctx := open(t), t.Context()
		if err := pending.Save(ctx, fresh(1)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		if err := pending.Save(ctx, fresh(2)); err != nil {
			t.Fatalf("Save: %v", err)
		}
		if err := pending.Delete(ctx, phone(1)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := pending.Get(ctx, phone(1), base); !errors.Is(err, domain.ErrNoPending) {
			t.Errorf("Get after Delete error = %v, want domain.ErrNoPending", err)
		}
		if _, err := pending.Get(ctx, phone(2), base); err != nil {
			t.Errorf("Delete removed another phone's registration: %v", err)
		}
		// Step 4 deletes after a concurrent request may have already.
		if err := pending.Delete(ctx, phone(1)); err != nil {
			t.Errorf("Delete of an absent registration = %v, want nil", err)
		}
	})
}

// checkSnapshot compares every field, times to the millisecond.
func checkSnapshot(t *testing.T, got, want domain.PendingRegistrationSnapshot) {
	t.Helper()
	if got.Phone != want.Phone {
		t.Errorf("Phone = %+v, want %+v", got.Phone, want.Phone)
	}
	if !bytes.Equal(got.CodeHash, want.CodeHash) || (got.CodeHash == nil) != (want.CodeHash == nil) {
		t.Errorf("CodeHash = %#v, want %#v", got.CodeHash, want.CodeHash)
	}
	if !bytes.Equal(got.TokenHash, want.TokenHash) {
		t.Errorf("TokenHash = %x, want %x", got.TokenHash, want.TokenHash)
	}
	if got.ClientNet != want.ClientNet {
		t.Errorf("ClientNet = %q, want %q", got.ClientNet, want.ClientNet)
	}
	if got.Attempts != want.Attempts {
		t.Errorf("Attempts = %d, want %d", got.Attempts, want.Attempts)
	}
	if !bytes.Equal(got.SealedPassword, want.SealedPassword) {
		t.Errorf("SealedPassword = %x, want %x", got.SealedPassword, want.SealedPassword)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"CodeExpiresAt", got.CodeExpiresAt, want.CodeExpiresAt},
		{"VerifiedAt", got.VerifiedAt, want.VerifiedAt},
		{"VerifiedUntil", got.VerifiedUntil, want.VerifiedUntil},
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
	} {
		if !sameMillis(f.got, f.want) {
			t.Errorf("%s = %v, want %v to the millisecond", f.name, f.got, f.want)
		}
	}
}
