// Package memory holds the in-process implementations of the counters the
// embedded (single-node) mode keeps: rate-limit windows, login lockouts and
// login nonces. DESIGN.md lets them be ephemeral there, since losing them in
// a crash weakens an abuse limit for one window and nothing else, and keeping
// them off disk keeps a durable write off the login path.
//
// Each table is sharded by key hash for concurrency and bounded to a maximum
// number of entries so that a flood of distinct keys cannot exhaust memory.
// Nonces, one per successful login, keep only 64-bit fingerprints in sets
// per second of expiry (nonces.go), so their bound can be ten times the
// others' in less memory.
// When a new key finds the table full, expired entries are evicted first;
// if there is still no room the table fails closed rather than forgetting
// live state (which would reopen the limits an attacker is being held to):
// the rate limiter refuses, Lockouts.Fail and Nonces.Claim return an error
// wrapping application.ErrUnavailable. Keys already present keep working.
// Each becoming-full is logged once at WARN.
package memory

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
)

// RateLimiter is an application.RateLimiter and application.Expirer
// counting fixed windows in memory. A key's window opens at its first
// counted event and lasts the window given then, so a limit of one per
// minute is a true one-minute cooldown rather than one per clock minute.
type RateLimiter struct {
	t *table[window]
}

type window struct{ count int }

// NewRateLimiter returns a limiter holding at most maxEntries keys
// (DefaultMaxEntries if maxEntries <= 0). log may be nil.
func NewRateLimiter(maxEntries int, log *zap.Logger) *RateLimiter {
	return &RateLimiter{t: newTable[window]("rate_limits", maxEntries, named(log))}
}

// Allow counts one event for key if it is within limit. A limit or window
// of zero or less switches the limit off, as in the application's policy.
// A full table refuses new keys (fail closed) with RetryAfter set to when
// the earliest entry expires, capped at the window.
func (l *RateLimiter) Allow(_ context.Context, key string, limit int, win time.Duration, now time.Time) (application.Decision, error) {
	if limit < 1 || win <= 0 {
		return application.Decision{Allowed: true}, nil
	}
	n := now.UnixNano()
	var d application.Decision
	err := l.t.update(key, n, func(e entry[window], live bool) (entry[window], bool) {
		if !live {
			d = application.Decision{Allowed: true}
			return entry[window]{val: window{count: 1}, expires: n + int64(win)}, true
		}
		if e.val.count >= limit {
			d = application.Decision{RetryAfter: time.Duration(e.expires - n)}
			return e, false
		}
		d = application.Decision{Allowed: true}
		e.val.count++
		return e, true
	})
	if err != nil {
		retry := time.Duration(l.t.soonestExpiry() - n)
		if retry <= 0 || retry > win {
			retry = win
		}
		return application.Decision{RetryAfter: retry}, nil
	}
	return d, nil
}

// DeleteExpired forgets windows that have ended.
func (l *RateLimiter) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return l.t.evict(ctx, now.UnixNano()), ctx.Err()
}

// Len returns the number of keys held, expired ones included until swept.
func (l *RateLimiter) Len() int { return l.t.len() }

// Lockouts is an application.Lockouts and application.Expirer keeping
// failure counts in memory. Failures are counted in a window that opens at
// the first one and lasts lockFor; a lock ends lockFor after the failure
// that set it, and takes the count with it.
type Lockouts struct {
	t *table[failures]
}

type failures struct {
	count  int
	locked bool // then the entry's expiry is the lock's end
}

// NewLockouts returns a lockout table holding at most maxEntries keys
// (DefaultMaxEntries if maxEntries <= 0). log may be nil.
func NewLockouts(maxEntries int, log *zap.Logger) *Lockouts {
	return &Lockouts{t: newTable[failures]("lockouts", maxEntries, named(log))}
}

// Check returns the end of key's live lock (zero if none) and the
// failures counted in its live window.
func (l *Lockouts) Check(_ context.Context, key string, now time.Time) (application.LockState, error) {
	e, live := l.t.get(key, now.UnixNano())
	if !live {
		return application.LockState{}, nil
	}
	st := application.LockState{Failures: e.val.count}
	if e.val.locked {
		st.Until = time.Unix(0, e.expires).UTC()
	}
	return st, nil
}

// Fail counts a wrong password for key and returns the lock's end when
// this failure sets a lock (or one is already live), else the zero time.
// A maxFailures or lockFor of zero or less never locks, so nothing is
// counted. A failure for a new key when the table is full is an error
// wrapping application.ErrUnavailable: the login is refused rather than
// counted nowhere.
func (l *Lockouts) Fail(_ context.Context, key string, maxFailures int, lockFor time.Duration, now time.Time) (time.Time, error) {
	if maxFailures < 1 || lockFor <= 0 {
		return time.Time{}, nil
	}
	n := now.UnixNano()
	var until int64
	err := l.t.update(key, n, func(e entry[failures], live bool) (entry[failures], bool) {
		until = 0
		if live && e.val.locked {
			until = e.expires
			return e, false
		}
		if !live {
			e = entry[failures]{expires: n + int64(lockFor)}
		}
		e.val.count++
		if e.val.count >= maxFailures {
			e.val.locked = true
			e.expires = n + int64(lockFor)
			until = e.expires
		}
		return e, true
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("count login failure: %w: %w", application.ErrUnavailable, err)
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, until).UTC(), nil
}

// Reset forgets key's failures and lock.
func (l *Lockouts) Reset(_ context.Context, key string) error {
	l.t.remove(key)
	return nil
}

// DeleteExpired forgets ended locks and failure windows.
func (l *Lockouts) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return l.t.evict(ctx, now.UnixNano()), ctx.Err()
}

// Len returns the number of keys held, expired ones included until swept.
func (l *Lockouts) Len() int { return l.t.len() }

func named(log *zap.Logger) *zap.Logger {
	if log == nil {
		return nil
	}
	return log.Named("memory")
}
