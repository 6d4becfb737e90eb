package phoneauth

import (
	"net/netip"
	"slices"
	"testing"
)

func TestTrustedProxiesParse(t *testing.T) {
	c := Config{TrustedProxies: []string{" 10.1.2.3/8", "127.0.0.1", "2001:db8::/48", "::ffff:192.168.0.0/112", "::ffff:172.16.0.9", ""}}
	got, err := c.trustedProxies()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("2001:db8::/48"),
		netip.MustParsePrefix("192.168.0.0/16"), // IPv4-mapped: the IPv4 network
		netip.MustParsePrefix("172.16.0.9/32"),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("trustedProxies = %v, want %v", got, want)
	}
	for _, bad := range []string{"not-a-cidr", "10.0.0.0/33", "203.0.113.7:80"} {
		if _, err := (Config{TrustedProxies: []string{bad}}).trustedProxies(); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
