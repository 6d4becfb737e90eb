package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/phoneauth/phoneauth/domain"
)

// The soak phase logs preloaded users in at the full rate, as the login
// phase does, for long enough to fill the service's replay memory
// (LOGIN_NONCE_CAPACITY, shrunk by the caller so that it fills in about a
// minute) and keep it full. Among the fresh logins it replays accepted
// ones, drawn from a sample of every accepted login so far (the oldest,
// which the service may have forgotten, as well as the newest), and it
// counts what the service answered and how many bytes the service logged.
// It fails the run if any login was answered 503 or any replay accepted.

const (
	// soakSampleEvery: one accepted login in this many is kept to replay.
	soakSampleEvery = 50
	// soakReplayEvery: one request in this many is a replay.
	soakReplayEvery = 100
	// soakPoolMax bounds the kept logins (a reservoir sample over the run).
	soakPoolMax = 200_000
	// soakProgressEvery is how often a progress line goes to stderr.
	soakProgressEvery = 15 * time.Second
)

// soakCounts are the phase's outcomes, over every request including the
// warm-up.
type soakCounts struct {
	logins, loginsOK, unavailable, freshStale, otherFailures atomic.Uint64
	replays, replaysAccepted, replaysStale, replaysReplayed  atomic.Uint64
	firstOther                                               atomic.Value // string
}

// soakFlow hands out the phase's requests.
type soakFlow struct {
	url   string
	users int
	max   uint64 // requests at most
	seq   atomic.Uint64

	mu       sync.Mutex
	pending  map[uint64][]byte // sampled logins awaiting their answer
	pool     [][]byte          // accepted sampled logins
	accepted int               // sampled logins accepted, for the reservoir
}

func (f *soakFlow) targeter() vegeta.Targeter {
	return func(tgt *vegeta.Target) error {
		n := f.seq.Add(1)
		if n > f.max {
			return vegeta.ErrNoTargets
		}
		tgt.Method = http.MethodPost
		if n%soakReplayEvery == 0 {
			f.mu.Lock()
			var body []byte
			if len(f.pool) > 0 {
				body = f.pool[rand.IntN(len(f.pool))]
			}
			f.mu.Unlock()
			if body != nil {
				// The query string marks the request for the result; the
				// service ignores it.
				tgt.URL, tgt.Body = f.url+"?replay", body
				return nil
			}
		}
		phone := userPhone(rand.IntN(f.users))
		random := strconv.FormatUint(rand.Uint64(), 36)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		proof := domain.LoginProof(benchPassword, random, ts)
		tgt.Body = []byte(`{"phone_number":"` + phone + `","encryption_str":"` + proof +
			`","random_str":"` + random + `","time_stamp":"` + ts + `"}`)
		tgt.URL = f.url
		if n%soakSampleEvery == 0 {
			tgt.URL = f.url + "?s=" + strconv.FormatUint(n, 10)
			f.mu.Lock()
			f.pending[n] = tgt.Body
			f.mu.Unlock()
		}
		return nil
	}
}

// keep moves sampled login n, now accepted, into the pool, or forgets it.
func (f *soakFlow) keep(n uint64, accepted bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, ok := f.pending[n]
	if !ok {
		return
	}
	delete(f.pending, n)
	if !accepted {
		return
	}
	f.accepted++
	if len(f.pool) < soakPoolMax {
		f.pool = append(f.pool, body)
	} else if i := rand.IntN(f.accepted); i < soakPoolMax {
		f.pool[i] = body
	}
}

// count sorts one result.
func (c *soakCounts) count(f *soakFlow, r *vegeta.Result) {
	if r.URL == "" && r.Error == vegeta.ErrNoTargets.Error() {
		return // the request bound was reached
	}
	ok, why := succeeded(r)
	stale := bytes.Contains(r.Body, []byte(`"error":"stale_request"`))
	if r.Code == http.StatusServiceUnavailable {
		c.unavailable.Add(1)
	}
	if strings.HasSuffix(r.URL, "?replay") {
		c.replays.Add(1)
		switch {
		case ok:
			c.replaysAccepted.Add(1)
			fmt.Fprintf(os.Stderr, "soak: a replay was accepted: %s\n", r.Body)
		case stale:
			c.replaysStale.Add(1)
		case bytes.Contains(r.Body, []byte(`"error":"replayed_request"`)):
			c.replaysReplayed.Add(1)
		case r.Code == http.StatusServiceUnavailable: // counted above
		default:
			c.other(why)
		}
		return
	}
	c.logins.Add(1)
	switch {
	case ok:
		c.loginsOK.Add(1)
	case stale:
		c.freshStale.Add(1)
	case r.Code == http.StatusServiceUnavailable: // counted above
	default:
		c.other(why)
	}
	if i := strings.Index(r.URL, "?s="); i >= 0 {
		if n, err := strconv.ParseUint(r.URL[i+3:], 10, 64); err == nil {
			f.keep(n, ok)
		}
	}
}

func (c *soakCounts) other(why string) {
	if c.otherFailures.Add(1) == 1 {
		c.firstOther.Store(why)
	}
}

// soakResult is what the phase prints and BENCHMARKS.md records.
type soakResult struct {
	capacity  string
	elapsed   time.Duration
	counts    *soakCounts
	logBytes  int64
	logLines  int64
	fullAfter time.Duration // from the phase's start to the service's first pressure line; 0: none
}

// attackSoak runs the soak phase.
func attackSoak(sv *server, s settings) ([]row, error) {
	f := &soakFlow{url: sv.base + "/client/login", users: s.users, max: s.soakRequests, pending: map[uint64][]byte{}}
	c := &soakCounts{}
	t := &tally{name: "soak: login"}
	log0, lines0 := sv.log.bytes.Load(), sv.log.lines.Load()
	start := time.Now()
	sv.log.markStart(start)

	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(soakProgressEvery)
		defer tick.Stop()
		last, lastAt := uint64(0), start
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				n := c.logins.Load()
				fmt.Fprintf(os.Stderr, "soak %4.0fs: %d logins (%.0f/s now), 503: %d, fresh stale: %d, replays %d (accepted %d, stale %d), service log %d B\n",
					now.Sub(start).Seconds(), n, float64(n-last)/now.Sub(lastAt).Seconds(), c.unavailable.Load(), c.freshStale.Load(),
					c.replays.Load(), c.replaysAccepted.Load(), c.replaysStale.Load(), sv.log.bytes.Load()-log0)
				last, lastAt = n, now
			}
		}
	}()
	elapsed := attack(hostOf(sv.base), f.targeter(), s.concurrency, s.soakDuration, func(r *vegeta.Result, measured bool) {
		c.count(f, r)
		if measured && !strings.HasSuffix(r.URL, "?replay") && r.URL != "" {
			ok, why := succeeded(r)
			t.add(r.Latency, !ok, why)
		}
	})
	close(done)
	res := soakResult{
		capacity: envOr("LOGIN_NONCE_CAPACITY", "default"),
		elapsed:  time.Since(start),
		counts:   c,
		logBytes: sv.log.bytes.Load() - log0,
		logLines: sv.log.lines.Load() - lines0,
	}
	if at := sv.log.firstPressure(); !at.IsZero() {
		res.fullAfter = at.Sub(start)
	}
	sv.soak = &res
	return []row{t.row(elapsed)}, nil
}

// print writes the soak's summary.
func (r *soakResult) print(w io.Writer, mem memStats) {
	c := r.counts
	full := "never"
	if r.fullAfter > 0 {
		full = r.fullAfter.Round(time.Second).String()
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| LOGIN_NONCE_CAPACITY | duration | logins | logins/s | memory full after | 503 | fresh logins stale | other failures (not 503) | replays sent | replays accepted | replays stale / replayed | service log | service peak RSS | peak Go heap in use |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| %s | %s | %d | %.0f | %s | %d | %d | %d | %d | %d | %d / %d | %d B, %d lines | %s | %s |\n",
		r.capacity, r.elapsed.Round(time.Second), c.logins.Load(), float64(c.logins.Load())/r.elapsed.Seconds(), full,
		c.unavailable.Load(), c.freshStale.Load(), c.otherFailures.Load(), c.replays.Load(), c.replaysAccepted.Load(),
		c.replaysStale.Load(), c.replaysReplayed.Load(), r.logBytes, r.logLines, mib(mem.PeakRSS), mib(mem.PeakHeapInuse))
	if v, _ := c.firstOther.Load().(string); v != "" {
		fmt.Fprintf(w, "\nfirst other failure: %s\n", v)
	}
}

// failed says why the soak did not hold, or "".
func (r *soakResult) failed() string {
	var why []string
	if n := r.counts.unavailable.Load(); n > 0 {
		why = append(why, fmt.Sprintf("%d answers 503", n))
	}
	if n := r.counts.replaysAccepted.Load(); n > 0 {
		why = append(why, fmt.Sprintf("%d replays accepted", n))
	}
	if r.counts.replays.Load() == 0 {
		why = append(why, "no replay was sent")
	}
	return strings.Join(why, ", ")
}

// logMeter stands between the service's stderr (its log) and ours: it
// counts bytes and lines, notes when the replay memory first reported
// pressure, and passes at most limit bytes on (a negative limit: all).
type logMeter struct {
	out   io.Writer
	limit int64
	bytes atomic.Int64
	lines atomic.Int64

	mu       sync.Mutex
	start    time.Time
	pressure time.Time
	cut      bool
}

func (m *logMeter) Write(p []byte) (int, error) {
	total := m.bytes.Add(int64(len(p)))
	m.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	if bytes.Contains(p, []byte("replay memory full")) {
		m.mu.Lock()
		if m.pressure.IsZero() && !m.start.IsZero() {
			m.pressure = time.Now()
		}
		m.mu.Unlock()
	}
	switch {
	case m.limit < 0 || total <= m.limit:
		_, _ = m.out.Write(p)
	default:
		m.mu.Lock()
		if !m.cut {
			m.cut = true
			fmt.Fprintf(m.out, "bench: service log over %d bytes; the rest is counted, not shown\n", m.limit)
		}
		m.mu.Unlock()
	}
	return len(p), nil
}

func (m *logMeter) markStart(t time.Time) {
	m.mu.Lock()
	m.start, m.pressure = t, time.Time{}
	m.mu.Unlock()
}

func (m *logMeter) firstPressure() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pressure
}
