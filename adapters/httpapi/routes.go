package httpapi

import "github.com/gofiber/fiber/v2"

// mount registers the middleware every request passes, then every route,
// each through route: the operational routes (ops.go) and the API, whose
// answers no cache may keep.
func (s *Server) mount(cfg Config) {
	s.fiber.Use(s.accessLog, s.recoverPanic, refuseEncoded)
	s.mountOps(cfg)
	s.fiber.Use("/client", noStore)
	s.route(fiber.MethodPost, "/client/register-step-1", step1, s.step1, public)
	s.route(fiber.MethodPost, "/client/register-step-2", step2, s.step2, public)
	s.route(fiber.MethodPost, "/client/register-step-3", step3, s.step3, public)
	s.route(fiber.MethodPost, "/client/register-step-4", step4, s.step4, public)
	s.route(fiber.MethodPost, "/client/login", login, s.login, public)
}

// access says who may call a route.
type access int

const (
	// public routes answer anyone.
	public access = iota
	// authenticated routes answer only a request whose access token
	// Config.Authenticate accepts (auth.go); their handlers read what the
	// token says with claimsOf.
	authenticated
)

// route registers h for method and path as endpoint ep, open to the
// callers a allows: the one way a route is added. In front of h it puts
// a step that records the endpoint for the error handler's wording and
// the observer's operation, so that handlers keep no books, and, on an
// authenticated route, the token check; and it indexes the route for
// routeLabel. A GET route answers HEAD too, as Fiber's Get does.
//
// An authenticated route without a Config.Authenticate to check tokens
// panics here, in New: such a server must not start, rather than serve
// the route to anyone.
func (s *Server) route(method, path string, ep endpoint, h fiber.Handler, a access) {
	handlers := []fiber.Handler{func(c *fiber.Ctx) error {
		c.Locals(ctxEndpoint, ep)
		return c.Next()
	}}
	if a == authenticated {
		if s.authenticate == nil {
			panic("httpapi: " + method + " " + path + " is authenticated but Config.Authenticate is nil")
		}
		handlers = append(handlers, s.requireToken)
	}
	handlers = append(handlers, h)
	methods := []string{method}
	if method == fiber.MethodGet {
		methods = []string{fiber.MethodHead, fiber.MethodGet}
	}
	for _, m := range methods {
		s.fiber.Add(m, path, handlers...)
		s.routes[m+" "+path] = path
	}
}

// ctxEndpoint is the Locals key under which route records the endpoint
// that serves the request. Unset (anyEndpoint) until a route is reached.
const ctxEndpoint = "endpoint"

// endpointOf is the endpoint that serves c, or anyEndpoint.
func endpointOf(c *fiber.Ctx) endpoint {
	ep, _ := c.Locals(ctxEndpoint).(endpoint)
	return ep
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
