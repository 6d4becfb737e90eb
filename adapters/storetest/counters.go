package storetest

import (
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
)

func testRateLimiter(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) application.RateLimiter {
		t.Helper()
		s := newStores(t)
		if s.Limits == nil {
			t.Skip("RateLimiter not implemented by these stores")
		}
		return s.Limits
	}
	allow := func(t *testing.T, l application.RateLimiter, key string, limit int, window time.Duration, now time.Time) application.Decision {
		t.Helper()
		d, err := l.Allow(t.Context(), key, limit, window, now)
		if err != nil {
			t.Fatalf("Allow(%q, %d, %v, base+%v): %v", key, limit, window, now.Sub(base), err)
		}
		return d
	}

	t.Run("AllowsLimitThenRefuses", func(t *testing.T) {
		l := open(t)
		const limit, window = 3, time.Hour
		for i := range limit {
			if d := allow(t, l, "k", limit, window, base.Add(time.Duration(i)*time.Second)); !d.Allowed {
				t.Fatalf("event %d refused within the limit: %+v", i+1, d)
			}
		}
		// The window opens at the first event, so 10 minutes in, 50 remain.
		for _, at := range []time.Duration{3 * time.Second, 10 * time.Minute, window - time.Second} {
			d := allow(t, l, "k", limit, window, base.Add(at))
			if d.Allowed {
				t.Errorf("event over the limit at base+%v allowed", at)
			}
			if remaining := window - at; d.RetryAfter <= 0 || d.RetryAfter > remaining {
				t.Errorf("RetryAfter at base+%v = %v, want in (0, %v]", at, d.RetryAfter, remaining)
			}
		}
		for i := range limit {
			if d := allow(t, l, "k", limit, window, base.Add(window+time.Duration(i)*time.Second)); !d.Allowed {
				t.Errorf("event %d of the next window refused: %+v", i+1, d)
			}
		}
		if d := allow(t, l, "k", limit, window, base.Add(window+time.Minute)); d.Allowed {
			t.Errorf("next window allowed more than the limit")
		}
	})

	t.Run("Cooldown", func(t *testing.T) {
		l := open(t)
		const window = time.Minute
		if d := allow(t, l, "k", 1, window, base); !d.Allowed {
			t.Fatalf("first event refused: %+v", d)
		}
		d := allow(t, l, "k", 1, window, base.Add(59*time.Second))
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
			t.Errorf("at base+59s: %+v, want refused with RetryAfter in (0, 1s]", d)
		}
		if d := allow(t, l, "k", 1, window, base.Add(window)); !d.Allowed {
			t.Errorf("at base+window: %+v, want allowed", d)
		}
	})

	t.Run("RefusedEventsAreNotCounted", func(t *testing.T) {
		l := open(t)
		for i := range 2 {
			allow(t, l, "k", 2, time.Hour, base.Add(time.Duration(i)*time.Second))
		}
		for i := range 5 {
			if d := allow(t, l, "k", 2, time.Hour, base.Add(time.Minute+time.Duration(i)*time.Second)); d.Allowed {
				t.Fatalf("third event allowed under limit 2")
			}
		}
		// Were the refusals counted, the window would hold 7 events.
		if d := allow(t, l, "k", 3, time.Hour, base.Add(2*time.Minute)); !d.Allowed {
			t.Errorf("under a raised limit of 3, the third counted event was refused: %+v", d)
		}
	})

	t.Run("ZeroLimitIsOff", func(t *testing.T) {
		l := open(t)
		// The application's policy switches a limit off with a zero.
		for i := range 3 {
			if d := allow(t, l, "k", 0, time.Hour, base); !d.Allowed {
				t.Errorf("limit 0, event %d: %+v, want allowed", i+1, d)
			}
			if d := allow(t, l, "k", 1, 0, base); !d.Allowed {
				t.Errorf("window 0, event %d: %+v, want allowed", i+1, d)
			}
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		l := open(t)
		allow(t, l, "a", 1, time.Hour, base)
		if d := allow(t, l, "b", 1, time.Hour, base); !d.Allowed {
			t.Errorf("key b refused after key a used its limit")
		}
		if d := allow(t, l, "a", 1, time.Hour, base); d.Allowed {
			t.Errorf("key a allowed twice under limit 1")
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
	fail := func(t *testing.T, l application.Lockouts, key string, now time.Time) time.Time {
		t.Helper()
		until, err := l.Fail(t.Context(), key, maxFailures, lockFor, now)
		if err != nil {
			t.Fatalf("Fail(%q, base+%v): %v", key, now.Sub(base), err)
		}
		return until
	}
	check := func(t *testing.T, l application.Lockouts, key string, now time.Time) application.LockState {
		t.Helper()
		st, err := l.Check(t.Context(), key, now)
		if err != nil {
			t.Fatalf("Check(%q, base+%v): %v", key, now.Sub(base), err)
		}
		return st
	}
	// failBelowMax records max-1 failures from start, one a second, and
	// checks that each is counted and none of them locks.
	failBelowMax := func(t *testing.T, l application.Lockouts, key string, start time.Time) {
		t.Helper()
		if st := check(t, l, key, start); st != (application.LockState{}) {
			t.Fatalf("before the failures from base+%v, Check = %+v, want nothing held", start.Sub(base), st)
		}
		for i := range maxFailures - 1 {
			now := start.Add(time.Duration(i) * time.Second)
			if until := fail(t, l, key, now); !until.IsZero() {
				t.Fatalf("failure %d locked until base+%v", i+1, until.Sub(base))
			}
			if st := check(t, l, key, now); !st.Until.IsZero() || st.Failures != i+1 {
				t.Fatalf("after failure %d, Check = %+v, want %d failures and no lock", i+1, st, i+1)
			}
		}
	}

	t.Run("LocksAtMaxUntilExpiry", func(t *testing.T) {
		l := open(t)
		failBelowMax(t, l, "k", base)
		at := base.Add(time.Minute)
		want := at.Add(lockFor)
		if until := fail(t, l, "k", at); !sameMillis(until, want) {
			t.Fatalf("failure %d returned %v, want lock until %v", maxFailures, until, want)
		}
		for _, now := range []time.Time{at, at.Add(lockFor - time.Second)} {
			if st := check(t, l, "k", now); !sameMillis(st.Until, want) || st.Failures != maxFailures {
				t.Errorf("Check(base+%v) = %+v, want lock until %v after %d failures", now.Sub(base), st, want, maxFailures)
			}
		}
		if st := check(t, l, "k", want.Add(time.Second)); st != (application.LockState{}) {
			t.Errorf("Check after the lock ended = %+v, want nothing held", st)
		}
		// The lock's end also forgets the failures behind it.
		failBelowMax(t, l, "k", want.Add(time.Second))
	})

	t.Run("ResetForgets", func(t *testing.T) {
		l := open(t)
		failBelowMax(t, l, "k", base)
		if err := l.Reset(t.Context(), "k"); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		failBelowMax(t, l, "k", base.Add(time.Minute))
		if err := l.Reset(t.Context(), "never-failed"); err != nil {
			t.Errorf("Reset of an unknown key = %v, want nil", err)
		}
	})

	t.Run("ResetUnlocks", func(t *testing.T) {
		l := open(t)
		failBelowMax(t, l, "k", base)
		fail(t, l, "k", base.Add(time.Minute))
		if err := l.Reset(t.Context(), "k"); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if st := check(t, l, "k", base.Add(2*time.Minute)); st != (application.LockState{}) {
			t.Errorf("Check after Reset = %+v, want nothing held", st)
		}
	})

	t.Run("OldFailuresAreForgotten", func(t *testing.T) {
		l := open(t)
		failBelowMax(t, l, "k", base)
		// lockFor after the first failure, those failures no longer count.
		failBelowMax(t, l, "k", base.Add(lockFor+time.Minute))
	})

	t.Run("ZeroMaxNeverLocks", func(t *testing.T) {
		l := open(t)
		for i := range 2 * maxFailures {
			now := base.Add(time.Duration(i) * time.Second)
			until, err := l.Fail(t.Context(), "k", 0, lockFor, now)
			if err != nil || !until.IsZero() {
				t.Fatalf("Fail %d with max 0 = %v, %v; want zero, nil", i+1, until, err)
			}
		}
		if st := check(t, l, "k", base.Add(time.Minute)); st != (application.LockState{}) {
			t.Errorf("Check after failures with max 0 = %+v, want nothing counted", st)
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		l := open(t)
		failBelowMax(t, l, "a", base)
		failBelowMax(t, l, "b", base)
		if until := fail(t, l, "a", base.Add(time.Minute)); until.IsZero() {
			t.Errorf("key a did not lock")
		}
		if st := check(t, l, "b", base.Add(time.Minute)); !st.Until.IsZero() || st.Failures != maxFailures-1 {
			t.Errorf("locking a changed b: Check = %+v", st)
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
		// no wall clock (which says the suite's times are all ahead).
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
