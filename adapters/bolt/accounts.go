package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/domain"
)

// errImmutableChanged is an Update whose fn changed what an account
// keeps for life: a bug in the caller, not an answer for a client.
var errImmutableChanged = errors.New("bolt: update user: fn changed the id, email or creation time")

// Update applies fn to the account with that id and stores the result
// in one write transaction, fsynced before it returns (see
// application.Users). A move to another number happens in the same
// transaction: the record leaves its old key for the new one, the id
// and email indexes follow it, and the old number's reset code goes; a
// number another account holds is
// domain.ErrPhoneTaken, with nothing written. bbolt has one writer at a
// time, so two moves to one number cannot both find it free. fn may run
// more than once (see the package comment).
func (r *Users) Update(ctx context.Context, id string, fn func(*domain.User) error) (*domain.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("update user", err)
	}
	var (
		stored  *domain.User
		outcome error
	)
	err := r.s.writes.update(func(tx *bbolt.Tx) error {
		// As in Create, an outcome is an answer, not a failed transaction.
		stored, outcome = nil, nil
		doc, phoneKey, err := userByID(tx, []byte(id))
		if err != nil {
			outcome = err
			return nil
		}
		u, err := restoreByID(phoneKey, doc)
		if err != nil {
			outcome = err
			return nil
		}
		oldPhone := u.Phone()
		if err := fn(u); err != nil {
			outcome = err
			return nil
		}
		if u.ID() != doc.ID || u.Email().String() != doc.Email || !u.CreatedAt().Equal(doc.CreatedAt) {
			outcome = errImmutableChanged
			return nil
		}
		newKey := []byte(u.Phone().E164())
		data, err := json.Marshal(toUserDoc(u))
		if err != nil {
			outcome = fmt.Errorf("bolt: encode user: %w", err)
			return nil
		}
		users := tx.Bucket(bucketUsers)
		if !bytes.Equal(newKey, phoneKey) {
			if users.Get(newKey) != nil {
				outcome = domain.ErrPhoneTaken
				return nil
			}
			if err := users.Delete(phoneKey); err != nil {
				return err
			}
			if err := tx.Bucket(bucketUserIDs).Put([]byte(doc.ID), newKey); err != nil {
				return err
			}
			if err := tx.Bucket(bucketEmails).Put([]byte(doc.Email), newKey); err != nil {
				return err
			}
			// The old number's reset code is the account's, or a stale
			// one of an earlier holder: no code of the number's next
			// holder either way (a reset code binds its account).
			reset := domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: oldPhone}.Key()
			if err := tx.Bucket(bucketCodes).Delete([]byte(reset)); err != nil {
				return err
			}
		}
		if err := users.Put(newKey, data); err != nil {
			return err
		}
		stored = u
		return nil
	})
	if err != nil {
		return nil, unavailable("update user", err)
	}
	return stored, outcome
}

// Delete removes the account with that id and every record the file
// keeps of it in one write transaction, fsynced before it returns: the
// account, its id and email index entries, its sessions' records (found
// through sessions_by_user), its pending codes (a password reset's under
// its number, a phone change's under its id) and a registration left
// under its number. Nothing is half done after a crash. The login
// lockouts and rate-limit windows of the embedded mode live in memory,
// not here.
//
// A write that read the account before the deletion and commits after it
// can leave one record behind, which cannot act for the account: a
// refresh's session record and its sessions_by_user entry (kept until
// the session's retention; the refresh reads the account again and is
// refused, and no token authenticates without the account), or a reset
// code (kept until it expires; it is bound to the deleted account's id,
// so it resets nobody's password).
func (r *Users) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return unavailable("delete user", err)
	}
	var outcome error
	err := r.s.writes.update(func(tx *bbolt.Tx) error {
		outcome = nil
		doc, phoneKey, err := userByID(tx, []byte(id))
		if err != nil {
			outcome = err
			return nil
		}
		phone, err := storedPhone(phoneKey)
		if err != nil {
			outcome = err
			return nil
		}
		if err := tx.Bucket(bucketUsers).Delete(phoneKey); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUserIDs).Delete([]byte(id)); err != nil {
			return err
		}
		emails := tx.Bucket(bucketEmails)
		if bytes.Equal(emails.Get([]byte(doc.Email)), phoneKey) {
			if err := emails.Delete([]byte(doc.Email)); err != nil {
				return err
			}
		}
		if err := deleteUserSessions(tx, id); err != nil {
			return err
		}
		codes := tx.Bucket(bucketCodes)
		for _, key := range domain.AccountCodeKeys(phone, id) {
			if err := codes.Delete([]byte(key)); err != nil {
				return err
			}
		}
		// A registration completes by creating the account and then
		// deleting itself; a crash between the two leaves one, sealed
		// password included, under the number.
		return tx.Bucket(bucketPending).Delete(phoneKey)
	})
	if err != nil {
		return unavailable("delete user", err)
	}
	return outcome
}

// deleteUserSessions deletes the session records of account id and their
// sessions_by_user entries. An entry whose record names another account
// (which would be a bug) loses only the entry.
func deleteUserSessions(tx *bbolt.Tx, id string) error {
	index, sessions := tx.Bucket(bucketSessionsByUser), tx.Bucket(bucketSessions)
	prefix := sessionIndexKey(id, "")
	var entries [][]byte
	c := index.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		entries = append(entries, slices.Clone(k))
	}
	// Deleting under a live cursor can make bbolt skip a key: collected
	// first, deleted after.
	for _, k := range entries {
		sid := k[len(prefix):]
		var d sessionDoc
		if v := sessions.Get(sid); v != nil && decodeSessionDoc(v, &d) == nil && d.UserID == id {
			if err := sessions.Delete(sid); err != nil {
				return err
			}
		}
		if err := index.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// ensureSessionUserIndex builds the sessions_by_user index of a file
// written before it existed, once, in the transaction that opens the
// store: the bucket's presence says it is complete. A session record that
// cannot be decoded is logged and left out.
func ensureSessionUserIndex(tx *bbolt.Tx, log *zap.Logger) error {
	if tx.Bucket(bucketSessionsByUser) != nil {
		return nil
	}
	index, err := tx.CreateBucket(bucketSessionsByUser)
	if err != nil {
		return err
	}
	var entries [][]byte
	err = tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		var d sessionDoc
		if err := decodeSessionDoc(v, &d); err != nil {
			log.Warn("undecodable session left out of the account index", zap.ByteString("session", k), zap.Error(err))
			return nil
		}
		entries = append(entries, sessionIndexKey(d.UserID, string(k)))
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(entries, bytes.Compare)
	index.FillPercent = 0.9
	for _, e := range entries {
		if err := index.Put(e, []byte{}); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		log.Info("built the sessions-by-account index", zap.Int("sessions", len(entries)))
	}
	return nil
}
