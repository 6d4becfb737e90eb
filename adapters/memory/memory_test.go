package memory_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/phoneauth/phoneauth/adapters/memory"
	"github.com/phoneauth/phoneauth/adapters/storetest"
	"github.com/phoneauth/phoneauth/application"
)

var base = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		log := zaptest.NewLogger(t)
		limits := memory.NewRateLimiter(0, log)
		lockouts := memory.NewLockouts(0, log)
		nonces := memory.NewNonces(0, log)
		return storetest.Stores{
			Limits:   limits,
			Lockouts: lockouts,
			Nonces:   nonces,
			Expirers: []application.Expirer{limits, lockouts, nonces},
		}
	})
}

const bound = 100

func TestRateLimiterFullFailsClosed(t *testing.T) {
	l := memory.NewRateLimiter(bound, zaptest.NewLogger(t))
	ctx := t.Context()
	for i := range bound {
		window := time.Minute
		if i%2 == 1 {
			window = time.Hour
		}
		if d, err := l.Allow(ctx, fmt.Sprint("k", i), 2, window, base); err != nil || !d.Allowed {
			t.Fatalf("Allow(k%d) = %+v, %v", i, d, err)
		}
	}
	d, err := l.Allow(ctx, "new", 2, time.Hour, base.Add(time.Second))
	if err != nil || d.Allowed {
		t.Fatalf("new key in a full table: %+v, %v; want refused", d, err)
	}
	// Room comes back when the one-minute windows end.
	if want := time.Minute - time.Second; d.RetryAfter != want {
		t.Errorf("RetryAfter = %v, want %v", d.RetryAfter, want)
	}
	if d, _ := l.Allow(ctx, "k1", 2, time.Hour, base.Add(time.Second)); !d.Allowed {
		t.Errorf("a key already held was refused in a full table")
	}
	if d, _ := l.Allow(ctx, "new", 2, time.Hour, base.Add(time.Minute)); !d.Allowed {
		t.Errorf("new key refused after half the table expired")
	}
	if n := l.Len(); n != bound/2+1 {
		t.Errorf("Len = %d, want %d: expired windows should have been evicted", n, bound/2+1)
	}
}

func TestLockoutsFullIsUnavailable(t *testing.T) {
	l := memory.NewLockouts(bound, zaptest.NewLogger(t))
	ctx := t.Context()
	for i := range bound {
		if _, err := l.Fail(ctx, fmt.Sprint("k", i), 5, time.Minute, base); err != nil {
			t.Fatalf("Fail(k%d): %v", i, err)
		}
	}
	if _, err := l.Fail(ctx, "new", 5, time.Minute, base); !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("Fail of a new key in a full table = %v, want application.ErrUnavailable", err)
	}
	if _, err := l.Fail(ctx, "k0", 5, time.Minute, base); err != nil {
		t.Errorf("Fail of a key already held: %v", err)
	}
	if err := l.Reset(ctx, "k0"); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if _, err := l.Fail(ctx, "new", 5, time.Minute, base); err != nil {
		t.Errorf("Fail after Reset freed a slot: %v", err)
	}
}

// TestConcurrentAllowIsExact hammers a few keys from many goroutines: the
// number allowed per key must be exactly the limit.
func TestConcurrentAllowIsExact(t *testing.T) {
	l := memory.NewRateLimiter(0, nil)
	const keys, limit, goroutines, perGoroutine = 8, 300, 32, 200
	var allowed [keys]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				k := (g + i) % keys
				d, err := l.Allow(t.Context(), fmt.Sprint("k", k), limit, time.Hour, base)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for k := range keys {
		if n := allowed[k].Load(); n != limit {
			t.Errorf("key %d: %d allowed, want %d", k, n, limit)
		}
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := memory.NewRateLimiter(0, nil)
	keys := benchKeys("ip:", 10000)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			i++
			_, _ = l.Allow(b.Context(), keys[i%len(keys)], 1<<30, time.Hour, base)
		}
	})
}

func BenchmarkCheckLockParallel(b *testing.B) {
	l := memory.NewLockouts(0, nil)
	keys := benchKeys("login:+86138", 10000)
	for _, k := range keys[:1000] {
		_, _ = l.Fail(b.Context(), k, 5, time.Hour, base)
	}
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			i++
			_, _ = l.Check(b.Context(), keys[i%len(keys)], base)
		}
	})
}

func benchKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%08d", prefix, i)
	}
	return keys
}
