// Package bolt is the embedded, durable store of the single-node mode: users
// and pending registrations in one go.etcd.io/bbolt file under DATA_DIR, so
// that a fresh machine needs nothing else to run the service.
//
// Documents are JSON in three buckets: users under their E.164 number, an
// email index (address -> number) that lets Create check both uniqueness
// rules in the same write transaction, and pending registrations under their
// number. Every write is fsynced before it returns: an acknowledged answer
// survives kill -9. Concurrent writes share commits (groupCommit), which
// may run a write's function more than once; each function therefore
// recomputes everything it reports on every run.
//
// Failures of the file or of bbolt wrap application.ErrUnavailable.
package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

var (
	bucketUsers   = []byte("users")
	bucketEmails  = []byte("users_by_email")
	bucketPending = []byte("pending")
)

// Tuning, variables only so that tests can shrink them.
var (
	// lockTimeout bounds the wait for the file lock, so that a second
	// process on the same DATA_DIR fails at start instead of hanging.
	lockTimeout = 5 * time.Second
	// sweepScan bounds how many records one sweeping transaction reads,
	// so the sweeper never holds the single writer lock for long.
	sweepScan = 10_000
)

// bulkChunk is how many users one BulkCreateUsers transaction holds: large
// enough that a million users take a few dozen fsyncs, small enough to keep
// a transaction's dirty pages in tens of megabytes.
const bulkChunk = 50_000

// Store is the bbolt-backed application.Users, application.PendingRegistrations
// and application.Expirer (of expired pending registrations). It is safe for
// concurrent use.
type Store struct {
	db     *bbolt.DB
	writes *groupCommit
	log    *zap.Logger
}

// Open opens (creating if needed, with its directory) the store file at
// path, readable by its owner only. log may be nil.
func Open(path string, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("bolt")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, unavailable("create data dir", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: lockTimeout,
		// The hashmap freelist keeps commits fast as the file grows to
		// millions of users; the default array one is linear in free pages.
		FreelistType: bbolt.FreelistMapType,
		// Nothing reads bbolt's statistics, and keeping them takes a
		// process-wide lock twice in every read transaction.
		NoStatistics: true,
	})
	if err != nil {
		return nil, unavailable("open "+path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketUsers, bucketEmails, bucketPending} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, unavailable("create buckets", err)
	}
	log.Info("store opened", zap.String("path", path))
	return &Store{db: db, writes: newGroupCommit(db), log: log}, nil
}

// Close waits for running transactions and closes the file; the Store
// answers ErrUnavailable afterwards.
func (s *Store) Close() error {
	s.writes.close()
	if err := s.db.Close(); err != nil {
		return unavailable("close", err)
	}
	s.log.Info("store closed")
	return nil
}

// Ping reports whether the store can run a transaction, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return unavailable("ping", err)
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers) == nil {
			return errors.New("users bucket missing")
		}
		return nil
	})
	if err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Create stores a new user, refusing a taken phone (domain.ErrUserExists,
// checked first) or a taken email (domain.ErrEmailTaken) in the same
// transaction as the insert, so concurrent creates cannot both win.
func (s *Store) Create(ctx context.Context, u *domain.User) error {
	if err := ctx.Err(); err != nil {
		return unavailable("create user", err)
	}
	if u.Phone().IsZero() || u.Email().IsZero() {
		return fmt.Errorf("bolt: create user: phone and email are required")
	}
	data, err := json.Marshal(toDBUser(u))
	if err != nil {
		return fmt.Errorf("bolt: encode user: %w", err)
	}
	phoneKey, emailKey := []byte(u.Phone().E164()), []byte(u.Email().String())
	var refused error
	err = s.writes.update(func(tx *bbolt.Tx) error {
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
func (s *Store) ByPhone(ctx context.Context, phone domain.PhoneNumber) (*domain.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("read user", err)
	}
	var (
		doc       userDoc
		found     bool
		decodeErr error
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
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
	return fromDBUser(phone, doc)
}

// Exists reports whether phone is registered.
func (s *Store) Exists(ctx context.Context, phone domain.PhoneNumber) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, unavailable("look up user", err)
	}
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		found = tx.Bucket(bucketUsers).Get([]byte(phone.E164())) != nil
		return nil
	})
	if err != nil {
		return false, unavailable("look up user", err)
	}
	return found, nil
}

// BulkCreateUsers inserts many users in a few large transactions, for
// preloading benchmark data; the uniqueness rules hold as in Create. It
// sorts the users by number first, so bbolt appends to pages instead of
// splitting them. A refused user fails its whole transaction, but the
// transactions before it stay committed.
func (s *Store) BulkCreateUsers(ctx context.Context, users []*domain.User) error {
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b *domain.User) int {
		return strings.Compare(a.Phone().E164(), b.Phone().E164())
	})
	type record struct{ phone, email, data []byte }
	for start := 0; start < len(sorted); start += bulkChunk {
		if err := ctx.Err(); err != nil {
			return unavailable("bulk create users", err)
		}
		chunk := sorted[start:min(start+bulkChunk, len(sorted))]
		records := make([]record, len(chunk))
		for i, u := range chunk {
			if u.Phone().IsZero() || u.Email().IsZero() {
				return fmt.Errorf("bolt: bulk create users: a user has no phone or email")
			}
			data, err := json.Marshal(toDBUser(u))
			if err != nil {
				return fmt.Errorf("bolt: encode user: %w", err)
			}
			records[i] = record{[]byte(u.Phone().E164()), []byte(u.Email().String()), data}
		}
		byEmail := slices.Clone(records)
		slices.SortFunc(byEmail, func(a, b record) int { return bytes.Compare(a.email, b.email) })
		var refused error
		err := s.db.Update(func(tx *bbolt.Tx) error {
			users, emails := tx.Bucket(bucketUsers), tx.Bucket(bucketEmails)
			// Sorted inserts leave pages nearly full; the default of one
			// half would double the file for nothing.
			users.FillPercent, emails.FillPercent = 0.9, 0.9
			for _, r := range records {
				if users.Get(r.phone) != nil {
					refused = fmt.Errorf("%w: %s", domain.ErrUserExists, domain.MaskPhone(string(r.phone)))
					return refused
				}
				if err := users.Put(r.phone, r.data); err != nil {
					return err
				}
			}
			for _, r := range byEmail {
				if emails.Get(r.email) != nil {
					refused = fmt.Errorf("%w: user %s", domain.ErrEmailTaken, domain.MaskPhone(string(r.phone)))
					return refused
				}
				if err := emails.Put(r.email, r.phone); err != nil {
					return err
				}
			}
			return nil
		})
		if refused != nil {
			return fmt.Errorf("bolt: bulk create users: %w", refused)
		}
		if err != nil {
			return unavailable("bulk create users", err)
		}
	}
	return nil
}

// Save stores p, replacing whatever registration its phone had.
func (s *Store) Save(ctx context.Context, p *domain.PendingRegistration) error {
	if err := ctx.Err(); err != nil {
		return unavailable("save pending registration", err)
	}
	data, err := encodePendingDoc(toDBPending(p.Snapshot()))
	if err != nil {
		return fmt.Errorf("bolt: encode pending registration: %w", err)
	}
	key := []byte(p.Phone().E164())
	err = s.writes.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPending).Put(key, data)
	})
	if err != nil {
		return unavailable("save pending registration", err)
	}
	return nil
}

// Get returns phone's registration if it is live at now, else
// domain.ErrNoPending.
func (s *Store) Get(ctx context.Context, phone domain.PhoneNumber, now time.Time) (*domain.PendingRegistration, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("read pending registration", err)
	}
	var (
		doc       pendingDoc
		found     bool
		decodeErr error
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
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
	return fromDBPending(phone, doc)
}

// Update applies fn to phone's live registration and stores the result in
// one write transaction. fn's error is returned and nothing is stored; an
// absent or expired registration is domain.ErrNoPending and fn is not
// called. fn may run more than once (see the package comment).
func (s *Store) Update(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) error) error {
	return s.rewritePending(ctx, "update pending registration", phone, func(stored []byte) ([]byte, error) {
		return applyUpdate(stored, phone, now, fn)
	})
}

// Upsert gives fn phone's live registration, or nil when it has none (or
// only an expired one), and stores what fn returns, in one write
// transaction. fn may run more than once (see the package comment).
func (s *Store) Upsert(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) *domain.PendingRegistration) error {
	return s.rewritePending(ctx, "upsert pending registration", phone, func(stored []byte) ([]byte, error) {
		return applyUpsert(stored, phone, now, fn)
	})
}

// rewritePending replaces phone's stored registration with what apply
// makes of it (nil when there is none), in one write transaction. As in
// Create, an error from apply is an answer: recorded, not returned to
// bbolt, so the rest of the batch commits; nothing is stored for it.
func (s *Store) rewritePending(ctx context.Context, op string, phone domain.PhoneNumber, apply func(stored []byte) ([]byte, error)) error {
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	key := []byte(phone.E164())
	var outcome error
	err := s.writes.update(func(tx *bbolt.Tx) error {
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
			reg, err := fromDBPending(phone, doc)
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
	data, err := encodePendingDoc(toDBPending(next.Snapshot()))
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
	reg, err := fromDBPending(phone, doc)
	if err != nil {
		return nil, err
	}
	if err := fn(reg); err != nil {
		return nil, err
	}
	data, err := encodePendingDoc(toDBPending(reg.Snapshot()))
	if err != nil {
		return nil, fmt.Errorf("bolt: encode pending registration: %w", err)
	}
	return data, nil
}

// Delete removes phone's registration; an absent one is not an error, as
// a concurrent step 4 may have removed it first.
func (s *Store) Delete(ctx context.Context, phone domain.PhoneNumber) error {
	if err := ctx.Err(); err != nil {
		return unavailable("delete pending registration", err)
	}
	key := []byte(phone.E164())
	err := s.writes.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPending).Delete(key)
	})
	if err != nil {
		return unavailable("delete pending registration", err)
	}
	return nil
}

// DeleteExpired deletes the pending registrations expired at now and
// returns how many went. It works through the bucket in transactions of
// at most sweepScan records, so registration writes wait on it briefly.
// A record that cannot be decoded is logged and left alone.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	total := 0
	var after []byte // last key examined, the next transaction's start
	for {
		if err := ctx.Err(); err != nil {
			return total, unavailable("sweep pending registrations", err)
		}
		var deleted int
		var done bool
		err := s.db.Update(func(tx *bbolt.Tx) error {
			deleted, done = 0, false
			b := tx.Bucket(bucketPending)
			c := b.Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			// Deleting under a live cursor can make bbolt skip the next
			// key, so collect first and delete after the scan.
			var expired [][]byte
			for scanned := 0; k != nil && scanned < sweepScan; k, v = c.Next() {
				scanned++
				after = slices.Clone(k)
				var doc expiryDoc
				if err := json.Unmarshal(v, &doc); err != nil {
					s.log.Warn("undecodable pending registration left in place",
						zap.String("phone", domain.MaskPhone(string(k))), zap.Error(err))
					continue
				}
				if !now.Before(doc.ExpiresAt) {
					expired = append(expired, slices.Clone(k))
				}
			}
			done = k == nil
			for _, key := range expired {
				if err := b.Delete(key); err != nil {
					return err
				}
			}
			deleted = len(expired)
			return nil
		})
		if err != nil {
			return total, unavailable("sweep pending registrations", err)
		}
		total += deleted
		if done {
			return total, nil
		}
	}
}

// unavailable wraps a bbolt or file failure so that errors.Is finds both
// application.ErrUnavailable and the cause.
func unavailable(op string, err error) error {
	return fmt.Errorf("bolt: %s: %w: %w", op, application.ErrUnavailable, err)
}
