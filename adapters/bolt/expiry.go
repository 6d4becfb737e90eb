package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/domain"
)

// expiringBucket is a bucket whose records are JSON documents carrying
// expires_at, which DeleteExpired sweeps.
type expiringBucket struct {
	name []byte
	// what a record is, in errors and logs: "pending registration"
	what string
	// logKey gives a record's key as a log line may show it.
	logKey func(key []byte) zap.Field
}

// expiring lists every bucket DeleteExpired sweeps.
var expiring = []expiringBucket{
	{bucketPending, "pending registration", func(k []byte) zap.Field {
		return zap.String("phone", domain.MaskPhone(string(k)))
	}},
}

// expiryDoc is the part of an expiring record the sweeper needs.
type expiryDoc struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// DeleteExpired deletes the records of every expiring bucket (pending
// registrations) expired at now and returns how many went.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for _, b := range expiring {
		n, err := s.deleteExpired(ctx, b, now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// deleteExpired deletes b's records expired at now. It works through the
// bucket in transactions of at most sweepScan records, so writes wait on
// it briefly. A record that cannot be decoded is logged and left alone.
func (s *Store) deleteExpired(ctx context.Context, b expiringBucket, now time.Time) (int, error) {
	op := "sweep " + b.what + "s"
	total := 0
	var after []byte // last key examined, the next transaction's start
	for {
		if err := ctx.Err(); err != nil {
			return total, unavailable(op, err)
		}
		var deleted int
		var done bool
		err := s.db.Update(func(tx *bbolt.Tx) error {
			deleted, done = 0, false
			bucket := tx.Bucket(b.name)
			c := bucket.Cursor()
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
					s.log.Warn("undecodable "+b.what+" left in place", b.logKey(k), zap.Error(err))
					continue
				}
				if !now.Before(doc.ExpiresAt) {
					expired = append(expired, slices.Clone(k))
				}
			}
			done = k == nil
			for _, key := range expired {
				if err := bucket.Delete(key); err != nil {
					return err
				}
			}
			deleted = len(expired)
			return nil
		})
		if err != nil {
			return total, unavailable(op, err)
		}
		total += deleted
		if done {
			return total, nil
		}
	}
}
