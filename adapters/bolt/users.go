package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/phoneauth/phoneauth/domain"
)

// Users stores accounts in the users bucket, keyed by the E.164 number,
// with the email index beside it; it is the bbolt application.Users.
type Users struct{ s *Store }

// Create stores a new user, refusing a taken phone (domain.ErrUserExists,
// checked first) or a taken email (domain.ErrEmailTaken) in the same
// transaction as the insert, so concurrent creates cannot both win.
func (r *Users) Create(ctx context.Context, u *domain.User) error {
	if err := ctx.Err(); err != nil {
		return unavailable("create user", err)
	}
	if u.Phone().IsZero() || u.Email().IsZero() {
		return fmt.Errorf("bolt: create user: phone and email are required")
	}
	data, err := json.Marshal(toUserDoc(u))
	if err != nil {
		return fmt.Errorf("bolt: encode user: %w", err)
	}
	phoneKey, emailKey := []byte(u.Phone().E164()), []byte(u.Email().String())
	var refused error
	err = r.s.writes.update(func(tx *bbolt.Tx) error {
		// A refusal is an answer, not a failed transaction: returning it
		// would roll back and re-run every other write in the batch.
		refused = checkFree(tx, phoneKey, emailKey)
		if refused != nil {
			return nil
		}
		return putUser(tx, phoneKey, emailKey, data)
	})
	if err != nil {
		return unavailable("create user", err)
	}
	return refused
}

func checkFree(tx *bbolt.Tx, phoneKey, emailKey []byte) error {
	if tx.Bucket(bucketUsers).Get(phoneKey) != nil {
		return domain.ErrUserExists
	}
	if tx.Bucket(bucketEmails).Get(emailKey) != nil {
		return domain.ErrEmailTaken
	}
	return nil
}

func putUser(tx *bbolt.Tx, phoneKey, emailKey, data []byte) error {
	if err := tx.Bucket(bucketUsers).Put(phoneKey, data); err != nil {
		return err
	}
	return tx.Bucket(bucketEmails).Put(emailKey, phoneKey)
}

// ByPhone returns the user registered under phone, or domain.ErrUserNotFound.
// It is on every login, so it reads one key and parses no phone number.
func (r *Users) ByPhone(ctx context.Context, phone domain.PhoneNumber) (*domain.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("read user", err)
	}
	var (
		doc       userDoc
		found     bool
		decodeErr error
	)
	err := r.s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketUsers).Get([]byte(phone.E164()))
		if v != nil {
			// Decoding copies out of the mmap, which the transaction's
			// end may unmap.
			found, decodeErr = true, decodeUserDoc(v, &doc)
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, unavailable("read user", err)
	case !found:
		return nil, domain.ErrUserNotFound
	case decodeErr != nil:
		return nil, fmt.Errorf("bolt: decode user %s: %w", phone.Masked(), decodeErr)
	}
	return doc.toDomain(phone)
}

// Exists reports whether phone is registered.
func (r *Users) Exists(ctx context.Context, phone domain.PhoneNumber) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, unavailable("look up user", err)
	}
	var found bool
	err := r.s.db.View(func(tx *bbolt.Tx) error {
		found = tx.Bucket(bucketUsers).Get([]byte(phone.E164())) != nil
		return nil
	})
	if err != nil {
		return false, unavailable("look up user", err)
	}
	return found, nil
}
