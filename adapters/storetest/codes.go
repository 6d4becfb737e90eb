package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// upsertCode stores a fresh code (rightCode) for sub, sent at now,
// whatever was there.
func upsertCode(t *testing.T, codes application.PendingCodes, sub domain.CodeSubject, now time.Time) {
	t.Helper()
	err := codes.Upsert(t.Context(), sub.Key(), now, func(*domain.PendingCode) *domain.PendingCode {
		return domain.NewPendingCode(sub, rightCode, now, codeTTL)
	})
	if err != nil {
		t.Fatalf("Upsert(%s): %v", sub.Key(), err)
	}
}

func testCodes(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) application.PendingCodes {
		t.Helper()
		s := newStores(t)
		if s.Codes == nil {
			t.Skip("PendingCodes not implemented by these stores")
		}
		return s.Codes
	}
	reset := domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: phone(1)}
	move := domain.CodeSubject{Purpose: domain.PurposeChangePhone, Phone: phone(2), Account: "acct-1"}
	// read answers key's live code at now as a snapshot, through an Update
	// that changes nothing.
	read := func(t *testing.T, codes application.PendingCodes, key string, now time.Time) (domain.PendingCodeSnapshot, error) {
		t.Helper()
		var snap domain.PendingCodeSnapshot
		err := codes.Update(t.Context(), key, now, func(c *domain.PendingCode) error {
			snap = c.Snapshot()
			return nil
		})
		return snap, err
	}
	check := func(t *testing.T, got, want domain.PendingCodeSnapshot) {
		t.Helper()
		if got.Subject != want.Subject || !bytes.Equal(got.CodeHash, want.CodeHash) || (got.CodeHash == nil) != (want.CodeHash == nil) ||
			!sameMillis(got.CodeExpiresAt, want.CodeExpiresAt) || got.Attempts != want.Attempts || !sameMillis(got.CreatedAt, want.CreatedAt) {
			t.Errorf("code = %+v\nwant %+v", got, want)
		}
	}

	t.Run("RoundTripsEverySnapshotField", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		for _, sub := range []domain.CodeSubject{reset, move} {
			want := domain.PendingCodeSnapshot{
				Subject:       sub,
				CodeHash:      everyByte()[:32],
				CodeExpiresAt: base.Add(5*time.Minute + 3*time.Millisecond),
				Attempts:      3,
				CreatedAt:     base.Add(7 * time.Millisecond),
			}
			var seen *domain.PendingCode
			err := codes.Upsert(ctx, sub.Key(), base, func(cur *domain.PendingCode) *domain.PendingCode {
				seen = cur
				return domain.UnmarshalPendingCodeFromDatabase(want)
			})
			if err != nil || seen != nil {
				t.Fatalf("Upsert(%s) = %v, fn given %v; want nil, fn given nil", sub.Key(), err, seen)
			}
			got, err := read(t, codes, sub.Key(), base.Add(time.Minute))
			if err != nil {
				t.Fatalf("Update(%s): %v", sub.Key(), err)
			}
			check(t, got, want)
		}
	})

	t.Run("UpsertReplaces", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		first := domain.NewPendingCode(reset, wrongCode, base, codeTTL)
		_ = first.Verify(rightCode, base, maxAttempts)
		if err := codes.Upsert(ctx, reset.Key(), base, func(*domain.PendingCode) *domain.PendingCode { return first }); err != nil {
			t.Fatalf("Upsert: %v", err)
		}
		later := base.Add(time.Minute)
		replacement := domain.NewPendingCode(reset, rightCode, later, codeTTL)
		var seen domain.PendingCodeSnapshot
		err := codes.Upsert(ctx, reset.Key(), later, func(cur *domain.PendingCode) *domain.PendingCode {
			if cur != nil {
				seen = cur.Snapshot()
			}
			return replacement
		})
		if err != nil {
			t.Fatalf("second Upsert: %v", err)
		}
		check(t, seen, first.Snapshot())
		got, err := read(t, codes, reset.Key(), later)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		check(t, got, replacement.Snapshot())
	})

	t.Run("UpdateKeepsWrongTriesAndUse", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		upsertCode(t, codes, move, base)
		verify := func(code []byte, now time.Time) error {
			return codes.Update(ctx, move.Key(), now, func(c *domain.PendingCode) error {
				return c.Verify(code, now, maxAttempts)
			})
		}
		// Each wrong try is stored although Update returns fn's error.
		for i := 1; i < maxAttempts; i++ {
			if err := verify(wrongCode, base.Add(time.Duration(i)*time.Second)); !errors.Is(err, domain.ErrCodeMismatch) {
				t.Fatalf("wrong try %d = %v, want domain.ErrCodeMismatch", i, err)
			}
		}
		if got, err := read(t, codes, move.Key(), base.Add(time.Minute)); err != nil || got.Attempts != maxAttempts-1 {
			t.Fatalf("after %d wrong tries: attempts %d, %v", maxAttempts-1, got.Attempts, err)
		}
		if err := verify(rightCode, base.Add(time.Minute)); err != nil {
			t.Fatalf("right code = %v", err)
		}
		// Used once: the next try finds it dead, and it stays stored.
		if err := verify(rightCode, base.Add(2*time.Minute)); !errors.Is(err, domain.ErrCodeExpired) {
			t.Errorf("right code again = %v, want domain.ErrCodeExpired", err)
		}
	})

	t.Run("TooManyTriesKillTheCode", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		upsertCode(t, codes, reset, base)
		var last error
		for i := range maxAttempts {
			now := base.Add(time.Duration(i) * time.Second)
			last = codes.Update(ctx, reset.Key(), now, func(c *domain.PendingCode) error { return c.Verify(wrongCode, now, maxAttempts) })
		}
		if !errors.Is(last, domain.ErrTooManyAttempts) {
			t.Fatalf("try %d = %v, want domain.ErrTooManyAttempts", maxAttempts, last)
		}
		now := base.Add(time.Minute)
		err := codes.Update(ctx, reset.Key(), now, func(c *domain.PendingCode) error { return c.Verify(rightCode, now, maxAttempts) })
		if !errors.Is(err, domain.ErrTooManyAttempts) {
			t.Errorf("right code after too many tries = %v, want domain.ErrTooManyAttempts", err)
		}
	})

	t.Run("NoCode", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		upsertCode(t, codes, reset, base)
		for _, key := range []string{move.Key(), domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: phone(3)}.Key()} {
			called := false
			err := codes.Update(ctx, key, base, func(*domain.PendingCode) error { called = true; return nil })
			if !errors.Is(err, domain.ErrNoPendingCode) || called {
				t.Errorf("Update(%s) = %v, fn called %v; want domain.ErrNoPendingCode, not called", key, err, called)
			}
		}
	})

	t.Run("ExpiredIsAbsent", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		upsertCode(t, codes, reset, base)
		expiry := base.Add(codeTTL)
		if _, err := read(t, codes, reset.Key(), expiry.Add(-time.Millisecond)); err != nil {
			t.Errorf("Update just before expiry: %v", err)
		}
		called := false
		err := codes.Update(ctx, reset.Key(), expiry, func(*domain.PendingCode) error { called = true; return nil })
		if !errors.Is(err, domain.ErrNoPendingCode) || called {
			t.Errorf("Update at expiry = %v, fn called %v; want domain.ErrNoPendingCode, not called", err, called)
		}
		var seen *domain.PendingCode
		err = codes.Upsert(ctx, reset.Key(), expiry, func(cur *domain.PendingCode) *domain.PendingCode {
			seen = cur
			return domain.NewPendingCode(reset, wrongCode, expiry, codeTTL)
		})
		if err != nil || seen != nil {
			t.Errorf("Upsert at expiry = %v, fn given %v; want nil, fn given nil", err, seen)
		}
		if got, err := read(t, codes, reset.Key(), expiry); err != nil || !bytes.Equal(got.CodeHash, wrongCode) {
			t.Errorf("after Upsert over an expired code: %v, %v; want the new code", got, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		upsertCode(t, codes, reset, base)
		upsertCode(t, codes, move, base)
		for range 2 { // the second finds nothing, which is no error
			if err := codes.Delete(ctx, reset.Key()); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		if _, err := read(t, codes, reset.Key(), base); !errors.Is(err, domain.ErrNoPendingCode) {
			t.Errorf("Update after Delete = %v, want domain.ErrNoPendingCode", err)
		}
		if _, err := read(t, codes, move.Key(), base); err != nil {
			t.Errorf("the other code after Delete: %v", err)
		}
	})

	t.Run("ConcurrentWrongTriesAllCount", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		upsertCode(t, codes, move, base)
		errs := race(concurrency, func(i int) error {
			now := base.Add(time.Duration(i) * time.Millisecond)
			err := codes.Update(ctx, move.Key(), now, func(c *domain.PendingCode) error {
				return c.Verify(wrongCode, now, 1000)
			})
			if errors.Is(err, domain.ErrCodeMismatch) {
				return nil
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("try %d: %v", i, err)
			}
		}
		if got, err := read(t, codes, move.Key(), base.Add(time.Second)); err != nil || got.Attempts != concurrency {
			t.Errorf("attempts after %d concurrent wrong tries = %d, %v; one was lost", concurrency, got.Attempts, err)
		}
	})

	t.Run("ConcurrentUpsertsLeaveOne", func(t *testing.T) {
		codes, ctx := open(t), t.Context()
		// Each send replaces the code only if none is live, as a cooldown
		// would: exactly one of them must find none.
		var fresh [concurrency]bool
		errs := race(concurrency, func(i int) error {
			now := base.Add(time.Duration(i) * time.Millisecond)
			return codes.Upsert(ctx, reset.Key(), now, func(cur *domain.PendingCode) *domain.PendingCode {
				fresh[i] = cur == nil
				if cur != nil {
					return cur
				}
				return domain.NewPendingCode(reset, []byte{byte(i)}, now, codeTTL)
			})
		})
		n := 0
		for i, err := range errs {
			if err != nil {
				t.Errorf("Upsert %d: %v", i, err)
			}
			if fresh[i] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d of %d concurrent Upserts found no code, want 1", n, concurrency)
		}
	})
}
