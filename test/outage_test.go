package test

import (
	"errors"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/test/mongotest"
)

// cutProxy forwards loopback TCP to a target and can cut every connection
// and refuse new ones, then come back on the same address: MongoDB going
// away and returning, as the service sees it.
type cutProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	p := &cutProxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *cutProxy) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// down refuses new connections and cuts the open ones.
func (p *cutProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// up listens again on the same address.
func (p *cutProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy cannot listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestMongoOutageIsUnavailableAndHeals: with MongoDB gone, every request
// that needs it answers 503 unavailable (and /readyz says so); when it
// returns, the same process serves again without a restart.
func TestMongoOutageIsUnavailableAndHeals(t *testing.T) {
	uri := mongotest.Start(t)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	db := mongotest.Database(t, uri)
	proxy := newCutProxy(t, u.Host)
	in := start(t, options{vars: map[string]string{
		"MONGO_URI":      "mongodb://" + proxy.addr + "/?directConnection=true&serverSelectionTimeoutMS=1000",
		"MONGO_DATABASE": db,
		"MONGO_TIMEOUT":  "1s",
	}})
	in.register(t, "13200000001", "outage-pass", "outage@qq.com")

	proxy.down()
	in.expect(t, "/client/register-step-1", m{"phone_number": "13200000002"}, 503, `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`)
	in.expect(t, "/client/login", loginBody("13200000001", "outage-pass", nextRandom(), in.clock.Now().Unix()), 503, `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`)
	if status := getStatus(t, in.base+"/readyz"); status != 503 {
		t.Fatalf("/readyz with MongoDB down: %d", status)
	}
	if status := getStatus(t, in.base+"/healthz"); status != 200 {
		t.Fatalf("/healthz must not depend on MongoDB: %d", status)
	}
	if in.sms.Sent() != 1 {
		t.Fatalf("%d SMS sent; none may go out while the store is down", in.sms.Sent())
	}

	proxy.up(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := in.login(t, "13200000001", "outage-pass")
		if a.Code == 1 {
			break
		}
		if a.Status != 503 || time.Now().After(deadline) {
			t.Fatalf("after MongoDB returned: %d %s", a.Status, a.Raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.expect(t, "/client/register-step-1", m{"phone_number": "13200000002"}, 200, `{"code":1,"message":"发送成功"}`)
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestUnreachableMongoStopsTheStart: a server that cannot reach MONGO_URI
// at start says so and exits non-zero instead of serving errors.
func TestUnreachableMongoStopsTheStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens here now

	bin := buildServer(t)
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{
		"HTTP_ADDR=127.0.0.1:0", "DATA_DIR=" + cmd.Dir,
		"MONGO_URI=mongodb://" + closed + "/?directConnection=true", "MONGO_TIMEOUT=1s",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("server with MongoDB unreachable: err=%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "MONGO_URI") || !strings.Contains(string(out), closed) {
		t.Fatalf("the message names neither MONGO_URI nor the host:\n%s", out)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("gave up only after %s", took)
	}
}
