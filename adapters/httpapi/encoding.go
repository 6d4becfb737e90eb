package httpapi

import (
	"bytes"
	"errors"

	"github.com/gofiber/fiber/v2"
)

// errUnsupportedEncoding is a request that declares its body encoded
// (compressed or otherwise): refused, never decoded.
var errUnsupportedEncoding = errors.New("unsupported content encoding")

// refuseEncoded refuses a request whose Content-Encoding names anything
// but identity, before any handler reads its body. The body limit is
// checked on the bytes as sent, and Fiber's Ctx.Body inflates every
// encoding listed, layer after layer, with no bound: a few KB of
// "gzip, gzip" become gigabytes. No client of this API compresses its
// small JSON bodies, so nothing is decoded at all. Every header line
// counts; names compare without case, spaces around them ignored; an
// empty value is no encoding.
func refuseEncoded(c *fiber.Ctx) error {
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderContentEncoding) {
		if !identityOnly(v) {
			return errUnsupportedEncoding
		}
	}
	return c.Next()
}

var identity = []byte("identity")

// identityOnly reports whether every coding in the comma-separated list v
// is identity or empty.
func identityOnly(v []byte) bool {
	for len(v) > 0 {
		coding := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			coding, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		coding = bytes.Trim(coding, " \t")
		if len(coding) > 0 && !bytes.EqualFold(coding, identity) {
			return false
		}
	}
	return true
}

// rawBody is the request body as it came off the wire. Handlers read it
// instead of Fiber's Ctx.Body, which inflates any encoding it knows and
// answers an empty body for a list it does not (`identity, identity`):
// refuseEncoded has already turned away every body that is encoded, so
// what is left is meant to be read as it is.
func rawBody(c *fiber.Ctx) []byte { return c.Request().Body() }
