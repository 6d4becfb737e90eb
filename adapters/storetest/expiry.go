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
				if err := s.Limits.Update(ctx, key, base, func(w *domain.FixedWindow) error {
					w.Take(1, window, base)
					return nil
				}); err != nil {
					t.Fatalf("Limits.Update: %v", err)
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
				if err := s.Lockouts.Update(ctx, f.key, base, func(lf *domain.LoginFailures) error {
					lf.Reserve(f.max, f.lockFor, base)
					return nil
				}); err != nil {
					t.Fatalf("Lockouts.Update: %v", err)
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

		if s.Sessions != nil {
			for id, until := range map[string]time.Time{"expired": base.Add(short), "live": base.Add(long)} {
				if err := s.Sessions.Update(ctx, id, base, revokeFor(id, until)); err != nil {
					t.Fatalf("Sessions.Update: %v", err)
				}
			}
			want++
		}
		if s.Codes != nil {
			for key, ttl := range map[string]time.Duration{"expired": short, "live": long} {
				sub := domain.CodeSubject{Purpose: domain.PurposeChangePhone, Phone: phone(3), Account: key}
				if err := s.Codes.Upsert(ctx, sub.Key(), base, func(*domain.PendingCode) *domain.PendingCode {
					return domain.NewPendingCode(sub, rightCode, base, ttl)
				}); err != nil {
					t.Fatalf("Codes.Upsert: %v", err)
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
			for key, want := range map[string]int{"expired": 0, "live": 1} {
				n := -1
				if err := s.Limits.Update(ctx, key, base.Add(time.Second), func(w *domain.FixedWindow) error {
					n = w.Count(base.Add(time.Second))
					return nil
				}); err != nil || n != want {
					t.Errorf("window %q after the sweep: count %d, %v; want %d", key, n, err, want)
				}
			}
		}
		if s.Lockouts != nil {
			for key, want := range map[string]bool{"expired-lock": false, "live": true} {
				var locked time.Time
				if err := s.Lockouts.Update(ctx, key, base.Add(time.Second), func(f *domain.LoginFailures) error {
					locked = f.Locked(base.Add(time.Second))
					return nil
				}); err != nil || locked.IsZero() == want {
					t.Errorf("lock %q after the sweep: until %v, %v; want locked %v", key, locked, err, want)
				}
			}
		}
		if s.Sessions != nil {
			// Asked as of before the sweep, a store that merely hid the
			// expired record would still answer it.
			if got, err := s.Sessions.Get(ctx, "expired", base); err != nil || got.Recorded() {
				t.Errorf("expired session still stored: Get = %+v, %v", got.Snapshot(), err)
			}
			if got, err := s.Sessions.Get(ctx, "live", sweepAt); err != nil || !got.Revoked() {
				t.Errorf("live session lost: Get = %+v, %v", got.Snapshot(), err)
			}
		}
		if s.Codes != nil {
			// Asked as of before the sweep, a store that merely hid the
			// expired code would still answer it.
			for key, at := range map[string]time.Time{"expired": base, "live": sweepAt} {
				k := domain.CodeSubject{Purpose: domain.PurposeChangePhone, Account: key}.Key()
				err := s.Codes.Update(ctx, k, at, func(*domain.PendingCode) error { return nil })
				if gone := errors.Is(err, domain.ErrNoPendingCode); gone != (key == "expired") || (!gone && err != nil) {
					t.Errorf("%s code after the sweep: Update = %v", key, err)
				}
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
