package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// testExpirers fills every port with one record that has expired by the
// sweep and one that has not, sweeps, and then looks at times before the
// expiry: a record that is still there would answer, so silence proves it
// was deleted rather than merely hidden by a read-time expiry check.
func testExpirers(t *testing.T, newStores func(*testing.T) Stores) {
	t.Run("DeleteExpired", func(t *testing.T) {
		s := newStores(t)
		if len(s.Expirers) == 0 {
			t.Skip("no Expirers in these stores")
		}
		ctx := t.Context()
		const short, long = time.Minute, time.Hour
		sweepAt := base.Add(30 * time.Minute)
		want := 0

		if s.Users != nil {
			if err := s.Users.Create(ctx, domain.NewUser("u", phone(9), email(t, "u@example.com"), []byte{1}, base)); err != nil {
				t.Fatalf("Users.Create: %v", err)
			}
		}
		if s.Pending != nil {
			for i, ttl := range []time.Duration{short, long} {
				if err := s.Pending.Save(ctx, domain.NewPendingRegistration(phone(i+1), rightCode, base, ttl)); err != nil {
					t.Fatalf("Pending.Save: %v", err)
				}
			}
			want++
		}
		if s.Limits != nil {
			for key, window := range map[string]time.Duration{"expired": short, "live": long} {
				if _, err := s.Limits.Allow(ctx, key, 1, window, base); err != nil {
					t.Fatalf("Limits.Allow: %v", err)
				}
			}
			want++
		}
		if s.Lockouts != nil {
			// A lock, and a failure that never reached one: both end.
			for _, f := range []struct {
				key     string
				max     int
				lockFor time.Duration
			}{{"expired-lock", 1, short}, {"expired-failure", 5, short}, {"live", 1, long}} {
				if _, err := s.Lockouts.Fail(ctx, f.key, f.max, f.lockFor, base); err != nil {
					t.Fatalf("Lockouts.Fail: %v", err)
				}
			}
			want += 2
		}
		if s.Nonces != nil {
			for key, exp := range map[string]time.Time{"expired": base.Add(short), "live": base.Add(long)} {
				if _, err := s.Nonces.Claim(ctx, key, exp, base); err != nil {
					t.Fatalf("Nonces.Claim: %v", err)
				}
			}
			want++
		}

		if got := sweep(t, s.Expirers, sweepAt); got != want {
			t.Errorf("DeleteExpired deleted %d records, want %d", got, want)
		}
		if got := sweep(t, s.Expirers, sweepAt); got != 0 {
			t.Errorf("a second sweep deleted %d records, want 0", got)
		}

		if s.Users != nil {
			if ok, err := s.Users.Exists(ctx, phone(9)); err != nil || !ok {
				t.Errorf("user after sweep: Exists = %v, %v; users never expire", ok, err)
			}
		}
		if s.Pending != nil {
			if _, err := s.Pending.Get(ctx, phone(1), base); !errors.Is(err, domain.ErrNoPending) {
				t.Errorf("expired registration still stored: Get = %v", err)
			}
			if _, err := s.Pending.Get(ctx, phone(2), sweepAt); err != nil {
				t.Errorf("live registration: Get = %v", err)
			}
		}
		if s.Limits != nil {
			if d, err := s.Limits.Allow(ctx, "expired", 1, short, base.Add(time.Second)); err != nil || !d.Allowed {
				t.Errorf("expired window still stored: Allow = %+v, %v", d, err)
			}
			if d, err := s.Limits.Allow(ctx, "live", 1, long, sweepAt); err != nil || d.Allowed {
				t.Errorf("live window lost: Allow = %+v, %v", d, err)
			}
		}
		if s.Lockouts != nil {
			if st, err := s.Lockouts.Check(ctx, "expired-lock", base.Add(time.Second)); err != nil || st != (application.LockState{}) {
				t.Errorf("expired lock still stored: Check = %+v, %v", st, err)
			}
			if st, err := s.Lockouts.Check(ctx, "live", sweepAt); err != nil || !sameMillis(st.Until, base.Add(long)) {
				t.Errorf("live lock lost: Check = %+v, %v", st, err)
			}
		}
		if s.Nonces != nil {
			// Asked as of before the sweep, a store that merely hid the
			// expired key would answer replayed. A store may instead
			// answer stale for every key expiring by the second it swept.
			if c, err := s.Nonces.Claim(ctx, "expired", base.Add(short), base); err != nil || c == application.NonceReplayed {
				t.Errorf("expired nonce still stored: Claim = %v, %v", c, err)
			}
			if c, err := s.Nonces.Claim(ctx, "live", base.Add(long), sweepAt); err != nil || c != application.NonceReplayed {
				t.Errorf("live nonce lost: Claim = %v, %v", c, err)
			}
		}
	})
}
