package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/adapters/sms/capture"
	"github.com/phoneauth/phoneauth/cmd/internal/process"
	"github.com/phoneauth/phoneauth/domain"
)

// serve is the server side of the benchmark, run as a child process so
// that its memory is measured apart from the load generator's. It wires
// the service exactly as cmd/server does, from the environment the parent
// sets, except for the SMS sender: a capture sender whose codes go out on
// a loopback-only side channel, which also serves memory statistics and
// pprof. It prints "READY <service addr> <side channel addr>" and serves
// until SIGTERM or until its stdin closes (the parent died).
func serve() int {
	cfg, err := phoneauth.ParseConfig(environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench server: configuration: %v\n", err)
		return 2
	}
	log, err := process.NewLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench server: logger: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	process.TuneGC(log) // as cmd/server does

	codes := make(chan string, 1<<16)
	sender := capture.New()
	sender.OnSend(func(p domain.PhoneNumber, code string) { codes <- p.E164() + " " + code })

	svc, cleanup, err := phoneauth.Initialize(cfg, log, phoneauth.Overrides{SMS: sender})
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench server: initialize: %v\n", err)
		return 1
	}
	defer cleanup()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench server: %v\n", err)
		return 1
	}
	side, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench server: %v\n", err)
		return 1
	}
	mem := newMemSampler()
	go mem.run()
	go func() { _ = http.Serve(side, sideChannel(codes, mem)) }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // EOF when the parent goes
		stop()
	}()
	fmt.Printf("READY %s %s\n", ln.Addr(), side.Addr())
	if err := svc.Serve(ctx, ln); err != nil {
		fmt.Fprintf(os.Stderr, "bench server: serve: %v\n", err)
		return 1
	}
	return 0
}

// environ is the process environment as a map, without a .env file: the
// benchmark's settings are exactly what the parent passed.
func environ() map[string]string {
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

// sideChannel serves, on loopback only:
//
//	GET  /codes   a stream of "<E.164> <code>" lines, one per SMS sent
//	POST /reset   start a new measurement window (peak RSS and peak heap)
//	GET  /stats   the window's memory figures as JSON
//	/debug/pprof/ the usual profiles
func sideChannel(codes <-chan string, mem *memSampler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /codes", func(w http.ResponseWriter, r *http.Request) {
		fl := w.(http.Flusher)
		w.WriteHeader(http.StatusOK)
		fl.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case line := <-codes:
				_, _ = fmt.Fprintln(w, line)
				// Drain what is queued before flushing: one write per burst.
				for more := true; more; {
					select {
					case line := <-codes:
						_, _ = fmt.Fprintln(w, line)
					default:
						more = false
					}
				}
				fl.Flush()
			}
		}
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) {
		mem.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(mem.stats())
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// memStats are the server's memory figures over one measurement window.
type memStats struct {
	PeakRSS       int64         `json:"peak_rss"`        // VmHWM: resident set, peak
	RSSAnon       int64         `json:"rss_anon"`        // anonymous memory (Go heap, stacks, runtime), at the end
	RSSFile       int64         `json:"rss_file"`        // file-backed pages (the bbolt mmap, the binary), at the end
	PeakHeapInuse int64         `json:"peak_heap_inuse"` // Go heap spans in use, peak of 20 samples/s
	HeapInuse     int64         `json:"heap_inuse"`
	NumGC         int64         `json:"num_gc"`
	CPU           time.Duration `json:"cpu"` // user+system CPU time the service used in the window
}

// memSampler tracks the Go heap's peak, which no counter keeps.
type memSampler struct {
	mu         sync.Mutex
	peakHeap   uint64
	gcAtReset  uint32
	cpuAtReset time.Duration
}

func newMemSampler() *memSampler { return &memSampler{} }

func (m *memSampler) run() {
	for range time.Tick(50 * time.Millisecond) {
		m.sample()
	}
}

func (m *memSampler) sample() runtime.MemStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mu.Lock()
	m.peakHeap = max(m.peakHeap, ms.HeapInuse)
	m.mu.Unlock()
	return ms
}

// reset starts a window: the kernel's peak RSS (clear_refs 5, Linux 4.0+)
// and the heap peak start again from the current values.
func (m *memSampler) reset() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mu.Lock()
	m.peakHeap, m.gcAtReset, m.cpuAtReset = ms.HeapInuse, ms.NumGC, cpuTime()
	m.mu.Unlock()
}

func (m *memSampler) stats() memStats {
	ms := m.sample()
	st := procStatus()
	m.mu.Lock()
	defer m.mu.Unlock()
	return memStats{
		PeakRSS: st["VmHWM"], RSSAnon: st["RssAnon"], RSSFile: st["RssFile"],
		PeakHeapInuse: int64(m.peakHeap), HeapInuse: int64(ms.HeapInuse),
		NumGC: int64(ms.NumGC - m.gcAtReset), CPU: cpuTime() - m.cpuAtReset,
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads the kB figures of /proc/self/status, in bytes.
func procStatus() map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, " kB")), 10, 64)
		if err == nil {
			out[k] = n << 10
		}
	}
	return out
}
