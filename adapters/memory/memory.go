// Package memory holds the in-process implementations of the counters the
// embedded (single-node) mode keeps: rate-limit windows, login lockouts and
// login nonces. They may be ephemeral there, since losing them in a crash
// weakens an abuse limit for one window and nothing else, and keeping them
// off disk keeps a durable write off the login path.
//
// Each table is sharded by key hash for concurrency and bounded to a maximum
// number of entries so that a flood of distinct keys cannot exhaust memory.
// Nonces, one per successful login, keep only 64-bit fingerprints in sets
// per second of expiry (nonces.go), so their bound can be ten times the
// others' in less memory.
//
// The rate-limit and lockout tables never refuse for being full: a new
// key that finds no room first evicts expired entries, then forgets the
// oldest live one (of a small sample), so that an attacker who fills a
// table can at worst shorten other keys' memory, never shut honest clients
// out. Deployment-wide budgets (keys starting with
// application.GlobalKeyPrefix) are never forgotten. The first forgetting
// is logged at WARN. The rules themselves (what a window or a lock is)
// live in the domain; these tables only keep them, one atomic update per
// call under a shard's lock.
package memory

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// RateLimits is an application.RateLimits and application.Expirer keeping
// fixed windows in memory.
type RateLimits struct {
	t *table[window]
}

// window is a domain.FixedWindow without pointers (its end is the
// entry's expiry), so a million of them cost the garbage collector
// nothing to scan.
type window struct{ count int64 }

// NewRateLimits returns a table holding at most maxEntries windows
// (DefaultMaxEntries if maxEntries <= 0). log may be nil.
func NewRateLimits(maxEntries int, log *zap.Logger) *RateLimits {
	t := newTable[window]("rate_limits", maxEntries, named(log))
	t.pinned = func(key string) bool { return strings.HasPrefix(key, application.GlobalKeyPrefix) }
	return &RateLimits{t: t}
}

// Update applies fn to key's window atomically (see application.RateLimits).
func (l *RateLimits) Update(_ context.Context, key string, now time.Time, fn func(*domain.FixedWindow) error) error {
	var err error
	w := windows.Get().(*domain.FixedWindow)
	defer windows.Put(w)
	l.t.update(key, now.UnixNano(), func(e entry[window], live bool) (entry[window], action) {
		*w = domain.FixedWindow{}
		if live {
			*w = domain.RestoreFixedWindow(int(e.val.count), time.Unix(0, e.expires))
		}
		before := *w
		if err = fn(w); err != nil || *w == before {
			return e, keep
		}
		if w.Empty() {
			return e, remove
		}
		return entry[window]{val: window{count: int64(w.Count(now))}, expires: w.End().UnixNano()}, store
	})
	return err
}

// DeleteExpired forgets windows that have ended.
func (l *RateLimits) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return l.t.evict(ctx, now.UnixNano()), ctx.Err()
}

// Len returns the number of keys held, expired ones included until swept.
func (l *RateLimits) Len() int { return l.t.len() }

// Lockouts is an application.Lockouts and application.Expirer keeping
// login failures in memory.
type Lockouts struct {
	t *table[failures]
}

// failures is a domain.LoginFailures without pointers; the entry's expiry
// is its ExpiresAt.
type failures struct {
	count       int64
	windowEnd   int64
	lockedUntil int64 // zero when unlocked
}

// NewLockouts returns a lockout table holding at most maxEntries keys
// (DefaultMaxEntries if maxEntries <= 0). log may be nil.
func NewLockouts(maxEntries int, log *zap.Logger) *Lockouts {
	return &Lockouts{t: newTable[failures]("lockouts", maxEntries, named(log))}
}

// Update applies fn to key's failures atomically (see application.Lockouts).
func (l *Lockouts) Update(_ context.Context, key string, now time.Time, fn func(*domain.LoginFailures) error) error {
	var err error
	f := loginFailures.Get().(*domain.LoginFailures)
	defer loginFailures.Put(f)
	l.t.update(key, now.UnixNano(), func(e entry[failures], live bool) (entry[failures], action) {
		*f = domain.LoginFailures{}
		if live {
			*f = domain.RestoreLoginFailures(int(e.val.count), time.Unix(0, e.val.windowEnd), unixNano(e.val.lockedUntil))
		}
		before := *f
		if err = fn(f); err != nil || *f == before {
			return e, keep
		}
		if f.Empty() {
			return e, remove
		}
		v := failures{count: int64(f.Count(now)), windowEnd: f.WindowEnd().UnixNano()}
		if u := f.LockedUntil(); !u.IsZero() {
			v.lockedUntil = u.UnixNano()
		}
		return entry[failures]{val: v, expires: f.ExpiresAt().UnixNano()}, store
	})
	return err
}

// The values handed to fn come from pools: a value whose address goes to
// a caller's function would otherwise be allocated on every update.
var (
	windows       = sync.Pool{New: func() any { return new(domain.FixedWindow) }}
	loginFailures = sync.Pool{New: func() any { return new(domain.LoginFailures) }}
)

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
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
