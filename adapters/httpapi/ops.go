package httpapi

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"go.uber.org/zap"
)

// OpenAPIPath is where the OpenAPI document is served.
const OpenAPIPath = "/openapi.yaml"

// MetricsPath is where metrics are served when Config.Metrics is set.
const MetricsPath = "/metrics"

// JWKSPath is where the JWK set of the token signing keys is served
// when Config.JWKS is set: the path most identity providers use.
const JWKSPath = "/.well-known/jwks.json"

// JWKSCacheControl lets verifiers and the caches between keep the JWK set
// for five minutes. A verifier refetches on a kid it does not know, as
// JOSE libraries do; one that does not learns a newly published key
// within five minutes. So a key rotation publishes the new key (listed
// second) at least five minutes before it starts signing (moved
// first), and five minutes of caching spares the service a fetch per
// verification at a fleet of verifiers.
const JWKSCacheControl = "public, max-age=300"

// mountOps registers the operational routes: the probes, and the
// metrics and the OpenAPI document when they are configured. None is an
// endpoint of the API.
func (s *Server) mountOps(cfg Config) {
	s.route(fiber.MethodGet, "/healthz", anyEndpoint, s.healthz, public)
	s.route(fiber.MethodGet, "/readyz", anyEndpoint, s.readyz, public)
	if cfg.Metrics != nil {
		s.route(fiber.MethodGet, MetricsPath, anyEndpoint, adaptor.HTTPHandler(cfg.Metrics), public)
	}
	if len(cfg.OpenAPI) > 0 {
		doc := cfg.OpenAPI
		s.route(fiber.MethodGet, OpenAPIPath, anyEndpoint, func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, "application/yaml")
			return c.Send(doc)
		}, public)
	}
}

// jwks serves the JWK set: its own JSON (RFC 7517), not the API's
// envelope, cacheable by anyone.
func jwks(set []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Set(fiber.HeaderCacheControl, JWKSCacheControl)
		return c.Send(set)
	}
}

// healthz is liveness: it touches no dependency, so that a database
// outage does not get every instance restarted.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz is readiness: the store answers within the readiness timeout.
func (s *Server) readyz(c *fiber.Ctx) error {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.UserContext(), s.readyFor)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.log.Warn("not ready", zap.Error(err))
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable"})
		}
	}
	return c.JSON(fiber.Map{"status": "ok"})
}
