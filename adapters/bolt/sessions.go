package bolt

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/domain"
)

// Sessions is the bbolt-backed application.Sessions, in the Store's file
// and sharing its commits: a refresh or a revocation is fsynced before
// Update returns, so an answered refresh is still the current one after
// kill -9. It is safe for concurrent use.
type Sessions struct {
	s *Store
}

// Sessions returns the store's sessions (application.Sessions).
func (s *Store) Sessions() *Sessions { return s.sessions }

// sessionDoc is a session as stored. expires_at is its retention (when
// the last token it issued expires), under the name every expiring
// record gives it.
type sessionDoc struct {
	ID               string    `json:"id"`
	UserID           string    `json:"user_id"`
	Generation       uint64    `json:"generation"`
	Seq              uint64    `json:"seq"`
	IssuedAt         time.Time `json:"issued_at"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	Revoked          bool      `json:"revoked,omitempty"`
	ExpiresAt        time.Time `json:"expires_at"`
}

func toSessionDoc(s *domain.Session) sessionDoc {
	snap := s.Snapshot()
	c := snap.Current
	return sessionDoc{
		ID:               c.SessionID,
		UserID:           c.UserID,
		Generation:       c.Generation,
		Seq:              c.Seq,
		IssuedAt:         c.IssuedAt.UTC(),
		AccessExpiresAt:  c.AccessExpiresAt.UTC(),
		RefreshExpiresAt: c.RefreshExpiresAt.UTC(),
		Revoked:          snap.Revoked,
		ExpiresAt:        snap.RetainUntil.UTC(),
	}
}

func (d *sessionDoc) toDomain() domain.Session {
	return domain.RestoreSession(domain.SessionSnapshot{
		Current: domain.SessionIssue{
			SessionID:        d.ID,
			UserID:           d.UserID,
			Generation:       d.Generation,
			Seq:              d.Seq,
			IssuedAt:         d.IssuedAt,
			AccessExpiresAt:  d.AccessExpiresAt,
			RefreshExpiresAt: d.RefreshExpiresAt,
		},
		Revoked:     d.Revoked,
		RetainUntil: d.ExpiresAt,
	})
}

// liveSession decodes a stored session as it stands at now: the zero
// Session for none, or for a record past its retention.
func liveSession(id string, stored []byte, now time.Time) (domain.Session, error) {
	if stored == nil {
		return domain.Session{}, nil
	}
	var d sessionDoc
	if err := decodeSessionDoc(stored, &d); err != nil {
		return domain.Session{}, fmt.Errorf("bolt: decode session %q: %w", id, err)
	}
	if !now.Before(d.ExpiresAt) {
		return domain.Session{}, nil
	}
	if d.ID != id {
		return domain.Session{}, fmt.Errorf("bolt: session record under %q holds session %q", id, d.ID)
	}
	return d.toDomain(), nil
}

// Update applies fn to id's session and stores what changed, in one write
// transaction shared with concurrent writes (see application.Sessions).
// fn may run more than once (see the package comment).
func (r *Sessions) Update(ctx context.Context, id string, now time.Time, fn func(*domain.Session) error) error {
	if err := ctx.Err(); err != nil {
		return unavailable("update session", err)
	}
	key := []byte(id)
	var outcome error
	err := r.s.writes.update(func(tx *bbolt.Tx) error {
		// As in Create, an outcome is an answer, not a failed
		// transaction: returned to bbolt it would re-run the batch.
		var data, indexKey []byte
		data, indexKey, outcome = applySession(tx.Bucket(bucketSessions).Get(key), id, now, fn)
		if outcome != nil || data == nil {
			return nil
		}
		if indexKey != nil {
			if err := tx.Bucket(bucketSessionsByUser).Put(indexKey, []byte{}); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketSessions).Put(key, data)
	})
	if err != nil {
		return unavailable("update session", err)
	}
	return outcome
}

// applySession decodes a stored session, applies fn and encodes the
// result; nil when fn changed nothing. indexKey is the sessions_by_user
// entry to write with it, nil when the record it replaces already has one
// (a refresh of a recorded session, nearly every write, touches only the
// sessions bucket).
func applySession(stored []byte, id string, now time.Time, fn func(*domain.Session) error) (data, indexKey []byte, err error) {
	s, err := liveSession(id, stored, now)
	if err != nil {
		return nil, nil, err
	}
	before := s
	if err := fn(&s); err != nil || s == before {
		return nil, nil, err
	}
	if s.ID() != id {
		return nil, nil, fmt.Errorf("bolt: update of session %q returned another session", id)
	}
	doc := toSessionDoc(&s)
	data, err = encodeSessionDoc(&doc)
	if err != nil {
		return nil, nil, fmt.Errorf("bolt: encode session: %w", err)
	}
	if before.Current().UserID != doc.UserID {
		indexKey = sessionIndexKey(doc.UserID, id)
	}
	return data, indexKey, nil
}

// sessionIndexKey is the sessions_by_user entry of a session: the
// account id, a zero byte (ids hold none) and the session id, so that an
// account's sessions are one prefix of the index.
func sessionIndexKey(userID, sessionID string) []byte {
	k := make([]byte, 0, len(userID)+1+len(sessionID))
	k = append(k, userID...)
	k = append(k, 0)
	return append(k, sessionID...)
}

// Get returns id's session as it stands at now (the zero Session if
// none): one read transaction, one key.
func (r *Sessions) Get(ctx context.Context, id string, now time.Time) (domain.Session, error) {
	if err := ctx.Err(); err != nil {
		return domain.Session{}, unavailable("read session", err)
	}
	var (
		s         domain.Session
		decodeErr error
	)
	err := r.s.db.View(func(tx *bbolt.Tx) error {
		// Decoding copies out of the mmap, which the transaction's end
		// may unmap.
		s, decodeErr = liveSession(id, tx.Bucket(bucketSessions).Get([]byte(id)), now)
		return nil
	})
	if err != nil {
		return domain.Session{}, unavailable("read session", err)
	}
	return s, decodeErr
}

// DeleteExpired deletes the sessions past their retention (see sweep).
func (r *Sessions) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return r.s.sweep(ctx, bucketSessions, bucketSessionsByUser, "sessions", func(k []byte) zap.Field { return zap.ByteString("session", k) }, now)
}
