package mongo

import (
	"context"
	"errors"
	"fmt"

	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/phoneauth/phoneauth/domain"
)

// bulkBatch is how many users one InsertMany carries: well under the
// 48 MB message limit, big enough to amortise round trips.
const bulkBatch = 1000

// BulkLoader preloads users for benchmarks (cmd/bench), a thousand to an
// insert instead of one each. It is no port of the application: the
// service never uses it, and Users stays what the use cases need.
type BulkLoader struct{ s *Store }

// NewBulkLoader returns a loader that writes into s.
func NewBulkLoader(s *Store) *BulkLoader { return &BulkLoader{s: s} }

// BulkCreateUsers inserts many users fast. The inserts are unordered, so
// one duplicate does not stop the rest; if any phone or email was taken,
// the error wraps domain.ErrUserExists and says how many, after every
// batch has been tried. Each batch has its own timeout, a generous
// multiple of the per-call one.
func (l *BulkLoader) BulkCreateUsers(ctx context.Context, users []*domain.User) error {
	dups := 0
	for start := 0; start < len(users); start += bulkBatch {
		end := min(start+bulkBatch, len(users))
		docs := make([]any, 0, end-start)
		for _, u := range users[start:end] {
			docs = append(docs, toAccountDoc(u))
		}
		n, err := l.insertBatch(ctx, docs)
		dups += n
		if err != nil {
			return err
		}
	}
	if dups > 0 {
		return fmt.Errorf("mongo bulk create: %d of %d users already existed: %w", dups, len(users), domain.ErrUserExists)
	}
	return nil
}

// insertBatch inserts docs unordered and returns how many were duplicates.
func (l *BulkLoader) insertBatch(ctx context.Context, docs []any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*l.s.timeout)
	defer cancel()
	_, err := l.s.users.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return 0, nil
	}
	var bwe mongodriver.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		for _, we := range bwe.WriteErrors {
			if !isDuplicateKey(we) {
				return 0, wrap("bulk create users", err)
			}
		}
		return len(bwe.WriteErrors), nil
	}
	return 0, wrap("bulk create users", err)
}
