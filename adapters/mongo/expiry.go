package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
)

// expiring lists the collections whose records carry expires_at: each gets
// an expiry index and DeleteExpired sweeps them all.
func (s *Store) expiring() []*mongodriver.Collection {
	return []*mongodriver.Collection{s.pending.coll, s.codes.coll, s.limits.coll, s.lockouts.coll, s.nonces.coll, s.sessions.coll}
}

// DeleteExpired removes every record whose expires_at has passed from all
// collections that have one. Reads never depend on it.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for _, c := range s.expiring() {
		n, err := s.deleteExpired(ctx, c, now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Store) deleteExpired(ctx context.Context, c *mongodriver.Collection, now time.Time) (int, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	res, err := c.DeleteMany(ctx, expiredBy(now))
	if err != nil {
		return 0, wrap("delete expired "+c.Name(), err)
	}
	return int(res.DeletedCount), nil
}

// expiredBy matches records that have expired at now.
func expiredBy(now time.Time) bson.D {
	return bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now}}}}
}
