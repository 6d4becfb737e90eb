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

// Users stores accounts in the users collection, keyed by the E.164 phone
// number, so that the primary key itself enforces one account per phone
// and a unique index on email enforces the other rule.
type Users struct {
	s    *Store
	coll *mongodriver.Collection
}

// userDoc is a user as stored. A user written before accounts had a
// session generation has none, which reads as 0: the generation every
// account starts at.
type userDoc struct {
	Phone             string    `bson:"_id"`
	ID                string    `bson:"user_id"`
	Email             string    `bson:"email"`
	SealedPassword    []byte    `bson:"sealed_password"`
	CreatedAt         time.Time `bson:"created_at"`
	SessionGeneration int64     `bson:"session_generation,omitempty"`
}

func toUserDoc(u *domain.User) userDoc {
	return userDoc{
		Phone:             u.Phone().E164(),
		ID:                u.ID(),
		Email:             u.Email().String(),
		SealedPassword:    u.SealedPassword(),
		CreatedAt:         u.CreatedAt(),
		SessionGeneration: int64(u.SessionGeneration()),
	}
}

// toDomain rebuilds the user found under phone, the key it was looked up
// by, without parsing the number again.
func (d userDoc) toDomain(phone domain.PhoneNumber) (*domain.User, error) {
	if d.Phone != phone.E164() {
		return nil, fmt.Errorf("mongo: user record under %s holds number %s", phone.Masked(), domain.MaskPhone(d.Phone))
	}
	return domain.RestoreUser(d.ID, phone, d.Email, d.SealedPassword, d.CreatedAt, uint64(d.SessionGeneration)), nil
}

func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// Create inserts u. A taken phone is domain.ErrUserExists and a taken
// email domain.ErrEmailTaken; the unique indexes decide, so concurrent
// creates for one phone leave exactly one account.
func (r *Users) Create(ctx context.Context, u *domain.User) error {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	_, err := r.coll.InsertOne(ctx, toUserDoc(u))
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
				if _, err := kp.LookupErr("_id"); err == nil {
					return domain.ErrUserExists
				}
				if _, err := kp.LookupErr("user_id"); err == nil {
					return errUserIDTaken
				}
			}
			switch {
			case strings.Contains(e.Message, idxEmail):
				return domain.ErrEmailTaken
			case strings.Contains(e.Message, idxUserID):
				return errUserIDTaken
			case strings.Contains(e.Message, "_id_"):
				return domain.ErrUserExists
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

// ByPhone returns the account for phone, or domain.ErrUserNotFound.
func (r *Users) ByPhone(ctx context.Context, phone domain.PhoneNumber) (*domain.User, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	var d userDoc
	err := r.coll.FindOne(ctx, byID(phone.E164())).Decode(&d)
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return nil, domain.ErrUserNotFound
	}
	if err != nil {
		return nil, wrap("find user", err)
	}
	return d.toDomain(phone)
}

// errUserIDTaken is a Create whose user id another account holds: ids
// are 128 random bits, so this is a bug, not an answer for the client.
var errUserIDTaken = errors.New("mongo create user: user id already taken")

// ByID returns the account with that id (by the unique index on
// user_id), or domain.ErrUserNotFound.
func (r *Users) ByID(ctx context.Context, id string) (*domain.User, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	var d userDoc
	err := r.coll.FindOne(ctx, bson.D{{Key: "user_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return nil, domain.ErrUserNotFound
	}
	if err != nil {
		return nil, wrap("find user by id", err)
	}
	// Parsed when the account was made: restored, not parsed again
	// (every authenticated request comes here).
	phone, err := domain.RestorePhoneNumber(d.Phone)
	if err != nil {
		return nil, fmt.Errorf("mongo: stored user %s: %w", domain.MaskPhone(d.Phone), err)
	}
	return d.toDomain(phone)
}

// RevokeSessions moves the account to its next session generation
// (domain.User.RevokeSessions) with one atomic increment, acknowledged
// by a majority before it returns, and answers the new generation.
func (r *Users) RevokeSessions(ctx context.Context, id string) (uint64, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	// The whole document comes back: FerretDB implements no projection
	// in findAndModify.
	var d userDoc
	err := r.coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "user_id", Value: id}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "session_generation", Value: int64(1)}}}},
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
	err := r.coll.FindOne(ctx, byID(phone), options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongodriver.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, wrap("find user", err)
	}
	return true, nil
}
