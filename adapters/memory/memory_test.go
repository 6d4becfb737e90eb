package memory_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/memory"
	"github.com/phoneauth/phoneauth/adapters/storetest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

var base = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		log := zaptest.NewLogger(t)
		limits := memory.NewRateLimits(0, log)
		lockouts := memory.NewLockouts(0, log)
		nonces := memory.NewNonces(0, nil, log)
		return storetest.Stores{
			Limits:   limits,
			Lockouts: lockouts,
			Nonces:   nonces,
			Expirers: []application.Expirer{limits, lockouts, nonces},
		}
	})
}

// fakeClock is moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

const bound = 100

func take(t testing.TB, l *memory.RateLimits, key string, limit int, window time.Duration, now time.Time) bool {
	t.Helper()
	var ok bool
	if err := l.Update(context.Background(), key, now, func(w *domain.FixedWindow) error {
		_, _, ok = w.Take(limit, window, now)
		return nil
	}); err != nil {
		t.Fatalf("Update(%q): %v", key, err)
	}
	return ok
}

// TestRateLimitsFullForgetsOldest: a full table takes every new key, by
// forgetting old ones, never the global budgets; its count stays exact
// and the first forgetting is logged once.
func TestRateLimitsFullForgetsOldest(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := memory.NewRateLimits(bound, zap.New(core))
	global := application.GlobalKeyPrefix + "sms"
	if !take(t, l, global, 1, 2*time.Hour, base) {
		t.Fatal("global budget refused")
	}
	// Keys that end sooner are older here, as every key of a kind has
	// one window: the first half ends within the hour.
	for i := range 5 * bound {
		if !take(t, l, fmt.Sprint("k", i), 1, time.Hour+time.Duration(i)*time.Second, base) {
			t.Fatalf("new key k%d refused by a full table", i)
		}
		if l.Len() > bound {
			t.Fatalf("Len = %d > bound %d", l.Len(), bound)
		}
	}
	if take(t, l, global, 1, 2*time.Hour, base.Add(time.Minute)) {
		t.Errorf("the global budget was forgotten")
	}
	// The newest keys are kept (the last one surely; most of the last
	// tenth).
	kept := 0
	for i := 5*bound - bound/10; i < 5*bound; i++ {
		if !take(t, l, fmt.Sprint("k", i), 1, time.Hour, base.Add(time.Minute)) {
			kept++
		}
	}
	if kept < bound/20 {
		t.Errorf("only %d of the %d newest keys kept", kept, bound/10)
	}
	if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Errorf("%d WARN lines for one filling, want 1", n)
	}
}

func TestLockoutsFullForgetsOldest(t *testing.T) {
	l := memory.NewLockouts(bound, zaptest.NewLogger(t))
	ctx := t.Context()
	reserve := func(key string) bool {
		var ok bool
		if err := l.Update(ctx, key, base, func(f *domain.LoginFailures) error {
			_, _, ok = f.Reserve(5, time.Minute, base)
			return nil
		}); err != nil {
			t.Fatalf("Update(%q): %v", key, err)
		}
		return ok
	}
	for i := range 3 * bound {
		if !reserve(fmt.Sprint("k", i)) {
			t.Fatalf("k%d refused", i)
		}
	}
	if l.Len() != bound {
		t.Errorf("Len = %d, want %d", l.Len(), bound)
	}
}

func TestNoncesFullIsUnavailable(t *testing.T) {
	clock := &fakeClock{now: base}
	n := memory.NewNonces(bound, clock, zaptest.NewLogger(t))
	ctx := t.Context()
	for i := range bound {
		if ok, err := n.Claim(ctx, fmt.Sprint("k", i), base.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("Claim(k%d) = %v, %v", i, ok, err)
		}
	}
	if _, err := n.Claim(ctx, "new", base.Add(time.Minute)); !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("Claim of a new key in a full table = %v, want application.ErrUnavailable", err)
	}
	if ok, err := n.Claim(ctx, "k0", base.Add(time.Minute)); err != nil || ok {
		t.Errorf("replay in a full table: Claim = %v, %v; want false, nil", ok, err)
	}
	clock.Set(base.Add(time.Minute))
	if ok, err := n.Claim(ctx, "new", base.Add(2*time.Minute)); err != nil || !ok {
		t.Errorf("Claim after the table's nonces expired = %v, %v; want true", ok, err)
	}
	if got := n.Len(); got != 1 {
		t.Errorf("Len = %d, want 1", got)
	}
}

func TestNonceExpiresByClock(t *testing.T) {
	clock := &fakeClock{now: base}
	n := memory.NewNonces(0, clock, nil)
	ctx := t.Context()
	if ok, _ := n.Claim(ctx, "k", base.Add(time.Minute)); !ok {
		t.Fatal("first Claim = false")
	}
	clock.Set(base.Add(time.Minute))
	if ok, _ := n.Claim(ctx, "k", base.Add(2*time.Minute)); !ok {
		t.Error("Claim after expiry (no sweep) = false, want true")
	}
	// Already expired: nothing could replay it in time, so nothing is kept.
	// (Len counts the first claim's set until a sweep drops it.)
	held := n.Len()
	if ok, _ := n.Claim(ctx, "old", base); !ok || n.Len() != held {
		t.Errorf("expired Claim = %v, Len = %d; want true, %d", ok, n.Len(), held)
	}
}

// TestNoncesFullFailsClosedAndLogsOnce: every new key is refused while the
// store is full of live nonces, and the becoming-full is logged once.
func TestNoncesFullFailsClosedAndLogsOnce(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	clock := &fakeClock{now: base}
	n := memory.NewNonces(bound, clock, zap.New(core))
	ctx := t.Context()
	for i := range bound {
		// Spread over several seconds' sets: the bound is on the total.
		if ok, err := n.Claim(ctx, fmt.Sprint("k", i), base.Add(time.Duration(1+i%7)*time.Second)); err != nil || !ok {
			t.Fatalf("Claim(k%d) = %v, %v", i, ok, err)
		}
	}
	for i := range 3 {
		ok, err := n.Claim(ctx, fmt.Sprint("new", i), base.Add(time.Minute))
		if ok || !errors.Is(err, application.ErrUnavailable) {
			t.Errorf("Claim(new%d) in a full store = %v, %v; want false, application.ErrUnavailable", i, ok, err)
		}
	}
	if got := logs.FilterLevelExact(zapcore.WarnLevel).Len(); got != 1 {
		t.Errorf("%d WARN logs for one becoming-full, want 1", got)
	}
	if n.Len() != bound {
		t.Errorf("Len = %d, want %d", n.Len(), bound)
	}
	// The first second's set dies: a new key finds room by evicting it.
	clock.Set(base.Add(time.Second))
	if ok, err := n.Claim(ctx, "new0", base.Add(time.Minute)); err != nil || !ok {
		t.Errorf("Claim after a set expired = %v, %v; want true", ok, err)
	}
	if want := bound - (bound+6)/7 + 1; n.Len() != want {
		t.Errorf("Len = %d, want %d", n.Len(), want)
	}
	if got := logs.FilterMessage("in-memory table has room again").Len(); got != 1 {
		t.Errorf("%d room-again logs, want 1", got)
	}
}

// TestNonceSetReclaimedAfterItsSecond: a nonce is kept until the whole
// second at or after its expiry, a sweep then drops its set, and the key
// can be claimed again.
func TestNonceSetReclaimedAfterItsSecond(t *testing.T) {
	clock := &fakeClock{now: base}
	n := memory.NewNonces(0, clock, nil)
	ctx := t.Context()
	exp := base.Add(time.Minute + 500*time.Millisecond) // set of second base+61s
	if ok, err := n.Claim(ctx, "k", exp); err != nil || !ok {
		t.Fatalf("first Claim = %v, %v", ok, err)
	}
	if ok, _ := n.Claim(ctx, "k2", exp.Add(-time.Second)); !ok {
		t.Fatal("Claim(k2) = false")
	}
	// Its second has not come: kept, still a replay.
	if got, _ := n.DeleteExpired(ctx, exp); got != 1 {
		t.Errorf("DeleteExpired before the set's second = %d, want 1 (only k2's set)", got)
	}
	clock.Set(exp)
	if ok, _ := n.Claim(ctx, "k", exp); ok {
		t.Error("replay before the set's second = true, want false")
	}
	// From its second on, the set is absent to Claim even unswept...
	second := base.Add(61 * time.Second)
	clock.Set(second)
	if ok, err := n.Claim(ctx, "k", exp); err != nil || !ok {
		t.Errorf("Claim once the set's second came = %v, %v; want true", ok, err)
	}
	if n.Len() != 1 {
		t.Errorf("Len = %d, want 1: an expired claim is not stored and the set is unswept", n.Len())
	}
	// ...and a sweep reclaims it whole.
	if got, _ := n.DeleteExpired(ctx, second); got != 1 || n.Len() != 0 {
		t.Errorf("DeleteExpired at the set's second = %d, Len %d; want 1, 0", got, n.Len())
	}
	if ok, err := n.Claim(ctx, "k", second.Add(time.Minute)); err != nil || !ok {
		t.Errorf("Claim after the sweep = %v, %v; want true", ok, err)
	}
	if ok, _ := n.Claim(ctx, "k", second.Add(time.Minute)); ok {
		t.Error("replay of the new claim = true, want false")
	}
}

// TestConcurrentClaimIsOnce: one key claimed from many goroutines is
// first exactly once, and distinct keys all are.
func TestConcurrentClaimIsOnce(t *testing.T) {
	n := memory.NewNonces(0, &fakeClock{now: base}, nil)
	const goroutines, perGoroutine = 16, 2000
	var firsts, distinct atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				exp := base.Add(time.Duration(1+i%5) * time.Second)
				if ok, err := n.Claim(t.Context(), "same", base.Add(time.Minute)); err != nil {
					t.Error(err)
				} else if ok {
					firsts.Add(1)
				}
				if ok, _ := n.Claim(t.Context(), fmt.Sprint(g, "/", i), exp); ok {
					distinct.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Errorf("one key claimed first %d times, want 1", firsts.Load())
	}
	if want := int64(goroutines * perGoroutine); distinct.Load() != want || n.Len() != int(want)+1 {
		t.Errorf("distinct keys first %d times, Len %d; want %d, %d", distinct.Load(), n.Len(), want, want+1)
	}
}

// TestConcurrentTakeIsExact hammers a few keys from many goroutines: the
// number taken per key must be exactly the limit.
func TestConcurrentTakeIsExact(t *testing.T) {
	l := memory.NewRateLimits(0, nil)
	const keys, limit, goroutines, perGoroutine = 8, 300, 32, 200
	var allowed [keys]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				k := (g + i) % keys
				if take(t, l, fmt.Sprint("k", k), limit, time.Hour, base) {
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

func BenchmarkTakeParallel(b *testing.B) {
	l := memory.NewRateLimits(0, nil)
	keys := benchKeys("ip:", 10000)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			i++
			take(b, l, keys[i%len(keys)], 1<<30, time.Hour, base)
		}
	})
}

func BenchmarkClaimParallel(b *testing.B) {
	// Every claim is a new key, as on the login path; the bound is large
	// enough never to be reached during a benchmark.
	n := memory.NewNonces(1<<26, nil, nil)
	exp := time.Now().Add(time.Hour)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = n.Claim(b.Context(), fmt.Sprintf("nonce:%032x", seq.Add(1)), exp)
		}
	})
}

// BenchmarkReserveResetParallel is a successful login's lockout work:
// reserve the attempt, then reset.
func BenchmarkReserveResetParallel(b *testing.B) {
	l := memory.NewLockouts(0, nil)
	keys := benchKeys("login:+86138", 10000)
	reset := func(f *domain.LoginFailures) error { f.Reset(); return nil }
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			i++
			k := keys[i%len(keys)]
			_ = l.Update(b.Context(), k, base, func(f *domain.LoginFailures) error {
				f.Reserve(5, time.Hour, base)
				return nil
			})
			_ = l.Update(b.Context(), k, base, reset)
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

// BenchmarkNonceBytesPerEntry reports the heap each held nonce costs
// (runtime.MemStats around 2,000,000 claims of login-shaped keys, each a
// fresh string as on the login path), which is what LOGIN_NONCE_CAPACITY
// is sized by. Nonces are spread over one-second expiries at the given
// rate: 20000/s is the login rate the default capacity is sized for, and
// 3300/s spreads them over all 601 s of a nonce's life, so each second's
// sets are sparser.
func BenchmarkNonceBytesPerEntry(b *testing.B) {
	const entries = 2_000_000
	for _, perSecond := range []int{20_000, 3_300} {
		b.Run(fmt.Sprintf("%d/s", perSecond), func(b *testing.B) {
			clock := &fakeClock{now: base}
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				n := memory.NewNonces(entries, clock, nil)
				for i := range entries {
					k := fmt.Sprintf("nonce:%032x", i)
					exp := base.Add(time.Duration(1+i/perSecond) * time.Second)
					if _, err := n.Claim(b.Context(), k, exp); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/entries, "B/entry")
				runtime.KeepAlive(n)
			}
		})
	}
}
