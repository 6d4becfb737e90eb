package httpapi

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/phoneauth/phoneauth/application"
)

// Observer is told how every request ended, for metrics. Each string it
// receives comes from a fixed set written in this service, never from the
// client, so that it can be a metric label.
type Observer interface {
	ObserveRequest(RequestOutcome)
}

// RequestOutcome is one finished request.
type RequestOutcome struct {
	// Route is the route template that served the request
	// ("/client/login"), or RouteUnmatched.
	Route string
	// Operation names the use case behind the route (OpSendCode ...), or
	// "" for the operational routes.
	Operation string
	Status    int
	// Reason is the answer's error reason of SPEC §2 ("code_mismatch"),
	// or "" for a success.
	Reason string
	// LimitKind is the kind of the rate limit that refused the request
	// (application.RateLimitedError.Kind), or "".
	LimitKind string
	Duration  time.Duration
}

// RouteUnmatched labels requests no route served: unknown paths, wrong
// methods, and requests refused before routing (a body over the limit).
const RouteUnmatched = "unmatched"

// Operations, one per use case.
const (
	OpSendCode        = "send_code"
	OpVerifyCode      = "verify_code"
	OpSetPassword     = "set_password"
	OpCompleteProfile = "complete_profile"
	OpLogin           = "login"
)

var operations = map[endpoint]string{
	step1: OpSendCode,
	step2: OpVerifyCode,
	step3: OpSetPassword,
	step4: OpCompleteProfile,
	login: OpLogin,
}

// Locals keys written by handleError for the observer.
const (
	ctxReason    = "reason"
	ctxLimitKind = "limit_kind"
)

// noteError keeps what the observer needs from a failed request.
func noteError(c *fiber.Ctx, reason string, err error) {
	c.Locals(ctxReason, reason)
	var limited *application.RateLimitedError
	if errors.As(err, &limited) {
		c.Locals(ctxLimitKind, limited.Kind)
	}
}

// observe reports the finished request to the observer, if any.
func (s *Server) observe(c *fiber.Ctx, route string, elapsed time.Duration) {
	if s.obs == nil {
		return
	}
	ep := endpointOf(c)
	reason, _ := c.Locals(ctxReason).(string)
	kind, _ := c.Locals(ctxLimitKind).(string)
	s.obs.ObserveRequest(RequestOutcome{
		Route:     route,
		Operation: operations[ep],
		Status:    c.Response().StatusCode(),
		Reason:    reason,
		LimitKind: kind,
		Duration:  elapsed,
	})
}
