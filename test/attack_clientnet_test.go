package test

import (
	"fmt"
	"maps"
	"sync"
	"testing"
)

// TestClientNetworkAttacks: the per-client limits key on the client's
// network, as a client behind a trusted proxy cannot choose it: an IPv6
// client rotating addresses inside its /64 is one client, a forged
// X-Forwarded-For line does not pick the address, and clients that the
// proxy writes as addr:port stay distinct clients.
func TestClientNetworkAttacks(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T, options)
	}{
		{"IPv6RotationInsideOne64", testIPv6RotationInsideOne64},
		{"ForgedFirstForwardedForLine", testForgedFirstForwardedForLine},
		{"AddrPortEntriesAreTheirClients", testAddrPortEntriesAreTheirClients},
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, storeOptions(t, store)) })
			}
		})
	}
}

// perNetworkLimit is SMS_HOURLY_LIMIT_PER_IP in these tests.
const perNetworkLimit = 5

// behindProxy is store with the loopback address as the one trusted proxy
// (the test's own connections play the proxy) and a per-network send limit
// of perNetworkLimit.
func behindProxy(store options) options {
	vars := maps.Clone(store.vars)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["TRUSTED_PROXIES"] = "127.0.0.1/32"
	vars["SMS_HOURLY_LIMIT_PER_IP"] = fmt.Sprint(perNetworkLimit)
	store.vars = vars
	return store
}

// sendAs is step 1 for a fresh number each call (no cooldown or daily cap
// in the way), with X-Forwarded-For lines as given.
func (in *instance) sendAs(t *testing.T, n int, xff ...string) answer {
	t.Helper()
	var hdr []string
	for _, line := range xff {
		hdr = append(hdr, "X-Forwarded-For", line)
	}
	return in.postWith(t, "/client/register-step-1", m{"phone_number": fmt.Sprintf("139%08d", n)}, hdr...)
}

// countSent checks that each answer is a send or a per-network refusal and
// returns how many were sent.
func countSent(t *testing.T, answers []answer) int {
	t.Helper()
	sent := 0
	for _, a := range answers {
		switch {
		case a.Raw == `{"code":1,"message":"发送成功"}`:
			sent++
		case a.Status == 429 && a.Error == "rate_limited":
		default:
			t.Errorf("unexpected answer %d %s", a.Status, a.Raw)
		}
	}
	return sent
}

func testIPv6RotationInsideOne64(t *testing.T, store options) {
	in := start(t, behindProxy(store))
	// 30 addresses of 2001:db8:1:2::/64, all at once.
	answers := make([]answer, 30)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			addr := fmt.Sprintf("2001:db8:1:2:%x:%x:%x:%x", i*7919%0x10000, 0xffff-i, i, 1+i*31)
			answers[i] = in.sendAs(t, i, addr)
		})
	}
	wg.Wait()
	if sent := countSent(t, answers); sent != perNetworkLimit || in.sms.Sends() != perNetworkLimit {
		t.Fatalf("one /64 rotating its addresses: %d answered sent, %d SMS sent, want %d", sent, in.sms.Sends(), perNetworkLimit)
	}
	// The next /64 is another client; the same /64 written another way is not.
	if a := in.sendAs(t, 100, "2001:db8:1:3::1"); a.Code != 1 {
		t.Errorf("another /64: %s", a.Raw)
	}
	if a := in.sendAs(t, 101, "[2001:DB8:1:2:FFFF::9]:443"); a.Status != 429 {
		t.Errorf("the limited /64 as [addr]:port: %d %s, want 429", a.Status, a.Raw)
	}
	// The access log names the client's address, not its network.
	logged := map[any]bool{}
	for _, e := range in.logs.FilterMessage("request").All() {
		logged[e.ContextMap()["ip"]] = true
	}
	for _, ip := range []string{"2001:db8:1:3::1", "2001:db8:1:2:ffff::9"} {
		if !logged[ip] {
			t.Errorf("no access-log line with ip %s", ip)
		}
	}
}

func testForgedFirstForwardedForLine(t *testing.T, store options) {
	in := start(t, behindProxy(store))
	// The client sends its own X-Forwarded-For line, a new address each
	// time; the proxy adds its own line with the address it saw.
	var answers []answer
	for i := range 12 {
		answers = append(answers, in.sendAs(t, i, fmt.Sprintf("198.51.100.%d", i+1), "203.0.113.7"))
	}
	if sent := countSent(t, answers); sent != perNetworkLimit {
		t.Fatalf("forged first lines: %d of 12 sent, want %d", sent, perNetworkLimit)
	}
	// The forged address is nobody's limit: it is still free.
	if a := in.sendAs(t, 50, "198.51.100.1"); a.Code != 1 {
		t.Errorf("the forged address as a client of its own: %s", a.Raw)
	}
}

func testAddrPortEntriesAreTheirClients(t *testing.T, store options) {
	in := start(t, behindProxy(store))
	// Eight clients, each written with its port: eight clients, not the
	// proxy eight times.
	entries := []string{
		"203.0.113.10:50001", "203.0.113.11:50001", "203.0.113.12:443", "203.0.113.13:8080",
		"[2001:db8:a::1]:50001", "[2001:db8:b::1]:50001", "[::ffff:203.0.113.14]:1", "203.0.113.15:65535",
	}
	for i, e := range entries {
		if a := in.sendAs(t, i, "198.51.100.99, "+e); a.Code != 1 {
			t.Errorf("client %s: %d %s", e, a.Status, a.Raw)
		}
	}
	// One client from many ports is one client.
	var answers []answer
	for i := range perNetworkLimit + 3 {
		answers = append(answers, in.sendAs(t, 100+i, fmt.Sprintf("203.0.113.20:%d", 40000+i)))
	}
	if sent := countSent(t, answers); sent != perNetworkLimit {
		t.Errorf("one client from %d ports: %d sent, want %d", len(answers), sent, perNetworkLimit)
	}
}
