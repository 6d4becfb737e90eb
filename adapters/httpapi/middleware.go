package httpapi

import (
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ctxRequestID is the Locals key of the request id.
const ctxRequestID = "request_id"

// noStore keeps auth answers out of every cache.
func noStore(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

// recoverPanic turns a panic into a 500 answer instead of a dead process.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", zap.Any("request_id", c.Locals(ctxRequestID)), zap.Any("panic", r), zap.Stack("stack"))
			err = errPanic
		}
	}()
	return c.Next()
}

var errPanic = errors.New("handler panicked")

// accessLog writes one line per request: id, method, path, status,
// latency, client address. It never logs bodies, so no phone number,
// password or code can reach it.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID(id) {
		id = s.idPrefix + "-" + strconv.FormatUint(s.idSeq.Add(1), 36)
	}
	c.Locals(ctxRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// With the access log on, the client is worked out here, once: its
	// address goes to the log line, its network to the handler. With it
	// off, only a handler that needs the network works it out.
	var addr netip.Addr
	var clientNet string
	if s.log.Core().Enabled(zapcore.InfoLevel) {
		addr = s.clientAddr(c)
		clientNet = netKey(addr)
		c.Locals(ctxClientNet, clientNet)
	}
	err := c.Next()
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	elapsed := time.Since(start)
	s.observe(c, s.routeLabel(c), elapsed)
	// Check first: with the access log off (LOG_LEVEL=warn) no field,
	// not even the client address's text, is built.
	if ce := s.log.Check(zapcore.InfoLevel, "request"); ce != nil {
		if !addr.IsValid() { // the level was raised during the request
			addr = s.clientAddr(c)
			clientNet = netKey(addr)
		}
		ce.Write(
			zap.String("request_id", id),
			zap.String("method", c.Method()),
			zap.String("path", c.Path()),
			zap.Int("status", c.Response().StatusCode()),
			zap.Duration("latency", elapsed),
			zap.String("ip", clientIP(addr, clientNet)),
		)
	}
	return nil
}

// validRequestID accepts a caller's X-Request-ID only if it is short and
// plain, so a log line cannot be forged or bloated through it.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
