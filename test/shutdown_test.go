package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// TestGracefulShutdown runs the real server command as a subprocess, sends
// it SIGTERM during a burst of step-4 requests, and checks what SIGTERM
// promises: the listener stops accepting, a request already in flight is
// answered, the process flushes its log, closes the store and exits 0, and
// every registration that was answered 注册成功 is there after a restart
// on the same DATA_DIR.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t)
	dataDir := t.TempDir()

	srv := startServer(t, bin, dataDir)
	const n = 48
	phones := make([]string, n+1) // phones[n] is the one held in flight
	for i := range phones {
		phones[i] = fmt.Sprintf("138%08d", i)
		srv.prepare(t, phones[i], "shutdown-pass")
	}

	// A request in flight when SIGTERM arrives: headers and half the
	// body now, the rest once the listener is closed.
	inflight, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer inflight.Close()
	body := `{"phone_number":"` + phones[n] + `","email":"inflight@qq.com"}`
	head := "POST /client/register-step-4 HTTP/1.1\r\nHost: " + srv.addr + "\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
	if _, err := io.WriteString(inflight, head+body[:10]); err != nil {
		t.Fatal(err)
	}

	// The burst: 8 clients completing registrations; SIGTERM once a
	// quarter of them are answered.
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	burst := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	type result struct {
		status int
		raw    string
		err    error
	}
	results := make([]result, n)
	jobs := make(chan int)
	var answered atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				b, _ := json.Marshal(m{"phone_number": phones[i], "email": fmt.Sprintf("u%d@qq.com", i)})
				resp, err := burst.Post("http://"+srv.addr+"/client/register-step-4", "application/json", bytes.NewReader(b))
				if err != nil {
					results[i] = result{err: err}
					continue
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				results[i] = result{status: resp.StatusCode, raw: string(raw), err: err}
				if err == nil {
					answered.Add(1)
					checkContract(t, http.MethodPost, "/client/register-step-4", resp.StatusCode, resp.Header, raw)
				}
			}
		}()
	}
	go func() {
		for i := range n {
			jobs <- i
		}
		close(jobs)
	}()
	for answered.Load() < n/4 {
		time.Sleep(time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sigterm := time.Now()

	// Stops accepting: new connections are refused.
	for {
		c, err := net.DialTimeout("tcp", srv.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(sigterm) > 5*time.Second {
			t.Fatal("the listener still accepts 5s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Lets the request in flight finish.
	if _, err := io.WriteString(inflight, body[10:]); err != nil {
		t.Fatalf("finish the request in flight: %v", err)
	}
	_ = inflight.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(inflight), nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM got no answer: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(raw) != `{"code":1,"message":"注册成功"}` {
		t.Fatalf("the request in flight at SIGTERM: %d %s", resp.StatusCode, raw)
	}
	wg.Wait()

	exit := srv.wait(t, 20*time.Second)
	if exit != 0 {
		t.Fatalf("exit status %d after SIGTERM\n%s", exit, srv.logText())
	}
	for _, msg := range []string{"shutting down", "store closed", "stopped"} {
		if !srv.logged(msg) {
			t.Errorf("no %q in the log", msg)
		}
	}
	if last := srv.lastMessage(); last != "stopped" {
		t.Errorf("last log line %q, want \"stopped\" (logs flushed after the store closed)", last)
	}

	registered := map[string]bool{phones[n]: true}
	refused := 0
	for i, r := range results {
		switch {
		case r.err != nil:
			refused++ // never answered: either outcome is allowed
		case r.status == 200 && r.raw == `{"code":1,"message":"注册成功"}`:
			registered[phones[i]] = true
		default:
			t.Errorf("step 4 for %s during shutdown: %d %s", phones[i], r.status, r.raw)
		}
	}
	t.Logf("SIGTERM after %d answers; %d registrations answered 注册成功, %d requests not answered", n/4, len(registered), refused)

	// Restart on the same DATA_DIR: every answered registration is there.
	again := startServer(t, bin, dataDir)
	for i, p := range phones {
		a := again.login(t, p, "shutdown-pass")
		switch {
		case a.Code == 1:
		case registered[p]:
			t.Errorf("%s answered 注册成功 before SIGTERM, but cannot log in after a restart: %s", p, a.Raw)
		case a.Error != "no_such_user" || i == n:
			t.Errorf("%s after a restart: %s", p, a.Raw)
		}
	}
	if err := again.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exit := again.wait(t, 20*time.Second); exit != 0 {
		t.Fatalf("second run: exit status %d", exit)
	}
}

// buildServer builds cmd/server for this host.
func buildServer(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "phoneauth")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/server")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/server: %v\n%s", err, out)
	}
	return bin
}

// process is the server running as a subprocess, its JSON log parsed.
type process struct {
	cmd    *exec.Cmd
	addr   string
	codes  chan logLine
	mu     sync.Mutex
	lines  []logLine
	exited chan struct{}
	status int
}

type logLine struct {
	Msg   string `json:"msg"`
	Addr  string `json:"addr"`
	Phone string `json:"phone"`
	Code  string `json:"code"`
	raw   string
}

// startServer runs bin on 127.0.0.1 with the console SMS provider and
// waits until it listens. The per-IP and per-phone SMS limits are off:
// every code of the test comes from one address. env adds variables
// (NAME=value).
func startServer(t *testing.T, bin, dataDir string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = dataDir // no .env is read from here
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HTTP_ADDR=127.0.0.1:0",
		"DATA_DIR=" + dataDir,
		"SMS_PROVIDER=console",
		"SMS_HOURLY_LIMIT_PER_IP=0",
		"SMS_DAILY_LIMIT_PER_PHONE=0",
		"SMS_HOURLY_LIMIT_GLOBAL=0",
	}
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, codes: make(chan logLine, 64), exited: make(chan struct{})}
	listening := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l logLine
			_ = json.Unmarshal(sc.Bytes(), &l)
			l.raw = sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.mu.Unlock()
			switch {
			case l.Msg == "listening":
				listening <- l.Addr
			case l.Code != "":
				p.codes <- l
			}
		}
	}()
	go func() {
		<-scanned // all output read before Wait closes the pipe
		err := cmd.Wait()
		p.status = cmd.ProcessState.ExitCode()
		if err != nil && p.status == 0 {
			p.status = -1
		}
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.addr = <-listening:
	case <-p.exited:
		t.Fatalf("server exited at start:\n%s", p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not listen within 30s:\n%s", p.logText())
	}
	return p
}

// wait returns the exit status, failing t if the process outlives d.
func (p *process) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.status
	case <-time.After(d):
		t.Fatalf("still running %s after SIGTERM", d)
		return -1
	}
}

// prepare runs steps 1–3 for phone, reading the code from the console
// SMS provider's log line.
func (p *process) prepare(t *testing.T, phone, password string) {
	t.Helper()
	in := &instance{base: "http://" + p.addr}
	in.expect(t, "/client/register-step-1", m{"phone_number": phone}, 200, `{"code":1,"message":"发送成功"}`)
	var sms logLine
	select {
	case sms = <-p.codes:
	case <-time.After(10 * time.Second):
		t.Fatalf("no console SMS line for %s", phone)
	}
	if want := domain.MustParsePhoneNumber(phone).Masked(); sms.Phone != want {
		t.Fatalf("console SMS for %s, want %s", sms.Phone, want)
	}
	in.verify(t, phone, sms.Code)
	in.expect(t, "/client/register-step-3", m{"phone_number": phone, "password": password, "password_confirm": password}, 200, `{"code":1,"message":"提交密码成功"}`)
}

func (p *process) login(t *testing.T, phone, password string) answer {
	t.Helper()
	in := &instance{base: "http://" + p.addr}
	return in.post(t, "/client/login", loginBody(phone, password, nextRandom(), time.Now().Unix()))
}

func (p *process) logged(msg string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l.Msg == msg {
			return true
		}
	}
	return false
}

func (p *process) lastMessage() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lines) == 0 {
		return ""
	}
	return p.lines[len(p.lines)-1].Msg
}

func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sb strings.Builder
	for _, l := range p.lines {
		sb.WriteString(l.raw + "\n")
	}
	return sb.String()
}
