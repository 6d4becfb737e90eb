package memory_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/memory"
	"github.com/phoneauth/phoneauth/application"
)

// claim claims key and marks the test failed on an error, which the store
// never returns (the answer is then 0, none of the store's). It may be
// called from any goroutine.
func claim(t testing.TB, n *memory.Nonces, key string, expiresAt, now time.Time) application.NonceClaim {
	t.Helper()
	c, err := n.Claim(t.Context(), key, expiresAt, now)
	if err != nil {
		t.Errorf("Claim(%q) = %v", key, err)
	}
	return c
}

// fill claims perSecond keys "s<i>/<j>" expiring in each of the given
// seconds after base, at now = base, and fails unless all are claimed.
func fill(t *testing.T, n *memory.Nonces, perSecond int, seconds ...int) {
	t.Helper()
	for _, i := range seconds {
		for j := range perSecond {
			key := fmt.Sprintf("s%d/%d", i, j)
			if c := claim(t, n, key, base.Add(time.Duration(i)*time.Second), base); c != application.NonceClaimed {
				t.Fatalf("fill: Claim(%s) = %v", key, c)
			}
		}
	}
}

// TestNoncesFullForgetsOldestAndRefusesThemAsStale: a full store takes a
// new key by forgetting the keys nearest to expiry, and from then answers
// stale, never claimed, for every key expiring as early as those; the
// keys it kept are still replays.
func TestNoncesFullForgetsOldestAndRefusesThemAsStale(t *testing.T) {
	// 64 keys a second for seconds 10..19: a full store of 640, which
	// frees at least 640/64 = 10 keys at a time, one whole second here.
	const perSecond, capacity = 64, 640
	n := memory.NewNonces(capacity, nil)
	fill(t, n, perSecond, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)
	if n.Len() != capacity {
		t.Fatalf("Len = %d, want %d", n.Len(), capacity)
	}
	now := base.Add(time.Second)
	if c := claim(t, n, "new", base.Add(30*time.Second), now); c != application.NonceClaimed {
		t.Fatalf("new key in a full store = %v, want claimed", c)
	}
	if want := capacity - perSecond + 1; n.Len() != want {
		t.Errorf("Len = %d, want %d: one second's keys forgotten, one added", n.Len(), want)
	}
	for j := range perSecond {
		key := fmt.Sprintf("s10/%d", j)
		if c := claim(t, n, key, base.Add(10*time.Second), now); c != application.NonceStale {
			t.Fatalf("replay of forgotten %s = %v, want stale", key, c)
		}
	}
	// A new key expiring as early is stale too: the store cannot tell it
	// from a forgotten one.
	if c := claim(t, n, "new-early", base.Add(10*time.Second), now); c != application.NonceStale {
		t.Errorf("new key expiring in the forgotten second = %v, want stale", c)
	}
	if c := claim(t, n, "new-before", base.Add(5*time.Second), now); c != application.NonceStale {
		t.Errorf("new key expiring before the forgotten second = %v, want stale", c)
	}
	for _, i := range []int{11, 19} {
		key := fmt.Sprintf("s%d/0", i)
		if c := claim(t, n, key, base.Add(time.Duration(i)*time.Second), now); c != application.NonceReplayed {
			t.Errorf("replay of kept %s = %v, want replayed", key, c)
		}
	}
	if c := claim(t, n, "new", base.Add(30*time.Second), now); c != application.NonceReplayed {
		t.Errorf("replay of the key that made the room = %v, want replayed", c)
	}
	// Keys expiring after the floor are taken, forgetting again as needed.
	for j := range 3 * perSecond {
		key := fmt.Sprintf("later/%d", j)
		if c := claim(t, n, key, base.Add(11*time.Second+time.Duration(j)*time.Millisecond), now); c != application.NonceClaimed && c != application.NonceStale {
			t.Fatalf("Claim(%s) = %v", key, c)
		}
	}
	if n.Len() > capacity {
		t.Errorf("Len = %d over the bound %d", n.Len(), capacity)
	}
}

// TestNoncesFloorLiftsAsTimePasses: the window lost under pressure comes
// back as the forgotten keys' expiry passes; a forgotten key is never
// claimed again while it could still be replayed.
func TestNoncesFloorLiftsAsTimePasses(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	n := memory.NewNonces(640, zap.New(core))
	fill(t, n, 64, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)
	if c := claim(t, n, "new", base.Add(30*time.Second), base); c != application.NonceClaimed {
		t.Fatalf("new key in a full store = %v", c)
	}
	// Until second 10 comes, s10's keys could be replayed: stale. From
	// second 10 on they are dead, and stale for that reason.
	for _, now := range []time.Time{base.Add(5 * time.Second), base.Add(9*time.Second + 999*time.Millisecond), base.Add(10 * time.Second)} {
		if c := claim(t, n, "s10/0", base.Add(10*time.Second), now); c != application.NonceStale {
			t.Errorf("at base+%v: replay of forgotten s10/0 = %v, want stale", now.Sub(base), c)
		}
	}
	// The sweep at second 15 drops seconds 11-15 and frees their room:
	// keys of every live second are taken again, without forgetting.
	now := base.Add(15 * time.Second)
	if got, err := n.DeleteExpired(t.Context(), now); err != nil || got != 5*64 {
		t.Errorf("DeleteExpired = %d, %v; want %d", got, err, 5*64)
	}
	held := n.Len()
	for _, sec := range []int{16, 19, 30, 40} {
		key := fmt.Sprintf("after/%d", sec)
		if c := claim(t, n, key, base.Add(time.Duration(sec)*time.Second), now); c != application.NonceClaimed {
			t.Errorf("Claim(%s) once the floor passed = %v, want claimed", key, c)
		}
	}
	if n.Len() != held+4 {
		t.Errorf("Len = %d, want %d: nothing forgotten once there is room", n.Len(), held+4)
	}
	if got := logs.FilterMessage("replay memory accepts the whole time window again").Len(); got != 1 {
		t.Errorf("%d whole-window-again logs, want 1", got)
	}
}

// TestNoncesFullNeverErrs: a store full of live keys of one second (a
// single account logging in as fast as it can) still answers every claim,
// stale while the current second is the one forgotten, and takes keys
// again from the next second on.
func TestNoncesFullNeverErrs(t *testing.T) {
	const capacity = 1000
	n := memory.NewNonces(capacity, nil)
	exp := base.Add(time.Minute)
	claimed, stale := 0, 0
	for i := range 3 * capacity {
		switch c := claim(t, n, fmt.Sprint("k", i), exp, base); c {
		case application.NonceClaimed:
			claimed++
		case application.NonceStale:
			stale++
		default:
			t.Fatalf("Claim(k%d) = %v", i, c)
		}
	}
	if claimed != capacity || stale != 2*capacity {
		t.Errorf("claimed %d, stale %d; want %d, %d", claimed, stale, capacity, 2*capacity)
	}
	if c := claim(t, n, "next-second", exp.Add(time.Second), base); c != application.NonceClaimed {
		t.Errorf("key of the next second = %v, want claimed", c)
	}
}

// TestNoncesPressureIsLoggedOncePerInterval: forgetting under sustained
// pressure writes one warning at once and then at most one a minute,
// counting what it forgot in between.
func TestNoncesPressureIsLoggedOncePerInterval(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	const capacity = 640
	n := memory.NewNonces(capacity, zap.New(core))
	// 50 claims a second for 150 s, each living 60 s: 3,000 live at
	// once, five times the bound.
	for i := range 150 * 50 {
		now := base.Add(time.Duration(i) * 20 * time.Millisecond)
		if c := claim(t, n, fmt.Sprint("k", i), now.Add(time.Minute), now); c == application.NonceReplayed {
			t.Fatalf("fresh key k%d = replayed", i)
		}
	}
	warns := logs.FilterMessageSnippet("forgot the nonces nearest to expiry").All()
	// At once, then at 60 s and 120 s after the first.
	if len(warns) != 3 {
		t.Fatalf("%d pressure warnings in 150 s, want 3", len(warns))
	}
	if first := warns[0].ContextMap()["forgettings"]; first != int64(1) {
		t.Errorf("first warning counts %v forgettings, want 1", first)
	}
	if later := warns[1].ContextMap()["forgettings"].(int64); later < 2 {
		t.Errorf("second warning counts %d forgettings, want the minute's many", later)
	}
	if n.Len() > capacity {
		t.Errorf("Len = %d over the bound %d", n.Len(), capacity)
	}
}

// TestNoncesUnderPressureNeverClaimTwice races writers of fresh keys,
// replayers of keys already claimed and a sweeper, on a store far too
// small for the load, with time moving: no key is ever claimed twice
// while it lives, no claim fails, and the store stays within its bound.
func TestNoncesUnderPressureNeverClaimTwice(t *testing.T) {
	const (
		capacity  = 2000
		window    = 10 * time.Second
		writers   = 8
		perWriter = 3000
		tick      = 2 * time.Millisecond // simulated time per claim: 500/s, 5,000 live wanted
	)
	n := memory.NewNonces(capacity, nil)
	var clock atomic.Int64 // nanoseconds after base
	now := func() time.Time { return base.Add(time.Duration(clock.Load())) }

	type held struct {
		key string
		exp time.Time
	}
	var (
		mu      sync.Mutex
		claimed []held
	)
	var fresh, stale, replays, replaysClaimed, forgottenLive atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				at := base.Add(time.Duration(clock.Add(int64(tick))))
				key := fmt.Sprintf("w%d/%d", w, i)
				exp := at.Add(window)
				switch c := claim(t, n, key, exp, at); c {
				case application.NonceClaimed:
					fresh.Add(1)
					mu.Lock()
					claimed = append(claimed, held{key, exp})
					mu.Unlock()
				case application.NonceStale:
					stale.Add(1)
				default:
					t.Errorf("fresh key %s = %v", key, c)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				if len(claimed) == 0 {
					mu.Unlock()
					runtime.Gosched()
					continue
				}
				h := claimed[rand.IntN(len(claimed))]
				mu.Unlock()
				at := now()
				c := claim(t, n, h.key, h.exp, at)
				if c == application.NonceClaimed && at.Before(h.exp) {
					replaysClaimed.Add(1)
					t.Errorf("replay of %s (expires %v) claimed at %v", h.key, h.exp.Sub(base), at.Sub(base))
				}
				if c == application.NonceStale && at.Add(time.Second).Before(h.exp) {
					forgottenLive.Add(1)
				}
				replays.Add(1)
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				if _, err := n.DeleteExpired(t.Context(), now()); err != nil {
					t.Error(err)
				}
				if l := n.Len(); l > capacity {
					t.Errorf("Len = %d over the bound %d", l, capacity)
				}
			}
		}
	})
	// Writers first; then stop the replayers and the sweeper.
	for fresh.Load()+stale.Load() < writers*perWriter && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	close(done)
	wg.Wait()
	t.Logf("fresh claimed %d, stale %d, replays %d (claimed %d, stale while live %d)",
		fresh.Load(), stale.Load(), replays.Load(), replaysClaimed.Load(), forgottenLive.Load())
	if fresh.Load() < capacity {
		t.Errorf("only %d fresh keys claimed: the store should keep taking new keys", fresh.Load())
	}
	if forgottenLive.Load() == 0 {
		t.Error("no replay met a key forgotten while live: the run did not test the pressure")
	}
}

// TestNonceSetReclaimedAfterItsSecond: a nonce is kept until the whole
// second at or after its expiry, a sweep then drops its set, and the key
// can be claimed again.
func TestNonceSetReclaimedAfterItsSecond(t *testing.T) {
	n := memory.NewNonces(0, nil)
	exp := base.Add(time.Minute + 500*time.Millisecond) // set of second base+61s
	if c := claim(t, n, "k", exp, base); c != application.NonceClaimed {
		t.Fatalf("first Claim = %v", c)
	}
	if c := claim(t, n, "k2", exp.Add(-time.Second), base); c != application.NonceClaimed {
		t.Fatalf("Claim(k2) = %v", c)
	}
	// Its second has not come: kept, still a replay.
	if got, _ := n.DeleteExpired(t.Context(), exp); got != 1 {
		t.Errorf("DeleteExpired before the set's second = %d, want 1 (only k2's set)", got)
	}
	if c := claim(t, n, "k", exp, exp.Add(-time.Millisecond)); c != application.NonceReplayed {
		t.Errorf("replay before the set's second = %v, want replayed", c)
	}
	// From its second on, the set is dead to Claim even unswept...
	second := base.Add(61 * time.Second)
	if c := claim(t, n, "k", exp, second); c != application.NonceStale {
		t.Errorf("Claim once the set's second came = %v, want stale", c)
	}
	if n.Len() != 1 {
		t.Errorf("Len = %d, want 1: the set is unswept", n.Len())
	}
	// ...and a sweep reclaims it whole.
	if got, _ := n.DeleteExpired(t.Context(), second); got != 1 || n.Len() != 0 {
		t.Errorf("DeleteExpired at the set's second = %d, Len %d; want 1, 0", got, n.Len())
	}
	if c := claim(t, n, "k", second.Add(time.Minute), second); c != application.NonceClaimed {
		t.Errorf("Claim after the sweep = %v, want claimed", c)
	}
	if c := claim(t, n, "k", second.Add(time.Minute), second); c != application.NonceReplayed {
		t.Errorf("replay of the new claim = %v, want replayed", c)
	}
}

// TestNonceSweptIsStaleForALateClaim: a claim whose now was read before a
// sweep dropped its key's set (a request that took its time) is answered
// stale, not claimed a second time.
func TestNonceSweptIsStaleForALateClaim(t *testing.T) {
	n := memory.NewNonces(0, nil)
	exp := base.Add(time.Minute)
	if c := claim(t, n, "k", exp, base); c != application.NonceClaimed {
		t.Fatalf("first Claim = %v", c)
	}
	if got, _ := n.DeleteExpired(t.Context(), exp); got != 1 {
		t.Fatalf("DeleteExpired at the expiry = %d, want 1", got)
	}
	if c := claim(t, n, "k", exp, exp.Add(-1500*time.Millisecond)); c != application.NonceStale {
		t.Errorf("replay with a now read before the sweep = %v, want stale", c)
	}
	if c := claim(t, n, "k2", exp.Add(time.Second), exp.Add(-1500*time.Millisecond)); c != application.NonceClaimed {
		t.Errorf("a key expiring after the swept second = %v, want claimed", c)
	}
}

// TestConcurrentClaimIsOnce: one key claimed from many goroutines is
// claimed exactly once, and distinct keys all are.
func TestConcurrentClaimIsOnce(t *testing.T) {
	n := memory.NewNonces(0, nil)
	const goroutines, perGoroutine = 16, 2000
	var firsts, distinct atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				exp := base.Add(time.Duration(1+i%5) * time.Second)
				switch claim(t, n, "same", base.Add(time.Minute), base) {
				case application.NonceClaimed:
					firsts.Add(1)
				case application.NonceReplayed:
				default:
					t.Error("Claim(same) neither claimed nor replayed")
				}
				if claim(t, n, fmt.Sprint(g, "/", i), exp, base) == application.NonceClaimed {
					distinct.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Errorf("one key claimed %d times, want 1", firsts.Load())
	}
	if want := int64(goroutines * perGoroutine); distinct.Load() != want || n.Len() != int(want)+1 {
		t.Errorf("distinct keys claimed %d times, Len %d; want %d, %d", distinct.Load(), n.Len(), want, want+1)
	}
}

func BenchmarkClaimParallel(b *testing.B) {
	// Every claim is a new key, as on the login path; the bound is large
	// enough never to be reached during a benchmark.
	n := memory.NewNonces(1<<26, nil)
	now := time.Now()
	exp := now.Add(time.Hour)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = n.Claim(b.Context(), fmt.Sprintf("nonce:%032x", seq.Add(1)), exp, now)
		}
	})
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
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				n := memory.NewNonces(entries, nil)
				for i := range entries {
					k := fmt.Sprintf("nonce:%032x", i)
					exp := base.Add(time.Duration(1+i/perSecond) * time.Second)
					if _, err := n.Claim(b.Context(), k, exp, base); err != nil {
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
