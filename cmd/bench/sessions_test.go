package main

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestRefreshChainsPresentTheirLatestToken: in the refresh phase every
// request of a chain carries the refresh token of that chain's previous
// answer, and a chain has one request in flight at a time. A fake
// service answers each presented token with its successor and refuses
// any other; the phase must see no error and must have moved every
// chain.
func TestRefreshChainsPresentTheirLatestToken(t *testing.T) {
	const chains = 8
	var (
		mu       sync.Mutex
		want     = map[string]int{} // chain -> seq of the token it must present
		inFlight = map[string]bool{}
		bad      []string
	)
	sessions := make([]benchSession, chains)
	for i := range sessions {
		c := strconv.Itoa(i)
		want[c] = 0
		sessions[i] = benchSession{access: "a" + c, refresh: "pa_rt1_" + c + "_0"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		var req struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.Unmarshal(c.PostBody(), &req)
		chain, seq, _ := strings.Cut(strings.TrimPrefix(req.RefreshToken, "pa_rt1_"), "_")
		n, _ := strconv.Atoi(seq)
		mu.Lock()
		ok := string(c.QueryArgs().Peek("c")) == chain && want[chain] == n && !inFlight[chain]
		if ok {
			want[chain], inFlight[chain] = n+1, true
		} else if len(bad) < 5 {
			bad = append(bad, req.RefreshToken)
		}
		mu.Unlock()
		if !ok {
			c.SetStatusCode(fasthttp.StatusUnauthorized)
			c.SetBodyString(`{"code":2,"message":"验证信息错误","error":"invalid_refresh_token"}`)
			return
		}
		time.Sleep(time.Millisecond) // a commit
		mu.Lock()
		inFlight[chain] = false
		mu.Unlock()
		c.SetBodyString(`{"code":1,"message":"ok","token":"a","expires_in":900,"refresh_token":"pa_rt1_` + chain + "_" + strconv.Itoa(n+1) + `","refresh_expires_in":2592000}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	rows, err := attackRefresh("http://"+ln.Addr().String(), settings{duration: time.Second, users: 1}, sessions)
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	mu.Lock()
	defer mu.Unlock()
	if r.errors != 0 || len(bad) != 0 {
		t.Fatalf("%d errors (first %q); tokens out of turn: %q", r.errors, r.firstErr, bad)
	}
	for c, n := range want {
		if n < 10 {
			t.Fatalf("chain %s moved %d times in a second", c, n)
		}
	}
	if r.requests == 0 {
		t.Fatal("no measured request")
	}
}
