// Command bench measures phoneauth over real HTTP on loopback, beside the
// HTTP ceiling of the same machine measured in the same run.
//
// It preloads users through the store's bulk path, starts the wired
// service as a child process (so the service's memory is measured on its
// own), then drives it with a vegeta attacker in phases of
// BENCH_DURATION each: GET /healthz (the ceiling), login with a fresh
// random_str per request, GET /client with one access token per client
// (me), refresh chains (refresh, sessions.go), and complete four-step
// registrations. It prints one table. Everything runs against 127.0.0.1
// and stops on its own.
//
// Settings (environment):
//
//	BENCH_DURATION          length of each phase (10s)
//	BENCH_USERS             users preloaded before the run (10000)
//	BENCH_CONCURRENCY       clients of the healthz, login, me and refresh phases (64)
//	BENCH_REG_CONCURRENCY   clients of the registration phase (256)
//	BENCH_PHASES            which phases, comma-separated (healthz,login,me,refresh,register; soak on request)
//	BENCH_SOAK_DURATION     length of the soak phase (4m)
//	BENCH_SOAK_REQUESTS     most requests the soak phase sends (20000000)
//	BENCH_LOG_LEVEL         the service's LOG_LEVEL (warn: no access log line per request)
//	BENCH_PROFILE           a directory: save CPU profiles of the service and the load generator per phase
//	BENCH_LOADGEN_PROCS     GOMAXPROCS of the load generator in the phases (half the CPUs, at least 1)
//	BENCH_STALL_PROBE       length of the CPU-stall probe before and after the phases (2s; 0 skips it)
//	MONGO_URI               run against this MongoDB (a fresh database, dropped at the end)
//
// The soak phase (soak.go) logs in at the full rate for BENCH_SOAK_DURATION
// against a replay memory shrunk with LOGIN_NONCE_CAPACITY (passed on to
// the service like every other variable of the environment; `make soak`
// sets it), replaying a sample of accepted logins, and fails the run if a
// login is answered 503 or a replay is accepted.
//
// The service runs with its production code and its SMS rate limits off
// (a limit of 0): bench-only behaviour lives in this command alone.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		os.Exit(serve())
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// settings are the run's parameters.
type settings struct {
	duration       time.Duration
	users          int
	concurrency    int
	regConcurrency int
	phases         map[string]bool
	logLevel       string
	profileDir     string
	mongoURI       string
	mongoDatabase  string
	stallProbe     time.Duration
	loadgenProcs   int
	soakDuration   time.Duration
	soakRequests   uint64
}

func loadSettings() (settings, error) {
	s := settings{
		duration: 10 * time.Second, users: 10_000, concurrency: 64, regConcurrency: 256,
		phases: map[string]bool{}, logLevel: envOr("BENCH_LOG_LEVEL", "warn"),
		profileDir: os.Getenv("BENCH_PROFILE"), mongoURI: os.Getenv("MONGO_URI"),
		stallProbe: 2 * time.Second, loadgenProcs: max(1, runtime.NumCPU()/2),
		soakDuration: 4 * time.Minute, soakRequests: 20_000_000,
	}
	var errs []error
	if v := os.Getenv("BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			errs = append(errs, fmt.Errorf("BENCH_DURATION: want a duration of 1s or more, have %q", v))
		}
		s.duration = d
	}
	if v := os.Getenv("BENCH_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > time.Hour {
			errs = append(errs, fmt.Errorf("BENCH_SOAK_DURATION: want a duration from 1s to 1h, have %q", v))
		}
		s.soakDuration = d
	}
	if v := os.Getenv("BENCH_SOAK_REQUESTS"); v != "" {
		n, err := strconv.ParseUint(strings.ReplaceAll(v, "_", ""), 10, 64)
		if err != nil || n < 1 || n > 1_000_000_000 {
			errs = append(errs, fmt.Errorf("BENCH_SOAK_REQUESTS: want a number from 1 to 1000000000, have %q", v))
		}
		s.soakRequests = n
	}
	if v := os.Getenv("BENCH_STALL_PROBE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("BENCH_STALL_PROBE: want a duration (0 skips the probe), have %q", v))
		}
		s.stallProbe = d
	}
	for _, n := range []struct {
		name string
		dst  *int
		min  int
	}{{"BENCH_USERS", &s.users, 0}, {"BENCH_CONCURRENCY", &s.concurrency, 1}, {"BENCH_REG_CONCURRENCY", &s.regConcurrency, 1}} {
		if v := os.Getenv(n.name); v != "" {
			i, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
			if err != nil || i < n.min || i > maxUsers {
				errs = append(errs, fmt.Errorf("%s: want a number from %d to %d, have %q", n.name, n.min, maxUsers, v))
			}
			*n.dst = i
		}
	}
	if v := os.Getenv("BENCH_LOADGEN_PROCS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("BENCH_LOADGEN_PROCS: want a number of 1 or more, have %q", v))
		}
		s.loadgenProcs = n
	}
	for _, p := range strings.Split(envOr("BENCH_PHASES", "healthz,login,me,refresh,register"), ",") {
		switch p = strings.TrimSpace(p); p {
		case "healthz", "login", "me", "refresh", "register", "soak":
			s.phases[p] = true
		default:
			errs = append(errs, fmt.Errorf("BENCH_PHASES: unknown phase %q", p))
		}
	}
	if (s.phases["login"] || s.phases["me"] || s.phases["refresh"] || s.phases["soak"]) && s.users == 0 {
		errs = append(errs, errors.New("BENCH_USERS: the login, me, refresh and soak phases need at least one user"))
	}
	if s.mongoURI != "" {
		s.mongoDatabase = fmt.Sprintf("phoneauth_bench_%d", time.Now().Unix())
	}
	return s, errors.Join(errs...)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	s, err := loadSettings()
	if err != nil {
		return err
	}
	// The load generator shares two cores with the service; its garbage
	// collector gets the same headroom the service has (process.TuneGC),
	// so that its CPU is spent on requests. GOGC in the environment wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	dataDir, err := os.MkdirTemp("", "phoneauth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	keys := map[string]string{}
	// A 32-byte key is a valid TOKEN_SIGNING_KEYS too: an Ed25519 seed.
	for _, k := range []string{"PASSWORD_KEY", "TOKEN_KEY", "CODE_HMAC_KEY", "TOKEN_SIGNING_KEYS"} {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		keys[k] = base64.StdEncoding.EncodeToString(b)
	}

	ctx := context.Background()
	store := "embedded (bbolt)"
	if s.mongoURI != "" {
		store = "MongoDB " + redactURI(s.mongoURI)
		defer dropMongo(s.mongoURI, s.mongoDatabase)
	}
	fmt.Printf("phoneauth bench: %s, Go %s, %d CPUs (load generator GOMAXPROCS=%d), %s per phase, %d users, load average %s at start\n",
		store, runtime.Version(), runtime.NumCPU(), s.loadgenProcs, s.duration, s.users, loadAverage())
	if s.stallProbe > 0 {
		fmt.Println("before: " + probeStalls(s.stallProbe).String())
	}
	defer func() {
		if s.stallProbe > 0 {
			fmt.Println("after: " + probeStalls(s.stallProbe).String())
		}
		fmt.Printf("load average %s at end\n", loadAverage())
	}()

	var preloadTook time.Duration
	if s.users > 0 {
		start := time.Now()
		if err := preload(ctx, s, dataDir, keys["PASSWORD_KEY"]); err != nil {
			return fmt.Errorf("preload: %w", err)
		}
		preloadTook = time.Since(start)
		// The preload's users are garbage now (~300 MB at a million): free
		// them and give the memory back before measuring, rather than
		// leave the load generator's collector, sweeper and scavenger to
		// do it inside the first phases.
		debug.FreeOSMemory()
		fmt.Printf("preloaded %d users in %s\n", s.users, preloadTook.Round(100*time.Millisecond))
	}

	srv, err := startServer(s, dataDir, keys)
	if err != nil {
		return err
	}
	defer srv.stop()

	// The load generator drives the phases on half the CPUs' worth of
	// scheduler (one P on two cores) while the service keeps them all:
	// with fewer threads of its own to wake it spends ~25 % less CPU per
	// request, which is CPU the service gets (BENCHMARKS.md). Preload and
	// the stall probe run on every CPU.
	allProcs := runtime.GOMAXPROCS(s.loadgenProcs)
	defer runtime.GOMAXPROCS(allProcs)
	var rows []row
	if s.phases["healthz"] {
		r, err := srv.phase(s, "healthz", s.concurrency, func() ([]row, error) { return attackHealthz(srv.base, s) })
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if s.phases["login"] {
		r, err := srv.phase(s, "login", s.concurrency, func() ([]row, error) { return attackLogin(srv.base, s) })
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	// The session phases log their clients in first, outside the phase.
	for _, p := range []struct {
		phase  string
		attack func(string, settings, []benchSession) ([]row, error)
	}{{"me", attackMe}, {"refresh", attackRefresh}} {
		if !s.phases[p.phase] {
			continue
		}
		sessions, err := openSessions(srv.base, s.users, s.concurrency)
		if err != nil {
			return fmt.Errorf("%s: %w", p.phase, err)
		}
		r, err := srv.phase(s, p.phase, s.concurrency, func() ([]row, error) { return p.attack(srv.base, s, sessions) })
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if s.phases["register"] {
		r, err := srv.phase(s, "register", s.regConcurrency, func() ([]row, error) { return attackRegister(srv, s) })
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if s.phases["soak"] {
		r, err := srv.phase(s, "soak", s.concurrency, func() ([]row, error) { return attackSoak(srv, s) })
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	printTable(os.Stdout, rows)
	if srv.soak != nil {
		srv.soak.print(os.Stdout, rows[len(rows)-1].mem)
		if why := srv.soak.failed(); why != "" {
			return fmt.Errorf("soak did not hold: %s", why)
		}
	}
	var health, login, me float64
	for _, r := range rows {
		switch r.name {
		case "GET /healthz":
			health = r.rate
		case "login":
			login = r.rate
		case "GET /client":
			me = r.rate
		}
	}
	if health > 0 && login > 0 {
		fmt.Printf("\nlogin / healthz ceiling = %.1f%%\n", 100*login/health)
	}
	if health > 0 && me > 0 {
		if login == 0 {
			fmt.Println()
		}
		fmt.Printf("me / healthz ceiling = %.1f%%\n", 100*me/health)
	}
	return nil
}

// server is the child process running the service.
type server struct {
	cmd   *exec.Cmd
	stdin io.Closer
	base  string // http://127.0.0.1:port of the service
	side  string // http://127.0.0.1:port of the side channel
	log   *logMeter
	soak  *soakResult // the soak phase's outcome, if it ran
}

func startServer(s settings, dataDir string, keys map[string]string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve")
	cmd.Env = append(os.Environ(),
		"DATA_DIR="+dataDir,
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL="+s.logLevel,
		"LOG_FORMAT=json",
		// The run registers thousands of numbers and logs in thousands of
		// times from one client address: limits that count those are
		// raised out of reach rather than switched off, so that every
		// request still does the limits' work it does in production.
		// The failure limit per network is raised too: nothing here fails,
		// but it holds a place for every request in flight, and 256
		// clients on one address are more than its default allows at once.
		"SMS_HOURLY_LIMIT_PER_IP=1000000000",
		"FAILURES_HOURLY_PER_IP=1000000000",
		"SMS_HOURLY_LIMIT_GLOBAL=1000000000",
		"LOGIN_MAX_FAILURES=1000000",
		"LOGIN_HOURLY_LIMIT_PER_ACCOUNT=1000000000",
		"MONGO_URI="+s.mongoURI,
		"MONGO_DATABASE="+s.mongoDatabase,
	)
	for k, v := range keys {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// The soak measures the log: there, show only its first 64 KiB.
	meter := &logMeter{out: os.Stderr, limit: -1}
	if s.phases["soak"] {
		meter.limit = 64 << 10
	}
	cmd.Stderr = meter
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var addr, side string
	if _, scanErr := fmt.Sscanf(line, "READY %s %s", &addr, &side); err != nil || scanErr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("server did not start (%q)", line)
	}
	return &server{cmd: cmd, stdin: stdin, base: "http://" + addr, side: "http://" + side, log: meter}, nil
}

func (sv *server) stop() {
	_ = sv.cmd.Process.Signal(syscall.SIGTERM)
	_ = sv.stdin.Close()
	done := make(chan struct{})
	go func() { _ = sv.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = sv.cmd.Process.Kill()
		<-done
	}
}

// phase runs one measured attack between a reset and a reading of the
// server's memory figures, with a CPU profile alongside if asked for.
func (sv *server) phase(s settings, name string, clients int, attack func() ([]row, error)) ([]row, error) {
	d := s.duration
	if name == "soak" {
		d = s.soakDuration
	}
	fmt.Fprintf(os.Stderr, "phase %s: %d clients, %s\n", name, clients, d)
	if _, err := http.Post(sv.side+"/reset", "", nil); err != nil {
		return nil, fmt.Errorf("reset server stats: %w", err)
	}
	profiled := make(chan error, 1)
	if s.profileDir != "" {
		secs := max(1, int(d.Seconds())-1)
		go func() { profiled <- sv.profile(filepath.Join(s.profileDir, name+".cpu.pprof"), secs) }()
	} else {
		profiled <- nil
	}
	if s.profileDir != "" {
		_ = os.MkdirAll(s.profileDir, 0o755)
		if f, err := os.Create(filepath.Join(s.profileDir, name+".loadgen.cpu.pprof")); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
			}
		}
	}
	cpu0 := cpuTime()
	rows, err := attack()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	loadCPU := cpuTime() - cpu0
	if err := <-profiled; err != nil {
		fmt.Fprintf(os.Stderr, "profile %s: %v\n", name, err)
	}
	var st memStats
	resp, err := http.Get(sv.side + "/stats")
	if err != nil {
		return nil, fmt.Errorf("server stats: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("server stats: %w", err)
	}
	for i := range rows {
		rows[i].mem = st
		rows[i].clients = clients
		rows[i].loadCPU = loadCPU
	}
	return rows, nil
}

func (sv *server) profile(path string, secs int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", sv.side, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return f.Close()
}

// loadAverage is the 1-minute load average, to show whether something
// else was using the machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func redactURI(uri string) string {
	if at := strings.LastIndex(uri, "@"); at >= 0 {
		if scheme := strings.Index(uri, "://"); scheme >= 0 && scheme < at {
			return uri[:scheme+3] + "…@" + uri[at+1:]
		}
	}
	return uri
}
