package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/domain"
)

// PendingCodes stores the codes sent for the purposes other than
// registration in the codes bucket, one record per
// domain.CodeSubject.Key; it is the bbolt application.PendingCodes. Each
// read-modify-write is one write transaction shared with concurrent
// writes. Codes are sent a few times a minute at most, so records are
// plain encoding/json.
type PendingCodes struct{ s *Store }

// codeDoc is a pending code as stored, under its subject's key.
// expires_at is the code's expiry, under the name every expiring record
// gives it (the sweeper reads it).
type codeDoc struct {
	Purpose   string    `json:"purpose"`
	Phone     string    `json:"phone"`
	Account   string    `json:"account,omitempty"`
	CodeHash  []byte    `json:"code_hash,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func toCodeDoc(c *domain.PendingCode) codeDoc {
	s := c.Snapshot()
	return codeDoc{
		Purpose:   string(s.Subject.Purpose),
		Phone:     s.Subject.Phone.E164(),
		Account:   s.Subject.Account,
		CodeHash:  s.CodeHash,
		Attempts:  s.Attempts,
		CreatedAt: s.CreatedAt.UTC(),
		ExpiresAt: s.CodeExpiresAt.UTC(),
	}
}

// toDomain rebuilds the code. The number was parsed when the code was
// sent: it is restored, not parsed again. An empty hash comes back nil,
// as a used code: the domain would count a try at an empty one as a
// wrong guess.
func (d *codeDoc) toDomain() (*domain.PendingCode, error) {
	phone, err := domain.RestorePhoneNumber(d.Phone)
	if err != nil {
		return nil, fmt.Errorf("bolt: stored code for %s: %w", domain.MaskPhone(d.Phone), err)
	}
	hash := d.CodeHash
	if len(hash) == 0 {
		hash = nil
	}
	return domain.UnmarshalPendingCodeFromDatabase(domain.PendingCodeSnapshot{
		Subject:       domain.CodeSubject{Purpose: domain.CodePurpose(d.Purpose), Phone: phone, Account: d.Account},
		CodeHash:      hash,
		CodeExpiresAt: d.ExpiresAt,
		Attempts:      d.Attempts,
		CreatedAt:     d.CreatedAt,
	}), nil
}

// liveCode decodes the record stored under key as it stands at now: nil
// for none, or for one past its expiry.
func liveCode(key string, stored []byte, now time.Time) (*domain.PendingCode, error) {
	if stored == nil {
		return nil, nil
	}
	var d codeDoc
	if err := json.Unmarshal(stored, &d); err != nil {
		return nil, fmt.Errorf("bolt: decode code %s: %w", maskCodeKey(key), err)
	}
	if !now.Before(d.ExpiresAt) {
		return nil, nil
	}
	c, err := d.toDomain()
	if err != nil {
		return nil, err
	}
	if c.Subject().Key() != key {
		return nil, fmt.Errorf("bolt: the code stored under %s is another subject's", maskCodeKey(key))
	}
	return c, nil
}

// encodeCode encodes c for storage under key, refusing a code of another
// key: fn cannot move a code.
func encodeCode(key string, c *domain.PendingCode) ([]byte, error) {
	if c.Subject().Key() != key {
		return nil, fmt.Errorf("bolt: a code for %s came back as another subject's", maskCodeKey(key))
	}
	data, err := json.Marshal(toCodeDoc(c))
	if err != nil {
		return nil, fmt.Errorf("bolt: encode code: %w", err)
	}
	return data, nil
}

// maskCodeKey is a code's key for a log or an error: a number in it
// masked (a phone-change key names an account id, which is no secret).
func maskCodeKey(key string) string { return domain.MaskDigitRuns(key) }

// Upsert gives fn key's live code (nil when there is none, or only an
// expired one) and stores what fn returns, in one write transaction; a
// nil result writes nothing. fn may run more than once (see the package
// comment).
func (r *PendingCodes) Upsert(ctx context.Context, key string, now time.Time, fn func(cur *domain.PendingCode) *domain.PendingCode) error {
	return r.rewrite(ctx, "upsert code", key, func(stored []byte) ([]byte, error, error) {
		cur, err := liveCode(key, stored, now)
		if err != nil {
			return nil, nil, err
		}
		next := fn(cur)
		if next == nil {
			return nil, nil, nil
		}
		data, err := encodeCode(key, next)
		return data, nil, err
	})
}

// Update applies fn to key's live code and stores the code as fn left it,
// whether fn fails or not (a wrong try counts), in one write transaction,
// and returns fn's error; domain.ErrNoPendingCode, with fn not called,
// when there is no live code. fn may run more than once (see the package
// comment).
func (r *PendingCodes) Update(ctx context.Context, key string, now time.Time, fn func(*domain.PendingCode) error) error {
	return r.rewrite(ctx, "update code", key, func(stored []byte) ([]byte, error, error) {
		cur, err := liveCode(key, stored, now)
		if err != nil {
			return nil, nil, err
		}
		if cur == nil {
			return nil, nil, domain.ErrNoPendingCode
		}
		fnErr := fn(cur)
		data, err := encodeCode(key, cur)
		return data, fnErr, err
	})
}

// rewrite stores under key what apply makes of the stored record (nil
// when there is none), in one write transaction. apply answers the data
// to store (nil for nothing), the answer for the caller once it is
// stored, and a failure, which stores nothing. As in Users.Create, both
// are answers, not failed transactions: returned to bbolt, they would
// roll back the other writes of the group.
func (r *PendingCodes) rewrite(ctx context.Context, op, key string, apply func(stored []byte) (data []byte, answer, failure error)) error {
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	k := []byte(key)
	var outcome error
	err := r.s.writes.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCodes)
		data, answer, failure := apply(b.Get(k))
		if failure != nil {
			outcome = failure
			return nil
		}
		outcome = answer
		if data == nil {
			return nil
		}
		return b.Put(k, data)
	})
	if err != nil {
		return unavailable(op, err)
	}
	return outcome
}

// Delete removes key's code, if any.
func (r *PendingCodes) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return unavailable("delete code", err)
	}
	k := []byte(key)
	err := r.s.writes.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCodes).Delete(k)
	})
	if err != nil {
		return unavailable("delete code", err)
	}
	return nil
}

// DeleteExpired deletes the codes past their expiry (see sweep). Store's
// own DeleteExpired does this too, with the other expiring records.
func (r *PendingCodes) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return r.s.sweep(ctx, bucketCodes, nil, "codes", func(k []byte) zap.Field {
		return zap.String("code", maskCodeKey(string(k)))
	}, now)
}
