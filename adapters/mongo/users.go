package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/phoneauth/phoneauth/domain"
)

// Users stores accounts in the accounts collection, keyed by the account
// id, with unique indexes on phone and email: the indexes decide both
// uniqueness rules, and a change of number is one single-document update
// that the phone index admits or refuses.
type Users struct {
	s    *Store
	coll *mongodriver.Collection
}

// accountDoc is a user as stored. Version counts the document's writes,
// so that Update replaces only what it read (a compare-and-swap); every
// write bumps it, the in-place increment of RevokeSessions included.
type accountDoc struct {
	ID                string    `bson:"_id"`
	Phone             string    `bson:"phone"`
	Email             string    `bson:"email"`
	SealedPassword    []byte    `bson:"sealed_password"`
	CreatedAt         time.Time `bson:"created_at"`
	SessionGeneration int64     `bson:"session_generation"`
	Version           int64     `bson:"version"`
}

func toAccountDoc(u *domain.User) accountDoc {
	return accountDoc{
		ID:                u.ID(),
		Phone:             u.Phone().E164(),
		Email:             u.Email().String(),
		SealedPassword:    u.SealedPassword(),
		CreatedAt:         u.CreatedAt(),
		SessionGeneration: int64(u.SessionGeneration()),
	}
}

// toDomain rebuilds the user. The number was parsed when the account was
// made: it is restored, not parsed again (every login and every
// authenticated request comes here).
func (d *accountDoc) toDomain() (*domain.User, error) {
	phone, err := domain.RestorePhoneNumber(d.Phone)
	if err != nil {
		return nil, fmt.Errorf("mongo: stored user %s: %w", domain.MaskPhone(d.Phone), err)
	}
	return domain.RestoreUser(d.ID, phone, d.Email, d.SealedPassword, d.CreatedAt, uint64(d.SessionGeneration)), nil
}

func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

func byPhone(phone string) bson.D { return bson.D{{Key: "phone", Value: phone}} }

// Create inserts u. A taken phone is domain.ErrUserExists and a taken
// email domain.ErrEmailTaken; the unique indexes decide, so concurrent
// creates for one phone leave exactly one account.
func (r *Users) Create(ctx context.Context, u *domain.User) error {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	_, err := r.coll.InsertOne(ctx, toAccountDoc(u))
	if err == nil {
		return nil
	}
	if isDuplicateKey(err) {
		return r.whichDuplicate(ctx, err, u.Phone().E164())
	}
	return wrap("create user", err)
}

// whichDuplicate tells a taken phone from a taken email. MongoDB names
// the index (and, since 4.4, the key pattern); FerretDB names the index in
// its message. If neither says, the phone is looked up: only the answer
// depends on that read, never the invariant.
func (r *Users) whichDuplicate(ctx context.Context, err error, phone string) error {
	var we mongodriver.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			if kp, ok := e.Raw.Lookup("keyPattern").DocumentOK(); ok {
				if _, err := kp.LookupErr("email"); err == nil {
					return domain.ErrEmailTaken
				}
				if _, err := kp.LookupErr("phone"); err == nil {
					return domain.ErrUserExists
				}
				if _, err := kp.LookupErr("_id"); err == nil {
					return errUserIDTaken
				}
			}
			switch {
			case strings.Contains(e.Message, idxEmail):
				return domain.ErrEmailTaken
			case strings.Contains(e.Message, idxPhone):
				return domain.ErrUserExists
			case strings.Contains(e.Message, "_id_"):
				return errUserIDTaken
			}
		}
	}
	exists, lookupErr := r.exists(ctx, phone)
	switch {
	case lookupErr != nil:
		return fmt.Errorf("mongo create user: duplicate key, then %w", lookupErr)
	case exists:
		return domain.ErrUserExists
	default:
		return domain.ErrEmailTaken
	}
}

// ByPhone returns the account for phone, or domain.ErrUserNotFound: one
// point read through the unique phone index (every login comes here).
func (r *Users) ByPhone(ctx context.Context, phone domain.PhoneNumber) (*domain.User, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	d, err := r.find(ctx, byPhone(phone.E164()), "find user")
	if err != nil {
		return nil, err
	}
	return d.toDomain()
}

// errUserIDTaken is a Create whose user id another account holds: ids
// are 128 random bits, so this is a bug, not an answer for the client.
var errUserIDTaken = errors.New("mongo create user: user id already taken")

// ByID returns the account with that id, or domain.ErrUserNotFound: one
// read by _id (every authenticated request comes here).
func (r *Users) ByID(ctx context.Context, id string) (*domain.User, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	d, err := r.find(ctx, byID(id), "find user by id")
	if err != nil {
		return nil, err
	}
	return d.toDomain()
}

// find reads the one account filter matches; domain.ErrUserNotFound if
// none does.
func (r *Users) find(ctx context.Context, filter bson.D, op string) (*accountDoc, error) {
	var d accountDoc
	err := r.coll.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return nil, domain.ErrUserNotFound
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return &d, nil
}

// RevokeSessions moves the account to its next session generation
// (domain.User.RevokeSessions) with one atomic increment, acknowledged
// by a majority before it returns, and answers the new generation. The
// increment bumps the version too, so that an Update that read the
// account before it cannot write the old generation back.
func (r *Users) RevokeSessions(ctx context.Context, id string) (uint64, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	return r.revoke(ctx, id)
}

func (r *Users) revoke(ctx context.Context, id string) (uint64, error) {
	// The whole document comes back: FerretDB implements no projection
	// in findAndModify.
	var d accountDoc
	err := r.coll.FindOneAndUpdate(ctx, byID(id),
		bson.D{{Key: "$inc", Value: bson.D{{Key: "session_generation", Value: int64(1)}, {Key: "version", Value: int64(1)}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&d)
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return 0, domain.ErrUserNotFound
	}
	if err != nil {
		return 0, wrap("revoke sessions", err)
	}
	return uint64(d.SessionGeneration), nil
}

// Exists reports whether phone has an account.
func (r *Users) Exists(ctx context.Context, phone domain.PhoneNumber) (bool, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	return r.exists(ctx, phone.E164())
}

func (r *Users) exists(ctx context.Context, phone string) (bool, error) {
	err := r.coll.FindOne(ctx, byPhone(phone), options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, wrap("find user", err)
	}
	return true, nil
}
