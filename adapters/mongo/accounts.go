package mongo

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// errImmutableChanged is an Update whose fn changed what an account
// keeps for life: a bug in the caller, not an answer for a client.
var errImmutableChanged = errors.New("mongo update user: fn changed the id, email or creation time")

// Update applies fn to the account with that id and stores the result
// with one conditional update of its document: matched on the version
// read, so that a concurrent write (another Update, a RevokeSessions)
// makes it read again and re-apply fn rather than be lost. A move to
// another number is that same single-document update, and the unique
// phone index admits it or refuses it (domain.ErrPhoneTaken): no two
// accounts ever hold one number, whatever races. After a move the old
// number's reset code is deleted, best effort (dropResetCode).
func (r *Users) Update(ctx context.Context, id string, fn func(*domain.User) error) (*domain.User, error) {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	for attempt := range maxAttempts {
		cur, err := r.find(ctx, byID(id), "update user")
		if err != nil {
			return nil, err
		}
		u, err := cur.toDomain()
		if err != nil {
			return nil, err
		}
		if err := fn(u); err != nil {
			return nil, err
		}
		next := toAccountDoc(u)
		if next.ID != cur.ID || next.Email != cur.Email || !next.CreatedAt.Equal(cur.CreatedAt) {
			return nil, errImmutableChanged
		}
		res, err := r.coll.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "version", Value: cur.Version}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "phone", Value: next.Phone},
				{Key: "sealed_password", Value: next.SealedPassword},
				{Key: "session_generation", Value: next.SessionGeneration},
				{Key: "version", Value: cur.Version + 1},
			}}})
		switch {
		case err == nil && res.MatchedCount > 0:
			if next.Phone != cur.Phone {
				r.dropResetCode(ctx, cur.Phone)
			}
			return u, nil
		case err != nil && next.Phone == cur.Phone:
			return nil, wrap("update user", err)
		case err != nil:
			return nil, r.moveRefused(ctx, id, next.Phone, err)
		}
		// Another write came first: read it and decide again.
		if err := backoff(ctx, attempt); err != nil {
			return nil, wrap("update user", err)
		}
	}
	return nil, contended("update user")
}

// dropResetCode deletes the reset code of a number an account just left,
// best effort: it can only be the account's, or a stale one of an earlier
// holder, and a reset code binds the account it was sent for, so one left
// behind resets nobody's password; it goes with its expiry.
func (r *Users) dropResetCode(ctx context.Context, phone string) {
	p, err := domain.RestorePhoneNumber(phone)
	if err != nil {
		return
	}
	key := domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: p}.Key()
	if _, err := r.s.codes.coll.DeleteOne(ctx, byID(key)); err != nil {
		r.s.log.Warn("reset code of a number an account left not deleted", zap.String("phone", domain.MaskPhone(phone)), zap.Error(err))
	}
}

// moveRefused says why a move of account id to phone failed with err. A
// duplicate key can only be the phone (the email does not change):
// domain.ErrPhoneTaken. FerretDB reports a duplicate key hit by an update
// as an internal error rather than E11000, so for any other refusal the
// number is looked up: held by another account, it is taken all the
// same; otherwise the error is what it says.
func (r *Users) moveRefused(ctx context.Context, id, phone string, err error) error {
	if isDuplicateKey(err) {
		return domain.ErrPhoneTaken
	}
	if isUnavailable(err) {
		return wrap("update user", err)
	}
	holder, lookupErr := r.find(ctx, byPhone(phone), "find user")
	switch {
	case lookupErr == nil && holder.ID != id:
		return domain.ErrPhoneTaken
	case lookupErr != nil && !errors.Is(lookupErr, domain.ErrUserNotFound):
		return lookupErr
	}
	return wrap("update user", err)
}

// Delete removes the account with that id and every record the database
// keeps of it. MongoDB gives no single step that covers several
// documents, so the steps are ordered for a crash at any point:
//
//  1. the session generation is bumped, which ends every session of the
//     account, so that no session record deleted next can come back to
//     life as a session never recorded;
//  2. its sessions' records, its pending codes (a password reset's under
//     its number, a phone change's under its id), a registration left
//     under its number and the login lockout of its number go;
//  3. the account goes, matched on the number it was read with (an
//     account moved in the meantime is read again and the steps re-run);
//  4. its sessions' records are deleted once more, for a refresh that
//     read the account before step 1 and wrote its record after step 2.
//
// Stopped before step 3, the account still logs in, every earlier
// session of it refused, and Delete can run again; after it, the account
// is gone, and a record step 4 did not reach cannot authenticate without
// it (it expires with its retention).
func (r *Users) Delete(ctx context.Context, id string) error {
	ctx, cancel := r.s.op(ctx)
	defer cancel()
	for attempt := range maxAttempts {
		cur, err := r.find(ctx, byID(id), "delete user")
		if err != nil {
			return err
		}
		deleted, err := r.deleteSteps(ctx, cur)
		if err != nil || deleted {
			return err
		}
		// The account moved to another number while its records were
		// going: those of the new number must go too.
		if err := backoff(ctx, attempt); err != nil {
			return wrap("delete user", err)
		}
	}
	return contended("delete user")
}

// deleteSteps runs Delete's steps for the account as read, and reports
// whether the account document went. Each step is idempotent.
func (r *Users) deleteSteps(ctx context.Context, cur *accountDoc) (bool, error) {
	s, id := r.s, cur.ID
	phone, err := domain.RestorePhoneNumber(cur.Phone)
	if err != nil {
		return false, err
	}
	sessions := func() error {
		_, err := s.sessions.coll.DeleteMany(ctx, bson.D{{Key: "user_id", Value: id}})
		return err
	}
	deleted := false
	steps := []struct {
		name string
		run  func() error
	}{
		{"revoke", func() error { _, err := r.revoke(ctx, id); return err }},
		{"sessions", sessions},
		{"codes", func() error {
			keys := domain.AccountCodeKeys(phone, id)
			_, err := s.codes.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
			return err
		}},
		{"registration", func() error { _, err := s.pending.coll.DeleteOne(ctx, byID(cur.Phone)); return err }},
		{"lockout", func() error {
			_, err := s.lockouts.coll.DeleteOne(ctx, byID(application.LoginLockoutKey(phone)))
			return err
		}},
		{"account", func() error {
			res, err := r.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "phone", Value: cur.Phone}})
			deleted = err == nil && res.DeletedCount > 0
			return err
		}},
		{"sessions again", func() error {
			if !deleted {
				return nil
			}
			return sessions()
		}},
	}
	for _, step := range steps {
		if err := step.run(); err != nil {
			if errors.Is(err, domain.ErrUserNotFound) || errors.Is(err, mongodriver.ErrNoDocuments) {
				return false, domain.ErrUserNotFound
			}
			return false, wrap("delete user: "+step.name, err)
		}
		if deleteFault != nil {
			if err := deleteFault(step.name); err != nil {
				return false, err
			}
		}
	}
	return deleted, nil
}

// deleteFault, when a test sets it, runs after each step of Delete; an
// error from it stops Delete there, as a crash would.
var deleteFault func(step string) error
