package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// Authenticate asks who presents an access token.
type Authenticate struct {
	// Token is the access token; empty when the request carried none.
	Token string
}

// Principal is who an authenticated request comes from: what the token
// says, and the account as it stands.
type Principal struct {
	Claims AccessClaims
	User   *domain.User
}

// AuthenticateHandler checks access tokens, revocation included: every
// authenticated request goes through it.
type AuthenticateHandler struct {
	tokens   Tokens
	users    Users
	sessions Sessions
	clock    Clock
	policy   Policy
}

// NewAuthenticateHandler builds the handler.
func NewAuthenticateHandler(tokens Tokens, users Users, sessions Sessions, clock Clock, policy Policy) *AuthenticateHandler {
	return &AuthenticateHandler{tokens: tokens, users: users, sessions: sessions, clock: clock, policy: policy}
}

// Handle returns the principal, ErrTokenMissing for no token, or
// ErrUnauthorized for a token that is invalid, expired (or older than
// AccessTTL, should the policy have shortened it since), or of a session
// revoked one way or the other: its own (logout, reuse) or every one of
// its account's (a newer session generation), or of an account that no
// longer exists. A revocation holds from the next request on, on every
// instance: both are point reads of the stores, never of a cache.
func (h *AuthenticateHandler) Handle(ctx context.Context, in Authenticate) (Principal, error) {
	return h.check(ctx, in.Token, h.clock.Now())
}

func (h *AuthenticateHandler) check(ctx context.Context, token string, now time.Time) (Principal, error) {
	if token == "" {
		return Principal{}, ErrTokenMissing
	}
	claims, err := h.tokens.ParseAccess(token, now)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if !h.policy.sessionLifetimes().AccessLive(accessToken(claims), now) {
		return Principal{}, fmt.Errorf("%w: older than the access token lifetime", ErrUnauthorized)
	}
	s, err := h.sessions.Get(ctx, claims.SessionID, now)
	if err != nil {
		return Principal{}, fmt.Errorf("read session: %w", err)
	}
	if s.Revoked() {
		return Principal{}, fmt.Errorf("%w: session revoked", ErrUnauthorized)
	}
	user, err := h.users.ByID(ctx, claims.UserID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if err != nil {
		return Principal{}, err
	}
	if !user.AcceptsSession(claims.Generation) {
		return Principal{}, fmt.Errorf("%w: sessions of the account revoked", ErrUnauthorized)
	}
	return Principal{Claims: claims, User: user}, nil
}
