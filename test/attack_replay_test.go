package test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

// TestReplayMemoryUnderPressure logs in, over HTTP and from several
// clients at once, well past the bound of the embedded replay memory
// (LOGIN_NONCE_CAPACITY at its minimum, 1000) while time moves on. No
// login is ever answered 503, every login with a current time stamp
// succeeds, a replay of an early accepted login is refused (stale on the
// embedded store, which forgot it; replayed on MongoDB, which did not), a
// replay of a recent one is refused as replayed, and the log does not
// grow with the requests.
func TestReplayMemoryUnderPressure(t *testing.T) {
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			o := storeOptions(t, store)
			if o.vars == nil {
				o.vars = map[string]string{}
			}
			o.vars["LOGIN_NONCE_CAPACITY"] = "1000"
			o.vars["SMS_HOURLY_LIMIT_PER_IP"] = "0" // the test registers its users from one address
			testReplayMemoryUnderPressure(t, store, start(t, o))
		})
	}
}

func testReplayMemoryUnderPressure(t *testing.T, store string, in *instance) {
	// Logins are spread over many accounts, as real ones are, so that no
	// per-account limit is what refuses them.
	const users, password = 40, "pressure-pass-1"
	phones := make([]string, users)
	for i := range phones {
		phones[i] = fmt.Sprintf("1370000%04d", i)
		in.register(t, phones[i], password, fmt.Sprintf("p%d@qq.com", i))
	}
	quiet := func() int {
		return in.logs.FilterLevelExact(zapcore.WarnLevel).Len() + in.logs.FilterLevelExact(zapcore.ErrorLevel).Len()
	}
	loud0 := quiet()

	// 1,500 logins, 100 per second of the service's clock: the memory
	// fills in the tenth second and must then make room. MongoDB's memory
	// of proofs has no bound to fill: there a fifth of the rate shows the
	// same rules (every login accepted, every replay refused, no 503, a
	// quiet log) without minutes of commands on the serialised test
	// server.
	const seconds, clients = 15, 8
	perSecond := 100
	if store == "mongo" {
		perSecond = 20
	}
	var (
		mu       sync.Mutex
		accepted []m // bodies of accepted logins, in order
		failures []string
	)
	seq := 0
	for range seconds {
		now := in.clock.Now().Unix()
		bodies := make(chan m, perSecond)
		for range perSecond {
			seq++
			bodies <- loginBody(phones[seq%users], password, fmt.Sprintf("pressure-%d", seq), now)
		}
		close(bodies)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for b := range bodies {
					a := in.post(t, "/client/login", b)
					mu.Lock()
					if a.Status == 200 && a.Code == 1 && a.Token != "" {
						accepted = append(accepted, b)
					} else {
						failures = append(failures, fmt.Sprintf("%d %s", a.Status, a.Raw))
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		in.clock.Advance(time.Second)
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d logins with a current time stamp failed; first: %s", len(failures), seconds*perSecond, failures[0])
	}

	// The first accepted login, whose triple the embedded store had to
	// forget, and the last, which it holds: both refused.
	first := in.post(t, "/client/login", accepted[0])
	wantFirst := "replayed_request"
	if store == "embedded" {
		wantFirst = "stale_request"
	}
	if first.Status != 200 || first.Code != 0 || first.Error != wantFirst || first.Token != "" {
		t.Errorf("replay of the first accepted login: %d %s, want 200 %s", first.Status, first.Raw, wantFirst)
	}
	last := in.post(t, "/client/login", accepted[len(accepted)-1])
	if last.Status != 200 || last.Error != "replayed_request" || last.Token != "" {
		t.Errorf("replay of the last accepted login: %d %s, want 200 replayed_request", last.Status, last.Raw)
	}
	// Every early replay is refused, whatever the store remembers (by a
	// limit on the client's failures too, should one count these).
	for i, b := range accepted[:min(300, len(accepted))] {
		if a := in.post(t, "/client/login", b); a.Status == 503 || a.Code != 0 || a.Token != "" {
			t.Fatalf("replay of accepted login %d: %d %s", i, a.Status, a.Raw)
		}
	}
	// And a new login still goes through.
	if a := in.login(t, phones[0], password); a.Code != 1 {
		t.Errorf("a new login after the run: %s", a.Raw)
	}

	// The log may say once that the memory is under pressure; it must not
	// say so per request.
	if loud := quiet() - loud0; loud > 3 {
		t.Errorf("%d warning and error lines for %d logins and their replays, want at most 3", loud, seconds*perSecond)
	}
}
