package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/phoneauth/phoneauth/application"
)

// RateLimiter counts events per key in fixed windows that start at a
// key's first event, one document per key, shared by every instance.
type RateLimiter struct {
	s    *Store
	coll *mongodriver.Collection
}

// counterDoc is one key's current window.
type counterDoc struct {
	Key       string    `bson:"_id"`
	Count     int64     `bson:"count"`
	ExpiresAt time.Time `bson:"expires_at"` // end of the window
}

// Allow counts one event for key if the key's window has room, and
// refuses without counting otherwise. Each path that counts is one atomic
// conditional write:
//
//   - the common case, a live window with room: $inc where count < limit;
//   - no window yet: insert (a concurrent insert loses with a duplicate
//     key and goes round again);
//   - an ended window: restart it where expires_at <= now, so that of two
//     instances racing to restart it one wins and the other goes round.
//
// Only the refusal is decided on a read, and a read of a full, live window
// cannot be made wrong by a concurrent writer: a window only fills up
// until it ends.
//
// A limit or window of zero or less switches the limit off, as the
// application's policy does.
func (r *RateLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (application.Decision, error) {
	if limit <= 0 || window <= 0 {
		return application.Decision{Allowed: true}, nil
	}
	// Stored times have millisecond precision; deciding on the same
	// precision keeps the server's comparisons and ours in agreement.
	now = now.Truncate(time.Millisecond)
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	allowed := application.Decision{Allowed: true}

	for attempt := range maxAttempts {
		res, err := r.coll.UpdateOne(ctx, bson.D{
			{Key: "_id", Value: key},
			{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}},
			{Key: "count", Value: bson.D{{Key: "$lt", Value: int64(limit)}}},
		}, bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: int64(1)}}}})
		if err != nil {
			return application.Decision{}, wrap("rate limit", err)
		}
		if res.MatchedCount > 0 {
			return allowed, nil
		}

		var cur counterDoc
		err = r.coll.FindOne(ctx, byID(key)).Decode(&cur)
		switch {
		case errors.Is(err, mongodriver.ErrNoDocuments):
			_, err := r.coll.InsertOne(ctx, counterDoc{Key: key, Count: 1, ExpiresAt: now.Add(window)})
			if err == nil {
				return allowed, nil
			}
			if !isDuplicateKey(err) {
				return application.Decision{}, wrap("rate limit", err)
			}
		case err != nil:
			return application.Decision{}, wrap("rate limit", err)
		case !now.Before(cur.ExpiresAt):
			res, err := r.coll.UpdateOne(ctx, bson.D{
				{Key: "_id", Value: key},
				{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now}}},
			}, bson.D{{Key: "$set", Value: bson.D{
				{Key: "count", Value: int64(1)},
				{Key: "expires_at", Value: now.Add(window)},
			}}})
			if err != nil {
				return application.Decision{}, wrap("rate limit", err)
			}
			if res.MatchedCount > 0 {
				return allowed, nil
			}
		case cur.Count >= int64(limit):
			return application.Decision{Allowed: false, RetryAfter: cur.ExpiresAt.Sub(now)}, nil
		}
		// Someone else created or restarted the window between our two
		// steps; look again.
		if err := backoff(ctx, attempt); err != nil {
			return application.Decision{}, wrap("rate limit", err)
		}
	}
	return application.Decision{}, contended("rate limit")
}
