package client

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Error is a failure the service answered: any answer whose `code` is
// not 1, or that is not the JSON object the endpoint gives. Test for a
// reason with errors.Is and the sentinels below
// (errors.Is(err, client.ErrWrongPassword)), or read the fields with
// errors.As.
type Error struct {
	// HTTPStatus is the answer's status: 200 for most failures of the
	// original API, 400, 401, 413, 415, 429, 500 or 503 otherwise.
	HTTPStatus int
	// Code is the body's `code`: 0 for a failure, 2 when the token
	// cannot be used and the user must log in again.
	Code int
	// Message is the body's `message`, the text for the user (Chinese,
	// byte for byte as the service sends it).
	Message string
	// Reason is the body's `error`, the stable reason for programs
	// (`wrong_password`, `rate_limited`, ...), or ReasonUnexpectedAnswer
	// when the answer was not the service's JSON.
	Reason string
	// RetryAfter is the body's `retry_after` on a 429: how long to wait
	// before trying again. Zero otherwise.
	RetryAfter time.Duration
}

// ReasonUnexpectedAnswer is the Reason of an Error made by the client
// itself, never sent by the service: the answer was not a JSON object
// with a `code` (a proxy's error page, say). Its Message is the HTTP
// status text.
const ReasonUnexpectedAnswer = "unexpected_answer"

// Error renders the reason, the message and, when given, the wait:
// "phoneauth: rate_limited: 请求过于频繁，请稍后再试 (retry after 60s)".
func (e *Error) Error() string {
	s := "phoneauth: " + e.Reason + ": " + e.Message
	if e.Reason == "" {
		s = "phoneauth: " + e.Message
	}
	if e.RetryAfter > 0 {
		s += " (retry after " + strconv.FormatInt(int64(e.RetryAfter/time.Second), 10) + "s)"
	}
	return s
}

// Is reports whether target is a sentinel of the same reason:
// errors.Is(err, ErrRateLimited) holds for every rate_limited answer,
// whatever its status, message or wait.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.HTTPStatus == 0 && t.Reason != "" && t.Reason == e.Reason
}

// reason makes a sentinel: an *Error that only errors.Is compares with.
func reason(r string) *Error { return &Error{Reason: r, Message: r} }

// The reasons the service answers, as sentinels for errors.Is. Each is
// an *Error with only its Reason set; the error a call returns carries
// the status, message and wait as well.
var (
	// ErrBadRequest: the request was not the JSON object the endpoint
	// takes (400). Retrying it unchanged gets the same answer.
	ErrBadRequest = reason("bad_request")
	// ErrBodyTooLarge: the body was over 16 KiB (413).
	ErrBodyTooLarge = reason("body_too_large")
	// ErrUnsupportedEncoding: the body was compressed (415).
	ErrUnsupportedEncoding = reason("unsupported_encoding")
	// ErrRateLimited: a limit refused (429); wait Error.RetryAfter.
	ErrRateLimited = reason("rate_limited")
	// ErrAccountLocked: too many wrong passwords (429); the lock ends
	// after Error.RetryAfter.
	ErrAccountLocked = reason("account_locked")
	// ErrUnavailable: the service's store did not answer (503); retry
	// later.
	ErrUnavailable = reason("unavailable")
	// ErrInternal: a fault of the service (500).
	ErrInternal = reason("internal_error")
	// ErrNotFound: the service has no such path (404): a wrong base URL,
	// or a version of the service without the endpoint.
	ErrNotFound = reason("not_found")
	// ErrMethodNotAllowed: the service has the path, not with the method
	// (405).
	ErrMethodNotAllowed = reason("method_not_allowed")

	// ErrInvalidPhone: the number is not a mobile number.
	ErrInvalidPhone = reason("invalid_phone")
	// ErrCountryNotAllowed: codes are not sent to the number's country.
	ErrCountryNotAllowed = reason("country_not_allowed")
	// ErrUserExists: the number already has an account (registration).
	ErrUserExists = reason("user_exists")
	// ErrSMSVendor: the SMS vendor refused the message; Message is its
	// own text.
	ErrSMSVendor = reason("sms_vendor_error")
	// ErrSMSUnavailable: the SMS vendor could not be reached.
	ErrSMSUnavailable = reason("sms_unavailable")
	// ErrCodeMismatch: the code is wrong.
	ErrCodeMismatch = reason("code_mismatch")
	// ErrCodeExpired: the code is past its lifetime or already used.
	ErrCodeExpired = reason("code_expired")
	// ErrTooManyAttempts: too many wrong tries; ask for a new code.
	ErrTooManyAttempts = reason("too_many_attempts")
	// ErrNoPendingRegistration: no code was sent to the number for a
	// registration, or the registration expired.
	ErrNoPendingRegistration = reason("no_pending_registration")
	// ErrNoPendingCode: no code was sent for a reset or a phone change.
	ErrNoPendingCode = reason("no_pending_code")
	// ErrNotVerified: no verified registration that this client may
	// continue (registration steps 3 and 4).
	ErrNotVerified = reason("not_verified")
	// ErrPasswordLength: the password is too short or too long.
	ErrPasswordLength = reason("password_length")
	// ErrPasswordMismatch: the password and its confirmation differ.
	ErrPasswordMismatch = reason("password_mismatch")
	// ErrInvalidEmail: the address is not one valid address.
	ErrInvalidEmail = reason("invalid_email")
	// ErrEmailTaken: another account has the address.
	ErrEmailTaken = reason("email_taken")
	// ErrPasswordMissing: registration step 4 before step 3.
	ErrPasswordMissing = reason("password_missing")
	// ErrNoSuchUser: no account has the number.
	ErrNoSuchUser = reason("no_such_user")
	// ErrWrongPassword: the password is wrong.
	ErrWrongPassword = reason("wrong_password")
	// ErrStaleRequest: the proof's time stamp is outside the service's
	// window (the device's clock is off). Retrying makes a new proof.
	ErrStaleRequest = reason("stale_request")
	// ErrReplayedRequest: this exact proof was already accepted.
	ErrReplayedRequest = reason("replayed_request")
	// ErrPhoneTaken: another account has the new number.
	ErrPhoneTaken = reason("phone_taken")

	// ErrTokenMissing: an authenticated call went without a token (401).
	ErrTokenMissing = reason("token_missing")
	// ErrUnauthorized: the access token is malformed, expired, revoked
	// or wrongly signed (401). The client refreshes and retries once
	// before it returns this.
	ErrUnauthorized = reason("unauthorized")
	// ErrInvalidRefreshToken: the refresh token cannot be used (401);
	// the client has dropped its session and the error is also
	// ErrLoginRequired.
	ErrInvalidRefreshToken = reason("invalid_refresh_token")
	// ErrRefreshTokenReused: the refresh token was already used, so the
	// service ended the whole session (401); the client has dropped its
	// session and the error is also ErrLoginRequired.
	ErrRefreshTokenReused = reason("refresh_token_reused")
)

// ErrLoginRequired says the client holds no session that the service
// will accept: it never logged in, logged out, deleted the account, or a
// refresh was refused (invalid_refresh_token, refresh_token_reused). The
// app must log in again. When a refusal caused it, errors.As finds the
// service's *Error too.
var ErrLoginRequired = errors.New("phoneauth: log in again")

// loginRequired is ErrLoginRequired caused by the service's refusal.
type loginRequired struct{ cause *Error }

func (e *loginRequired) Error() string {
	return fmt.Sprintf("%v (%s)", ErrLoginRequired, e.cause.Error())
}
func (e *loginRequired) Is(target error) bool { return target == ErrLoginRequired }
func (e *loginRequired) Unwrap() error        { return e.cause }
