package httpapi

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/phoneauth/phoneauth/application"
)

// headerToken is the header the origin backend's clients send their
// token in, bare.
const headerToken = "token"

// ctxPrincipal is the Locals key of the principal of a request.
const ctxPrincipal = "principal"

// requireToken is the middleware of an authenticated route: it lets the
// request through to the handler only with an access token that the
// application's Authenticate use case accepts (signature, expiry and
// revocation, checked once per request), and keeps the principal it
// answers for principalOf. Refusals are errors, for the error handler to
// answer like any other: no token is application.ErrTokenMissing, a
// token it cannot vouch for application.ErrUnauthorized, and a store
// that fails application.ErrUnavailable.
func (s *Server) requireToken(c *fiber.Ctx) error {
	p, err := s.app.Authenticate.Handle(c.UserContext(), application.Authenticate{Token: tokenOf(c)})
	if err != nil {
		return err
	}
	c.Locals(ctxPrincipal, p)
	return c.Next()
}

// tokenOf is the access token c carries: in `Authorization: Bearer <t>`
// (the scheme in any case) or, as the origin's clients send it, in
// `token: <t>`; "" if neither holds one. Fiber's header strings live in
// the request's buffer, so the token is copied before it leaves the
// adapter.
func tokenOf(c *fiber.Ctx) string {
	if scheme, token, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if token = strings.TrimSpace(token); token != "" {
			return utils.CopyString(token)
		}
	}
	return utils.CopyString(strings.TrimSpace(c.Get(headerToken)))
}

// principalOf is who the access token of c belongs to, for the handler
// of an authenticated route. On any other route it panics (a 500): the
// route was registered as public by mistake, and must not be served as
// if a caller had been identified.
func principalOf(c *fiber.Ctx) application.Principal {
	p, ok := c.Locals(ctxPrincipal).(application.Principal)
	if !ok {
		panic("httpapi: principalOf on a route registered without authentication")
	}
	return p
}
