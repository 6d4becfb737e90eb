package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"

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
	phoneKey, emailKey, idKey := []byte(u.Phone().E164()), []byte(u.Email().String()), []byte(u.ID())
	var refused error
	err = r.s.writes.update(func(tx *bbolt.Tx) error {
		// A refusal is an answer, not a failed transaction: returning it
		// would roll back and re-run every other write in the batch.
		refused = checkFree(tx, phoneKey, emailKey, idKey)
		if refused != nil {
			return nil
		}
		return putUser(tx, phoneKey, emailKey, idKey, data)
	})
	if err != nil {
		return unavailable("create user", err)
	}
	return refused
}

// errUserIDTaken is a Create whose user id another account holds: ids
// are 128 random bits, so this is a bug, not an answer for the client.
var errUserIDTaken = errors.New("bolt: create user: user id already taken")

func checkFree(tx *bbolt.Tx, phoneKey, emailKey, idKey []byte) error {
	if tx.Bucket(bucketUsers).Get(phoneKey) != nil {
		return domain.ErrUserExists
	}
	if tx.Bucket(bucketEmails).Get(emailKey) != nil {
		return domain.ErrEmailTaken
	}
	if tx.Bucket(bucketUserIDs).Get(idKey) != nil {
		return errUserIDTaken
	}
	return nil
}

func putUser(tx *bbolt.Tx, phoneKey, emailKey, idKey, data []byte) error {
	if err := tx.Bucket(bucketUsers).Put(phoneKey, data); err != nil {
		return err
	}
	if err := tx.Bucket(bucketUserIDs).Put(idKey, phoneKey); err != nil {
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

// ByID returns the user with that id, or domain.ErrUserNotFound: two
// point reads in one read transaction, the id index and the user.
func (r *Users) ByID(ctx context.Context, id string) (*domain.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("read user", err)
	}
	var (
		doc       userDoc
		phoneKey  []byte
		decodeErr error
	)
	err := r.s.db.View(func(tx *bbolt.Tx) error {
		doc, phoneKey, decodeErr = userByID(tx, []byte(id))
		return nil
	})
	switch {
	case err != nil:
		return nil, unavailable("read user", err)
	case decodeErr != nil:
		return nil, decodeErr
	}
	return restoreByID(phoneKey, doc)
}

// RevokeSessions moves the user to its next session generation
// (domain.User.RevokeSessions) in one write transaction, fsynced before
// it returns, and answers the new generation.
func (r *Users) RevokeSessions(ctx context.Context, id string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable("revoke sessions", err)
	}
	var (
		gen     uint64
		outcome error
	)
	err := r.s.writes.update(func(tx *bbolt.Tx) error {
		// As in Create, an outcome is an answer, not a failed transaction.
		gen, outcome = 0, nil
		doc, phoneKey, err := userByID(tx, []byte(id))
		if err != nil {
			outcome = err
			return nil
		}
		u, err := restoreByID(phoneKey, doc)
		if err != nil {
			outcome = err
			return nil
		}
		u.RevokeSessions()
		data, err := json.Marshal(toUserDoc(u))
		if err != nil {
			outcome = fmt.Errorf("bolt: encode user: %w", err)
			return nil
		}
		gen = u.SessionGeneration()
		return tx.Bucket(bucketUsers).Put(phoneKey, data)
	})
	if err != nil {
		return 0, unavailable("revoke sessions", err)
	}
	return gen, outcome
}

// userByID reads the user the id index points at; the phone key it
// returns is a copy, the document decoded out of the mmap.
func userByID(tx *bbolt.Tx, id []byte) (userDoc, []byte, error) {
	var doc userDoc
	phoneKey := tx.Bucket(bucketUserIDs).Get(id)
	if phoneKey == nil {
		return doc, nil, domain.ErrUserNotFound
	}
	phoneKey = bytes.Clone(phoneKey)
	v := tx.Bucket(bucketUsers).Get(phoneKey)
	if v == nil {
		return doc, nil, fmt.Errorf("bolt: the id index points at %s, which has no user", domain.MaskPhone(string(phoneKey)))
	}
	if err := decodeUserDoc(v, &doc); err != nil {
		return doc, nil, fmt.Errorf("bolt: decode user %s: %w", domain.MaskPhone(string(phoneKey)), err)
	}
	if doc.ID != string(id) {
		return doc, nil, fmt.Errorf("bolt: the id index points at %s, which holds another id", domain.MaskPhone(string(phoneKey)))
	}
	return doc, phoneKey, nil
}

// restoreByID rebuilds a user found through the id index from the number
// it is stored under. The number was parsed when the account was made:
// it is restored, not parsed again (every authenticated request comes
// here).
func restoreByID(phoneKey []byte, doc userDoc) (*domain.User, error) {
	phone, err := storedPhone(phoneKey)
	if err != nil {
		return nil, err
	}
	return doc.toDomain(phone)
}

// storedPhone restores the number a user is stored under, without
// parsing it again.
func storedPhone(phoneKey []byte) (domain.PhoneNumber, error) {
	phone, err := domain.RestorePhoneNumber(string(phoneKey))
	if err != nil {
		return domain.PhoneNumber{}, fmt.Errorf("bolt: stored user %s: %w", domain.MaskPhone(string(phoneKey)), err)
	}
	return phone, nil
}

// ensureUserIDIndex builds the id index (id -> number) of a file written
// before it existed, once, in the transaction that opens the store: the
// bucket's presence says it is complete. A user record that cannot be
// decoded is logged and left out (ByID does not find it; ByPhone still
// reports the error).
func ensureUserIDIndex(tx *bbolt.Tx, log *zap.Logger) error {
	if tx.Bucket(bucketUserIDs) != nil {
		return nil
	}
	index, err := tx.CreateBucket(bucketUserIDs)
	if err != nil {
		return err
	}
	type entry struct{ id, phone []byte }
	var entries []entry
	err = tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		var doc userDoc
		if err := decodeUserDoc(v, &doc); err != nil {
			log.Warn("undecodable user left out of the id index", zap.String("phone", domain.MaskPhone(string(k))), zap.Error(err))
			return nil
		}
		entries = append(entries, entry{[]byte(doc.ID), bytes.Clone(k)})
		return nil
	})
	if err != nil {
		return err
	}
	// Sorted inserts append to pages instead of splitting them.
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.id, b.id) })
	index.FillPercent = 0.9
	for _, e := range entries {
		if err := index.Put(e.id, e.phone); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		log.Info("built the user id index", zap.Int("users", len(entries)))
	}
	return nil
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
