package httpapi

import "github.com/gofiber/fiber/v2"

// mount registers the middleware every request passes, then every route,
// each through route: the operational routes (ops.go), the API, whose
// answers no cache may keep, the public keys that verify its tokens and,
// when configured, the demo page (demo.go).
func (s *Server) mount(cfg Config) {
	s.fiber.Use(s.accessLog, s.recoverPanic, refuseEncoded)
	s.mountOps(cfg)
	for _, p := range s.paths("/client") {
		s.fiber.Use(p, noStore)
	}
	s.route(fiber.MethodPost, "/client/register-step-1", step1, s.step1, public)
	s.route(fiber.MethodPost, "/client/register-step-2", step2, s.step2, public)
	s.route(fiber.MethodPost, "/client/register-step-3", step3, s.step3, public)
	s.route(fiber.MethodPost, "/client/register-step-4", step4, s.step4, public)
	s.route(fiber.MethodPost, "/client/login", login, s.login, public)
	s.route(fiber.MethodPost, "/client/token/refresh", refresh, s.refresh, public)
	s.route(fiber.MethodGet, "/client", me, s.me, authenticated)
	// Logout takes the access token or, in the body, a refresh token: its
	// use case checks whichever it is given. GET is how the origin
	// backend's clients call it.
	s.route(fiber.MethodPost, "/client/logout", logout, s.logout, public)
	s.route(fiber.MethodGet, "/client/logout", logout, s.logout, public)
	// Account recovery (public: its owner cannot log in) and changes
	// (authenticated, and each proves the password or a code again).
	s.route(fiber.MethodPost, "/client/reset-password-step-1", resetSend, s.resetSend, public)
	s.route(fiber.MethodPost, "/client/reset-password-step-2", reset, s.reset, public)
	s.route(fiber.MethodPost, "/client/change-password", changePassword, s.changePassword, authenticated)
	s.route(fiber.MethodPost, "/client/change-phone-step-1", changePhoneSend, s.changePhoneSend, authenticated)
	s.route(fiber.MethodPost, "/client/change-phone-step-2", changePhone, s.changePhone, authenticated)
	s.route(fiber.MethodPost, "/client/delete-account", deleteAccount, s.deleteAccount, authenticated)
	if len(cfg.JWKS) > 0 {
		s.route(fiber.MethodGet, JWKSPath, anyEndpoint, jwks(cfg.JWKS), public)
	}
	if cfg.DemoPage {
		s.mountDemo()
	}
}

// access says who may call a route.
type access int

const (
	// public routes answer anyone.
	public access = iota
	// authenticated routes answer only a request whose access token the
	// application's Authenticate use case accepts (auth.go); their
	// handlers read who it belongs to with principalOf.
	authenticated
)

// route registers h for method and path as endpoint ep, open to the
// callers a allows: the one way a route is added. In front of h it puts
// a step that records the endpoint for the error handler's wording and
// the observer's operation, so that handlers keep no books, and, on an
// authenticated route, the token check; and it indexes the route for
// routeLabel. A GET route answers HEAD too, as Fiber's Get does, unless
// its GET acts (actsOnGet).
//
// With Config.PathPrefix the route is served under the prefix too, as
// the same route: the same endpoint, and the same label for the
// observer.
//
// An authenticated route without an App.Authenticate to check tokens
// panics here, in New: such a server must not start, rather than serve
// the route to anyone.
func (s *Server) route(method, path string, ep endpoint, h fiber.Handler, a access) {
	served := &servedBy{ep: ep, path: path}
	handlers := []fiber.Handler{func(c *fiber.Ctx) error {
		c.Locals(ctxServedBy, served)
		return c.Next()
	}}
	if a == authenticated {
		if s.app == nil || s.app.Authenticate == nil {
			panic("httpapi: " + method + " " + path + " is authenticated but App.Authenticate is nil")
		}
		handlers = append(handlers, s.requireToken)
	}
	handlers = append(handlers, h)
	methods := []string{method}
	if method == fiber.MethodGet && !ep.actsOnGet() {
		methods = []string{fiber.MethodHead, fiber.MethodGet}
	}
	for _, m := range methods {
		for _, p := range s.paths(path) {
			s.fiber.Add(m, p, handlers...)
			s.routes[m+" "+p] = path
		}
	}
}

// paths are where path is served: itself, and under the prefix if one
// is configured.
func (s *Server) paths(path string) []string {
	if s.prefix == "" {
		return []string{path}
	}
	return []string{path, s.prefix + path}
}

// servedBy is what route records of the route that serves a request:
// its endpoint and its path (the template, the same under the prefix).
type servedBy struct {
	ep   endpoint
	path string
}

// ctxServedBy is the Locals key under which route records the *servedBy
// of the route that serves the request. Unset until a route is reached.
const ctxServedBy = "served_by"

// endpointOf is the endpoint that serves c, or anyEndpoint.
func endpointOf(c *fiber.Ctx) endpoint {
	if r, ok := c.Locals(ctxServedBy).(*servedBy); ok {
		return r.ep
	}
	return anyEndpoint
}

// actsOnGet reports an endpoint whose GET changes state (the origin's
// clients log out with GET): such a route does not answer HEAD, which
// link checkers and probes send freely, so that a HEAD never acts.
func (e endpoint) actsOnGet() bool { return e == logout }

// routeLabel is the template of the route that served c, or
// RouteUnmatched. Never the raw path: that is the client's to choose. A
// request that middleware refused (an encoded body) is labelled with the
// route it was sent to, when its path is exactly a route's. A route
// served under the path prefix has the label of the route itself.
// (Fiber's c.Route() is not asked: for a request no route served it may
// be a middleware's, whose path a route may share, as /client.)
func (s *Server) routeLabel(c *fiber.Ctx) string {
	if r, ok := c.Locals(ctxServedBy).(*servedBy); ok {
		return r.path
	}
	if path, ok := s.routes[c.Method()+" "+c.Path()]; ok {
		return path // the template's string: c.Path() may be reused
	}
	return RouteUnmatched
}
