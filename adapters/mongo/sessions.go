package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/phoneauth/phoneauth/domain"
)

// Sessions keeps the sessions that were refreshed or revoked
// (domain.Session), one document per session id, shared by every
// instance; a login writes none. The rules are the domain's; this store
// supplies the atomic read-modify-write, a compare-and-swap on a version
// as for the limits (updateDoc), so that of two refreshes racing on one
// token exactly one moves the session on, and the other, reading again,
// finds the successor. Writes are acknowledged by a majority (the
// client's write concern) before Update returns.
type Sessions struct {
	s    *Store
	coll *mongodriver.Collection
}

// sessionDoc is a session as stored. expires_at is its retention: when
// the last token it issued expires.
type sessionDoc struct {
	ID               string        `bson:"_id"`
	UserID           string        `bson:"user_id"`
	Generation       int64         `bson:"generation"`
	Seq              int64         `bson:"seq"`
	IssuedAt         time.Time     `bson:"issued_at"`
	AccessExpiresAt  time.Time     `bson:"access_expires_at"`
	RefreshExpiresAt time.Time     `bson:"refresh_expires_at"`
	Revoked          bool          `bson:"revoked"`
	ExpiresAt        time.Time     `bson:"expires_at"`
	Version          bson.ObjectID `bson:"version"`
}

func (d *sessionDoc) version() bson.ObjectID { return d.Version }

func toSessionDoc(s *domain.Session) sessionDoc {
	snap := s.Snapshot()
	c := snap.Current
	return sessionDoc{
		ID:               c.SessionID,
		UserID:           c.UserID,
		Generation:       int64(c.Generation),
		Seq:              int64(c.Seq),
		IssuedAt:         c.IssuedAt,
		AccessExpiresAt:  c.AccessExpiresAt,
		RefreshExpiresAt: c.RefreshExpiresAt,
		Revoked:          snap.Revoked,
		ExpiresAt:        snap.RetainUntil,
		Version:          bson.NewObjectID(),
	}
}

func (d *sessionDoc) toDomain() domain.Session {
	return domain.RestoreSession(domain.SessionSnapshot{
		Current: domain.SessionIssue{
			SessionID:        d.ID,
			UserID:           d.UserID,
			Generation:       uint64(d.Generation),
			Seq:              uint64(d.Seq),
			IssuedAt:         d.IssuedAt,
			AccessExpiresAt:  d.AccessExpiresAt,
			RefreshExpiresAt: d.RefreshExpiresAt,
		},
		Revoked:     d.Revoked,
		RetainUntil: d.ExpiresAt,
	})
}

// live is the session d holds at now: the zero Session past its
// retention, whether or not a TTL monitor or the sweeper has removed it.
func (d *sessionDoc) live(now time.Time) domain.Session {
	if d == nil || !now.Before(d.ExpiresAt) {
		return domain.Session{}
	}
	return d.toDomain()
}

// Update applies fn to id's session atomically (see application.Sessions).
// A refusal, which changes nothing, costs one read; a refresh a read and
// a write.
func (r *Sessions) Update(ctx context.Context, id string, now time.Time, fn func(*domain.Session) error) error {
	return updateDoc(ctx, r.s, r.coll, "update session", id, func(cur *sessionDoc) (*sessionDoc, bool, error) {
		s := cur.live(now)
		before := s
		if err := fn(&s); err != nil || s == before {
			return nil, false, err
		}
		if s.ID() != id {
			return nil, false, fmt.Errorf("mongo: update of session %q returned another session", id)
		}
		d := toSessionDoc(&s)
		return &d, true, nil
	})
}

// Get returns id's session as it stands at now (the zero Session if
// none): one read by _id.
func (r *Sessions) Get(ctx context.Context, id string, now time.Time) (domain.Session, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	var d sessionDoc
	err := r.coll.FindOne(ctx, byID(id)).Decode(&d)
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return domain.Session{}, nil
	}
	if err != nil {
		return domain.Session{}, wrap("find session", err)
	}
	return d.live(now), nil
}

// DeleteExpired removes the sessions past their retention. Store's own
// DeleteExpired does this too, with every other collection.
func (r *Sessions) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return r.s.deleteExpired(ctx, r.coll, now)
}
