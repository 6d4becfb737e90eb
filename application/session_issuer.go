package application

import (
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// SessionTokens is a signed pair as a client receives it: the access
// token, the refresh token, and how long each lives from its issue.
type SessionTokens struct {
	Token            string
	ExpiresIn        time.Duration
	RefreshToken     string
	RefreshExpiresIn time.Duration
}

// SessionIssuer opens sessions and signs their pairs. Opening one writes
// nothing: the tokens describe the session until something happens to it.
type SessionIssuer struct {
	tokens Tokens
	policy Policy
}

// NewSessionIssuer builds the issuer.
func NewSessionIssuer(tokens Tokens, policy Policy) *SessionIssuer {
	return &SessionIssuer{tokens: tokens, policy: policy}
}

// Open opens a new session at now for the account userID, under the
// account's session generation as it stands (domain.User.SessionGeneration,
// or what Users.RevokeSessions answered), and returns its first pair.
func (i *SessionIssuer) Open(userID string, generation uint64, now time.Time) (SessionTokens, error) {
	return i.sign(domain.OpenSession(newID(), userID, generation, now, i.policy.sessionLifetimes()))
}

// sign signs a pair. The signer is deterministic, so signing the same
// issue again gives the same tokens: what a refresh repeated within the
// grace answers.
func (i *SessionIssuer) sign(p domain.SessionIssue) (SessionTokens, error) {
	access := AccessClaims{
		UserID: p.UserID, SessionID: p.SessionID, Generation: p.Generation,
		IssuedAt: p.AccessIssuedAt(), ExpiresAt: p.AccessExpiresAt,
	}
	refresh := RefreshClaims{
		UserID: p.UserID, SessionID: p.SessionID, Generation: p.Generation, Seq: p.Seq,
		IssuedAt: p.IssuedAt, ExpiresAt: p.RefreshExpiresAt,
	}
	at, err := i.tokens.IssueAccess(access)
	if err != nil {
		return SessionTokens{}, fmt.Errorf("sign access token: %w", err)
	}
	rt, err := i.tokens.IssueRefresh(refresh)
	if err != nil {
		return SessionTokens{}, fmt.Errorf("sign refresh token: %w", err)
	}
	return SessionTokens{
		Token:            at,
		ExpiresIn:        access.ExpiresAt.Sub(access.IssuedAt),
		RefreshToken:     rt,
		RefreshExpiresIn: refresh.ExpiresAt.Sub(refresh.IssuedAt),
	}, nil
}

// accessToken is what access claims say of their session.
func accessToken(c AccessClaims) domain.SessionToken {
	return domain.SessionToken{
		SessionID: c.SessionID, UserID: c.UserID, Generation: c.Generation,
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	}
}

// refreshToken is what refresh claims say of their session.
func refreshToken(c RefreshClaims) domain.SessionToken {
	return domain.SessionToken{
		SessionID: c.SessionID, UserID: c.UserID, Generation: c.Generation, Seq: c.Seq,
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	}
}
