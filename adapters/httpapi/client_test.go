package httpapi

import (
	"net/netip"
	"strings"
	"testing"
)

func TestClientFrom(t *testing.T) {
	proxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("2001:db8:ffff::/48"),
	}
	cases := []struct {
		name, peer string
		xff        []string // header lines, in the order sent
		want       string
	}{
		{"untrusted peer: its header is ignored", "203.0.113.1", []string{"198.51.100.1"}, "203.0.113.1"},
		{"untrusted IPv4-mapped peer", "::ffff:203.0.113.1", []string{"198.51.100.1"}, "203.0.113.1"},
		{"trusted peer, no header: the peer", "10.0.0.1", nil, "10.0.0.1"},
		{"trusted peer, empty header: the peer", "10.0.0.1", []string{""}, "10.0.0.1"},
		{"one entry", "10.0.0.1", []string{"203.0.113.7"}, "203.0.113.7"},
		{"right-most untrusted entry", "10.0.0.1", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"trusted hops skipped", "10.0.0.1", []string{"198.51.100.1, 203.0.113.7, 10.1.2.3,127.0.0.1"}, "203.0.113.7"},
		{"spaces and tabs", "10.0.0.1", []string{" 198.51.100.1 ,\t203.0.113.7\t"}, "203.0.113.7"},
		{"all trusted: the left-most trusted", "127.0.0.1", []string{"10.9.9.9, 10.0.0.2"}, "10.9.9.9"},
		{"lines taken together: the proxy's line is last", "127.0.0.1", []string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7"},
		{"lines taken together: walk into earlier lines past trusted hops", "127.0.0.1", []string{"198.51.100.1, 203.0.113.7", "10.0.0.5"}, "203.0.113.7"},
		{"a forged line cannot hide behind the proxy's", "127.0.0.1", []string{"203.0.113.99", "198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"addr:port", "10.0.0.1", []string{"203.0.113.7:50001"}, "203.0.113.7"},
		{"[v6]:port", "10.0.0.1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"trusted hop with a port", "10.0.0.1", []string{"203.0.113.7, 10.0.0.2:8080"}, "203.0.113.7"},
		{"IPv4-mapped entry", "10.0.0.1", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"IPv4-mapped [entry]:port", "10.0.0.1", []string{"[::ffff:203.0.113.7]:1"}, "203.0.113.7"},
		{"IPv4-mapped trusted hop", "10.0.0.1", []string{"203.0.113.7, ::ffff:10.0.0.3"}, "203.0.113.7"},
		{"IPv6 client", "10.0.0.1", []string{"2001:db8:1:2::99"}, "2001:db8:1:2::99"},
		{"IPv6 trusted hop", "2001:db8:ffff::1", []string{"2001:db8:1:2::99, 2001:db8:ffff:1::1"}, "2001:db8:1:2::99"},
		{"garbled entry: the last trusted address", "10.0.0.1", []string{"203.0.113.7, 10.0.0.2, garbage"}, "10.0.0.1"},
		{"garbled entry after a trusted hop", "10.0.0.1", []string{"garbage, 10.0.0.2"}, "10.0.0.2"},
		{"garbled entry left of the client is never read", "10.0.0.1", []string{"garbage, 203.0.113.7"}, "203.0.113.7"},
		{"unknown", "10.0.0.1", []string{"unknown"}, "10.0.0.1"},
		{"empty entry", "10.0.0.1", []string{"203.0.113.7, "}, "10.0.0.1"},
		{"bare [v6] is not an entry", "10.0.0.1", []string{"[2001:db8::7]"}, "10.0.0.1"},
		{"port without address", "10.0.0.1", []string{":80"}, "10.0.0.1"},
		{"address with an empty port", "10.0.0.1", []string{"203.0.113.7:"}, "10.0.0.1"},
		{"zone", "10.0.0.1", []string{"fe80::1%eth0"}, "10.0.0.1"},
		{"CIDR is no address", "10.0.0.1", []string{"203.0.113.0/24"}, "10.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var lines [][]byte
			for _, l := range c.xff {
				lines = append(lines, []byte(l))
			}
			peer := netip.MustParseAddr(c.peer).Unmap()
			if got := clientFrom(peer, proxies, lines); got != netip.MustParseAddr(c.want) {
				t.Errorf("clientFrom(%s, %q) = %s, want %s", c.peer, c.xff, got, c.want)
			}
		})
	}
}

func TestClientFromWithoutProxies(t *testing.T) {
	peer := netip.MustParseAddr("127.0.0.1")
	if got := clientFrom(peer, nil, [][]byte{[]byte("203.0.113.7")}); got != peer {
		t.Fatalf("no trusted proxy: %s, want the peer", got)
	}
}

func TestNetKey(t *testing.T) {
	cases := map[string]string{
		"203.0.113.7":                    "203.0.113.7",
		"2001:db8:1:2:aaaa:bbbb:cccc:dd": "2001:db8:1:2::/64",
		"2001:db8:1:2::1":                "2001:db8:1:2::/64",
		"2001:0DB8:0001:0002:ffff::":     "2001:db8:1:2::/64",
		"2001:db8:1:3::1":                "2001:db8:1:3::/64",
		"::1":                            "::/64",
	}
	for in, want := range cases {
		if got := netKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("netKey(%s) = %s, want %s", in, got, want)
		}
	}
	if got := netKey(netip.Addr{}); strings.Contains(got, "/") {
		t.Errorf("netKey of no address = %q", got)
	}
}

// TestClientFromAllocates: clientFrom allocates nothing, as it runs on
// every request behind a proxy.
func TestClientFromAllocates(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("127.0.0.1")
	lines := [][]byte{[]byte("198.51.100.1, [2001:db8:1:2::7]:443, 10.0.0.2"), []byte("10.0.0.3")}
	if n := testing.AllocsPerRun(100, func() { clientFrom(peer, proxies, lines) }); n != 0 {
		t.Fatalf("clientFrom allocates %v times", n)
	}
}

func BenchmarkClientFrom(b *testing.B) {
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("127.0.0.1")
	b.Run("direct", func(b *testing.B) {
		direct := netip.MustParseAddr("203.0.113.7")
		for b.Loop() {
			_ = netKey(clientFrom(direct, proxies, nil))
		}
	})
	b.Run("proxied v4", func(b *testing.B) {
		lines := [][]byte{[]byte("198.51.100.1, 203.0.113.7")}
		for b.Loop() {
			_ = netKey(clientFrom(peer, proxies, lines))
		}
	})
	b.Run("proxied v6", func(b *testing.B) {
		lines := [][]byte{[]byte("[2001:db8:1:2::7]:443, 10.0.0.2")}
		for b.Loop() {
			_ = netKey(clientFrom(peer, proxies, lines))
		}
	})
}
