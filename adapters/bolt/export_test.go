package bolt

import (
	"context"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneauth/phoneauth/adapters/storetest"
)

// SetTuning shrinks the store's limits for a test and returns the undo.
func SetTuning(lock time.Duration, scan int) (undo func()) {
	oldLock, oldScan := lockTimeout, sweepScan
	lockTimeout, sweepScan = lock, scan
	return func() { lockTimeout, sweepScan = oldLock, oldScan }
}

// Dump lists every record of every bucket, for tests that check what a
// deleted account left behind.
func (s *Store) Dump(ctx context.Context) ([]storetest.Record, error) {
	var out []storetest.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out = append(out, storetest.Record{Where: string(name), Key: string(k), Value: string(v)})
				return nil
			})
		})
	})
	return out, err
}
