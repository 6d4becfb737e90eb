package application

import (
	"context"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// Login is the seed's login request; TimeStamp is the decimal text the
// client hashed, whether it arrived as a JSON string or number.
type Login struct {
	Phone         string
	EncryptionStr string
	RandomStr     string
	TimeStamp     string
	// ClientNet names the client's network, the key of every per-client
	// limit: the HTTP edge fills it from the client's address.
	ClientNet string
}

// LoginResult is a successful login: the account's email and the first
// pair of the session it opened.
type LoginResult struct {
	Email string
	SessionTokens
}

// LoginHandler checks login proofs.
type LoginHandler struct {
	proofs proofCheck
	issuer *SessionIssuer
	clock  Clock
	policy Policy
}

// NewLoginHandler builds the login handler.
func NewLoginHandler(users Users, vault PasswordVault, lockouts Lockouts, limits RateLimits, nonces Nonces, issuer *SessionIssuer, clock Clock, policy Policy) *LoginHandler {
	return &LoginHandler{
		proofs: proofCheck{users: users, vault: vault, lockouts: lockouts, limits: limits, nonces: nonces, policy: policy},
		issuer: issuer, clock: clock, policy: policy,
	}
}

// Handle checks, in order: the time window, the client network's failure
// budget, the account, its lock, the proof, the account's hourly logins,
// and only then claims the request's nonce (proofCheck.check).
// A successful login opens a session (SessionIssuer.Open) and writes
// nothing durable.
func (h *LoginHandler) Handle(ctx context.Context, in Login) (LoginResult, error) {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return LoginResult{}, err
	}
	now := h.clock.Now()
	var logins rule
	if h.policy.LoginHourlyLimitPerAccount > 0 {
		logins = rule{LimitLoginHourly, "logins:" + phone.E164(), h.policy.LoginHourlyLimitPerAccount, time.Hour}
	}
	p := Proof{EncryptionStr: in.EncryptionStr, RandomStr: in.RandomStr, TimeStamp: in.TimeStamp}
	user, err := h.proofs.check(ctx, phone, nil, p, in.ClientNet, logins, now)
	if err != nil {
		return LoginResult{}, err
	}
	pair, err := openSession(h.issuer, user, now)
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Email: user.Email().String(), SessionTokens: pair}, nil
}
