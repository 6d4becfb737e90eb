package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The session phases. Each client first logs in once, outside the
// measured phase, as a phone does after its user types the password:
//
//   - me: each client calls GET /client with its one access token, again
//     and again, as an app does on every screen that shows the account;
//   - refresh: each client refreshes its own chain: every answer's refresh
//     token is the next request's, as an app does when its access token
//     expires. A chain has one request in flight at a time, so every
//     refresh advances its session (a durable write) and none is a
//     repeat within the grace; any answer but a new pair is an error.

// benchSession is one client's pair.
type benchSession struct {
	access, refresh string
}

// pairAnswer is what the bench reads of a login or refresh answer.
type pairAnswer struct {
	Code         int    `json:"code"`
	Token        string `json:"token"`
	RefreshToken string `json:"refresh_token"`
}

// openSessions logs n distinct preloaded users in (user i mod users) over
// a plain HTTP client, one at a time, and returns their pairs.
func openSessions(base string, users, n int) ([]benchSession, error) {
	first := rand.IntN(users)
	out := make([]benchSession, n)
	for i := range out {
		p, err := logIn(base, userPhone((first+i)%users))
		if err != nil {
			return nil, fmt.Errorf("open session %d: %w", i, err)
		}
		out[i] = p
	}
	return out, nil
}

var setupClient = &http.Client{Timeout: 30 * time.Second}

// logIn logs the preloaded user phone in and returns its pair.
func logIn(base, phone string) (benchSession, error) {
	resp, err := setupClient.Post(base+"/client/login", "application/json", bytes.NewReader(loginBody(phone)))
	if err != nil {
		return benchSession{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return benchSession{}, err
	}
	var a pairAnswer
	if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != http.StatusOK || a.Code != 1 || a.Token == "" || a.RefreshToken == "" {
		return benchSession{}, fmt.Errorf("login answered %d %s", resp.StatusCode, body)
	}
	return benchSession{access: a.Token, refresh: a.RefreshToken}, nil
}

// attackMe calls GET /client with the sessions' access tokens, each
// token by one client at a time on average (they are handed out in
// turn, one per request).
func attackMe(base string, s settings, sessions []benchSession) ([]row, error) {
	t := &tally{name: "GET /client"}
	url := base + "/client"
	headers := make([]http.Header, len(sessions))
	for i, p := range sessions {
		headers[i] = http.Header{"Authorization": {"Bearer " + p.access}}
	}
	var next atomic.Uint64
	tr := func(tgt *vegeta.Target) error {
		i := (next.Add(1) - 1) % uint64(len(headers))
		tgt.Method, tgt.URL, tgt.Header = http.MethodGet, url, headers[i]
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

// refreshFlow hands each chain's current refresh token to the next
// request, one request per chain at a time. A chain's index travels in
// the query string (the service ignores it), so that its answer finds
// the chain.
type refreshFlow struct {
	base  string
	users int
	ready chan int // chains whose next token is known
	// tokens[i] is chain i's next refresh token. Only the holder of i
	// (taken from ready) touches it: the channel orders the accesses.
	tokens []string
}

func newRefreshFlow(base string, users int, sessions []benchSession) *refreshFlow {
	f := &refreshFlow{base: base, users: users, ready: make(chan int, len(sessions)), tokens: make([]string, len(sessions))}
	for i, p := range sessions {
		f.tokens[i] = p.refresh
		f.ready <- i
	}
	return f
}

// targeter waits for a chain whose answer is in: with as many chains as
// clients, one is ready as soon as the answer a client waits for is read.
func (f *refreshFlow) targeter() vegeta.Targeter {
	url := f.base + "/client/token/refresh?c="
	return func(tgt *vegeta.Target) error {
		i := <-f.ready
		tgt.Method = http.MethodPost
		tgt.URL = url + strconv.Itoa(i)
		tgt.Body = []byte(`{"refresh_token":"` + f.tokens[i] + `"}`)
		return nil
	}
}

// answered takes a chain's answer: its successor token goes next. After
// a failure (counted by the caller) the chain's state is unknown, so it
// starts again from a new login.
func (f *refreshFlow) answered(r *vegeta.Result, ok bool) {
	i, err := strconv.Atoi(r.URL[strings.LastIndexByte(r.URL, '=')+1:])
	if err != nil || i < 0 || i >= len(f.tokens) {
		panic("refresh: a result without its chain: " + r.URL)
	}
	if next := refreshTokenOf(r.Body); ok && next != "" {
		f.tokens[i] = next
	} else {
		p, err := logIn(f.base, userPhone(rand.IntN(f.users)))
		if err != nil {
			panic("refresh: restart a chain: " + err.Error())
		}
		f.tokens[i] = p.refresh
	}
	f.ready <- i
}

// refreshTokenOf is the refresh_token of an answer ("" if none): a
// refresh token is base64url behind a prefix, never escaped in JSON.
func refreshTokenOf(body []byte) string {
	const key = `"refresh_token":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// attackRefresh runs len(sessions) refresh chains.
func attackRefresh(base string, s settings, sessions []benchSession) ([]row, error) {
	t := &tally{name: "refresh"}
	f := newRefreshFlow(base, s.users, sessions)
	elapsed := attack(hostOf(base), f.targeter(), len(sessions), s.duration, func(r *vegeta.Result, measured bool) {
		ok, why := succeeded(r)
		if ok && refreshTokenOf(r.Body) == "" {
			ok, why = false, "no refresh_token in "+string(r.Body)
		}
		if measured {
			t.add(r.Latency, !ok, why)
		}
		f.answered(r, ok)
	})
	return []row{t.row(elapsed)}, nil
}
