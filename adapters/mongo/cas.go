package mongo

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
)

// versioned is a document that carries a version unique per write.
type versioned interface{ version() bson.ObjectID }

// updateDoc is the read-modify-write loop of the stores of limits: read
// key's document (nil when there is none), let next compute what should
// replace it, and write that only if nobody wrote in between: an insert
// when there was no document, a replace or a delete matched on the
// version read otherwise. A lost race reads again and recomputes. next
// returns the document to store, or nil to delete, and whether to write
// at all; an error from next is returned and nothing is written.
func updateDoc[D any, P interface {
	*D
	versioned
}](ctx context.Context, s *Store, coll *mongodriver.Collection, op, key string, next func(cur P) (P, bool, error)) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	for attempt := range maxAttempts {
		var cur P
		var d D
		err := coll.FindOne(ctx, byID(key)).Decode(&d)
		switch {
		case err == nil:
			cur = &d
		case !errors.Is(err, mongodriver.ErrNoDocuments):
			return wrap(op, err)
		}
		doc, write, err := next(cur)
		if err != nil || !write {
			return err
		}
		won := false
		switch {
		case cur == nil && doc == nil:
			return nil
		case cur == nil:
			_, err = coll.InsertOne(ctx, doc)
			won = err == nil
			if isDuplicateKey(err) {
				err = nil
			}
		case doc == nil:
			var res *mongodriver.DeleteResult
			res, err = coll.DeleteOne(ctx, asRead(key, cur.version()))
			won = err == nil && res.DeletedCount > 0
		default:
			var res *mongodriver.UpdateResult
			res, err = coll.ReplaceOne(ctx, asRead(key, cur.version()), doc)
			won = err == nil && res.MatchedCount > 0
		}
		if err != nil {
			return wrap(op, err)
		}
		if won {
			return nil
		}
		if err := backoff(ctx, attempt); err != nil {
			return wrap(op, err)
		}
	}
	return contended(op)
}

// asRead matches key's document only as it was read: with the version
// read, or, for a document written before documents carried versions (the
// rate limits of earlier releases, updated in place with $inc), with no
// version at all. Without that second case such a document could never be
// replaced, and every request that counts against it would fail until it
// expired.
func asRead(key string, v bson.ObjectID) bson.D {
	if v.IsZero() {
		return bson.D{{Key: "_id", Value: key}, {Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}}
	}
	return bson.D{{Key: "_id", Value: key}, {Key: "version", Value: v}}
}
