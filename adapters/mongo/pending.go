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
	VerifiedUntil  *time.Time `bson:"verified_until,omitempty"`
	TokenHash      []byte     `bson:"token_hash,omitempty"`
	ClientNet      string     `bson:"client_net,omitempty"`
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
		TokenHash:      s.TokenHash,
		ClientNet:      s.ClientNet,
		SealedPassword: s.SealedPassword,
		CreatedAt:      s.CreatedAt,
		ExpiresAt:      s.ExpiresAt,
		Version:        bson.NewObjectID(),
	}
	if !s.VerifiedAt.IsZero() {
		v := s.VerifiedAt
		d.VerifiedAt = &v
	}
	if !s.VerifiedUntil.IsZero() {
		v := s.VerifiedUntil
		d.VerifiedUntil = &v
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
		TokenHash:      d.TokenHash,
		ClientNet:      d.ClientNet,
		SealedPassword: d.SealedPassword,
		CreatedAt:      d.CreatedAt,
		ExpiresAt:      d.ExpiresAt,
	}
	if d.VerifiedAt != nil {
		s.VerifiedAt = *d.VerifiedAt
	}
	if d.VerifiedUntil != nil {
		s.VerifiedUntil = *d.VerifiedUntil
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

// Upsert gives fn the live registration (nil when there is none, or only
// an expired one) and stores what fn returns: inserted when the phone had
// no document, else replacing only the version it read. A lost race reads
// again and re-applies fn (which the port allows).
func (r *PendingRegistrations) Upsert(ctx context.Context, phone domain.PhoneNumber, now time.Time, fn func(*domain.PendingRegistration) *domain.PendingRegistration) error {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	key := phone.E164()
	for attempt := range maxAttempts {
		stored, err := r.find(ctx, key)
		if err != nil && !errors.Is(err, domain.ErrNoPending) {
			return err
		}
		var cur *domain.PendingRegistration
		if stored != nil {
			if cur, err = stored.live(now); err != nil && !errors.Is(err, domain.ErrNoPending) {
				return err
			}
		}
		next := fn(cur)
		if next.Phone() != phone {
			return fmt.Errorf("mongo: upsert of %s returned another number's registration", phone.Masked())
		}
		d := toPendingDoc(next)
		if stored == nil {
			_, err = r.coll.InsertOne(ctx, d)
			if err == nil {
				return nil
			}
			if !isDuplicateKey(err) {
				return wrap("upsert registration", err)
			}
		} else {
			res, err := r.coll.ReplaceOne(ctx, bson.D{
				{Key: "_id", Value: key},
				{Key: "version", Value: stored.Version},
			}, d)
			if err != nil {
				return wrap("upsert registration", err)
			}
			if res.MatchedCount > 0 {
				return nil
			}
		}
		// Another write came first: read it and decide again.
		if err := backoff(ctx, attempt); err != nil {
			return wrap("upsert registration", err)
		}
	}
	return contended("upsert registration")
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
