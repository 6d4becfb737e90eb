package mongo

import (
	"context"
	"errors"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// errNotYet marks the account changes of issue 13 that this store does
// not implement yet. TEMPORARY: replaced by the real implementations
// before the issue closes.
var errNotYet = errors.New("mongo: not implemented yet")

// Update is not implemented yet.
func (r *Users) Update(context.Context, string, func(*domain.User) error) (*domain.User, error) {
	return nil, errNotYet
}

// Delete is not implemented yet.
func (r *Users) Delete(context.Context, string) error { return errNotYet }

// PendingCodes will store the codes of the purposes other than
// registration. TEMPORARY: not implemented yet.
type PendingCodes struct{ s *Store }

// PendingCodes returns the store's codes of the other purposes.
func (s *Store) PendingCodes() *PendingCodes { return &PendingCodes{s: s} }

// Upsert is not implemented yet.
func (r *PendingCodes) Upsert(context.Context, string, time.Time, func(*domain.PendingCode) *domain.PendingCode) error {
	return errNotYet
}

// Update is not implemented yet.
func (r *PendingCodes) Update(context.Context, string, time.Time, func(*domain.PendingCode) error) error {
	return errNotYet
}

// Delete is not implemented yet.
func (r *PendingCodes) Delete(context.Context, string) error { return errNotYet }

// DeleteExpired is not implemented yet.
func (r *PendingCodes) DeleteExpired(context.Context, time.Time) (int, error) { return 0, nil }
