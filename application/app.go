// Package application holds what the service does: one use case a file
// (the four registration steps, login, the session's refresh,
// authentication, account read and logout, and the account's recovery
// and changes), the ports they need (ports.go), and the policy values
// they run under. It knows no HTTP, no database and no SMS vendor.
package application

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// Policy holds the tunable rules of the use cases; docs/api.md
// (Configuration) lists the setting behind each and its default.
type Policy struct {
	CodeTTL            time.Duration
	ResendInterval     time.Duration
	DailyLimitPerPhone int
	HourlyLimitPerIP   int
	HourlyLimitGlobal  int
	AllowedCountries   domain.CountryAllowList
	CodeMaxAttempts    int
	RegistrationTTL    time.Duration
	Password           domain.PasswordPolicy
	LoginTimeWindow    time.Duration
	LoginMaxFailures   int
	LoginLockout       time.Duration
	// Binding says who may continue a verified registration.
	Binding domain.RegistrationBinding
	// FailuresHourlyPerNet caps a client network's failures per hour
	// (failed logins and proofs, wrong codes, answers that tell whether a
	// number is registered); past it those endpoints answer 429.
	FailuresHourlyPerNet int
	// CodeDailyFailuresPerPhone caps wrong codes per number per 24 h
	// across all its codes; past it every code of the number is dead.
	CodeDailyFailuresPerPhone int
	// CodeHourlyFailuresGlobal caps wrong codes per hour for the whole
	// deployment; past it code checks answer 429.
	CodeHourlyFailuresGlobal int
	// LoginHourlyLimitPerAccount caps successful logins per account per
	// hour.
	LoginHourlyLimitPerAccount int
	// AccessTTL is how long an access token lives from its issue.
	AccessTTL time.Duration
	// RefreshTTL is how long a refresh token lives from its issue; each
	// successor lives this long from its own.
	RefreshTTL time.Duration
	// RefreshReuseGrace is how long after a refresh the token it used is
	// answered again with the same pair (for a client that lost the
	// answer) instead of revoking the session as reused.
	RefreshReuseGrace time.Duration
}

// sessionLifetimes are the policy's token lifetimes, as the domain's
// session rules take them.
func (p Policy) sessionLifetimes() domain.SessionLifetimes {
	return domain.SessionLifetimes{Access: p.AccessTTL, Refresh: p.RefreshTTL, ReuseGrace: p.RefreshReuseGrace}
}

// App groups the use cases the adapters drive. The wiring fills every
// field (wire.Struct); a test may leave out the use cases it does not
// drive.
type App struct {
	SendCode        *SendCodeHandler
	VerifyCode      *VerifyCodeHandler
	SetPassword     *SetPasswordHandler
	CompleteProfile *CompleteProfileHandler
	Login           *LoginHandler
	// The session use cases: Authenticate checks the access token of
	// every authenticated request, and its Principal is what Me (and the
	// use cases to come that act for an account) are handed.
	Refresh      *RefreshHandler
	Authenticate *AuthenticateHandler
	Me           *MeHandler
	Logout       *LogoutHandler
	// Account recovery and changes: a password reset by SMS code (two
	// steps), and, for an authenticated owner who proves the password,
	// a password change, a phone change (two steps) and the account's
	// deletion.
	ResetPasswordSend *ResetPasswordSendHandler
	ResetPassword     *ResetPasswordHandler
	ChangePassword    *ChangePasswordHandler
	ChangePhoneSend   *ChangePhoneSendHandler
	ChangePhone       *ChangePhoneHandler
	DeleteAccount     *DeleteAccountHandler
}

// newCode draws a 6-digit code uniformly from a CSPRNG.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	s := n.String()
	for len(s) < 6 {
		s = "0" + s
	}
	return s, nil
}

// newRegistrationToken returns 256 random bits, base64url without
// padding: the token step 2 hands to the client that verified.
func newRegistrationToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newID returns 128 random bits as hex, for user and session ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
