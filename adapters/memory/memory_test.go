package memory_test

import (
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
)

var base = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		log := zaptest.NewLogger(t)
		limits := memory.NewRateLimiter(0, log)
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
