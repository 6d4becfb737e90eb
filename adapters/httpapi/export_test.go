package httpapi

import "github.com/gofiber/fiber/v2"

// Test-only access to the route registration, for routes that production
// does not have (a route that answers what the token says).

type Access = access

const (
	Public        = public
	Authenticated = authenticated
)

// AddRoute registers GET path through route, as the routes of New are,
// without an endpoint of its own. Call it before serving.
func (s *Server) AddRoute(path string, h fiber.Handler, a Access) {
	s.route(fiber.MethodGet, path, anyEndpoint, h, a)
}

var PrincipalOf = principalOf
