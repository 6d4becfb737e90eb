package httpapi

import (
	"bytes"
	"net/netip"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
)

// ctxClientNet is the Locals key of the client's network key, set by
// accessLog when it works the client out for its log line.
const ctxClientNet = "client_net"

// clientNet is the key of every per-client limit and binding for c: the
// client's network (see netKey). It is worked out once per request: by
// accessLog when the access log is on, else here.
func (s *Server) clientNet(c *fiber.Ctx) string {
	if k, ok := c.Locals(ctxClientNet).(string); ok {
		return k
	}
	return netKey(s.clientAddr(c))
}

// clientAddr is the address of the client that sent c, as far as the
// service can know it (see clientFrom).
func (s *Server) clientAddr(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !trusted(s.proxies, peer) {
		return peer // without looking at the headers
	}
	return clientFrom(peer, s.proxies, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor))
}

// clientFrom is the TCP peer, unless the peer is a trusted proxy. Then it
// is the right-most address in the X-Forwarded-For lines (all of them, in
// order, as one list: a client can send lines of its own before the
// proxy's) that is not itself a trusted proxy: each proxy appends the
// address it saw, so everything left of that is the client's to write and
// proves nothing. When the list runs out, or an entry cannot be read,
// the client is the last trusted address reached.
func clientFrom(peer netip.Addr, proxies []netip.Prefix, xff [][]byte) netip.Addr {
	if !trusted(proxies, peer) {
		return peer
	}
	last := peer
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for {
			comma := bytes.LastIndexByte(line, ',')
			addr, ok := parseForwarded(line[comma+1:])
			if !ok {
				return last
			}
			if !trusted(proxies, addr) {
				return addr
			}
			last = addr
			if comma < 0 {
				break
			}
			line = line[:comma]
		}
	}
	return last
}

// parseForwarded reads one X-Forwarded-For entry: an address, addr:port or
// [v6]:port, spaces around it ignored; an IPv4-mapped IPv6 address is its
// IPv4 address. An entry with a zone is refused: no client on a network
// is named by one.
func parseForwarded(b []byte) (netip.Addr, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.IndexByte(b, '%') >= 0 {
		return netip.Addr{}, false
	}
	// The parsers keep nothing of their input, so it need not be copied.
	// Each form goes straight to its parser: a failed parse allocates its
	// error, and this runs on every request.
	s := utils.UnsafeString(b)
	var addr netip.Addr
	if b[0] == '[' || bytes.Count(b, colon) == 1 { // [v6]:port or v4:port
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		addr = ap.Addr()
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, false
		}
		addr = a
	}
	return addr.Unmap(), true
}

var colon = []byte(":")

// netKey names the network a client address belongs to: an IPv4 address
// is its own network; an IPv6 address belongs to its /64, as one host
// commonly holds a whole /64 and could otherwise take a new address for
// every request.
func netKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		var buf [64]byte // one allocation, not Prefix.String's two
		return string(p.AppendTo(buf[:0]))
	}
	return a.String()
}

func trusted(proxies []netip.Prefix, a netip.Addr) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is addr as text for the log; an IPv4 address is written as its
// network key already is.
func clientIP(addr netip.Addr, key string) string {
	if addr.Is4() {
		return key
	}
	return addr.String()
}
