package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/phoneauth/phoneauth/domain"
)

// PendingCodes keeps the codes sent for the purposes other than
// registration (domain.PendingCode) in the codes collection, one
// document per domain.CodeSubject.Key, shared by every instance. Writes
// are a compare-and-swap on a version, as for the limits (updateDoc), so
// that concurrent wrong tries at one code are all counted.
type PendingCodes struct {
	s    *Store
	coll *mongodriver.Collection
}

// codeDoc is a pending code as stored; expires_at is the code's expiry.
type codeDoc struct {
	Key       string        `bson:"_id"`
	Purpose   string        `bson:"purpose"`
	Phone     string        `bson:"phone"`
	Account   string        `bson:"account,omitempty"`
	CodeHash  []byte        `bson:"code_hash,omitempty"`
	Attempts  int64         `bson:"attempts"`
	CreatedAt time.Time     `bson:"created_at"`
	ExpiresAt time.Time     `bson:"expires_at"`
	Version   bson.ObjectID `bson:"version"`
}

func (d *codeDoc) version() bson.ObjectID { return d.Version }

// toCodeDoc is c as stored under key; a code of another key is refused:
// fn cannot move a code.
func toCodeDoc(key string, c *domain.PendingCode) (*codeDoc, error) {
	s := c.Snapshot()
	if s.Subject.Key() != key {
		return nil, fmt.Errorf("mongo: a code for %s came back as another subject's", domain.MaskDigitRuns(key))
	}
	return &codeDoc{
		Key:       key,
		Purpose:   string(s.Subject.Purpose),
		Phone:     s.Subject.Phone.E164(),
		Account:   s.Subject.Account,
		CodeHash:  s.CodeHash,
		Attempts:  int64(s.Attempts),
		CreatedAt: s.CreatedAt,
		ExpiresAt: s.CodeExpiresAt,
		Version:   bson.NewObjectID(),
	}, nil
}

// live is the code d holds at now: nil for none, or for one past its
// expiry, whether or not a TTL monitor or the sweeper has removed it. An
// empty hash comes back nil, as a used code.
func (d *codeDoc) live(now time.Time) (*domain.PendingCode, error) {
	if d == nil || !now.Before(d.ExpiresAt) {
		return nil, nil
	}
	phone, err := domain.RestorePhoneNumber(d.Phone)
	if err != nil {
		return nil, fmt.Errorf("mongo: stored code for %s: %w", domain.MaskPhone(d.Phone), err)
	}
	hash := d.CodeHash
	if len(hash) == 0 {
		hash = nil
	}
	c := domain.UnmarshalPendingCodeFromDatabase(domain.PendingCodeSnapshot{
		Subject:       domain.CodeSubject{Purpose: domain.CodePurpose(d.Purpose), Phone: phone, Account: d.Account},
		CodeHash:      hash,
		CodeExpiresAt: d.ExpiresAt,
		Attempts:      int(d.Attempts),
		CreatedAt:     d.CreatedAt,
	})
	if c.Subject().Key() != d.Key {
		return nil, fmt.Errorf("mongo: the code stored under %s is another subject's", domain.MaskDigitRuns(d.Key))
	}
	return c, nil
}

// Upsert gives fn key's live code (nil when there is none, or only an
// expired one) and stores what fn returns (a nil result writes nothing):
// inserted when key had no document, else replacing only the version it
// read. A lost race reads again and re-applies fn (which the port
// allows).
func (r *PendingCodes) Upsert(ctx context.Context, key string, now time.Time, fn func(cur *domain.PendingCode) *domain.PendingCode) error {
	return updateDoc(ctx, r.s, r.coll, "upsert code", key, func(cur *codeDoc) (*codeDoc, bool, error) {
		c, err := cur.live(now)
		if err != nil {
			return nil, false, err
		}
		next := fn(c)
		if next == nil {
			return nil, false, nil
		}
		d, err := toCodeDoc(key, next)
		return d, err == nil, err
	})
}

// Update applies fn to key's live code and stores the code as fn left it,
// whether fn fails or not (a wrong try counts), replacing only the
// version it read, and returns fn's error; domain.ErrNoPendingCode, with
// fn not called, when there is no live code.
func (r *PendingCodes) Update(ctx context.Context, key string, now time.Time, fn func(*domain.PendingCode) error) error {
	var fnErr error
	err := updateDoc(ctx, r.s, r.coll, "update code", key, func(cur *codeDoc) (*codeDoc, bool, error) {
		fnErr = nil
		c, err := cur.live(now)
		if err != nil {
			return nil, false, err
		}
		if c == nil {
			return nil, false, domain.ErrNoPendingCode
		}
		fnErr = fn(c)
		d, err := toCodeDoc(key, c)
		return d, err == nil, err
	})
	if err != nil {
		return err
	}
	return fnErr
}

// Delete removes key's code, if any.
func (r *PendingCodes) Delete(ctx context.Context, key string) error {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	if _, err := r.coll.DeleteOne(ctx, byID(key)); err != nil {
		return wrap("delete code", err)
	}
	return nil
}

// DeleteExpired removes the codes past their expiry. Store's own
// DeleteExpired does this too, with every other collection.
func (r *PendingCodes) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	return r.s.deleteExpired(ctx, r.coll, now)
}
