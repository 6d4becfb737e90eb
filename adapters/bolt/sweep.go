package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// expiryDoc is the part of an expiring record the sweeper needs: when it
// expires, and for a session its account (the sessions_by_user entry
// goes with the record).
type expiryDoc struct {
	ExpiresAt time.Time `json:"expires_at"`
	UserID    string    `json:"user_id"`
}

// sweep deletes the records of bucket expired at now and returns how
// many went: every expiring record says when it expires as expires_at
// (expiryDoc). With byUser set (the sessions), each deleted record's
// entry in that index goes in the same transaction. It works through the
// bucket in transactions of at most sweepScan records, so that writes
// wait on it briefly. A record that cannot be decoded is logged (its key
// through logKey) and left alone.
func (s *Store) sweep(ctx context.Context, bucket, byUser []byte, what string, logKey func([]byte) zap.Field, now time.Time) (int, error) {
	total := 0
	var after []byte // last key examined, the next transaction's start
	for {
		if err := ctx.Err(); err != nil {
			return total, unavailable("sweep "+what, err)
		}
		var deleted int
		var done bool
		err := s.db.Update(func(tx *bbolt.Tx) error {
			deleted, done = 0, false
			b := tx.Bucket(bucket)
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
			var expired, entries [][]byte
			for scanned := 0; k != nil && scanned < sweepScan; k, v = c.Next() {
				scanned++
				after = slices.Clone(k)
				var doc expiryDoc
				if err := json.Unmarshal(v, &doc); err != nil {
					s.log.Warn("undecodable record left in place", zap.String("bucket", string(bucket)), logKey(k), zap.Error(err))
					continue
				}
				if !now.Before(doc.ExpiresAt) {
					expired = append(expired, slices.Clone(k))
					if byUser != nil {
						entries = append(entries, sessionIndexKey(doc.UserID, string(k)))
					}
				}
			}
			done = k == nil
			for _, key := range expired {
				if err := b.Delete(key); err != nil {
					return err
				}
			}
			for _, key := range entries {
				if err := tx.Bucket(byUser).Delete(key); err != nil {
					return err
				}
			}
			deleted = len(expired)
			return nil
		})
		if err != nil {
			return total, unavailable("sweep "+what, err)
		}
		total += deleted
		if done {
			return total, nil
		}
	}
}
