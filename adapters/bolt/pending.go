package bolt

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneauth/phoneauth/domain"
)

// PendingRegistrations stores registrations in progress in the pending
// bucket, one record per E.164 number; it is the bbolt
// application.PendingRegistrations. Each read-modify-write is one write
// transaction.
type PendingRegistrations struct{ s *Store }

// Save stores p, replacing whatever registration its phone had.
func (r *PendingRegistrations) Save(ctx context.Context, p *domain.PendingRegistration) error {
	if err := ctx.Err(); err != nil {
		return unavailable("save pending registration", err)
	}
	data, err := encodePendingDoc(toPendingDoc(p))
	if err != nil {
		return fmt.Errorf("bolt: encode pending registration: %w", err)
	}
	key := []byte(p.Phone().E164())
	err = r.s.writes.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPending).Put(key, data)
	})
	if err != nil {
		return unavailable("save pending registration", err)
	}
	return nil
}

// Get returns phone's registration if it is live at now, else
// domain.ErrNoPending.
func (r *PendingRegistrations) Get(ctx context.Context, phone domain.PhoneNumber, now time.Time) (*domain.PendingRegistration, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("read pending registration", err)
	}
	var (
		doc       pendingDoc
		found     bool
		decodeErr error
	)
	err := r.s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketPending).Get([]byte(phone.E164())); v != nil {
			found, decodeErr = true, decodePendingDoc(v, &doc)
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, unavailable("read pending registration", err)
	case !found:
		return nil, domain.ErrNoPending
	case decodeErr != nil:
		return nil, fmt.Errorf("bolt: decode pending registration %s: %w", phone.Masked(), decodeErr)
	case !now.Before(doc.ExpiresAt):
		return nil, domain.ErrNoPending
	}
	return doc.toDomain(phone)
}

// Update applies fn to phone's live registration and stores the result in
// one write transaction. fn's error is returned and nothing is stored; an
// absent or expired registration is domain.ErrNoPending and fn is not
// called. fn may run more than once (see the package comment).
func (r *PendingRegistrations) Update(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) error) error {
	return r.rewritePending(ctx, "update pending registration", phone, func(stored []byte) ([]byte, error) {
		return applyUpdate(stored, phone, now, fn)
	})
}

// Upsert gives fn phone's live registration, or nil when it has none (or
// only an expired one), and stores what fn returns, in one write
// transaction. fn may run more than once (see the package comment).
func (r *PendingRegistrations) Upsert(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) *domain.PendingRegistration) error {
	return r.rewritePending(ctx, "upsert pending registration", phone, func(stored []byte) ([]byte, error) {
		return applyUpsert(stored, phone, now, fn)
	})
}

// rewritePending replaces phone's stored registration with what apply
// makes of it (nil when there is none), in one write transaction. As in
// Users.Create, an error from apply is an answer: recorded, not returned
// to bbolt, so the rest of the batch commits; nothing is stored for it.
func (r *PendingRegistrations) rewritePending(ctx context.Context, op string, phone domain.PhoneNumber, apply func(stored []byte) ([]byte, error)) error {
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	key := []byte(phone.E164())
	var outcome error
	err := r.s.writes.update(func(tx *bbolt.Tx) error {
		var data []byte
		data, outcome = apply(tx.Bucket(bucketPending).Get(key))
		if outcome != nil {
			return nil
		}
		return tx.Bucket(bucketPending).Put(key, data)
	})
	if err != nil {
		return unavailable(op, err)
	}
	return outcome
}

// applyUpsert decodes a stored registration if it is live, applies fn and
// encodes the result.
func applyUpsert(stored []byte, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) *domain.PendingRegistration) ([]byte, error) {
	var cur *domain.PendingRegistration
	if stored != nil {
		var doc pendingDoc
		if err := decodePendingDoc(stored, &doc); err != nil {
			return nil, fmt.Errorf("bolt: decode pending registration %s: %w", phone.Masked(), err)
		}
		if now.Before(doc.ExpiresAt) {
			reg, err := doc.toDomain(phone)
			if err != nil {
				return nil, err
			}
			cur = reg
		}
	}
	next := fn(cur)
	if next.Phone() != phone {
		return nil, fmt.Errorf("bolt: upsert of %s returned another number's registration", phone.Masked())
	}
	data, err := encodePendingDoc(toPendingDoc(next))
	if err != nil {
		return nil, fmt.Errorf("bolt: encode pending registration: %w", err)
	}
	return data, nil
}

// applyUpdate decodes a stored registration, applies fn and encodes the
// result.
func applyUpdate(stored []byte, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) error) ([]byte, error) {
	if stored == nil {
		return nil, domain.ErrNoPending
	}
	var doc pendingDoc
	if err := decodePendingDoc(stored, &doc); err != nil {
		return nil, fmt.Errorf("bolt: decode pending registration %s: %w", phone.Masked(), err)
	}
	if !now.Before(doc.ExpiresAt) {
		return nil, domain.ErrNoPending
	}
	reg, err := doc.toDomain(phone)
	if err != nil {
		return nil, err
	}
	if err := fn(reg); err != nil {
		return nil, err
	}
	data, err := encodePendingDoc(toPendingDoc(reg))
	if err != nil {
		return nil, fmt.Errorf("bolt: encode pending registration: %w", err)
	}
	return data, nil
}

// Delete removes phone's registration; an absent one is not an error, as
// a concurrent step 4 may have removed it first.
func (r *PendingRegistrations) Delete(ctx context.Context, phone domain.PhoneNumber) error {
	if err := ctx.Err(); err != nil {
		return unavailable("delete pending registration", err)
	}
	key := []byte(phone.E164())
	err := r.s.writes.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPending).Delete(key)
	})
	if err != nil {
		return unavailable("delete pending registration", err)
	}
	return nil
}
