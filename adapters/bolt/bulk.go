package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/phoneauth/phoneauth/domain"
)

// bulkChunk is how many users one BulkCreateUsers transaction holds: large
// enough that a million users take a few dozen fsyncs, small enough to keep
// a transaction's dirty pages in tens of megabytes.
const bulkChunk = 50_000

// BulkLoader preloads users for benchmarks (cmd/bench), in a few large
// transactions instead of a commit each. It is no port of the application:
// the service never uses it, and Users stays what the use cases need.
type BulkLoader struct{ s *Store }

// NewBulkLoader returns a loader that writes into s.
func NewBulkLoader(s *Store) *BulkLoader { return &BulkLoader{s: s} }

// BulkCreateUsers inserts many users in a few large transactions; the
// uniqueness rules hold as in Users.Create. It sorts the users by number
// first, so bbolt appends to pages instead of splitting them. A refused
// user fails its whole transaction, but the transactions before it stay
// committed.
func (l *BulkLoader) BulkCreateUsers(ctx context.Context, users []*domain.User) error {
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b *domain.User) int {
		return strings.Compare(a.Phone().E164(), b.Phone().E164())
	})
	type record struct{ phone, email, id, data []byte }
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
			data, err := json.Marshal(toUserDoc(u))
			if err != nil {
				return fmt.Errorf("bolt: encode user: %w", err)
			}
			records[i] = record{[]byte(u.Phone().E164()), []byte(u.Email().String()), []byte(u.ID()), data}
		}
		byEmail := slices.Clone(records)
		slices.SortFunc(byEmail, func(a, b record) int { return bytes.Compare(a.email, b.email) })
		byID := slices.Clone(records)
		slices.SortFunc(byID, func(a, b record) int { return bytes.Compare(a.id, b.id) })
		var refused error
		err := l.s.db.Update(func(tx *bbolt.Tx) error {
			users, emails, ids := tx.Bucket(bucketUsers), tx.Bucket(bucketEmails), tx.Bucket(bucketUserIDs)
			// Sorted inserts leave pages nearly full; the default of one
			// half would double the file for nothing.
			users.FillPercent, emails.FillPercent, ids.FillPercent = 0.9, 0.9, 0.9
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
			for _, r := range byID {
				if ids.Get(r.id) != nil {
					refused = fmt.Errorf("%w: user %s", errUserIDTaken, domain.MaskPhone(string(r.phone)))
					return refused
				}
				if err := ids.Put(r.id, r.phone); err != nil {
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
