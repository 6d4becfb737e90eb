package httpapi

import "github.com/gofiber/fiber/v2"

// mount registers every route, in order: the middleware every request
// passes, the probes, the API under /client, the optional operational
// routes.
func (s *Server) mount(cfg Config) {
	s.fiber.Use(s.accessLog, s.recoverPanic, refuseEncoded)
	s.fiber.Get("/healthz", s.healthz)
	s.fiber.Get("/readyz", s.readyz)
	c := s.fiber.Group("/client", noStore)
	c.Post("/register-step-1", s.step1)
	c.Post("/register-step-2", s.step2)
	c.Post("/register-step-3", s.step3)
	c.Post("/register-step-4", s.step4)
	c.Post("/login", s.login)
	s.mountOps(cfg)
}

// ctxEndpoint is the Locals key under which a handler records its
// endpoint, so the error handler picks that endpoint's wording.
const ctxEndpoint = "endpoint"

// indexRoutes records every route a handler serves, so that observe can
// tell a served request from one that only passed through middleware.
func (s *Server) indexRoutes() {
	s.routes = map[string]string{}
	for _, r := range s.fiber.GetRoutes(true) {
		s.routes[r.Method+" "+r.Path] = r.Path
	}
}

// routeLabel is the template of the route that served c, or
// RouteUnmatched. Never the raw path: that is the client's to choose. A
// request that middleware refused (an encoded body) is labelled with the
// route it was sent to, when its path is exactly a route's.
func (s *Server) routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	if _, ok := s.routes[r.Method+" "+r.Path]; ok {
		return r.Path
	}
	if path, ok := s.routes[c.Method()+" "+c.Path()]; ok {
		return path // the template's string: c.Path() may be reused
	}
	return RouteUnmatched
}
