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
	ObserveRequest(application.RequestOutcome)
}

// RouteUnmatched is the Route of the requests no route served: unknown
// paths, wrong methods, and requests refused before routing (a body over
// the limit).
const RouteUnmatched = "unmatched"

// operations names the use case behind each endpoint.
var operations = map[endpoint]string{
	step1:   application.OpSendCode,
	step2:   application.OpVerifyCode,
	step3:   application.OpSetPassword,
	step4:   application.OpCompleteProfile,
	login:   application.OpLogin,
	refresh: application.OpRefresh,
	me:      application.OpMe,
	logout:  application.OpLogout,

	resetSend:       application.OpResetPasswordSend,
	reset:           application.OpResetPassword,
	changePassword:  application.OpChangePassword,
	changePhoneSend: application.OpChangePhoneSend,
	changePhone:     application.OpChangePhone,
	deleteAccount:   application.OpDeleteAccount,
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
	s.obs.ObserveRequest(application.RequestOutcome{
		Route:     route,
		Operation: operations[ep],
		Status:    c.Response().StatusCode(),
		Reason:    reason,
		LimitKind: kind,
		Duration:  elapsed,
	})
}
