package memory

import (
	"context"
	"hash/maphash"
	"maps"
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
//
// Under pressure. When a new key finds the bound reached and no set has
// expired, the store forgets whole seconds' sets, those nearest to expiry
// first, until it has freed a sixty-fourth of its bound, and raises its
// floor to the last second it forgot. From then it answers stale to every
// claim expiring at or before the floor: a forgotten key can never be
// claimed again, and since the application's expiry is the request's time
// stamp plus a constant, what is refused is the oldest requests, which a
// client retries with a fresh time stamp. The floor passes as time does,
// so the accepted window shrinks under pressure and grows back as entries
// expire. The store never refuses a claim for want of room.
//
// Sweeps raise the floor too, to the second they swept: a claim that took
// its time between the application's reading of the clock and its call
// cannot claim again a key whose set was swept under it.
type Nonces struct {
	seed  maphash.Seed
	log   *zap.Logger
	max   int64
	count atomic.Int64
	// floor is the last expiry second whose sets were dropped, whether
	// swept when due or forgotten before (0: none). Claims expiring at or
	// before it are stale. It only rises.
	floor atomic.Int64
	// roomMu serialises the sweeps and the forgetting, so that one
	// claimer frees room for all the others waiting on a full store, and
	// guards pressure.
	roomMu   sync.Mutex
	pressure pressureLog
	// shard i holds the fingerprints f with f%nonceShards == i.
	shards [nonceShards]nonceShard
}

// pressureLog throttles the warning that keys are being forgotten: the
// first forgetting is logged at once, later ones at most once per
// pressureLogInterval, each line counting what happened since the last.
type pressureLog struct {
	last      time.Time // when the last line was written; zero: none yet
	forgets   int       // forgettings since that line
	forgotten int       // keys forgotten since that line
	// through is the last second forgotten before its expiry, while that
	// second lies ahead (0: the whole window is accepted).
	through int64
}

// pressureLogInterval is the least time between two "forgetting" lines.
const pressureLogInterval = time.Minute

type nonceShard struct {
	mu sync.Mutex
	// sets maps the Unix second from which its nonces are dead to their
	// fingerprints. Sets are created on first insert, so none is empty.
	sets map[int64]*fpSet
	// The padding keeps neighbouring shards' mutexes off one cache line.
	_ [128]byte
}

// NewNonces returns a nonce store holding at most maxEntries nonces
// (DefaultNonceCapacity if maxEntries <= 0). log may be nil.
func NewNonces(maxEntries int, log *zap.Logger) *Nonces {
	if maxEntries <= 0 {
		maxEntries = DefaultNonceCapacity
	}
	log = named(log)
	if log == nil {
		log = zap.NewNop()
	}
	n := &Nonces{seed: maphash.MakeSeed(), log: log, max: int64(maxEntries)}
	for i := range n.shards {
		n.shards[i].sets = make(map[int64]*fpSet)
	}
	return n
}

// claimTries bounds how often one claim looks for room in a full store
// while other claims take what it freed; past it the claim is answered
// stale (the client retries) rather than wait on.
const claimTries = 8

// Claim answers whether key is claimed for the first time (see the type's
// comment for the floor). A key already expired at now is stale: nothing
// is stored for it, nor is a set whose second has passed consulted, swept
// or not.
func (n *Nonces) Claim(_ context.Context, key string, expiresAt, now time.Time) (application.NonceClaim, error) {
	sec := expirySecond(expiresAt)
	if now.Unix() >= sec {
		return application.NonceStale, nil
	}
	fp := max(maphash.String(n.seed, key), 1) // 0 marks an empty slot
	s := &n.shards[fp%nonceShards]
	for range claimTries {
		s.mu.Lock()
		// The floor is read under the shard's lock: forgetting raises it
		// before it takes the lock to drop this shard's sets, so a claim
		// that finds its set gone also finds the floor that covers it.
		if sec <= n.floor.Load() {
			s.mu.Unlock()
			return application.NonceStale, nil
		}
		set := s.sets[sec]
		if set.has(fp) {
			s.mu.Unlock()
			return application.NonceReplayed, nil
		}
		if n.reserve() {
			if set == nil {
				set = &fpSet{}
				s.sets[sec] = set
			}
			set.add(fp)
			s.mu.Unlock()
			return application.NonceClaimed, nil
		}
		s.mu.Unlock()
		// Outside the shard's lock: making room takes every shard's lock
		// in turn, this one included.
		n.makeRoom(now)
	}
	return application.NonceStale, nil
}

// DeleteExpired drops every set whose second has come.
func (n *Nonces) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	n.roomMu.Lock()
	defer n.roomMu.Unlock()
	deleted := n.dropThrough(ctx, now.Unix(), nil)
	if t := n.pressure.through; t != 0 && t <= now.Unix() {
		// Everything forgotten would have expired by now.
		n.log.Info("replay memory accepts the whole time window again",
			zap.String("table", "nonces"), zap.Int64("max_entries", n.max),
			zap.Int("forgettings", n.pressure.forgets), zap.Int("forgotten", n.pressure.forgotten))
		n.pressure = pressureLog{}
	}
	return deleted, ctx.Err()
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
			return true
		}
	}
}

// makeRoom frees room in a full store: the sets dead at now, and if those
// are fewer than a sixty-fourth of the bound, the live sets nearest to
// expiry as well, raising the floor over them. Claimers that find the
// store full queue here; the first frees room for those after it.
func (n *Nonces) makeRoom(now time.Time) {
	n.roomMu.Lock()
	defer n.roomMu.Unlock()
	if n.count.Load() < n.max {
		return // freed by the claimer before
	}
	want := max(1, int(n.max/64))
	perSecond := map[int64]int{}
	freed := n.dropThrough(context.Background(), now.Unix(), perSecond)
	if freed >= want {
		return
	}
	// Forget the earliest seconds until enough would go. The counts were
	// taken shard by shard while claims went on; dropThrough below counts
	// exactly what it drops.
	secs := slices.Sorted(maps.Keys(perSecond))
	if len(secs) == 0 {
		return
	}
	floor := secs[0]
	for _, sec := range secs {
		floor = sec
		if freed += perSecond[sec]; freed >= want {
			break
		}
	}
	forgotten := n.dropThrough(context.Background(), floor, nil)
	n.notePressure(now, forgotten, floor)
}

// dropThrough raises the floor to through and drops the sets of every
// second up to and including it, and returns how many nonces went. If
// perSecond is not nil it is given, for each set kept, its size. It locks
// one shard at a time, so other shards keep serving meanwhile. The caller
// holds roomMu.
func (n *Nonces) dropThrough(ctx context.Context, through int64, perSecond map[int64]int) int {
	// Raise the floor before dropping anything (see Claim). Only holders
	// of roomMu write it, so no compare-and-swap is needed.
	if through > n.floor.Load() {
		n.floor.Store(through)
	}
	deleted := 0
	for i := range n.shards {
		if ctx.Err() != nil {
			break
		}
		s := &n.shards[i]
		s.mu.Lock()
		for sec, set := range s.sets {
			if sec <= through {
				deleted += set.n
				delete(s.sets, sec)
			} else if perSecond != nil {
				perSecond[sec] += set.n
			}
		}
		s.mu.Unlock()
	}
	n.count.Add(int64(-deleted))
	return deleted
}

// notePressure counts one forgetting and logs it, at once the first time
// and then at most once per pressureLogInterval. The caller holds roomMu.
func (n *Nonces) notePressure(now time.Time, forgotten int, floor int64) {
	p := &n.pressure
	p.forgets++
	p.forgotten += forgotten
	p.through = floor
	if !p.last.IsZero() && now.Sub(p.last) < pressureLogInterval {
		return
	}
	n.log.Warn("replay memory full: forgot the nonces nearest to expiry; older login requests are refused as stale until their expiry passes",
		zap.String("table", "nonces"), zap.Int64("max_entries", n.max),
		zap.Int("forgettings", p.forgets), zap.Int("forgotten", p.forgotten),
		zap.Time("stale_through_expiry", time.Unix(floor, 0).UTC()))
	*p = pressureLog{last: now, through: floor}
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
