package memory

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// DefaultMaxEntries is the bound NewRateLimiter and NewLockouts use when
// given none: about 100 MB of keys and bookkeeping per table at the key
// lengths the application uses.
const DefaultMaxEntries = 1_000_000

// numShards splits each table so that concurrent requests for different
// keys rarely wait on the same mutex; 64 is well above the core counts
// this runs on.
const numShards = 64

// errFull is what a table answers when a new key finds no room; each port
// turns it into its own documented refusal.
var errFull = errors.New("table full")

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
// is inserted, so the table never holds more than max entries.
type table[V any] struct {
	name   string
	log    *zap.Logger
	seed   maphash.Seed
	max    int64
	count  atomic.Int64
	full   atomic.Bool
	shards [numShards]shard[V]
}

func newTable[V any](name string, maxEntries int, log *zap.Logger) *table[V] {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	if log == nil {
		log = zap.NewNop()
	}
	t := &table[V]{name: name, log: log, seed: maphash.MakeSeed(), max: int64(maxEntries)}
	for i := range t.shards {
		t.shards[i].m = make(map[string]entry[V])
		t.shards[i].soonest = math.MaxInt64
	}
	return t
}

func (t *table[V]) shard(key string) *shard[V] {
	return &t.shards[maphash.String(t.seed, key)%numShards]
}

// get returns key's live entry.
func (t *table[V]) get(key string, now int64) (entry[V], bool) {
	s := t.shard(key)
	s.mu.Lock()
	e, ok := s.m[key]
	s.mu.Unlock()
	if !ok || e.expires <= now {
		return entry[V]{}, false
	}
	return e, true
}

// update runs fn on key's entry under the shard's lock. fn is told whether
// a live entry exists (an expired one is passed as absent and zeroed) and
// returns the entry to store and whether to store it. fn may run twice
// when the table is full, so it must only compute. update returns errFull
// when a new key needs a slot and even evicting expired entries frees none.
func (t *table[V]) update(key string, now int64, fn func(e entry[V], live bool) (entry[V], bool)) error {
	s := t.shard(key)
	for evicted := false; ; evicted = true {
		s.mu.Lock()
		cur, present := s.m[key]
		live := present && cur.expires > now
		if !live {
			cur = entry[V]{}
		}
		next, write := fn(cur, live)
		if !write {
			s.mu.Unlock()
			return nil
		}
		if !present && !t.reserve() {
			s.mu.Unlock()
			// Evict outside the lock: eviction takes every shard's lock
			// in turn, this one included.
			if !evicted && t.evict(context.Background(), now) > 0 {
				continue
			}
			if t.full.CompareAndSwap(false, true) {
				t.log.Warn("in-memory table full: refusing new keys until entries expire",
					zap.String("table", t.name), zap.Int64("max_entries", t.max))
			}
			return errFull
		}
		s.m[key] = next
		s.soonest = min(s.soonest, next.expires)
		s.mu.Unlock()
		return nil
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
			if t.full.Load() && t.full.CompareAndSwap(true, false) {
				t.log.Info("in-memory table has room again", zap.String("table", t.name))
			}
			return true
		}
	}
}

// remove deletes key whether live or not.
func (t *table[V]) remove(key string) {
	s := t.shard(key)
	s.mu.Lock()
	if _, ok := s.m[key]; ok {
		delete(s.m, key)
		t.count.Add(-1)
	}
	s.mu.Unlock()
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

// soonestExpiry returns the earliest instant at which some entry may
// die, which is when a full table may next have room.
func (t *table[V]) soonestExpiry() int64 {
	soonest := int64(math.MaxInt64)
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		soonest = min(soonest, s.soonest)
		s.mu.Unlock()
	}
	return soonest
}

func (t *table[V]) len() int { return int(t.count.Load()) }
