package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/phoneauth/phoneauth/domain"
)

// Refresh trades a refresh token for its successor pair.
type Refresh struct {
	RefreshToken string
}

// RefreshHandler rotates refresh tokens.
type RefreshHandler struct {
	issuer   *SessionIssuer
	users    Users
	sessions Sessions
	clock    Clock
	policy   Policy
}

// NewRefreshHandler builds the refresh handler.
func NewRefreshHandler(issuer *SessionIssuer, users Users, sessions Sessions, clock Clock, policy Policy) *RefreshHandler {
	return &RefreshHandler{issuer: issuer, users: users, sessions: sessions, clock: clock, policy: policy}
}

// Handle answers the successor of the presented token, recorded durably
// before it is answered; the same pair again to a token used within the
// grace period; ErrRefreshTokenReused, having revoked the session, to
// one used before that; and ErrInvalidRefreshToken to a token it cannot
// vouch for, expired (or older than RefreshTTL, should the policy have
// shortened it since), of a revoked session, or of an account whose
// sessions were revoked or that no longer exists. Concurrent refreshes of one token
// make one successor: the session store's atomic update decides, and
// the others find the successor issued within the grace.
func (h *RefreshHandler) Handle(ctx context.Context, in Refresh) (SessionTokens, error) {
	if in.RefreshToken == "" {
		return SessionTokens{}, ErrInvalidRefreshToken
	}
	now := h.clock.Now()
	claims, err := h.issuer.tokens.ParseRefresh(in.RefreshToken, now)
	if err != nil {
		return SessionTokens{}, fmt.Errorf("%w: %v", ErrInvalidRefreshToken, err)
	}
	user, err := h.users.ByID(ctx, claims.UserID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return SessionTokens{}, fmt.Errorf("%w: %v", ErrInvalidRefreshToken, err)
	}
	if err != nil {
		return SessionTokens{}, err
	}
	tok, lifetimes := refreshToken(claims), h.policy.sessionLifetimes()
	if !lifetimes.RefreshLive(tok, now) {
		return SessionTokens{}, fmt.Errorf("%w: older than the refresh token lifetime", ErrInvalidRefreshToken)
	}
	// Refused here, before the store is asked to write: a dead token
	// replayed in a loop must not cost a synced write each time.
	if !user.AcceptsSession(claims.Generation) {
		return SessionTokens{}, fmt.Errorf("%w: sessions of the account revoked", ErrInvalidRefreshToken)
	}
	var (
		decision domain.RefreshDecision
		issue    domain.SessionIssue
	)
	err = h.sessions.Update(ctx, claims.SessionID, now, func(s *domain.Session) error {
		decision = s.Refresh(tok, user.SessionGeneration(), now, lifetimes)
		issue = s.Current()
		return nil
	})
	if err != nil {
		return SessionTokens{}, fmt.Errorf("record refresh: %w", err)
	}
	switch decision {
	case domain.RefreshAdvanced, domain.RefreshRepeated:
		// The account was read before the session was recorded: a
		// logout-all acknowledged in between must not be followed by a
		// fresh pair of a session it revoked, so read it once more.
		user, err := h.users.ByID(ctx, claims.UserID)
		if errors.Is(err, domain.ErrUserNotFound) {
			return SessionTokens{}, fmt.Errorf("%w: %v", ErrInvalidRefreshToken, err)
		}
		if err != nil {
			return SessionTokens{}, err
		}
		if !user.AcceptsSession(issue.Generation) {
			return SessionTokens{}, fmt.Errorf("%w: sessions of the account revoked", ErrInvalidRefreshToken)
		}
		return h.issuer.sign(issue)
	case domain.RefreshReused:
		return SessionTokens{}, ErrRefreshTokenReused
	default:
		return SessionTokens{}, ErrInvalidRefreshToken
	}
}
