package httpapi

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Messages of the wire contract (docs/api.md, "Messages and reasons").
// The original API's are byte-exact, including the ASCII comma in
// msgUserExists.
const (
	msgSent            = "发送成功"
	msgVerified        = "短信验证通过"
	msgPasswordSet     = "提交密码成功"
	msgRegistered      = "注册成功"
	msgLoggedIn        = "成功登录"
	msgRefreshed       = "刷新成功"
	msgAccount         = "获取成功"
	msgLoggedOut       = "成功注销"
	msgPasswordReset   = "密码重置成功"
	msgPasswordChanged = "密码修改成功"
	msgPhoneChanged    = "手机号修改成功"
	msgAccountDeleted  = "账号已注销"
	msgPhoneTaken      = "该手机号已被使用"
	msgUserExists      = "该用户已经存在,注册失败"
	msgVerifyFailed    = "验证没有通过"
	msgNotVerified     = "验证码没有通过"
	msgPasswordLength  = "密码长度不符合要求"
	msgPasswordDiffer  = "密码和密码确认不一致"
	msgRegisterFailed  = "注册失败"
	msgNoSuchUser      = "没有此用户"
	msgWrongPassword   = "密码错误"
	msgBadRequest      = "请求参数错误"
	msgInvalidPhone    = "手机号格式不正确"
	msgCountry         = "暂不支持该地区的手机号"
	msgSMSUnavailable  = "短信发送失败，请稍后再试"
	msgBodyTooLarge    = "请求体过大"
	msgRateLimited     = "请求过于频繁，请稍后再试"
	msgStale           = "登录请求已失效，请重试"
	msgLocked          = "密码错误次数过多，请稍后再试"
	msgUnavailable     = "服务暂不可用，请稍后再试"
	msgInternal        = "服务器内部错误"
	msgNotFound        = "接口不存在"
	msgMethodNotAllowd = "请求方法不被支持"
	msgTokenMissing    = "需要验证"
	msgUnauthorized    = "验证信息错误"
)

// Reasons that only the transport gives, before or around a use case;
// the use cases' own are application.Reason….
const (
	reasonBadRequest          = "bad_request"
	reasonUnsupportedEncoding = "unsupported_encoding"
	reasonBodyTooLarge        = "body_too_large"
	reasonNotFound            = "not_found"
	reasonMethodNotAllowed    = "method_not_allowed"
	reasonInternal            = "internal_error"
)

// response is every answer's body. Field order is the original API's: code,
// message, then login's email and token; step 2 adds registration_token
// after message; the session's pair follows the token (login, refresh);
// the account (GET /client) is phone_number, email, created_at.
type response struct {
	Code              int    `json:"code"`
	Message           string `json:"message"`
	RegistrationToken string `json:"registration_token,omitempty"`
	PhoneNumber       string `json:"phone_number,omitempty"`
	Email             string `json:"email,omitempty"`
	CreatedAt         string `json:"created_at,omitempty"`
	Token             string `json:"token,omitempty"`
	ExpiresIn         int64  `json:"expires_in,omitempty"`
	RefreshToken      string `json:"refresh_token,omitempty"`
	RefreshExpiresIn  int64  `json:"refresh_expires_in,omitempty"`
	Error             string `json:"error,omitempty"`
	RetryAfter        int64  `json:"retry_after,omitempty"`
}

// outcome is one row of the error table.
type outcome struct {
	err     error
	status  int
	reason  string
	message string
	// code is the answer's code: 0, failed, but for the answers that
	// send the client back to log in (codeLogInAgain).
	code int
}

// codeLogInAgain is the origin backend's code for "the token is no
// good: log in again", which its clients read instead of the status.
const codeLogInAgain = 2

// endpoint names a route whose failures the original API words its own
// way, and the use case behind it (operations).
type endpoint int

const (
	// anyEndpoint is a route that is no endpoint of the API (a probe), or
	// none: only the rows every endpoint shares apply.
	anyEndpoint endpoint = iota
	step1
	step2
	step3
	step4
	login
	refresh
	me
	logout
	resetSend
	reset
	changePassword
	changePhoneSend
	changePhone
	deleteAccount
)

// The rows that several endpoints share.
var (
	// codeRows: a code check's failures (register step 2 adds its own
	// no_pending_registration).
	codeRows = []outcome{
		{domain.ErrCodeMismatch, fiber.StatusOK, application.ReasonCodeMismatch, msgVerifyFailed, 0},
		{domain.ErrCodeExpired, fiber.StatusOK, application.ReasonCodeExpired, msgVerifyFailed, 0},
		{domain.ErrTooManyAttempts, fiber.StatusOK, application.ReasonTooManyAttempts, msgVerifyFailed, 0},
		{domain.ErrNoPendingCode, fiber.StatusOK, application.ReasonNoPendingCode, msgVerifyFailed, 0},
	}
	// passwordRows: a new password the policy refuses.
	passwordRows = []outcome{
		{domain.ErrPasswordLength, fiber.StatusOK, application.ReasonPasswordLength, msgPasswordLength, 0},
		{domain.ErrPasswordMismatch, fiber.StatusOK, application.ReasonPasswordMismatch, msgPasswordDiffer, 0},
	}
	// proofRows: a login proof's failures, at login and wherever the
	// password is proven again; an unknown number only login can meet.
	proofRows = []outcome{
		{domain.ErrWrongPassword, fiber.StatusOK, application.ReasonWrongPassword, msgWrongPassword, 0},
		{application.ErrStaleRequest, fiber.StatusOK, application.ReasonStaleRequest, msgStale, 0},
		{application.ErrReplayedRequest, fiber.StatusOK, application.ReasonReplayedRequest, msgStale, 0},
	}
	countryRow    = outcome{domain.ErrCountryNotAllowed, fiber.StatusOK, application.ReasonCountryNotAllowed, msgCountry, 0}
	noSuchUserRow = outcome{domain.ErrUserNotFound, fiber.StatusOK, application.ReasonNoSuchUser, msgNoSuchUser, 0}
	phoneTakenRow = outcome{domain.ErrPhoneTaken, fiber.StatusOK, application.ReasonPhoneTaken, msgPhoneTaken, 0}
)

func rows(parts ...[]outcome) []outcome {
	var all []outcome
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// perEndpoint holds the rows whose message depends on the endpoint: the
// original API answers a taken phone with msgUserExists at step 1 but
// with msgRegisterFailed at step 4. Only the endpoint's own rows apply,
// so that an error one endpoint never gives cannot borrow another's
// wording.
var perEndpoint = map[endpoint][]outcome{
	step1: {
		{domain.ErrUserExists, fiber.StatusOK, application.ReasonUserExists, msgUserExists, 0},
		countryRow,
	},
	step2: rows(codeRows[:3], []outcome{
		{domain.ErrNoPending, fiber.StatusOK, application.ReasonNoPendingRegistration, msgVerifyFailed, 0},
	}),
	step3: rows([]outcome{
		{domain.ErrNotVerified, fiber.StatusOK, application.ReasonNotVerified, msgNotVerified, 0},
	}, passwordRows),
	step4: {
		{domain.ErrNotVerified, fiber.StatusOK, application.ReasonNotVerified, msgNotVerified, 0},
		{domain.ErrInvalidEmail, fiber.StatusOK, application.ReasonInvalidEmail, msgRegisterFailed, 0},
		{domain.ErrEmailTaken, fiber.StatusOK, application.ReasonEmailTaken, msgRegisterFailed, 0},
		{domain.ErrPasswordMissing, fiber.StatusOK, application.ReasonPasswordMissing, msgRegisterFailed, 0},
		{domain.ErrUserExists, fiber.StatusOK, application.ReasonUserExists, msgRegisterFailed, 0},
	},
	login:           rows([]outcome{noSuchUserRow}, proofRows),
	resetSend:       {noSuchUserRow, countryRow},
	reset:           rows(passwordRows, codeRows),
	changePassword:  rows(proofRows, passwordRows),
	changePhoneSend: rows(proofRows, []outcome{phoneTakenRow, countryRow}),
	changePhone:     rows(codeRows, []outcome{phoneTakenRow}),
	deleteAccount:   proofRows,
}

// common holds the rows every endpoint shares.
var common = []outcome{
	{errBadRequest, fiber.StatusBadRequest, reasonBadRequest, msgBadRequest, 0},
	{errUnsupportedEncoding, fiber.StatusUnsupportedMediaType, reasonUnsupportedEncoding, msgBadRequest, 0},
	{domain.ErrInvalidPhone, fiber.StatusOK, application.ReasonInvalidPhone, msgInvalidPhone, 0},
	{application.ErrUnavailable, fiber.StatusServiceUnavailable, application.ReasonUnavailable, msgUnavailable, 0},
	{application.ErrTokenMissing, fiber.StatusUnauthorized, application.ReasonTokenMissing, msgTokenMissing, 0},
	{application.ErrUnauthorized, fiber.StatusUnauthorized, application.ReasonUnauthorized, msgUnauthorized, codeLogInAgain},
	{application.ErrInvalidRefreshToken, fiber.StatusUnauthorized, application.ReasonInvalidRefreshToken, msgUnauthorized, codeLogInAgain},
	{application.ErrRefreshTokenReused, fiber.StatusUnauthorized, application.ReasonRefreshTokenReused, msgUnauthorized, codeLogInAgain},
}

// mapError turns an error into the status and body of the wire contract.
// It is the only place that knows the table; an error it does not know is
// a 500 and is logged by the caller.
func mapError(ep endpoint, err error) (int, response, bool) {
	var smsErr *application.SMSError
	var limited *application.RateLimitedError
	var locked *application.AccountLockedError
	var fe *fiber.Error
	switch {
	case errors.As(err, &limited):
		return fiber.StatusTooManyRequests, response{Message: msgRateLimited, Error: application.ReasonRateLimited, RetryAfter: seconds(limited.RetryAfter)}, true
	case errors.As(err, &locked):
		return fiber.StatusTooManyRequests, response{Message: msgLocked, Error: application.ReasonAccountLocked, RetryAfter: seconds(locked.RetryAfter)}, true
	case errors.As(err, &smsErr):
		if smsErr.Kind == application.SMSRefused && smsErr.Message != "" {
			return fiber.StatusOK, response{Message: smsErr.Message, Error: application.ReasonSMSVendorError}, true
		}
		return fiber.StatusOK, response{Message: msgSMSUnavailable, Error: application.ReasonSMSUnavailable}, true
	case errors.As(err, &fe):
		return fiberError(fe)
	}
	for _, rows := range [][]outcome{perEndpoint[ep], common} {
		for _, o := range rows {
			if errors.Is(err, o.err) {
				return o.status, response{Code: o.code, Message: o.message, Error: o.reason}, true
			}
		}
	}
	return fiber.StatusInternalServerError, response{Message: msgInternal, Error: reasonInternal}, false
}

// handleError is the one function that turns an error into an answer,
// with mapError's table: accessLog hands it what the middleware and the
// routes return, and Fiber the errors it raises before (a body over the
// limit), as its ErrorHandler.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	ep := endpointOf(c)
	status, body, known := mapError(ep, err)
	// Error strings here are built by this service and carry no secrets;
	// the vendor's raw text is only in SMS refusals, which are known.
	switch {
	case !known:
		s.log.Error("request failed", zap.Any("request_id", c.Locals(ctxRequestID)),
			zap.String("path", c.Path()), zap.Int("status", status), zap.Error(err))
	case status >= fiber.StatusInternalServerError:
		// A dependency down fails every request that needs it: one line
		// per interval for each endpoint and reason, with a count.
		if write, suppressed := s.depSeen.allow(throttleKey{ep, body.Error}, time.Now()); write {
			s.depLog.Error("dependency failed", zap.Any("request_id", c.Locals(ctxRequestID)),
				zap.String("path", c.Path()), zap.Int("status", status), zap.Error(err),
				zap.Int("suppressed", suppressed), zap.Duration("log_interval", s.depSeen.interval))
		}
	}
	if body.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(body.RetryAfter, 10))
	}
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-store")
	noteError(c, body.Error, err)
	jerr := c.Status(status).JSON(body)
	if c.Locals(ctxRequestID) == nil {
		// Fiber refused the request before any route (a body over the
		// limit): accessLog never saw it, so observe it here.
		s.observe(c, RouteUnmatched, 0)
	}
	return jerr
}

// fiberError maps the errors Fiber raises before a handler runs.
func fiberError(fe *fiber.Error) (int, response, bool) {
	switch fe.Code {
	case fiber.StatusRequestEntityTooLarge:
		return fe.Code, response{Message: msgBodyTooLarge, Error: reasonBodyTooLarge}, true
	case fiber.StatusNotFound:
		return fe.Code, response{Message: msgNotFound, Error: reasonNotFound}, true
	case fiber.StatusMethodNotAllowed:
		return fe.Code, response{Message: msgMethodNotAllowd, Error: reasonMethodNotAllowed}, true
	case fiber.StatusBadRequest, fiber.StatusRequestHeaderFieldsTooLarge, fiber.StatusRequestTimeout:
		return fe.Code, response{Message: msgBadRequest, Error: reasonBadRequest}, true
	}
	return fiber.StatusInternalServerError, response{Message: msgInternal, Error: reasonInternal}, false
}

// seconds rounds a wait up to whole seconds, at least 1, as clients sleep
// for retry_after and must not retry early.
func seconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
