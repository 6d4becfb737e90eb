package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
)

var (
	bucketUsers          = []byte("users")
	bucketEmails         = []byte("users_by_email")
	bucketUserIDs        = []byte("users_by_id")
	bucketPending        = []byte("pending")
	bucketSessions       = []byte("sessions")
	bucketSessionsByUser = []byte("sessions_by_user")
	bucketCodes          = []byte("codes")
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

// Store is one bbolt file and the repositories that share it: Users,
// PendingRegistrations, PendingCodes and Sessions. Store itself sweeps
// expired records, pending registrations, codes and sessions
// (application.Expirer). It is safe for concurrent use.
type Store struct {
	db     *bbolt.DB
	writes *groupCommit
	log    *zap.Logger

	users    *Users
	pending  *PendingRegistrations
	codes    *PendingCodes
	sessions *Sessions
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
		for _, name := range [][]byte{bucketUsers, bucketEmails, bucketPending, bucketSessions, bucketCodes} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := ensureUserIDIndex(tx, log); err != nil {
			return err
		}
		return ensureSessionUserIndex(tx, log)
	})
	if err != nil {
		_ = db.Close()
		return nil, unavailable("create buckets", err)
	}
	log.Info("store opened", zap.String("path", path))
	s := &Store{db: db, writes: newGroupCommit(db), log: log}
	s.users = &Users{s: s}
	s.pending = &PendingRegistrations{s: s}
	s.codes = &PendingCodes{s: s}
	s.sessions = &Sessions{s: s}
	return s, nil
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

// Users returns the accounts repository (application.Users).
func (s *Store) Users() *Users { return s.users }

// PendingRegistrations returns the registrations-in-progress repository
// (application.PendingRegistrations).
func (s *Store) PendingRegistrations() *PendingRegistrations { return s.pending }

// PendingCodes returns the codes sent for the purposes other than
// registration (application.PendingCodes).
func (s *Store) PendingCodes() *PendingCodes { return s.codes }

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

// unavailable wraps a bbolt or file failure so that errors.Is finds both
// application.ErrUnavailable and the cause.
func unavailable(op string, err error) error {
	return fmt.Errorf("bolt: %s: %w: %w", op, application.ErrUnavailable, err)
}
