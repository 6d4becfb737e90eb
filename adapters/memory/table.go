package memory

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// DefaultMaxEntries is the bound NewRateLimits and NewLockouts use when
// given none: about 100 MB of keys and bookkeeping per table at the key
// lengths the application uses.
const DefaultMaxEntries = 1_000_000

// numShards splits each table so that concurrent requests for different
// keys rarely wait on the same mutex; 64 is well above the core counts
// this runs on.
const numShards = 64

// entry is one key's state. Times are Unix nanoseconds rather than
// time.Time so that entries hold no pointers and the garbage collector
// need not scan a million of them.
type entry[V any] struct {
	val V
	// expires is the first instant at which the entry is dead.
	expires int64
}

type shard[V any] struct {
	mu sync.Mutex
	m  map[string]entry[V]
	// soonest is never later than the earliest expiry in m, so a shard
	// whose soonest is still ahead has nothing to sweep and is skipped
	// without a scan. It is exact right after a scan.
	soonest int64
	// The padding keeps neighbouring shards' mutexes off one cache line.
	_ [128]byte
}

// table is a sharded map with a global entry bound and expiry. Its count
// is exact: a new key reserves a slot with a compare-and-swap before it
// is inserted, so the table never holds more than max entries. A full
// table never refuses a new key: it first drops expired entries, then
// forgets a live one (see forget), except the entries pinned says to keep.
type table[V any] struct {
	name   string
	log    *zap.Logger
	seed   maphash.Seed
	max    int64
	count  atomic.Int64
	full   atomic.Bool
	pinned func(key string) bool
	shards [numShards]shard[V]
}

func newTable[V any](name string, maxEntries int, log *zap.Logger) *table[V] {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	if log == nil {
		log = zap.NewNop()
	}
	t := &table[V]{name: name, log: log, seed: maphash.MakeSeed(), max: int64(maxEntries), pinned: func(string) bool { return false }}
	for i := range t.shards {
		t.shards[i].m = make(map[string]entry[V])
		t.shards[i].soonest = math.MaxInt64
	}
	return t
}

func (t *table[V]) shard(key string) *shard[V] {
	return &t.shards[maphash.String(t.seed, key)%numShards]
}

// action is what update does with the entry fn returns.
type action int

const (
	keep   action = iota // leave the table as it was
	store                // store the entry returned
	remove               // delete the key
)

// update runs fn on key's entry under the shard's lock. fn is told whether
// a live entry exists (an expired one is passed as absent and zeroed) and
// returns the entry and what to do with it. fn may run more than once when
// the table is full, so it must only compute.
func (t *table[V]) update(key string, now int64, fn func(e entry[V], live bool) (entry[V], action)) {
	s := t.shard(key)
	for round := 0; ; round++ {
		s.mu.Lock()
		cur, present := s.m[key]
		live := present && cur.expires > now
		if !live {
			cur = entry[V]{}
		}
		next, act := fn(cur, live)
		switch {
		case act == keep:
			s.mu.Unlock()
			return
		case act == remove:
			if present {
				delete(s.m, key)
				t.count.Add(-1)
			}
			s.mu.Unlock()
			return
		case !present && !t.reserve():
			// Full. Forget an entry of this shard in place, so the count
			// stays exact; if the shard has nothing to forget, make room
			// elsewhere first (outside this lock: eviction takes each
			// shard's lock in turn) and go round.
			if round > 0 && t.forgetIn(s, key, now) {
				break
			}
			s.mu.Unlock()
			if round == 0 {
				t.evict(context.Background(), now)
			} else {
				t.forgetAnywhere(now)
			}
			continue
		}
		s.m[key] = next
		s.soonest = min(s.soonest, next.expires)
		s.mu.Unlock()
		return
	}
}

// sampleSize is how many entries forget looks at to choose one: enough
// that the one it picks is nearly always among the oldest, few enough that
// a full table costs a new key a bounded, small scan.
const sampleSize = 16

// forgetIn deletes from s (whose lock the caller holds) the entry, among a
// sample, that ends soonest — roughly the oldest, as every key of a kind
// has the same window — skipping pinned keys and except. It logs the
// table's first forgetting at WARN and reports whether it freed a slot.
func (t *table[V]) forgetIn(s *shard[V], except string, now int64) bool {
	victim, best, seen := "", int64(math.MaxInt64), 0
	for k, e := range s.m {
		if k == except || t.pinned(k) {
			continue
		}
		if e.expires < best {
			victim, best = k, e.expires
		}
		if seen++; seen == sampleSize || e.expires <= now {
			break
		}
	}
	if victim == "" {
		return false
	}
	delete(s.m, victim)
	if t.full.CompareAndSwap(false, true) {
		t.log.Warn("in-memory table full: forgetting its oldest entries to make room",
			zap.String("table", t.name), zap.Int64("max_entries", t.max))
	}
	return true
}

// forgetAnywhere frees one slot in some shard, for a new key whose own
// shard had nothing to forget.
func (t *table[V]) forgetAnywhere(now int64) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		ok := t.forgetIn(s, "", now)
		s.mu.Unlock()
		if ok {
			t.count.Add(-1)
			return
		}
	}
}

// reserve takes one slot of the bound, if any is left.
func (t *table[V]) reserve() bool {
	for {
		n := t.count.Load()
		if n >= t.max {
			return false
		}
		if t.count.CompareAndSwap(n, n+1) {
			if t.full.Load() && n+1 < t.max && t.full.CompareAndSwap(true, false) {
				t.log.Info("in-memory table has room again", zap.String("table", t.name))
			}
			return true
		}
	}
}

// evict deletes every entry dead at now and returns how many went. It
// locks one shard at a time, so other shards keep serving meanwhile.
func (t *table[V]) evict(ctx context.Context, now int64) int {
	deleted := 0
	for i := range t.shards {
		if ctx.Err() != nil {
			break
		}
		s := &t.shards[i]
		s.mu.Lock()
		if s.soonest <= now {
			soonest := int64(math.MaxInt64)
			for k, e := range s.m {
				if e.expires <= now {
					delete(s.m, k)
					deleted++
				} else {
					soonest = min(soonest, e.expires)
				}
			}
			s.soonest = soonest
		}
		s.mu.Unlock()
	}
	t.count.Add(int64(-deleted))
	return deleted
}

func (t *table[V]) len() int { return int(t.count.Load()) }
