package application

import (
	"context"
	"time"
)

// Me asks for the account that presents an access token.
type Me struct {
	Token string
}

// MeResult is the account as its owner sees it.
type MeResult struct {
	Phone     string // E.164
	Email     string
	CreatedAt time.Time
}

// MeHandler answers who the caller is.
type MeHandler struct {
	auth *AuthenticateHandler
}

// NewMeHandler builds the handler.
func NewMeHandler(auth *AuthenticateHandler) *MeHandler {
	return &MeHandler{auth: auth}
}

// Handle authenticates the token (AuthenticateHandler's answers) and
// returns its account, from the read the check already made.
func (h *MeHandler) Handle(ctx context.Context, in Me) (MeResult, error) {
	p, err := h.auth.check(ctx, in.Token, h.auth.clock.Now())
	if err != nil {
		return MeResult{}, err
	}
	return MeResult{Phone: p.User.Phone().E164(), Email: p.User.Email().String(), CreatedAt: p.User.CreatedAt()}, nil
}
