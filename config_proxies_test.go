package phoneauth_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/phoneauth/phoneauth"
)

func TestTrustedProxiesParse(t *testing.T) {
	cfg, err := phoneauth.ParseConfig(map[string]string{"TRUSTED_PROXIES": " 10.1.2.3/8,127.0.0.1, 2001:db8::/48,::ffff:192.168.0.0/112,::ffff:172.16.0.9,"})
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
	if !slices.Equal(cfg.TrustedProxies, want) {
		t.Fatalf("TrustedProxies = %v, want %v", cfg.TrustedProxies, want)
	}
	for _, bad := range []string{"not-a-cidr", "10.0.0.0/33", "203.0.113.7:80"} {
		var l phoneauth.NetworkList
		if err := l.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, none := range []string{"", " , "} {
		if cfg, err := phoneauth.ParseConfig(map[string]string{"TRUSTED_PROXIES": none}); err != nil || len(cfg.TrustedProxies) != 0 {
			t.Errorf("TRUSTED_PROXIES=%q: %v, %v; want no proxies", none, cfg.TrustedProxies, err)
		}
	}
}
