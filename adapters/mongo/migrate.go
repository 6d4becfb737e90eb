package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/domain"
)

// migrateBatch is how many accounts of the old layout one round moves.
const migrateBatch = 500

// legacyUserDoc is an account as releases before the accounts collection
// stored it, in the users collection under its number.
type legacyUserDoc struct {
	Phone             string    `bson:"_id"`
	ID                string    `bson:"user_id"`
	Email             string    `bson:"email"`
	SealedPassword    []byte    `bson:"sealed_password"`
	CreatedAt         time.Time `bson:"created_at"`
	SessionGeneration int64     `bson:"session_generation,omitempty"`
}

// migrateUsers moves every account still in the users collection (keyed
// by number) into accounts (keyed by id), a batch at a time: each is
// inserted under its id, then its old document deleted. Every step can
// be repeated, so a start that stopped part way (or two instances
// starting together) leaves nothing half moved: an account already in
// accounts under its id was moved by that earlier run, and accounts
// holds the newer truth about it (the old document only goes). Two
// instances moving at once are not safe against a deletion, though: one
// that read a batch before the other moved it inserts it again, and an
// account the other (already serving) deleted in between comes back.
// Nothing short of a claim on the old documents closes that, so
// docs/mongo.md asks that one instance finish the move before the others
// start. An old
// document whose number or email another account already holds under
// another id is a conflict (an instance of the old release wrote it
// after the move began): it is left in place and logged, and the
// operator decides. A start that finds nothing to move costs one query.
//
// The move is not bounded by the start's own deadline (meant for
// reaching the server): each batch has its own, so that a large
// collection moves in one start.
func (s *Store) migrateUsers(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	old := s.db.Collection(collLegacyUsers)
	moved, kept := 0, 0
	var after string // the last number examined; the next round starts past it
	for {
		n, k, last, err := s.migrateBatch(ctx, old, after)
		moved, kept = moved+n, kept+k
		if err != nil {
			return err
		}
		if last == "" {
			break
		}
		after = last
	}
	if moved > 0 {
		s.log.Info("moved accounts from users (keyed by number) to accounts (keyed by id)", zap.Int("accounts", moved))
	}
	if kept > 0 {
		s.log.Error("accounts left in users: their number or email belongs to another account in accounts; resolve by hand",
			zap.Int("accounts", kept))
	}
	return nil
}

// migrateBatch moves the next batch of old documents past after, and
// answers how many went, how many stayed as conflicts, and the last
// number it examined ("" when there was nothing left).
func (s *Store) migrateBatch(ctx context.Context, old *mongodriver.Collection, after string) (moved, kept int, last string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*s.timeout)
	defer cancel()
	filter := bson.D{}
	if after != "" {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}
	}
	cur, err := old.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(migrateBatch))
	if err != nil {
		return 0, 0, "", wrap("migrate users: read", err)
	}
	var docs []legacyUserDoc
	if err := cur.All(ctx, &docs); err != nil {
		return 0, 0, "", wrap("migrate users: read", err)
	}
	if len(docs) == 0 {
		return 0, 0, "", nil
	}
	accounts := make([]any, len(docs))
	for i, d := range docs {
		accounts[i] = accountDoc{
			ID: d.ID, Phone: d.Phone, Email: d.Email, SealedPassword: d.SealedPassword,
			CreatedAt: d.CreatedAt, SessionGeneration: d.SessionGeneration,
		}
	}
	failed := map[int]bool{}
	_, err = s.users.coll.InsertMany(ctx, accounts, options.InsertMany().SetOrdered(false))
	if err != nil {
		var bwe mongodriver.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
			return 0, 0, "", wrap("migrate users: insert", err)
		}
		for _, we := range bwe.WriteErrors {
			if !isDuplicateKey(we) {
				return 0, 0, "", wrap("migrate users: insert", err)
			}
			failed[we.Index] = true
		}
	}
	var done bson.A
	for i, d := range docs {
		if failed[i] {
			// Moved already if accounts holds its id; else a conflict.
			_, err := s.users.find(ctx, byID(d.ID), "migrate users: check")
			switch {
			case errors.Is(err, domain.ErrUserNotFound):
				s.log.Error("account not moved: its number or email is another account's",
					zap.String("phone", domain.MaskPhone(d.Phone)), zap.String("user_id", d.ID))
				kept++
				continue
			case err != nil:
				return moved, kept, "", err
			}
		}
		done = append(done, d.Phone)
	}
	if len(done) > 0 {
		if _, err := old.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: done}}}}); err != nil {
			return moved, kept, "", wrap("migrate users: delete moved", err)
		}
	}
	return len(done), kept, docs[len(docs)-1].Phone, nil
}
