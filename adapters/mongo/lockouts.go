package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/phoneauth/phoneauth/application"
)

// Lockouts counts wrong passwords per key, one document per key, shared by
// every instance so that spreading guesses over instances gains nothing.
type Lockouts struct {
	s    *Store
	coll *mongodriver.Collection
}

// lockoutDoc is one key's failures. Its window runs lockFor from the first
// failure; expires_at is the later of the window's end and the lock's.
type lockoutDoc struct {
	Key         string        `bson:"_id"`
	Count       int64         `bson:"count"`
	FirstAt     time.Time     `bson:"first_at"`
	LockedUntil *time.Time    `bson:"locked_until,omitempty"`
	ExpiresAt   time.Time     `bson:"expires_at"`
	Version     bson.ObjectID `bson:"version"`
}

func (d *lockoutDoc) lockedAt(now time.Time) time.Time {
	if d.LockedUntil != nil && now.Before(*d.LockedUntil) {
		return *d.LockedUntil
	}
	return time.Time{}
}

// Check returns the end of key's live lock (zero if none) and the
// failures counted in its live window; a document past its expires_at,
// not yet removed by the TTL index or the sweeper, holds nothing.
func (l *Lockouts) Check(ctx context.Context, key string, now time.Time) (application.LockState, error) {
	ctx, cancel := l.s.op(ctx)
	defer cancel()
	d, err := l.find(ctx, key)
	if err != nil || d == nil {
		return application.LockState{}, err
	}
	now = now.Truncate(time.Millisecond)
	if !now.Before(d.ExpiresAt) {
		return application.LockState{}, nil
	}
	return application.LockState{Until: d.lockedAt(now), Failures: int(d.Count)}, nil
}

// Fail counts one wrong password. When max failures fall within lockFor of
// the first, the key is locked until now+lockFor and that time returned;
// otherwise it returns the zero time (or the end of a lock already in
// force, which a concurrent failure may have just set). A max or lockFor
// of zero or less never locks, so nothing is counted (or written).
//
// The read-modify-write is a compare-and-swap on a per-write version, as
// for pending registrations: failures are rare, so conflicts are too.
func (l *Lockouts) Fail(ctx context.Context, key string, max int, lockFor time.Duration, now time.Time) (time.Time, error) {
	if max < 1 || lockFor <= 0 {
		return time.Time{}, nil
	}
	now = now.Truncate(time.Millisecond)
	ctx, cancel := l.s.op(ctx)
	defer cancel()
	for attempt := range maxAttempts {
		cur, err := l.find(ctx, key)
		if err != nil {
			return time.Time{}, err
		}
		next := nextLockout(cur, key, max, lockFor, now)
		if cur == nil {
			_, err = l.coll.InsertOne(ctx, next)
			if err == nil {
				return next.lockedAt(now), nil
			}
			if !isDuplicateKey(err) {
				return time.Time{}, wrap("count login failure", err)
			}
		} else {
			res, err := l.coll.ReplaceOne(ctx, bson.D{
				{Key: "_id", Value: key},
				{Key: "version", Value: cur.Version},
			}, next)
			if err != nil {
				return time.Time{}, wrap("count login failure", err)
			}
			if res.MatchedCount > 0 {
				return next.lockedAt(now), nil
			}
		}
		if err := backoff(ctx, attempt); err != nil {
			return time.Time{}, wrap("count login failure", err)
		}
	}
	return time.Time{}, contended("count login failure")
}

// nextLockout is the state after one more failure at now.
func nextLockout(cur *lockoutDoc, key string, max int, lockFor time.Duration, now time.Time) lockoutDoc {
	next := lockoutDoc{Key: key, Version: bson.NewObjectID()}
	if cur != nil && now.Before(cur.ExpiresAt) {
		next.Count, next.FirstAt, next.LockedUntil = cur.Count, cur.FirstAt, cur.LockedUntil
	}
	if next.Count == 0 || !now.Before(next.FirstAt.Add(lockFor)) && next.lockedAt(now).IsZero() {
		// A new window: the first failure, or the first since the last
		// window (and any lock) ended.
		next.Count, next.FirstAt, next.LockedUntil = 0, now, nil
	}
	next.Count++
	if max > 0 && next.Count >= int64(max) && next.lockedAt(now).IsZero() {
		until := now.Add(lockFor)
		next.LockedUntil = &until
	}
	next.ExpiresAt = next.FirstAt.Add(lockFor)
	if next.LockedUntil != nil && next.LockedUntil.After(next.ExpiresAt) {
		next.ExpiresAt = *next.LockedUntil
	}
	return next
}

// Reset forgets key, after a successful login.
func (l *Lockouts) Reset(ctx context.Context, key string) error {
	ctx, cancel := l.s.op(ctx)
	defer cancel()
	if _, err := l.coll.DeleteOne(ctx, byID(key)); err != nil {
		return wrap("reset lockout", err)
	}
	return nil
}

// find returns key's document, or nil if there is none.
func (l *Lockouts) find(ctx context.Context, key string) (*lockoutDoc, error) {
	var d lockoutDoc
	err := l.coll.FindOne(ctx, byID(key)).Decode(&d)
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("find lockout", err)
	}
	return &d, nil
}
