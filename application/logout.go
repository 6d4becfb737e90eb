package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// Logout ends the session of the token presented, or with All every
// session of its account.
type Logout struct {
	// AccessToken is the request's access token, if any.
	AccessToken string
	// RefreshToken is a refresh token of the session, for an app whose
	// access token has expired. When present it is the one used.
	RefreshToken string
	All          bool
}

// LogoutHandler revokes sessions.
type LogoutHandler struct {
	auth     *AuthenticateHandler
	users    Users
	sessions Sessions
	clock    Clock
	policy   Policy
}

// NewLogoutHandler builds the handler.
func NewLogoutHandler(auth *AuthenticateHandler, users Users, sessions Sessions, clock Clock, policy Policy) *LogoutHandler {
	return &LogoutHandler{auth: auth, users: users, sessions: sessions, clock: clock, policy: policy}
}

// Handle revokes, durably before it returns, the session the token
// belongs to (its access tokens and its whole refresh chain), keeping
// the record until the last of its tokens would have expired; with All
// it moves the account to a new session generation instead, which ends
// every session opened before. The token must be one the service still
// accepts: otherwise ErrTokenMissing or ErrUnauthorized, as for any
// authenticated request.
func (h *LogoutHandler) Handle(ctx context.Context, in Logout) error {
	now := h.clock.Now()
	var (
		tok  domain.SessionToken
		last time.Time
		err  error
	)
	lifetimes := h.policy.sessionLifetimes()
	switch {
	case in.RefreshToken != "":
		if tok, err = h.checkRefresh(ctx, in.RefreshToken, now); err != nil {
			return err
		}
		last = lifetimes.LastExpiryFromRefresh(tok)
	default:
		p, err := h.auth.check(ctx, in.AccessToken, now)
		if err != nil {
			return err
		}
		tok = accessToken(p.Claims)
		last = lifetimes.LastExpiryFromAccess(tok)
	}
	if in.All {
		_, err := h.users.RevokeSessions(ctx, tok.UserID)
		if errors.Is(err, domain.ErrUserNotFound) {
			return fmt.Errorf("%w: %v", ErrUnauthorized, err)
		}
		if err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		return nil
	}
	var revoked bool
	err = h.sessions.Update(ctx, tok.SessionID, now, func(s *domain.Session) error {
		if revoked = s.Revoked(); revoked {
			return nil
		}
		s.Revoke(tok, last)
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if revoked {
		// A concurrent logout (or a reuse) came first.
		return fmt.Errorf("%w: session revoked", ErrUnauthorized)
	}
	return nil
}

// checkRefresh accepts a refresh token of a live session, whichever
// place in the chain it holds: each proves the session, and presenting a
// used one here only ends the session, as its reuse would.
func (h *LogoutHandler) checkRefresh(ctx context.Context, token string, now time.Time) (domain.SessionToken, error) {
	claims, err := h.auth.tokens.ParseRefresh(token, now)
	if err != nil {
		return domain.SessionToken{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if !h.policy.sessionLifetimes().RefreshLive(refreshToken(claims), now) {
		return domain.SessionToken{}, fmt.Errorf("%w: older than the refresh token lifetime", ErrUnauthorized)
	}
	user, err := h.users.ByID(ctx, claims.UserID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.SessionToken{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if err != nil {
		return domain.SessionToken{}, err
	}
	if !user.AcceptsSession(claims.Generation) {
		return domain.SessionToken{}, fmt.Errorf("%w: sessions of the account revoked", ErrUnauthorized)
	}
	s, err := h.sessions.Get(ctx, claims.SessionID, now)
	if err != nil {
		return domain.SessionToken{}, fmt.Errorf("read session: %w", err)
	}
	if s.Revoked() {
		return domain.SessionToken{}, fmt.Errorf("%w: session revoked", ErrUnauthorized)
	}
	return refreshToken(claims), nil
}
