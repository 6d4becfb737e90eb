package httpapi

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/phoneauth/phoneauth/application"
)

// Authenticator verifies an access token and returns what it says. A
// token it cannot vouch for (malformed, forged, expired, revoked) is
// application.ErrUnauthorized, wrapped or not, as the application's
// AuthenticateHandler answers: 401 unauthorized. Any other error is the
// verifier's own failure, answered as the error table says
// (application.ErrUnavailable: 503).
type Authenticator func(ctx context.Context, token string) (application.AccessClaims, error)

// headerToken is the header the origin backend's clients send their
// token in, bare.
const headerToken = "token"

// ctxClaims is the Locals key of the verified claims of a request.
const ctxClaims = "claims"

// requireToken is the middleware of an authenticated route: it lets the
// request through to the handler only with a token that s.authenticate
// accepts, and keeps the token's claims for claimsOf. Refusals are
// errors, for the error handler to answer like any other.
func (s *Server) requireToken(c *fiber.Ctx) error {
	token := tokenOf(c)
	if token == "" {
		return application.ErrTokenMissing
	}
	claims, err := s.authenticate(c.UserContext(), token)
	if err != nil {
		return err
	}
	c.Locals(ctxClaims, claims)
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

// claimsOf is what the access token of c says, for the handler of an
// authenticated route. On any other route it panics (a 500): the route
// was registered as public by mistake, and must not be served as if a
// caller had been identified.
func claimsOf(c *fiber.Ctx) application.AccessClaims {
	claims, ok := c.Locals(ctxClaims).(application.AccessClaims)
	if !ok {
		panic("httpapi: claimsOf on a route registered without authentication")
	}
	return claims
}
