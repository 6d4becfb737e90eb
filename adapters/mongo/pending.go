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

// PendingRegistrations stores registrations in progress, one document per
// phone (_id = E.164). Each write stamps a fresh version, and Update
// replaces only the version it read: a compare-and-swap, so concurrent
// guesses at a code cannot lose each other's attempt counts.
type PendingRegistrations struct {
	s    *Store
	coll *mongodriver.Collection
}

// pendingDoc is a pending registration as stored.
type pendingDoc struct {
	Phone          string     `bson:"_id"`
	CodeHash       []byte     `bson:"code_hash,omitempty"`
	CodeExpiresAt  time.Time  `bson:"code_expires_at"`
	Attempts       int        `bson:"attempts"`
	VerifiedAt     *time.Time `bson:"verified_at,omitempty"`
	SealedPassword []byte     `bson:"sealed_password,omitempty"`
	CreatedAt      time.Time  `bson:"created_at"`
	ExpiresAt      time.Time  `bson:"expires_at"`
	// Version is unique per write (an ObjectID carries a per-process
	// random value and a counter), so a compare-and-swap cannot be fooled
	// by a record that was replaced and then returned to an equal state.
	Version bson.ObjectID `bson:"version"`
}

func toPendingDoc(p *domain.PendingRegistration) pendingDoc {
	s := p.Snapshot()
	d := pendingDoc{
		Phone:          s.Phone.E164(),
		CodeHash:       s.CodeHash,
		CodeExpiresAt:  s.CodeExpiresAt,
		Attempts:       s.Attempts,
		SealedPassword: s.SealedPassword,
		CreatedAt:      s.CreatedAt,
		ExpiresAt:      s.ExpiresAt,
		Version:        bson.NewObjectID(),
	}
	if !s.VerifiedAt.IsZero() {
		v := s.VerifiedAt
		d.VerifiedAt = &v
	}
	return d
}

func (d pendingDoc) toDomain() (*domain.PendingRegistration, error) {
	phone, err := domain.ParsePhoneNumber(d.Phone)
	if err != nil {
		return nil, fmt.Errorf("mongo: stored registration %s: %w", domain.MaskPhone(d.Phone), err)
	}
	s := domain.PendingRegistrationSnapshot{
		Phone:          phone,
		CodeHash:       d.CodeHash,
		CodeExpiresAt:  d.CodeExpiresAt,
		Attempts:       d.Attempts,
		SealedPassword: d.SealedPassword,
		CreatedAt:      d.CreatedAt,
		ExpiresAt:      d.ExpiresAt,
	}
	if d.VerifiedAt != nil {
		s.VerifiedAt = *d.VerifiedAt
	}
	return domain.UnmarshalPendingRegistrationFromDatabase(s), nil
}

// Save replaces whatever registration the phone had. It replaces, and
// inserts only when there was nothing to replace, rather than upserting:
// FerretDB reports an upsert that races another as an internal error.
func (r *PendingRegistrations) Save(ctx context.Context, p *domain.PendingRegistration) error {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	d := toPendingDoc(p)
	for attempt := range maxAttempts {
		res, err := r.coll.ReplaceOne(ctx, byID(d.Phone), d)
		if err != nil {
			return wrap("save registration", err)
		}
		if res.MatchedCount > 0 {
			return nil
		}
		_, err = r.coll.InsertOne(ctx, d)
		if err == nil {
			return nil
		}
		if !isDuplicateKey(err) {
			return wrap("save registration", err)
		}
		// Another Save inserted first: replace that one.
		if err := backoff(ctx, attempt); err != nil {
			return wrap("save registration", err)
		}
	}
	return contended("save registration")
}

// Update reads the live registration, applies fn and writes the result
// back only if nobody wrote in between; otherwise it reads again and
// re-applies fn (which the port allows). An error from fn is returned and
// nothing is written.
func (r *PendingRegistrations) Update(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) error) error {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	for attempt := range maxAttempts {
		cur, err := r.find(ctx, phone.E164())
		if err != nil {
			return err
		}
		p, err := cur.live(now)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		next := toPendingDoc(p)
		next.Phone = cur.Phone // fn cannot move a registration to another key
		res, err := r.coll.ReplaceOne(ctx, bson.D{
			{Key: "_id", Value: cur.Phone},
			{Key: "version", Value: cur.Version},
		}, next)
		if err != nil {
			return wrap("update registration", err)
		}
		if res.MatchedCount > 0 {
			return nil
		}
		if err := backoff(ctx, attempt); err != nil {
			return wrap("update registration", err)
		}
	}
	return contended("update registration")
}

// Get returns the live registration for phone, or domain.ErrNoPending.
func (r *PendingRegistrations) Get(ctx context.Context, phone domain.PhoneNumber, now time.Time) (*domain.PendingRegistration, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	d, err := r.find(ctx, phone.E164())
	if err != nil {
		return nil, err
	}
	return d.live(now)
}

// Delete removes the phone's registration, if any.
func (r *PendingRegistrations) Delete(ctx context.Context, phone domain.PhoneNumber) error {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	if _, err := r.coll.DeleteOne(ctx, byID(phone.E164())); err != nil {
		return wrap("delete registration", err)
	}
	return nil
}

// find returns the stored document, expired or not; domain.ErrNoPending if
// there is none.
func (r *PendingRegistrations) find(ctx context.Context, phone string) (*pendingDoc, error) {
	var d pendingDoc
	err := r.coll.FindOne(ctx, byID(phone)).Decode(&d)
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return nil, domain.ErrNoPending
	}
	if err != nil {
		return nil, wrap("find registration", err)
	}
	return &d, nil
}

// live rebuilds the registration, treating one past its expiry as absent
// whether or not a TTL monitor or the sweeper has removed it yet.
func (d *pendingDoc) live(now time.Time) (*domain.PendingRegistration, error) {
	p, err := d.toDomain()
	if err != nil {
		return nil, err
	}
	if p.Expired(now) {
		return nil, domain.ErrNoPending
	}
	return p, nil
}
