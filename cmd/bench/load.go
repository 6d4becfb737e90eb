package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/phoneauth/phoneauth/domain"
)

// hostOf is host:port of an http:// base URL.
func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }

// row is one line of the result table.
type row struct {
	name           string
	clients        int
	requests       uint64
	rate           float64 // per second over the phase
	p50, p99, p999 time.Duration
	errors         uint64
	mem            memStats
	loadCPU        time.Duration // CPU time of the load generator in the phase
	firstErr       string
}

// tally accumulates one row's results.
type tally struct {
	name     string
	lat      vegeta.LatencyMetrics
	n, errs  uint64
	firstErr string
}

func (t *tally) add(latency time.Duration, failed bool, why string) {
	t.n++
	t.lat.Add(latency)
	if failed {
		t.errs++
		if t.firstErr == "" {
			t.firstErr = why
		}
	}
}

func (t *tally) row(elapsed time.Duration) row {
	r := row{name: t.name, requests: t.n, errors: t.errs, firstErr: t.firstErr}
	if t.n > 0 {
		r.rate = float64(t.n) / elapsed.Seconds()
		r.p50, r.p99, r.p999 = t.lat.Quantile(0.5), t.lat.Quantile(0.99), t.lat.Quantile(0.999)
	}
	if t.firstErr != "" {
		fmt.Fprintf(os.Stderr, "%s: %d errors, first: %s\n", t.name, t.errs, t.firstErr)
	}
	return r
}

// succeeded reports whether a result is a 200 whose body says code 1:
// every success of the service's JSON API starts so.
func succeeded(r *vegeta.Result) (bool, string) {
	if r.Error != "" {
		return false, r.Error + " " + string(r.Body)
	}
	if r.Code != http.StatusOK {
		return false, strconv.Itoa(int(r.Code)) + " " + string(r.Body)
	}
	if !bytes.HasPrefix(r.Body, []byte(`{"code":1`)) && !bytes.HasPrefix(r.Body, []byte(`{"status":"ok"`)) {
		return false, string(r.Body)
	}
	return true, ""
}

// attack runs clients closed-loop workers (each sends its next request as
// soon as its last answer is in) for d, after a short warm-up, and hands
// every result to each, saying whether it is measured. It returns the
// measured time.
func attack(addr string, tr vegeta.Targeter, clients int, d time.Duration, each func(r *vegeta.Result, measured bool)) time.Duration {
	// No client timeout: it costs a timer per request, and fasthttp
	// enforces its own read and write timeouts.
	client := &http.Client{Transport: newFastTransport(addr, clients)}
	newAttacker := func() *vegeta.Attacker {
		return vegeta.NewAttacker(
			vegeta.Workers(uint64(clients)),
			vegeta.MaxWorkers(uint64(clients)),
			vegeta.Client(client),
			vegeta.MaxBody(4096),
		)
	}
	infinite := vegeta.ConstantPacer{} // with a worker cap: as fast as the workers go
	// Unnamed attacks: a name would be one more header per request.
	warm := min(time.Second, d/10)
	for r := range newAttacker().Attack(tr, infinite, warm, "") {
		each(r, false)
	}
	start := time.Now()
	for r := range newAttacker().Attack(tr, infinite, d, "") {
		each(r, true)
	}
	return time.Since(start)
}

func attackHealthz(base string, s settings) ([]row, error) {
	t := &tally{name: "GET /healthz"}
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: base + "/healthz"})
	elapsed := attack(hostOf(base), tr, s.concurrency, s.duration, func(r *vegeta.Result, measured bool) {
		if measured {
			ok, why := succeeded(r)
			t.add(r.Latency, !ok, why)
		}
	})
	return []row{t.row(elapsed)}, nil
}

// attackLogin logs preloaded users in as the seed's client does: a fresh
// random_str and the current time in every request, and
// sha256(password ‖ random_str ‖ time_stamp) as proof.
func attackLogin(base string, s settings) ([]row, error) {
	t := &tally{name: "login"}
	url := base + "/client/login"
	tr := func(tgt *vegeta.Target) error {
		tgt.Method, tgt.URL = http.MethodPost, url
		tgt.Body = loginBody(userPhone(rand.IntN(s.users)))
		return nil
	}
	elapsed := attack(hostOf(base), tr, s.concurrency, s.duration, func(r *vegeta.Result, measured bool) {
		if measured {
			ok, why := succeeded(r)
			t.add(r.Latency, !ok, why)
		}
	})
	return []row{t.row(elapsed)}, nil
}

// loginBody is a login of the preloaded user phone as the seed's client
// sends it: a fresh random_str, the current time, and the proof.
func loginBody(phone string) []byte {
	random := strconv.FormatUint(rand.Uint64(), 36)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	proof := domain.LoginProof(benchPassword, random, ts)
	return []byte(`{"phone_number":"` + phone + `","encryption_str":"` + proof +
		`","random_str":"` + random + `","time_stamp":"` + ts + `"}`)
}

// attackRegister runs complete registrations. Each worker's next request
// is the next step of a registration in progress if one is ready, or else
// step 1 of a new one: so the run measures finished registrations, with
// as many in flight as there are clients. The SMS code reaches the load
// generator over the bench server's side channel.
func attackRegister(sv *server, s settings) ([]row, error) {
	f := &regFlow{base: sv.base, states: map[string]*regState{}, phoneSeq: int64(rand.IntN(1000)) * 100_000}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	codesDone := make(chan error, 1)
	ready := make(chan struct{})
	go func() { codesDone <- f.readCodes(ctx, sv.side+"/codes", ready) }()
	select {
	case <-ready:
	case err := <-codesDone:
		return nil, fmt.Errorf("code side channel: %w", err)
	}

	steps := [4]*tally{}
	for i := range steps {
		steps[i] = &tally{name: fmt.Sprintf("register step %d", i+1)}
	}
	whole := &tally{name: "registration (4 steps)"}
	each := func(r *vegeta.Result, measured bool) {
		step, phone := f.result(r)
		ok, why := succeeded(r)
		if measured && step >= 1 {
			steps[step-1].add(r.Latency, !ok, why)
		}
		if !ok {
			f.fail(phone)
			return
		}
		if began, done := f.advance(step, phone, r); done && measured {
			// Registrations begun in the warm-up count when they finish
			// inside the measured time: the rate is finishes per second.
			whole.add(r.End().Sub(began), false, "")
		}
	}
	elapsed := attack(hostOf(sv.base), f.targeter(), s.regConcurrency, s.duration, each)
	cancel()

	rows := []row{whole.row(elapsed)}
	for _, t := range steps {
		rows = append(rows, t.row(elapsed))
	}
	rows[0].requests = whole.n
	return rows, nil
}

// regState is one registration in progress.
type regState struct {
	national string
	code     string
	sent     bool // step 1 answered 发送成功
	began    time.Time
}

// regFlow hands out registration steps in order.
type regFlow struct {
	base     string
	mu       sync.Mutex
	states   map[string]*regState // by E.164
	ready    []vegeta.Target      // next steps that may go now
	phoneSeq int64
}

// targeter: the phone travels in the query string (the service ignores
// it) so that a result can be traced to its registration.
func (f *regFlow) targeter() vegeta.Targeter {
	return func(tgt *vegeta.Target) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if n := len(f.ready); n > 0 {
			*tgt = f.ready[0]
			f.ready = f.ready[1:]
			return nil
		}
		f.phoneSeq++
		national := registrationPhone(int(f.phoneSeq))
		e164 := "+86" + national
		st := &regState{national: national}
		f.states[e164] = st
		*tgt = f.step(1, st, `{"phone_number":"`+national+`"}`)
		return nil
	}
}

func (f *regFlow) step(n int, st *regState, body string) vegeta.Target {
	return vegeta.Target{
		Method: http.MethodPost,
		URL:    f.base + "/client/register-step-" + strconv.Itoa(n) + "?p=" + st.national,
		Body:   []byte(body),
	}
}

// result finds the step and the E.164 number a result belongs to.
func (f *regFlow) result(r *vegeta.Result) (step int, e164 string) {
	i := strings.Index(r.URL, "/client/register-step-")
	if i < 0 {
		return 0, ""
	}
	rest := r.URL[i+len("/client/register-step-"):]
	step = int(rest[0] - '0')
	if j := strings.Index(rest, "?p="); j >= 0 {
		e164 = "+86" + rest[j+3:]
	}
	return step, e164
}

func (f *regFlow) fail(e164 string) {
	f.mu.Lock()
	delete(f.states, e164)
	f.mu.Unlock()
}

// advance queues the step after a successful one; after step 4 it
// reports the registration done and when it began.
func (f *regFlow) advance(step int, e164 string, r *vegeta.Result) (began time.Time, done bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.states[e164]
	if st == nil {
		return time.Time{}, false
	}
	pw := "bench-" + st.national[5:]
	switch step {
	case 1:
		st.sent, st.began = true, r.Timestamp
		f.maybeVerify(st)
	case 2:
		f.ready = append(f.ready, f.step(3, st, `{"phone_number":"`+st.national+`","password":"`+pw+`","password_confirm":"`+pw+`"}`))
	case 3:
		f.ready = append(f.ready, f.step(4, st, `{"phone_number":"`+st.national+`","email":"r`+st.national+`@bench.example"}`))
	case 4:
		delete(f.states, e164)
		return st.began, true
	}
	return time.Time{}, false
}

// maybeVerify queues step 2 once both the answer to step 1 and the code
// are in, whichever came first.
func (f *regFlow) maybeVerify(st *regState) {
	if st.sent && st.code != "" {
		f.ready = append(f.ready, f.step(2, st, `{"phone_number":"`+st.national+`","validate_number":"`+st.code+`"}`))
	}
}

// readCodes follows the side channel's stream of "<E.164> <code>" lines.
func (f *regFlow) readCodes(ctx context.Context, url string, ready chan<- struct{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	close(ready)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		e164, code, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f.mu.Lock()
		if st := f.states[e164]; st != nil {
			st.code = code
			f.maybeVerify(st)
		}
		f.mu.Unlock()
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// printTable writes the rows as a Markdown table.
func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| phase | clients | requests | per second | p50 | p99 | p99.9 | errors | service peak RSS | peak Go heap in use | RSS file-backed (mmap) at end | GCs | CPU service / load generator |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		cpu := "—"
		if r.requests > 0 && r.name != "registration (4 steps)" && !strings.HasPrefix(r.name, "register step") {
			cpu = fmt.Sprintf("%.0f / %.0f µs/req", perReq(r.mem.CPU, r.requests), perReq(r.loadCPU, r.requests))
		} else if r.name == "registration (4 steps)" && r.requests > 0 {
			cpu = fmt.Sprintf("%.0f / %.0f µs/registration", perReq(r.mem.CPU, r.requests), perReq(r.loadCPU, r.requests))
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %s | %d | %s | %s | %s | %d | %s |\n",
			r.name, r.clients, r.requests, r.rate, ms(r.p50), ms(r.p99), ms(r.p999), r.errors,
			mib(r.mem.PeakRSS), mib(r.mem.PeakHeapInuse), mib(r.mem.RSSFile), r.mem.NumGC, cpu)
	}
}

// perReq is CPU microseconds per request. The window includes the short
// warm-up, so it slightly overstates.
func perReq(cpu time.Duration, n uint64) float64 {
	return float64(cpu) / float64(time.Microsecond) / float64(n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
