// Package fakevendor plays the SMS vendors for tests: local HTTP servers on
// 127.0.0.1 that check each request the way the vendor does (signatures,
// credentials, fields) before they answer as they were told to.
//
// The checks are written from the vendors' documentation, independently of
// the adapters under test: a fake that reused an adapter's signing code
// would agree with any mistake in it.
package fakevendor

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Behaviour is what a fake does with a request that passed its checks.
type Behaviour int

const (
	// Accept answers the vendor's success.
	Accept Behaviour = iota
	// Refuse answers the vendor's refusal, with the code and text given
	// to Refuse.
	Refuse
	// Fail answers the HTTP status given to Fail (500, 503, 429, ...) with
	// the vendor's error body where it has one.
	Fail
	// BadGateway answers HTTP 502 with an HTML page, as a proxy in front
	// of the vendor would.
	BadGateway
	// Garbage answers HTTP 200 with a body that is not the vendor's JSON.
	Garbage
	// Hang never answers: it waits until the client gives up or the test
	// ends.
	Hang
)

const garbageBody = "<html><body>upstream says hello</body></html>"

// server is what the three fakes share.
type server struct {
	srv  *httptest.Server
	done chan struct{}

	mu         sync.Mutex
	behaviour  Behaviour
	refuseCode string
	refuseMsg  string
	failStatus int
	hits       int
	rejections []string
}

func newServer(t testing.TB, h func(*server, http.ResponseWriter, *http.Request)) *server {
	t.Helper()
	s := &server{done: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits++
		s.mu.Unlock()
		h(s, w, r)
	}))
	// Cleanups run last-in first-out: release hanging handlers, then close.
	t.Cleanup(s.srv.Close)
	t.Cleanup(func() { close(s.done) })
	return s
}

// URL is the fake's base URL, http://127.0.0.1:port.
func (s *server) URL() string { return s.srv.URL }

// Set chooses what the fake does with the next requests.
func (s *server) Set(b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviour = b
}

// Refuse makes the fake refuse the next requests with the vendor's code and
// message.
func (s *server) Refuse(code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviour, s.refuseCode, s.refuseMsg = Refuse, code, message
}

// Fail makes the fake answer the next requests with the HTTP status (5xx
// or 429) and the vendor's error body for it.
func (s *server) Fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviour, s.failStatus = Fail, status
}

// status is the HTTP status given to Fail.
func (s *server) status() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failStatus
}

// Hits is how many requests reached the fake, well-formed or not.
func (s *server) Hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// Rejections lists why requests failed the vendor's checks; a correct
// adapter leaves it empty.
func (s *server) Rejections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejections...)
}

func (s *server) reject(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejections = append(s.rejections, why)
}

func (s *server) current() (Behaviour, string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.behaviour, s.refuseCode, s.refuseMsg
}

// hang blocks until the client goes away or the test ends.
func (s *server) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
}

// common handles the behaviours whose answer does not depend on the vendor
// and reports whether it answered.
func (s *server) common(b Behaviour, w http.ResponseWriter, r *http.Request) bool {
	switch b {
	case Hang:
		s.hang(r)
		return true
	case BadGateway:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		return true
	case Garbage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(garbageBody))
		return true
	}
	return false
}
