package storetest

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// The rules of windows and locks are the domain's (and tested there);
// these subtests check what a store adds: that what fn leaves is what the
// next Update sees, that an error from fn writes nothing, that time passes
// at the precision promised, and that concurrent updates are atomic.

func testRateLimits(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) application.RateLimits {
		t.Helper()
		s := newStores(t)
		if s.Limits == nil {
			t.Skip("RateLimits not implemented by these stores")
		}
		return s.Limits
	}
	type result struct {
		ticket domain.WindowTicket
		retry  time.Duration
		ok     bool
	}
	take := func(t *testing.T, l application.RateLimits, key string, limit int, window time.Duration, now time.Time) result {
		t.Helper()
		var r result
		err := l.Update(t.Context(), key, now, func(w *domain.FixedWindow) error {
			r.ticket, r.retry, r.ok = w.Take(limit, window, now)
			return nil
		})
		if err != nil {
			t.Fatalf("Update(%q, base+%v): %v", key, now.Sub(base), err)
		}
		return r
	}
	count := func(t *testing.T, l application.RateLimits, key string, now time.Time) int {
		t.Helper()
		n := -1
		if err := l.Update(t.Context(), key, now, func(w *domain.FixedWindow) error { n = w.Count(now); return nil }); err != nil {
			t.Fatalf("Update(%q): %v", key, err)
		}
		return n
	}

	t.Run("KeepsWhatFnLeaves", func(t *testing.T) {
		l := open(t)
		const limit, window = 3, time.Hour
		for i := range limit {
			if r := take(t, l, "k", limit, window, base.Add(time.Duration(i)*time.Second)); !r.ok {
				t.Fatalf("unit %d refused within the limit", i+1)
			}
		}
		for _, at := range []time.Duration{3 * time.Second, 10 * time.Minute, window - time.Second} {
			r := take(t, l, "k", limit, window, base.Add(at))
			if r.ok || r.retry != window-at {
				t.Errorf("unit over the limit at base+%v: %+v, want refused with retry %v", at, r, window-at)
			}
		}
		if n := count(t, l, "k", base.Add(time.Minute)); n != limit {
			t.Errorf("Count = %d after refusals, want %d: a refusal wrote", n, limit)
		}
		// The window ends at its end, to the millisecond.
		if n := count(t, l, "k", base.Add(window-time.Millisecond)); n != limit {
			t.Errorf("Count a millisecond before the end = %d, want %d", n, limit)
		}
		if r := take(t, l, "k", limit, window, base.Add(window)); !r.ok {
			t.Errorf("first unit of the next window refused")
		}
		if n := count(t, l, "k", base.Add(window)); n != 1 {
			t.Errorf("Count in the next window = %d, want 1", n)
		}
	})

	t.Run("GiveBack", func(t *testing.T) {
		l := open(t)
		r := take(t, l, "k", 1, time.Minute, base)
		if err := l.Update(t.Context(), "k", base.Add(time.Second), func(w *domain.FixedWindow) error {
			w.GiveBack(r.ticket, base.Add(time.Second))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if r := take(t, l, "k", 1, time.Minute, base.Add(2*time.Second)); !r.ok {
			t.Errorf("a unit given back was not free again")
		}
	})

	t.Run("ErrorWritesNothing", func(t *testing.T) {
		l := open(t)
		boom := errors.New("boom")
		err := l.Update(t.Context(), "k", base, func(w *domain.FixedWindow) error {
			w.Take(1, time.Hour, base)
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want fn's error", err)
		}
		if n := count(t, l, "k", base); n != 0 {
			t.Errorf("Count = %d after fn failed, want 0", n)
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		l := open(t)
		take(t, l, "a", 1, time.Hour, base)
		if r := take(t, l, "b", 1, time.Hour, base); !r.ok {
			t.Errorf("key b refused after key a used its limit")
		}
		if r := take(t, l, `{"$ne": null}`, 1, time.Hour, base); !r.ok {
			t.Errorf("an operator-looking key shared a window")
		}
	})

	t.Run("ConcurrentUpdatesAreAtomic", func(t *testing.T) {
		l := open(t)
		const limit = 5
		var allowed atomic.Int64
		errs := race(concurrency, func(int) error {
			var ok bool
			err := l.Update(t.Context(), "hot", base, func(w *domain.FixedWindow) error {
				_, _, ok = w.Take(limit, time.Hour, base)
				return nil
			})
			if ok && err == nil {
				allowed.Add(1)
			}
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if allowed.Load() != limit {
			t.Errorf("%d of %d concurrent takes allowed, want %d", allowed.Load(), concurrency, limit)
		}
		// Units taken and given back at once leave the window as it was.
		errs = race(concurrency, func(int) error {
			var tk domain.WindowTicket
			if err := l.Update(t.Context(), "both", base, func(w *domain.FixedWindow) error {
				tk, _, _ = w.Take(1000, time.Hour, base)
				return nil
			}); err != nil {
				return err
			}
			return l.Update(t.Context(), "both", base, func(w *domain.FixedWindow) error {
				w.GiveBack(tk, base)
				return nil
			})
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, l, "both", base); n != 0 {
			t.Errorf("Count = %d after %d takes each given back, want 0", n, concurrency)
		}
	})
}

func testLockouts(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) application.Lockouts {
		t.Helper()
		s := newStores(t)
		if s.Lockouts == nil {
			t.Skip("Lockouts not implemented by these stores")
		}
		return s.Lockouts
	}
	const maxFailures, lockFor = 5, 15 * time.Minute
	reserve := func(t *testing.T, l application.Lockouts, key string, now time.Time) (domain.AttemptTicket, time.Duration, bool) {
		t.Helper()
		var (
			tk    domain.AttemptTicket
			retry time.Duration
			ok    bool
		)
		if err := l.Update(t.Context(), key, now, func(f *domain.LoginFailures) error {
			tk, retry, ok = f.Reserve(maxFailures, lockFor, now)
			return nil
		}); err != nil {
			t.Fatalf("Update(%q, base+%v): %v", key, now.Sub(base), err)
		}
		return tk, retry, ok
	}
	state := func(t *testing.T, l application.Lockouts, key string, now time.Time) (int, time.Time) {
		t.Helper()
		var n int
		var until time.Time
		if err := l.Update(t.Context(), key, now, func(f *domain.LoginFailures) error {
			n, until = f.Count(now), f.Locked(now)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n, until
	}

	t.Run("LocksAtMaxUntilExpiry", func(t *testing.T) {
		l := open(t)
		for i := range maxFailures {
			if _, _, ok := reserve(t, l, "k", base.Add(time.Duration(i)*time.Second)); !ok {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		last := base.Add((maxFailures - 1) * time.Second)
		want := last.Add(lockFor)
		if n, until := state(t, l, "k", last); n != maxFailures || !sameMillis(until, want) {
			t.Fatalf("after %d attempts: count %d, locked until %v; want %d, %v", maxFailures, n, until, maxFailures, want)
		}
		if _, retry, ok := reserve(t, l, "k", base.Add(time.Minute)); ok || retry != want.Sub(base.Add(time.Minute)) {
			t.Errorf("attempt while locked: ok %v retry %v", ok, retry)
		}
		if n, until := state(t, l, "k", want); n != 0 || !until.IsZero() {
			t.Errorf("at the lock's end: count %d, until %v; want nothing held", n, until)
		}
	})

	t.Run("ResetAndGiveBack", func(t *testing.T) {
		l := open(t)
		var last domain.AttemptTicket
		for range maxFailures {
			last, _, _ = reserve(t, l, "k", base)
		}
		// The attempt that locked gives its place back: unlocked.
		if err := l.Update(t.Context(), "k", base, func(f *domain.LoginFailures) error {
			f.GiveBack(last, maxFailures, base)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n, until := state(t, l, "k", base); n != maxFailures-1 || !until.IsZero() {
			t.Errorf("after a give-back: count %d, until %v; want %d, unlocked", n, until, maxFailures-1)
		}
		if err := l.Update(t.Context(), "k", base, func(f *domain.LoginFailures) error { f.Reset(); return nil }); err != nil {
			t.Fatal(err)
		}
		if n, _ := state(t, l, "k", base); n != 0 {
			t.Errorf("after Reset: count %d, want 0", n)
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		l := open(t)
		for range maxFailures {
			reserve(t, l, "a", base)
		}
		if n, until := state(t, l, "b", base); n != 0 || !until.IsZero() {
			t.Errorf("locking a changed b: %d, %v", n, until)
		}
	})

	t.Run("ConcurrentReservationsAreAtomic", func(t *testing.T) {
		l := open(t)
		var ok atomic.Int64
		errs := race(concurrency, func(int) error {
			var got bool
			err := l.Update(t.Context(), "hot", base, func(f *domain.LoginFailures) error {
				_, _, got = f.Reserve(maxFailures, lockFor, base)
				return nil
			})
			if got && err == nil {
				ok.Add(1)
			}
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if ok.Load() != maxFailures {
			t.Errorf("%d of %d concurrent attempts reserved a place, want %d", ok.Load(), concurrency, maxFailures)
		}
	})
}

func testNonces(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) application.Nonces {
		t.Helper()
		s := newStores(t)
		if s.Nonces == nil {
			t.Skip("Nonces not implemented by these stores")
		}
		return s.Nonces
	}

	t.Run("ClaimOnceUntilExpiry", func(t *testing.T) {
		n := open(t)
		exp := base.Add(5 * time.Minute)
		wantClaim(t, n, "n1", exp, base, application.NonceClaimed)
		wantClaim(t, n, "n1", exp, base.Add(time.Minute), application.NonceReplayed)
		wantClaim(t, n, "n2", exp, base, application.NonceClaimed)
		// Expiry is judged by the now the caller hands in: no sweep, and
		// no wall clock (which says the suite's times are all past).
		wantClaim(t, n, "n1", exp.Add(5*time.Minute), exp, application.NonceClaimed)
		wantClaim(t, n, "n1", exp.Add(5*time.Minute), exp.Add(time.Minute), application.NonceReplayed)
	})

	t.Run("ExpiredAtNowIsStale", func(t *testing.T) {
		n := open(t)
		wantClaim(t, n, "k", base, base, application.NonceStale)
		wantClaim(t, n, "k", base.Add(-time.Second), base, application.NonceStale)
		// Nothing was held for it.
		wantClaim(t, n, "k", base.Add(time.Minute), base, application.NonceClaimed)
	})

	t.Run("ConcurrentClaimsOfOneKeyClaimOnce", func(t *testing.T) {
		n := open(t)
		answers := make([]application.NonceClaim, concurrency)
		errs := race(concurrency, func(i int) error {
			var err error
			answers[i], err = n.Claim(t.Context(), "same", base.Add(time.Minute), base)
			return err
		})
		claimed := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Claim %d: %v", i, err)
			}
			switch answers[i] {
			case application.NonceClaimed:
				claimed++
			case application.NonceReplayed:
			default:
				t.Errorf("Claim %d = %v, want claimed or replayed", i, answers[i])
			}
		}
		if claimed != 1 {
			t.Errorf("%d of %d concurrent claims of one key were claimed, want 1", claimed, concurrency)
		}
	})
}

// wantClaim claims key and fails the test unless the store answers want.
func wantClaim(t *testing.T, n application.Nonces, key string, expiresAt, now time.Time, want application.NonceClaim) {
	t.Helper()
	got, err := n.Claim(t.Context(), key, expiresAt, now)
	if err != nil || got != want {
		t.Errorf("Claim(%q, expires %v, now %v) = %v, %v; want %v", key, expiresAt, now, got, err, want)
	}
}

// sweep runs every expirer at now and returns how many records went.
func sweep(t *testing.T, expirers []application.Expirer, now time.Time) int {
	t.Helper()
	total := 0
	for _, e := range expirers {
		n, err := e.DeleteExpired(t.Context(), now)
		if err != nil {
			t.Fatalf("DeleteExpired(base+%v): %v", now.Sub(base), err)
		}
		total += n
	}
	return total
}
