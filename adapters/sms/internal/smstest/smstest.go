// Package smstest is the conformance suite every HTTP-speaking SMS adapter
// passes: how each way a send can fail ends (application.SMSErrorKind:
// only a request that never left, an HTTP 503 or a 429 is SMSNotSent and
// may fail over), that a send makes exactly one request, that no secret,
// code or phone number reaches an error string or a log line, and that a
// vendor's text is logged with its long digit runs masked while the client
// hears it verbatim. Each adapter's own tests
// keep only what is its own (signing, request format, configuration) and
// call RunConformance once.
package smstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/sms/failover"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/fakevendor"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Fake is what the suite needs of a fake vendor; the fakes in fakevendor
// have it.
type Fake interface {
	URL() string
	Set(fakevendor.Behaviour)
	Refuse(code, message string)
	Fail(status int)
	Hits() int
	Rejections() []string
}

// Refusal is a refusal the vendor really sends: its status code and text.
type Refusal struct {
	Code, Message string
}

// Vendor describes one adapter and its fake to the suite.
type Vendor struct {
	// Name is what the adapter puts in SMSError.Vendor.
	Name string
	// Start starts the vendor's fake for the credentials Sender uses; it
	// accepts until told otherwise.
	Start func(t *testing.T) Fake
	// New builds the adapter against baseURL (a fake's URL, or an address
	// nothing answers on) with the given timeout, logging to log.
	New func(baseURL string, timeout time.Duration, log *zap.Logger) (application.SMSSender, error)

	// Phone and Code are what the suite sends.
	Phone domain.PhoneNumber
	Code  string
	// Secrets must appear in no error string and no log line: the
	// credentials, Code, the phone number as the vendor is sent it, and
	// whatever signed request parts the adapter must not repeat.
	Secrets []string

	// Refusal is passed through verbatim as SMSRefused.
	Refusal Refusal
	// Fail500Code is the SMSError.Code of the vendor's HTTP 500: the
	// vendor's code where its error body has one, else "".
	Fail500Code string
	// StalledHandshakeKind is what a timeout during the TLS handshake
	// ends as: SMSNotSent where the adapter traces the write; an adapter
	// that cannot see it must count the request as possibly written.
	StalledHandshakeKind application.SMSErrorKind
}

// Logger returns a logger that records everything down to debug and, when
// the test ends, fails it for any line that carries one of v.Secrets in its
// message or any field.
func (v Vendor) Logger(t *testing.T) *zap.Logger {
	log, _ := v.observe(t)
	return log
}

func (v Vendor) observe(t *testing.T) (*zap.Logger, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	t.Cleanup(func() {
		for _, e := range logs.All() {
			line := e.Message
			for k, val := range e.ContextMap() {
				line += " " + k + "=" + fmt.Sprint(val)
			}
			for _, secret := range v.Secrets {
				if strings.Contains(line, secret) {
					t.Errorf("log line leaks %q: %s", secret, line)
				}
			}
		}
	})
	return zap.New(core), logs
}

// Error returns err as the *application.SMSError it must be, and fails the
// test if it names another vendor or its string carries one of v.Secrets.
func (v Vendor) Error(t *testing.T, err error) *application.SMSError {
	t.Helper()
	var se *application.SMSError
	if !errors.As(err, &se) {
		t.Fatalf("SendCode() = %v, want an *application.SMSError", err)
	}
	if se.Vendor != v.Name {
		t.Errorf("Vendor = %q, want %s", se.Vendor, v.Name)
	}
	for _, secret := range v.Secrets {
		if strings.Contains(se.Error(), secret) {
			t.Errorf("error string leaks %q: %s", secret, se.Error())
		}
	}
	return se
}

// sender builds v's adapter or ends the test.
func (v Vendor) sender(t *testing.T, baseURL string, timeout time.Duration, log *zap.Logger) application.SMSSender {
	t.Helper()
	s, err := v.New(baseURL, timeout, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// timeout is the adapter's own bound in the suite: short, so that a
// vendor that never answers costs little.
const timeout = 200 * time.Millisecond

// RunConformance checks the behaviours every adapter shares against v's
// fake.
func RunConformance(t *testing.T, v Vendor) {
	t.Run("accepted send makes one well-formed request", func(t *testing.T) {
		fake := v.Start(t)
		s := v.sender(t, fake.URL(), timeout, v.Logger(t))
		if err := s.SendCode(context.Background(), v.Phone, v.Code, 5*time.Minute); err != nil {
			t.Fatalf("SendCode: %v (fake rejected: %v)", err, fake.Rejections())
		}
		if n := fake.Hits(); n != 1 {
			t.Errorf("vendor saw %d requests, want exactly 1", n)
		}
		if r := fake.Rejections(); len(r) != 0 {
			t.Errorf("fake rejected the request: %v", r)
		}
	})

	t.Run("failures", func(t *testing.T) { runFailures(t, v) })

	t.Run("vendor text reaches the client verbatim and the log masked", func(t *testing.T) { runEchoedNumber(t, v) })

	t.Run("connection refused is not sent", func(t *testing.T) {
		s := v.sender(t, "http://"+ClosedAddr(t), time.Second, v.Logger(t))
		se := v.Error(t, s.SendCode(context.Background(), v.Phone, v.Code, 5*time.Minute))
		if se.Kind != application.SMSNotSent {
			t.Errorf("kind = %d, want SMSNotSent; err %v", se.Kind, se.Err)
		}
	})

	// A vendor that accepts the connection but never completes the TLS
	// handshake times out before the request is written: nothing can have
	// been sent, so another vendor may be tried, if the adapter can tell.
	t.Run("timeout before the request went out", func(t *testing.T) {
		s := v.sender(t, "https://"+silentAddr(t), timeout, v.Logger(t))
		se := v.Error(t, s.SendCode(context.Background(), v.Phone, v.Code, 5*time.Minute))
		if se.Kind != v.StalledHandshakeKind {
			t.Errorf("kind = %d, want %d; err %v", se.Kind, v.StalledHandshakeKind, se.Err)
		}
	})

	t.Run("context deadline ends the wait as uncertain", func(t *testing.T) {
		fake := v.Start(t)
		fake.Set(fakevendor.Hang)
		s := v.sender(t, fake.URL(), 5*time.Second, v.Logger(t))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		se := v.Error(t, s.SendCode(ctx, v.Phone, v.Code, 5*time.Minute))
		if took := time.Since(start); took > time.Second {
			t.Errorf("SendCode ignored the context for %s", took)
		}
		if se.Kind != application.SMSUncertain {
			t.Errorf("kind = %d, want SMSUncertain", se.Kind)
		}
	})

	t.Run("cancelled context is not sent", func(t *testing.T) {
		fake := v.Start(t)
		s := v.sender(t, fake.URL(), timeout, v.Logger(t))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		se := v.Error(t, s.SendCode(ctx, v.Phone, v.Code, 5*time.Minute))
		if se.Kind != application.SMSNotSent {
			t.Errorf("kind = %d, want SMSNotSent", se.Kind)
		}
		if n := fake.Hits(); n != 0 {
			t.Errorf("a cancelled send reached the vendor %d times", n)
		}
	})
}

// anyCode in a failure's wantCode accepts whatever code the vendor's error
// body carries.
const anyCode = "\x00any"

func runFailures(t *testing.T, v Vendor) {
	tests := []struct {
		name      string
		setup     func(Fake)
		wantKind  application.SMSErrorKind
		wantCode  string
		wantMsg   string
		wantOver  time.Duration // the adapter must have waited this long
		wantUnder time.Duration
	}{
		{"refusal passes the vendor's text verbatim", func(f Fake) { f.Refuse(v.Refusal.Code, v.Refusal.Message) },
			application.SMSRefused, v.Refusal.Code, v.Refusal.Message, 0, time.Second},
		// Nothing to show the client, and nothing sent: the chain stops.
		{"refusal without text keeps the code", func(f Fake) { f.Refuse(v.Refusal.Code, "") },
			application.SMSRefused, v.Refusal.Code, "", 0, time.Second},
		{"timeout after the request went out is uncertain", func(f Fake) { f.Set(fakevendor.Hang) },
			application.SMSUncertain, "", "", timeout, 2 * time.Second},
		{"garbage body is uncertain", func(f Fake) { f.Set(fakevendor.Garbage) },
			application.SMSUncertain, "", "", 0, time.Second},
		// A 5xx other than 503 may come after the vendor acted.
		{"HTTP 500 is uncertain", func(f Fake) { f.Fail(500) },
			application.SMSUncertain, v.Fail500Code, "", 0, time.Second},
		{"HTTP 502 is uncertain", func(f Fake) { f.Fail(502) },
			application.SMSUncertain, anyCode, "", 0, time.Second},
		{"HTTP 504 is uncertain", func(f Fake) { f.Fail(504) },
			application.SMSUncertain, anyCode, "", 0, time.Second},
		{"HTTP 502 with a proxy's HTML body is uncertain", func(f Fake) { f.Set(fakevendor.BadGateway) },
			application.SMSUncertain, "", "", 0, time.Second},
		// The vendor is unavailable or limits us: it did nothing.
		{"HTTP 503 is not sent", func(f Fake) { f.Fail(503) },
			application.SMSNotSent, anyCode, "", 0, time.Second},
		{"HTTP 429 is not sent", func(f Fake) { f.Fail(429) },
			application.SMSNotSent, anyCode, "", 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := v.Start(t)
			log, logs := v.observe(t)
			s := v.sender(t, fake.URL(), timeout, log)
			tt.setup(fake)
			start := time.Now()
			se := v.Error(t, s.SendCode(context.Background(), v.Phone, v.Code, 5*time.Minute))
			if took := time.Since(start); took < tt.wantOver || took > tt.wantUnder {
				t.Errorf("took %s, want between %s and %s", took, tt.wantOver, tt.wantUnder)
			}
			if se.Kind != tt.wantKind || (tt.wantCode != anyCode && se.Code != tt.wantCode) || se.Message != tt.wantMsg {
				t.Errorf("got kind %d code %q message %q (%v), want %d %q %q", se.Kind, se.Code, se.Message, se.Err, tt.wantKind, tt.wantCode, tt.wantMsg)
			}
			if se.Kind != application.SMSRefused && se.Err == nil {
				t.Error("a failure without a vendor text must carry its cause in Err, for the log")
			}
			if n := fake.Hits(); n != 1 {
				t.Errorf("vendor saw %d requests, want exactly 1 (no retry)", n)
			}
			if r := fake.Rejections(); len(r) != 0 {
				t.Errorf("fake rejected the request: %v", r)
			}
			if logs.Len() == 0 {
				t.Error("a failure must be logged (at debug: the failover wrapper logs each attempt)")
			}
		})
	}
}

// ClosedAddr is a local address nothing listens on: connecting is
// refused.
func ClosedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr is a local address that accepts connections, keeps them open
// and never says a word, until the test ends.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-stopped
		for _, c := range held {
			c.Close()
		}
	})
	return l.Addr().String()
}

// runEchoedNumber: vendors echo the phone number (and order numbers) in
// their texts. The client hears the text verbatim, as the wire contract
// says; every log line, the failover chain's included, and the error
// string carry it with each run of seven or more digits masked.
func runEchoedNumber(t *testing.T, v Vendor) {
	const serial = "20261130123456789"
	national, international := v.Phone.National(), strings.TrimPrefix(v.Phone.E164(), "+")
	text := fmt.Sprintf("%s: %s (%s) 无法送达, 流水号 %s", v.Refusal.Message, v.Phone.E164(), national, serial)
	fake := v.Start(t)
	fake.Refuse(v.Refusal.Code, text)
	log, logs := v.observe(t)
	var named failover.NamedSender
	switch s := v.sender(t, fake.URL(), timeout, log).(type) {
	case failover.NamedSender:
		named = s
	default:
		t.Fatalf("%T has no Name method", s)
	}
	chain := failover.New(log, named)

	se := v.Error(t, chain.SendCode(context.Background(), v.Phone, v.Code, 5*time.Minute))
	if se.Kind != application.SMSRefused || se.Message != text {
		t.Fatalf("got kind %d message %q, want SMSRefused with the vendor's text verbatim %q", se.Kind, se.Message, text)
	}
	digits := []string{national, international, serial}
	for _, d := range digits {
		if strings.Contains(se.Error(), d) {
			t.Errorf("error string carries %s unmasked: %s", d, se.Error())
		}
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, val := range e.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(val)
		}
		for _, d := range digits {
			if strings.Contains(line, d) {
				t.Errorf("log line carries %s unmasked: %s", d, line)
			}
		}
	}
	attempts := logs.FilterMessage("sms attempt").All()
	if len(attempts) != 1 {
		t.Fatalf("%d attempt lines, want 1", len(attempts))
	}
	longRun := regexp.MustCompile(`[0-9]{7,}`)
	want := longRun.ReplaceAllStringFunc(text, func(r string) string { return strings.Repeat("*", len(r)) })
	if got := attempts[0].ContextMap()["vendor_message"]; got != want {
		t.Errorf("attempt line's vendor_message = %v, want the text masked: %q", got, want)
	}
}
