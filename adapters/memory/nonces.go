package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
)

// DefaultNonceCapacity is the bound NewNonces uses when given none:
// 20,000 logins/s for the 601 s a nonce lives (LOGIN_TIME_WINDOW of 300 s
// either side, plus the second the application adds). At the 11.5-13.6 B
// per nonce BenchmarkNonceBytesPerEntry measures (15 B when every set has
// just grown) that is 140-180 MB of heap when full.
const DefaultNonceCapacity = 12_020_000

// nonceShards splits the nonce sets so that logins on different cores
// rarely wait on one mutex.
const nonceShards = 64

// Nonces is an application.Nonces and application.Expirer remembering
// claimed keys in memory until their expiry.
//
// It keeps no keys, only a 64-bit fingerprint of each (maphash under a
// seed drawn per process, so a client cannot aim two keys at one
// fingerprint), in one set per shard per second of expiry: a nonce
// expiring within the second before S lives in the set of second S and is
// dead from S on. The application gives one (phone, random_str,
// time_stamp) triple always the same expiry, so a replay consults the one
// set its original went to, and expiry is a whole set dropped at once.
//
// A false "replayed" answer needs a new key's fingerprint to equal one of
// the n held in its second's set (the shard is chosen by the fingerprint
// too, so the shard adds no chance). With fingerprints uniform over 2^64
// that is n/2^64 per claim: at 20,000 logins in one second, ~1.1e-15 per
// login, or about one spurious refusal (the client retries with a new
// random_str) in 1,400 years of 20,000 logins/s. A replay is never
// accepted: equal keys always have equal fingerprints.
type Nonces struct {
	seed  maphash.Seed
	clock application.Clock
	log   *zap.Logger
	max   int64
	count atomic.Int64
	full  atomic.Bool
	// shard i holds the fingerprints f with f%nonceShards == i.
	shards [nonceShards]nonceShard
}

type nonceShard struct {
	mu sync.Mutex
	// sets maps the Unix second from which its nonces are dead to their
	// fingerprints. Sets are created on first insert, so none is empty.
	sets map[int64]*fpSet
	// The padding keeps neighbouring shards' mutexes off one cache line.
	_ [128]byte
}

// NewNonces returns a nonce store holding at most maxEntries nonces
// (DefaultNonceCapacity if maxEntries <= 0). Claim is given no "now", so
// the store asks clock to tell live nonces from expired ones; a nil clock
// means the wall clock. log may be nil.
func NewNonces(maxEntries int, clock application.Clock, log *zap.Logger) *Nonces {
	if maxEntries <= 0 {
		maxEntries = DefaultNonceCapacity
	}
	if clock == nil {
		clock = wallClock{}
	}
	log = named(log)
	if log == nil {
		log = zap.NewNop()
	}
	n := &Nonces{seed: maphash.MakeSeed(), clock: clock, log: log, max: int64(maxEntries)}
	for i := range n.shards {
		n.shards[i].sets = make(map[int64]*fpSet)
	}
	return n
}

// Claim reports whether key is claimed for the first time. A nonce that
// has already expired is not stored, as nothing could replay it in time;
// nor is a set whose second has passed consulted, swept or not. A new key
// when the store is full is an error wrapping application.ErrUnavailable:
// refusing a login is safer than accepting a request that might be a
// replay.
func (n *Nonces) Claim(_ context.Context, key string, expiresAt time.Time) (bool, error) {
	sec := expirySecond(expiresAt)
	now := n.clock.Now()
	if now.Unix() >= sec {
		return true, nil
	}
	fp := max(maphash.String(n.seed, key), 1) // 0 marks an empty slot
	s := &n.shards[fp%nonceShards]
	for evicted := false; ; evicted = true {
		s.mu.Lock()
		set := s.sets[sec]
		if set.has(fp) {
			s.mu.Unlock()
			return false, nil
		}
		if !n.reserve() {
			s.mu.Unlock()
			// Evict outside the lock: eviction takes every shard's lock
			// in turn, this one included.
			if !evicted && n.evict(context.Background(), now) > 0 {
				continue
			}
			if n.full.CompareAndSwap(false, true) {
				n.log.Warn("in-memory table full: refusing new keys until entries expire",
					zap.String("table", "nonces"), zap.Int64("max_entries", n.max))
			}
			return false, fmt.Errorf("claim nonce: %w: %w", application.ErrUnavailable, errFull)
		}
		if set == nil {
			set = &fpSet{}
			s.sets[sec] = set
		}
		set.add(fp)
		s.mu.Unlock()
		return true, nil
	}
}

// DeleteExpired drops every set whose second has come.
func (n *Nonces) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return n.evict(ctx, now), ctx.Err()
}

// Len returns the number of nonces held, expired ones included until swept.
func (n *Nonces) Len() int { return int(n.count.Load()) }

// expirySecond is the first whole Unix second at or after t: the set a
// nonce expiring at t goes to, dead from that second on. Rounding up keeps
// a nonce a fraction of a second longer, never shorter.
func expirySecond(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

// reserve takes one slot of the bound, if any is left.
func (n *Nonces) reserve() bool {
	for {
		c := n.count.Load()
		if c >= n.max {
			return false
		}
		if n.count.CompareAndSwap(c, c+1) {
			if n.full.Load() && n.full.CompareAndSwap(true, false) {
				n.log.Info("in-memory table has room again", zap.String("table", "nonces"))
			}
			return true
		}
	}
}

// evict drops the sets dead at now and returns how many nonces went. It
// locks one shard at a time, so other shards keep serving meanwhile.
func (n *Nonces) evict(ctx context.Context, now time.Time) int {
	nowSec := now.Unix()
	deleted := 0
	for i := range n.shards {
		if ctx.Err() != nil {
			break
		}
		s := &n.shards[i]
		s.mu.Lock()
		for sec, set := range s.sets {
			if sec <= nowSec {
				deleted += set.n
				delete(s.sets, sec)
			}
		}
		s.mu.Unlock()
	}
	n.count.Add(int64(-deleted))
	return deleted
}

// fpSet is a set of non-zero fingerprints: open addressing with linear
// probing in a flat []uint64 (0 marks an empty slot), so a nonce costs its
// 8 bytes over the load factor and the garbage collector has nothing in it
// to scan. A fingerprint's home slot is its high bits scaled to the table's
// length, which lets the table grow by half rather than double; with a
// maximum load of 4/5 the load stays between ~0.53 and 0.8.
type fpSet struct {
	slots []uint64
	n     int
}

// find returns the slot holding fp, or else the empty slot where it
// belongs, and whether fp is there. The table is never full, so the probe
// ends.
func (s *fpSet) find(fp uint64) (int, bool) {
	size := len(s.slots)
	hi, _ := bits.Mul64(fp, uint64(size))
	for i := int(hi); ; {
		switch s.slots[i] {
		case fp:
			return i, true
		case 0:
			return i, false
		}
		if i++; i == size {
			i = 0
		}
	}
}

// has reports whether fp is in the set; a nil set is empty.
func (s *fpSet) has(fp uint64) bool {
	if s == nil || s.n == 0 {
		return false
	}
	_, ok := s.find(fp)
	return ok
}

// add inserts fp, which must be absent.
func (s *fpSet) add(fp uint64) {
	if (s.n+1)*5 > len(s.slots)*4 {
		s.grow()
	}
	i, _ := s.find(fp)
	s.slots[i] = fp
	s.n++
}

// grow moves the set to a table half as large again (at least 8 slots),
// using whatever room the allocator's size class gives for free.
func (s *fpSet) grow() {
	old := s.slots
	next := slices.Grow([]uint64(nil), max(8, len(old)+len(old)/2))
	s.slots = next[:cap(next)]
	for _, fp := range old {
		if fp != 0 {
			i, _ := s.find(fp)
			s.slots[i] = fp
		}
	}
}
