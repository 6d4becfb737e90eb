package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"
)

// Index names are fixed so that Users.Create can tell from a duplicate-key
// error which rule was broken, and so that re-creating them at every start
// is a no-op.
const (
	idxPhone       = "phone_unique"
	idxEmail       = "email_unique"
	idxSessionUser = "user_id"
	idxExpiresAt   = "expires_at_ttl"
	// idxExpiresPlain replaces the TTL index on servers without TTL
	// (FerretDB); the sweeper's range delete still wants an index.
	idxExpiresPlain = "expires_at"
)

// indexBuildTimeout bounds the index builds of a start.
const indexBuildTimeout = 5 * time.Minute

// codeNotImplemented is what FerretDB answers to a TTL index.
const codeNotImplemented = 238

// ensureIndexes creates what every query relies on. Lookups go by _id
// (always indexed and unique: the account id, the phone number for
// pending registrations, the key for codes, counters and nonces, the
// session id); accounts also by phone (every login), which is unique as
// email is; sessions by account (a deletion), and the expiring
// collections get a TTL index on expires_at.
//
// Creating an index that exists is a no-op; building one on a large
// collection (sessions.user_id, the first start of a release that has
// it) takes as long as it takes, so the builds are bounded by
// indexBuildTimeout rather than by the start's deadline, which is meant
// for reaching the server.
func (s *Store) ensureIndexes(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(indexBuildTimeout, s.timeout))
	defer cancel()

	for _, ix := range []struct {
		coll   *mongodriver.Collection
		field  string
		name   string
		unique bool
	}{
		{s.users.coll, "phone", idxPhone, true},
		{s.users.coll, "email", idxEmail, true},
		{s.sessions.coll, "user_id", idxSessionUser, false},
	} {
		_, err := ix.coll.Indexes().CreateOne(ctx, mongodriver.IndexModel{
			Keys:    bson.D{{Key: ix.field, Value: 1}},
			Options: options.Index().SetName(ix.name).SetUnique(ix.unique),
		})
		if err != nil {
			return wrap(fmt.Sprintf("create index %s.%s", ix.coll.Name(), ix.field), err)
		}
	}

	for _, c := range s.expiring() {
		if err := s.ensureExpiryIndex(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) ensureExpiryIndex(ctx context.Context, c *mongodriver.Collection) error {
	keys := bson.D{{Key: "expires_at", Value: 1}}
	_, err := c.Indexes().CreateOne(ctx, mongodriver.IndexModel{
		Keys:    keys,
		Options: options.Index().SetName(idxExpiresAt).SetExpireAfterSeconds(0),
	})
	if err == nil {
		return nil
	}
	var se mongodriver.ServerError
	if !errors.As(err, &se) || !se.HasErrorCode(codeNotImplemented) {
		return wrap(fmt.Sprintf("create index %s.expires_at", c.Name()), err)
	}
	s.ttlOnce.Do(func() {
		s.log.Info("server has no TTL indexes; expired records are removed by the sweeper only",
			zap.String("database", s.db.Name()))
	})
	_, err = c.Indexes().CreateOne(ctx, mongodriver.IndexModel{
		Keys:    keys,
		Options: options.Index().SetName(idxExpiresPlain),
	})
	if err != nil {
		return wrap(fmt.Sprintf("create index %s.expires_at", c.Name()), err)
	}
	return nil
}
