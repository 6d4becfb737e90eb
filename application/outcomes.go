package application

import "time"

// The names in this file are the vocabulary that the adapters which
// answer requests (the HTTP adapter) and the adapter that counts them
// (metrics) share. They live here, once, so that neither adapter imports
// the other and neither types the other's names again.

// Operations name the use cases, one each: the operation label of the
// metrics.
const (
	OpSendCode        = "send_code"
	OpVerifyCode      = "verify_code"
	OpSetPassword     = "set_password"
	OpCompleteProfile = "complete_profile"
	OpLogin           = "login"
	OpRefresh         = "refresh"
	OpMe              = "me"
	OpLogout          = "logout"

	OpResetPasswordSend = "reset_password_send"
	OpResetPassword     = "reset_password"
	OpChangePassword    = "change_password"
	OpChangePhoneSend   = "change_phone_send"
	OpChangePhone       = "change_phone"
	OpDeleteAccount     = "delete_account"
)

// Reasons name why a use case did not succeed: an answer's `error` field
// (docs/api.md gives each with its message and status) and a metric's
// outcome label. Each is a stable name that clients may read; the HTTP
// adapter maps every error to one. Reasons that only the transport gives
// (a body that is not JSON, an unknown path) are the HTTP adapter's own.
const (
	ReasonInvalidPhone          = "invalid_phone"
	ReasonUserExists            = "user_exists"
	ReasonCountryNotAllowed     = "country_not_allowed"
	ReasonSMSVendorError        = "sms_vendor_error"
	ReasonSMSUnavailable        = "sms_unavailable"
	ReasonCodeMismatch          = "code_mismatch"
	ReasonCodeExpired           = "code_expired"
	ReasonTooManyAttempts       = "too_many_attempts"
	ReasonNoPendingRegistration = "no_pending_registration"
	ReasonNotVerified           = "not_verified"
	ReasonPasswordLength        = "password_length"
	ReasonPasswordMismatch      = "password_mismatch"
	ReasonInvalidEmail          = "invalid_email"
	ReasonEmailTaken            = "email_taken"
	ReasonPasswordMissing       = "password_missing"
	ReasonNoSuchUser            = "no_such_user"
	ReasonWrongPassword         = "wrong_password"
	ReasonStaleRequest          = "stale_request"
	ReasonReplayedRequest       = "replayed_request"
	ReasonAccountLocked         = "account_locked"
	ReasonRateLimited           = "rate_limited"
	ReasonUnavailable           = "unavailable"
	ReasonTokenMissing          = "token_missing"         // ErrTokenMissing
	ReasonUnauthorized          = "unauthorized"          // ErrUnauthorized
	ReasonInvalidRefreshToken   = "invalid_refresh_token" // ErrInvalidRefreshToken
	ReasonRefreshTokenReused    = "refresh_token_reused"  // ErrRefreshTokenReused
	ReasonNoPendingCode         = "no_pending_code"       // domain.ErrNoPendingCode
	ReasonPhoneTaken            = "phone_taken"           // domain.ErrPhoneTaken
)

// RequestOutcome is how one answered request ended, as the adapter that
// answered it reports it to an observer (the metrics). Every string in
// it comes from a fixed set written in this service, never from the
// client, so that each can be a metric label.
type RequestOutcome struct {
	// Route is the template of the route that served the request
	// ("/client/login"), or the answering adapter's name for none.
	Route string
	// Operation is the use case behind the route (OpSendCode ...), or ""
	// for a route that is not one (a probe).
	Operation string
	// Status is the answer's status code.
	Status int
	// Reason is the answer's reason (ReasonCodeMismatch ...), or "" for a
	// success.
	Reason string
	// LimitKind is the kind of the rate limit that refused the request
	// (RateLimitedError.Kind: one of LimitKinds), or "".
	LimitKind string
	// Duration is the time from the request's arrival to its answer.
	Duration time.Duration
}
