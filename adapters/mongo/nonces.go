package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
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

// Claim returns true the first time it sees key live, false while an
// earlier claim of key has not expired. The insert is the claim (the _id
// index makes exactly one of concurrent claims win); a key whose earlier
// claim has expired, but is not yet swept, is taken over by a conditional
// update that only one claimer can win either.
//
// The port hands Claim no current time, so expiry is judged by the wall
// clock.
func (n *Nonces) Claim(ctx context.Context, key string, expiresAt time.Time) (bool, error) {
	ctx, cancel := n.s.op(ctx)
	defer cancel()
	_, err := n.coll.InsertOne(ctx, nonceDoc{Key: key, ExpiresAt: expiresAt})
	if err == nil {
		return true, nil
	}
	if !isDuplicateKey(err) {
		return false, wrap("claim nonce", err)
	}
	now := n.s.wallNow().Truncate(time.Millisecond)
	res, err := n.coll.UpdateOne(ctx, bson.D{
		{Key: "_id", Value: key},
		{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now}}},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: expiresAt}}}})
	if err != nil {
		return false, wrap("claim nonce", err)
	}
	return res.MatchedCount > 0, nil
}
