package application

import (
	"context"
	"time"
)

// Me asks for the account of an authenticated request.
type Me struct {
	// Principal is who AuthenticateHandler found the request comes from.
	Principal Principal
}

// MeResult is the account as its owner sees it.
type MeResult struct {
	Phone     string // E.164
	Email     string
	CreatedAt time.Time
}

// MeHandler answers who the caller is.
type MeHandler struct{}

// NewMeHandler builds the handler.
func NewMeHandler() *MeHandler { return &MeHandler{} }

// Handle returns the principal's account, from the read the token's
// check already made: the token is verified, and the account read, once
// per request. A principal without an account (one AuthenticateHandler
// did not make) is ErrUnauthorized.
func (h *MeHandler) Handle(_ context.Context, in Me) (MeResult, error) {
	u := in.Principal.User
	if u == nil {
		return MeResult{}, ErrUnauthorized
	}
	return MeResult{Phone: u.Phone().E164(), Email: u.Email().String(), CreatedAt: u.CreatedAt()}, nil
}
