package bolt

import (
	"context"
	"errors"

	"github.com/phoneauth/phoneauth/domain"
)

// errNotYet marks the account changes of issue 13 that this store does
// not implement yet. TEMPORARY: replaced by the real implementations
// before the issue closes.
var errNotYet = errors.New("bolt: not implemented yet")

// Update is not implemented yet.
func (r *Users) Update(context.Context, string, func(*domain.User) error) (*domain.User, error) {
	return nil, errNotYet
}

// Delete is not implemented yet.
func (r *Users) Delete(context.Context, string) error { return errNotYet }
