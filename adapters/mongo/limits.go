package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/phoneauth/phoneauth/domain"
)

// RateLimits keeps fixed windows (domain.FixedWindow), one document per
// key, shared by every instance. The rules are the domain's; this store
// only supplies the atomic read-modify-write: a compare-and-swap on a
// version, as for pending registrations.
type RateLimits struct {
	s    *Store
	coll *mongodriver.Collection
}

// counterDoc is one key's current window.
type counterDoc struct {
	Key       string        `bson:"_id"`
	Count     int64         `bson:"count"`
	ExpiresAt time.Time     `bson:"expires_at"` // end of the window
	Version   bson.ObjectID `bson:"version"`
}

func (d *counterDoc) version() bson.ObjectID { return d.Version }

// Update applies fn to key's window atomically (see
// application.RateLimits). A refusal, which changes nothing, costs one
// read; a counted unit a read and a write.
func (r *RateLimits) Update(ctx context.Context, key string, now time.Time, fn func(*domain.FixedWindow) error) error {
	// Stored times have millisecond precision; deciding on the same
	// precision keeps what was decided and what is stored in agreement.
	now = now.Truncate(time.Millisecond)
	return updateDoc(ctx, r.s, r.coll, "update rate limit", key, func(cur *counterDoc) (*counterDoc, bool, error) {
		var w domain.FixedWindow
		if cur != nil && now.Before(cur.ExpiresAt) {
			w = domain.RestoreFixedWindow(int(cur.Count), cur.ExpiresAt)
		}
		before := w
		if err := fn(&w); err != nil || w == before {
			return nil, false, err
		}
		if w.Empty() {
			return nil, cur != nil, nil
		}
		return &counterDoc{Key: key, Count: int64(w.Count(now)), ExpiresAt: w.End(), Version: bson.NewObjectID()}, true, nil
	})
}
