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

// mountOps adds the optional operational routes: metrics and the
// OpenAPI document.
func (s *Server) mountOps(cfg Config) {
	if cfg.Metrics != nil {
		s.fiber.Get(MetricsPath, adaptor.HTTPHandler(cfg.Metrics))
	}
	if len(cfg.OpenAPI) > 0 {
		doc := cfg.OpenAPI
		s.fiber.Get(OpenAPIPath, func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, "application/yaml")
			return c.Send(doc)
		})
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
