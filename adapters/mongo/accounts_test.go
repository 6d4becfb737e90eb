package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/mongo"
	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/mongotest"
)

var lifetimes = domain.SessionLifetimes{Access: 15 * time.Minute, Refresh: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

// rawDB connects to the test server without the adapter, to write or
// read what the adapter would not.
func rawDB(t *testing.T, uri, db string) *mongodriver.Database {
	t.Helper()
	c, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(db)
}

// TestDuplicateNumberOnUpdate: the server's own answer to an update that
// breaks the unique phone index, whatever it is (E11000 on MongoDB, an
// internal error on FerretDB), comes back from Users.Update as
// domain.ErrPhoneTaken, with nothing written.
func TestDuplicateNumberOnUpdate(t *testing.T) {
	ctx := context.Background()
	uri := mongotest.Start(t)
	db := mongotest.Database(t, uri)
	s := openAt(t, uri, db, 5*time.Second)
	for i, id := range []string{"a", "b"} {
		if err := s.Users().Create(ctx, domain.NewUser(id, phone(i), email(t, id+"@example.com"), []byte(id), t0)); err != nil {
			t.Fatal(err)
		}
	}
	_, raw := rawDB(t, uri, db).Collection("accounts").UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "phone", Value: phone(1).E164()}}}})
	if raw == nil {
		t.Fatal("the server let two accounts hold one number")
	}
	t.Logf("the server answers a duplicate number on update with: %v (E11000: %v)", raw, mongodriver.IsDuplicateKeyError(raw))

	_, err := s.Users().Update(ctx, "a", func(u *domain.User) error {
		u.ChangePhone(phone(1), []byte("x"))
		return nil
	})
	if !errors.Is(err, domain.ErrPhoneTaken) {
		t.Fatalf("Update to b's number = %v, want domain.ErrPhoneTaken", err)
	}
	if u, err := s.Users().ByID(ctx, "a"); err != nil || u.Phone() != phone(0) || u.SessionGeneration() != 0 {
		t.Errorf("a after the refused move: %v", err)
	}
}

// TestDeleteStoppedAfterEachStep stops Delete after each of its steps, as
// kill -9 would, and checks what is left: the account still logs in (by
// number and by id) with every earlier session refused, or, once the
// account step has run, no account at all; never a session that was
// revoked accepted again. Delete run again then completes.
func TestDeleteStoppedAfterEachStep(t *testing.T) {
	ctx := context.Background()
	uri := mongotest.Start(t)
	// The steps stopped after below are every step a Delete runs.
	s := openAt(t, uri, mongotest.Database(t, uri), 5*time.Second)
	if err := s.Users().Create(ctx, domain.NewUser("u", phone(1), email(t, "u@example.com"), nil, t0)); err != nil {
		t.Fatal(err)
	}
	seen, undo := mongo.WatchDeleteSteps()
	err := s.Users().Delete(ctx, "u")
	undo()
	if err != nil || fmt.Sprint(seen()) != fmt.Sprint(mongo.DeleteSteps) {
		t.Fatalf("Delete = %v after steps %q; the test stops after each of %q", err, seen(), mongo.DeleteSteps)
	}
	for _, step := range mongo.DeleteSteps {
		t.Run(strings.ReplaceAll(step, " ", "_"), func(t *testing.T) {
			s := openAt(t, uri, mongotest.Database(t, uri), 5*time.Second)
			const id = "victim"
			if err := s.Users().Create(ctx, domain.NewUser(id, phone(1), email(t, "v@example.com"), []byte("sealed"), t0)); err != nil {
				t.Fatal(err)
			}
			// A session revoked (a logout), and one refreshed, both under
			// generation 0; a token of the revoked one must never pass.
			revoked := domain.OpenSession("revoked", id, 0, t0, lifetimes)
			live := domain.OpenSession("live", id, 0, t0, lifetimes)
			tok := func(i domain.SessionIssue) domain.SessionToken {
				return domain.SessionToken{SessionID: i.SessionID, UserID: i.UserID, Generation: i.Generation, IssuedAt: i.IssuedAt, ExpiresAt: i.RefreshExpiresAt}
			}
			now := t0.Add(time.Minute)
			if err := s.Sessions().Update(ctx, "revoked", now, func(ss *domain.Session) error {
				ss.Revoke(tok(revoked), revoked.RefreshExpiresAt)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := s.Sessions().Update(ctx, "live", now, func(ss *domain.Session) error {
				ss.Refresh(tok(live), 0, now, lifetimes)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			reset := domain.CodeSubject{Purpose: domain.PurposeResetPassword, Phone: phone(1)}
			if err := s.PendingCodes().Upsert(ctx, reset.Key(), t0, func(*domain.PendingCode) *domain.PendingCode {
				return domain.NewPendingCode(reset, []byte("hash"), t0, time.Hour)
			}); err != nil {
				t.Fatal(err)
			}

			undo := mongo.StopDeleteAfter(step)
			err := s.Users().Delete(ctx, id)
			undo()
			if !errors.Is(err, mongo.ErrDeleteStopped) {
				t.Fatalf("Delete stopped after %s = %v", step, err)
			}

			// accepted reports whether a session's token of generation 0
			// still passes as authentication would check it: the account
			// at that generation, and no revoked record.
			accepted := func(sid string) bool {
				u, err := s.Users().ByID(ctx, id)
				if errors.Is(err, domain.ErrUserNotFound) {
					return false
				}
				if err != nil {
					t.Fatalf("ByID: %v", err)
				}
				ss, err := s.Sessions().Get(ctx, sid, now)
				if err != nil {
					t.Fatalf("Get(%s): %v", sid, err)
				}
				return u.AcceptsSession(0) && !ss.Revoked()
			}
			if accepted("revoked") {
				t.Errorf("stopped after %s: the revoked session is accepted again", step)
			}
			byPhone, errPhone := s.Users().ByPhone(ctx, phone(1))
			_, errID := s.Users().ByID(ctx, id)
			gone := step == "account" || step == "sessions again"
			switch {
			case gone && (!errors.Is(errPhone, domain.ErrUserNotFound) || !errors.Is(errID, domain.ErrUserNotFound)):
				t.Errorf("stopped after %s: the account is still there (%v, %v)", step, errPhone, errID)
			case !gone && (errPhone != nil || errID != nil || byPhone.ID() != id):
				t.Errorf("stopped after %s: the account does not log in (%v, %v)", step, errPhone, errID)
			case !gone && accepted("live"):
				t.Errorf("stopped after %s: a session opened before the deletion began is still accepted", step)
			}

			// Run again, it completes (or finds the account gone).
			err = s.Users().Delete(ctx, id)
			if gone && !errors.Is(err, domain.ErrUserNotFound) || !gone && err != nil {
				t.Fatalf("Delete again after %s = %v", step, err)
			}
			records, err := s.Dump(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range records {
				if strings.Contains(r.Value, id) || strings.Contains(r.Value, phone(1).E164()) {
					if gone && r.Where == "sessions" {
						// Delete found no account to run again for: a
						// record the stopped run's last step did not
						// reach waits for its retention; without the
						// account it authenticates nothing.
						continue
					}
					t.Errorf("left after the completed Delete: %s %s", r.Where, r.Key)
				}
			}
			if err := s.Users().Create(ctx, domain.NewUser("again", phone(1), email(t, "v@example.com"), nil, t0)); err != nil {
				t.Errorf("Create on the deleted number and email: %v", err)
			}
		})
	}
}

// TestMigrateUsersLayout: accounts stored by an earlier release (in
// users, keyed by number) move to accounts at Open, once, whatever a
// stopped earlier move left; an account whose number another account
// already holds stays where it is, logged.
func TestMigrateUsersLayout(t *testing.T) {
	ctx := context.Background()
	uri := mongotest.Start(t)
	db := mongotest.Database(t, uri)
	raw := rawDB(t, uri, db)
	const n = 1200 // more than one batch
	var old []any
	for i := range n {
		old = append(old, bson.D{
			{Key: "_id", Value: phone(i).E164()}, {Key: "user_id", Value: fmt.Sprintf("id-%d", i)},
			{Key: "email", Value: fmt.Sprintf("u%d@example.com", i)}, {Key: "sealed_password", Value: []byte{byte(i)}},
			{Key: "created_at", Value: t0}, {Key: "session_generation", Value: int64(i % 3)},
		})
	}
	// The second has no generation (written before accounts had one).
	old[1] = bson.D{
		{Key: "_id", Value: phone(1).E164()}, {Key: "user_id", Value: "id-1"},
		{Key: "email", Value: "u1@example.com"}, {Key: "sealed_password", Value: []byte{1}}, {Key: "created_at", Value: t0},
	}
	// A conflict: the old release wrote an account on a number that the
	// new one had given another account.
	old = append(old, bson.D{
		{Key: "_id", Value: phone(n).E164()}, {Key: "user_id", Value: "id-conflict"},
		{Key: "email", Value: "conflict@example.com"}, {Key: "sealed_password", Value: []byte{1}}, {Key: "created_at", Value: t0},
	})
	if _, err := raw.Collection("users").InsertMany(ctx, old); err != nil {
		t.Fatal(err)
	}
	// A move stopped part way: id-5 was copied (and has changed since),
	// its old document not yet deleted.
	accounts := raw.Collection("accounts")
	if _, err := accounts.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: "id-5"}, {Key: "phone", Value: phone(5).E164()}, {Key: "email", Value: "u5@example.com"},
			{Key: "sealed_password", Value: []byte{5}}, {Key: "created_at", Value: t0}, {Key: "session_generation", Value: int64(9)}, {Key: "version", Value: int64(4)}},
		bson.D{{Key: "_id", Value: "id-new"}, {Key: "phone", Value: phone(n).E164()}, {Key: "email", Value: "new@example.com"},
			{Key: "sealed_password", Value: []byte{1}}, {Key: "created_at", Value: t0}, {Key: "session_generation", Value: int64(0)}, {Key: "version", Value: int64(0)}},
	}); err != nil {
		t.Fatal(err)
	}

	open := func() (*mongo.Store, *observer.ObservedLogs) {
		core, logs := observer.New(zap.InfoLevel)
		s, err := mongo.Open(ctx, mongo.Config{URI: uri, Database: db}, zap.New(core))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return s, logs
	}
	movedLogged := func(logs *observer.ObservedLogs) (int64, int) {
		entries := logs.FilterMessageSnippet("moved accounts").All()
		if len(entries) == 0 {
			return 0, 0
		}
		return entries[0].ContextMap()["accounts"].(int64), len(entries)
	}

	s, logs := open()
	if moved, times := movedLogged(logs); moved != n || times != 1 {
		t.Errorf("first Open logged %d moved accounts in %d lines, want %d in one", moved, times, n)
	}
	if c := logs.FilterMessageSnippet("not moved").Len(); c != 1 {
		t.Errorf("the conflict was logged %d times, want once", c)
	}
	for _, i := range []int{0, 1, 2, 5, 499, 500, 501, n - 1} {
		u, err := s.Users().ByPhone(ctx, phone(i))
		wantGen := uint64(i % 3)
		if i == 1 {
			wantGen = 0
		}
		if i == 5 {
			wantGen = 9 // what the accounts collection holds wins
		}
		if err != nil || u.ID() != fmt.Sprintf("id-%d", i) || u.Email().String() != fmt.Sprintf("u%d@example.com", i) ||
			u.SessionGeneration() != wantGen || !u.CreatedAt().Equal(t0) || len(u.SealedPassword()) != 1 || u.SealedPassword()[0] != byte(i) {
			t.Fatalf("account %d after the move: %+v, %v", i, u, err)
		}
		if byID, err := s.Users().ByID(ctx, u.ID()); err != nil || byID.Phone() != phone(i) {
			t.Fatalf("ByID(%s) after the move: %v", u.ID(), err)
		}
	}
	// Moved accounts are ordinary ones: they change and go.
	if _, err := s.Users().Update(ctx, "id-7", func(u *domain.User) error { u.ChangePassword([]byte("new")); return nil }); err != nil {
		t.Errorf("Update of a moved account: %v", err)
	}
	if err := s.Users().Delete(ctx, "id-8"); err != nil {
		t.Errorf("Delete of a moved account: %v", err)
	}
	left, err := raw.Collection("users").CountDocuments(ctx, bson.D{})
	if err != nil || left != 1 {
		t.Errorf("users holds %d documents after the move, %v; want the conflict alone", left, err)
	}
	if u, err := s.Users().ByPhone(ctx, phone(n)); err != nil || u.ID() != "id-new" {
		t.Errorf("the conflicting number: %v; want it still the new account's", err)
	}

	// The next start has nothing to move.
	_, logs = open()
	if moved, _ := movedLogged(logs); moved != 0 {
		t.Errorf("second Open moved %d accounts, want 0", moved)
	}
}
