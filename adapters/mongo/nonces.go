package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/phoneauth/phoneauth/application"
)

// Nonces remembers accepted login requests, one document per key, so that
// a request replayed to any instance is refused.
type Nonces struct {
	s    *Store
	coll *mongodriver.Collection
}

type nonceDoc struct {
	Key       string    `bson:"_id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// Claim answers application.NonceClaimed the first time it sees key live
// at now, application.NonceReplayed while an earlier claim of key has not
// expired, and application.NonceStale for a key already expired at now.
// The insert is the claim (the _id index makes exactly one of concurrent
// claims win); a key whose earlier claim has expired, but is not yet swept,
// is taken over by a conditional update that only one claimer can win
// either. The collection is bounded by the disk, not by a count, so Claim
// never forgets a live key and answers stale for no other reason.
func (n *Nonces) Claim(ctx context.Context, key string, expiresAt, now time.Time) (application.NonceClaim, error) {
	if !expiresAt.After(now) {
		return application.NonceStale, nil
	}
	ctx, cancel := n.s.op(ctx)
	defer cancel()
	_, err := n.coll.InsertOne(ctx, nonceDoc{Key: key, ExpiresAt: expiresAt})
	if err == nil {
		return application.NonceClaimed, nil
	}
	if !isDuplicateKey(err) {
		return 0, wrap("claim nonce", err)
	}
	res, err := n.coll.UpdateOne(ctx, bson.D{
		{Key: "_id", Value: key},
		{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now.Truncate(time.Millisecond)}}},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: expiresAt}}}})
	if err != nil {
		return 0, wrap("claim nonce", err)
	}
	if res.MatchedCount > 0 {
		return application.NonceClaimed, nil
	}
	return application.NonceReplayed, nil
}
