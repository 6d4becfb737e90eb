package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/phoneauth/phoneauth/domain"
)

// Lockouts keeps login failures (domain.LoginFailures), one document per
// account, shared by every instance so that spreading guesses over
// instances gains nothing. Like RateLimits, it only supplies the atomic
// read-modify-write.
type Lockouts struct {
	s    *Store
	coll *mongodriver.Collection
}

// lockoutDoc is one key's failures; expires_at is the later of the
// window's end and the lock's.
type lockoutDoc struct {
	Key         string        `bson:"_id"`
	Count       int64         `bson:"count"`
	WindowEnd   time.Time     `bson:"window_end"`
	LockedUntil *time.Time    `bson:"locked_until,omitempty"`
	ExpiresAt   time.Time     `bson:"expires_at"`
	Version     bson.ObjectID `bson:"version"`
}

func (d *lockoutDoc) version() bson.ObjectID { return d.Version }

// Update applies fn to key's failures atomically (see
// application.Lockouts).
func (l *Lockouts) Update(ctx context.Context, key string, now time.Time, fn func(*domain.LoginFailures) error) error {
	now = now.Truncate(time.Millisecond)
	return updateDoc(ctx, l.s, l.coll, "update lockout", key, func(cur *lockoutDoc) (*lockoutDoc, bool, error) {
		var f domain.LoginFailures
		if cur != nil && now.Before(cur.ExpiresAt) {
			var locked time.Time
			if cur.LockedUntil != nil {
				locked = *cur.LockedUntil
			}
			f = domain.RestoreLoginFailures(int(cur.Count), cur.WindowEnd, locked)
		}
		before := f
		if err := fn(&f); err != nil || f == before {
			return nil, false, err
		}
		if f.Empty() {
			return nil, cur != nil, nil
		}
		next := &lockoutDoc{Key: key, Count: int64(f.Count(now)), WindowEnd: f.WindowEnd(), ExpiresAt: f.ExpiresAt(), Version: bson.NewObjectID()}
		if u := f.LockedUntil(); !u.IsZero() {
			next.LockedUntil = &u
		}
		return next, true, nil
	})
}
