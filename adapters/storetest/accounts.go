package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// testAccounts checks the changes to an account after it is made
// (Users.Update, Users.Delete): that they are atomic, that no two
// accounts ever hold one number however moves and creates race, that no
// concurrent change is lost, and that a deleted account leaves nothing
// behind but the rate-limit windows of its number.
func testAccounts(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) Stores {
		t.Helper()
		s := newStores(t)
		if s.Users == nil {
			t.Skip("Users not implemented by these stores")
		}
		return s
	}
	create := func(t *testing.T, users application.Users, id string, p domain.PhoneNumber, addr string) *domain.User {
		t.Helper()
		u := domain.NewUser(id, p, email(t, addr), []byte("sealed-"+id), base)
		if err := users.Create(t.Context(), u); err != nil {
			t.Fatalf("Create(%s): %v", id, err)
		}
		return u
	}
	// wantUser reads the account by id and by number and requires both to
	// show it at p, with password sealed and generation gen, the rest as
	// it was made.
	wantUser := func(t *testing.T, users application.Users, made *domain.User, p domain.PhoneNumber, sealed []byte, gen uint64) {
		t.Helper()
		byID, err := users.ByID(t.Context(), made.ID())
		if err != nil {
			t.Fatalf("ByID(%s): %v", made.ID(), err)
		}
		byPhone, err := users.ByPhone(t.Context(), p)
		if err != nil {
			t.Fatalf("ByPhone(%s) for %s: %v", p.Masked(), made.ID(), err)
		}
		for name, u := range map[string]*domain.User{"ByID": byID, "ByPhone": byPhone} {
			if u.ID() != made.ID() || u.Phone() != p || u.Email() != made.Email() || !sameMillis(u.CreatedAt(), made.CreatedAt()) ||
				!bytes.Equal(u.SealedPassword(), sealed) || u.SessionGeneration() != gen {
				t.Errorf("%s(%s) = %q at %s, email %q, sealed %q, generation %d; want %q at %s, email %q, sealed %q, generation %d",
					name, made.ID(), u.ID(), u.Phone().Masked(), u.Email(), u.SealedPassword(), u.SessionGeneration(),
					made.ID(), p.Masked(), made.Email(), sealed, gen)
			}
		}
	}
	wantNoPhone := func(t *testing.T, users application.Users, p domain.PhoneNumber) {
		t.Helper()
		if _, err := users.ByPhone(t.Context(), p); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("ByPhone(%s) = %v, want domain.ErrUserNotFound", p.Masked(), err)
		}
		if ok, err := users.Exists(t.Context(), p); err != nil || ok {
			t.Errorf("Exists(%s) = %v, %v; want false", p.Masked(), ok, err)
		}
	}
	changePhone := func(p domain.PhoneNumber) func(*domain.User) error {
		return func(u *domain.User) error {
			u.ChangePhone(p, []byte("sealed-for-"+p.E164()))
			return nil
		}
	}

	t.Run("UpdateChangesPassword", func(t *testing.T) {
		users, ctx := open(t).Users, t.Context()
		u1 := create(t, users, "u1", phone(1), "a@example.com")
		u2 := create(t, users, "u2", phone(2), "b@example.com")
		got, err := users.Update(ctx, "u1", func(u *domain.User) error {
			u.ChangePassword(everyByte())
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got.ID() != "u1" || got.SessionGeneration() != 1 || !bytes.Equal(got.SealedPassword(), everyByte()) {
			t.Errorf("Update answered %q generation %d; want u1 at generation 1 with the new password", got.ID(), got.SessionGeneration())
		}
		wantUser(t, users, u1, phone(1), everyByte(), 1)
		wantUser(t, users, u2, phone(2), u2.SealedPassword(), 0)
	})

	t.Run("UpdateMovesTheNumber", func(t *testing.T) {
		s := open(t)
		users, ctx := s.Users, t.Context()
		u1 := create(t, users, "u1", phone(1), "a@example.com")
		u2 := create(t, users, "u2", phone(2), "b@example.com")
		resets := []domain.CodeSubject{
			{Purpose: domain.PurposeResetPassword, Phone: phone(1), Account: "u1"},
			{Purpose: domain.PurposeResetPassword, Phone: phone(2), Account: "u2"},
		}
		// One store (Dump) moves the account's records with it.
		oneStore := s.Codes != nil && s.Dump != nil
		if oneStore {
			for _, sub := range resets {
				upsertCode(t, s.Codes, sub, base)
			}
		}
		got, err := users.Update(ctx, "u1", changePhone(phone(3)))
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got.Phone() != phone(3) || got.SessionGeneration() != 1 {
			t.Errorf("Update answered %s generation %d; want the new number, generation 1", got.Phone().Masked(), got.SessionGeneration())
		}
		wantUser(t, users, u1, phone(3), []byte("sealed-for-"+phone(3).E164()), 1)
		wantNoPhone(t, users, phone(1))
		wantUser(t, users, u2, phone(2), u2.SealedPassword(), 0)
		// The reset code of the number it left went with the move; the
		// other account's stayed.
		if oneStore {
			for i, sub := range resets {
				err := s.Codes.Update(ctx, sub.Key(), base, func(*domain.PendingCode) error { return nil })
				if gone := errors.Is(err, domain.ErrNoPendingCode); gone != (i == 0) || (!gone && err != nil) {
					t.Errorf("after the move, the reset code of %s: %v", sub.Phone.Masked(), err)
				}
			}
		}
		// Every index followed the account: its id finds it (a
		// revocation), its email is still its own, its new number is
		// taken, and its old number is free for a new account.
		if gen, err := users.RevokeSessions(ctx, "u1"); err != nil || gen != 2 {
			t.Errorf("RevokeSessions after the move = %d, %v; want 2", gen, err)
		}
		if err := users.Create(ctx, domain.NewUser("u3", phone(4), email(t, "a@example.com"), nil, base)); !errors.Is(err, domain.ErrEmailTaken) {
			t.Errorf("Create with the moved account's email = %v, want domain.ErrEmailTaken", err)
		}
		if err := users.Create(ctx, domain.NewUser("u4", phone(3), email(t, "d@example.com"), nil, base)); !errors.Is(err, domain.ErrUserExists) {
			t.Errorf("Create on the moved account's new number = %v, want domain.ErrUserExists", err)
		}
		u5 := create(t, users, "u5", phone(1), "e@example.com")
		wantUser(t, users, u5, phone(1), u5.SealedPassword(), 0)
		// And it can move back, to a number it held before.
		if _, err := users.Update(ctx, "u1", changePhone(phone(6))); err != nil {
			t.Fatalf("second move: %v", err)
		}
		wantUser(t, users, u1, phone(6), []byte("sealed-for-"+phone(6).E164()), 3)
		wantNoPhone(t, users, phone(3))
	})

	t.Run("UpdateRefusesATakenNumber", func(t *testing.T) {
		users, ctx := open(t).Users, t.Context()
		u1 := create(t, users, "u1", phone(1), "a@example.com")
		u2 := create(t, users, "u2", phone(2), "b@example.com")
		got, err := users.Update(ctx, "u1", changePhone(phone(2)))
		if !errors.Is(err, domain.ErrPhoneTaken) || got != nil {
			t.Fatalf("Update to a taken number = %v, %v; want nil, domain.ErrPhoneTaken", got, err)
		}
		wantUser(t, users, u1, phone(1), u1.SealedPassword(), 0)
		wantUser(t, users, u2, phone(2), u2.SealedPassword(), 0)
	})

	t.Run("UpdateWritesNothingWhenFnFails", func(t *testing.T) {
		users, ctx := open(t).Users, t.Context()
		u1 := create(t, users, "u1", phone(1), "a@example.com")
		boom := errors.New("boom")
		for name, fn := range map[string]func(*domain.User) error{
			"password": func(u *domain.User) error { u.ChangePassword([]byte("other")); return boom },
			"number":   func(u *domain.User) error { u.ChangePhone(phone(2), []byte("other")); return boom },
		} {
			if got, err := users.Update(ctx, "u1", fn); !errors.Is(err, boom) || got != nil {
				t.Errorf("Update (%s) with a failing fn = %v, %v; want nil, fn's error", name, got, err)
			}
		}
		wantUser(t, users, u1, phone(1), u1.SealedPassword(), 0)
		wantNoPhone(t, users, phone(2))
	})

	t.Run("UpdateUnknownID", func(t *testing.T) {
		users, ctx := open(t).Users, t.Context()
		create(t, users, "u1", phone(1), "a@example.com")
		called := false
		_, err := users.Update(ctx, "u2", func(*domain.User) error { called = true; return nil })
		if !errors.Is(err, domain.ErrUserNotFound) || called {
			t.Errorf("Update(unknown) = %v, fn called %v; want domain.ErrUserNotFound, not called", err, called)
		}
	})

	t.Run("ConcurrentMovesToOneNumber", func(t *testing.T) {
		users, ctx := open(t).Users, t.Context()
		made := make([]*domain.User, concurrency)
		for i := range made {
			made[i] = create(t, users, fmt.Sprintf("u%d", i), phone(i), fmt.Sprintf("u%d@example.com", i))
		}
		target := phone(1000)
		errs := race(concurrency, func(i int) error {
			_, err := users.Update(ctx, fmt.Sprintf("u%d", i), changePhone(target))
			return err
		})
		winner := checkOneWinner(t, errs, domain.ErrPhoneTaken)
		if winner < 0 {
			return
		}
		for i, u := range made {
			if i == winner {
				wantUser(t, users, u, target, []byte("sealed-for-"+target.E164()), 1)
				wantNoPhone(t, users, phone(i))
			} else {
				wantUser(t, users, u, phone(i), u.SealedPassword(), 0)
			}
		}
	})

	t.Run("ConcurrentCreatesAndMovesToOneNumber", func(t *testing.T) {
		users, ctx := open(t).Users, t.Context()
		const movers = concurrency / 2
		for i := range movers {
			create(t, users, fmt.Sprintf("m%d", i), phone(i), fmt.Sprintf("m%d@example.com", i))
		}
		target := phone(1000)
		errs := race(concurrency, func(i int) error {
			if i < movers {
				_, err := users.Update(ctx, fmt.Sprintf("m%d", i), changePhone(target))
				return err
			}
			err := users.Create(ctx, domain.NewUser(fmt.Sprintf("c%d", i), target, email(t, fmt.Sprintf("c%d@example.com", i)), nil, base))
			if errors.Is(err, domain.ErrUserExists) {
				// One loss for both kinds of contender.
				return domain.ErrPhoneTaken
			}
			return err
		})
		winner := checkOneWinner(t, errs, domain.ErrPhoneTaken)
		if winner < 0 {
			return
		}
		owner, err := users.ByPhone(ctx, target)
		want := fmt.Sprintf("c%d", winner)
		if winner < movers {
			want = fmt.Sprintf("m%d", winner)
		}
		if err != nil || owner.ID() != want {
			t.Fatalf("ByPhone(target) = %v, %v; want the winner %s", owner, err, want)
		}
		for i := range movers {
			u, err := users.ByID(ctx, fmt.Sprintf("m%d", i))
			wantAt := phone(i)
			if i == winner {
				wantAt = target
			}
			if err != nil || u.Phone() != wantAt {
				t.Errorf("mover m%d: %v; want it at %s", i, err, wantAt.Masked())
			}
		}
		for i := movers; i < concurrency; i++ {
			if _, err := users.ByID(ctx, fmt.Sprintf("c%d", i)); (err == nil) != (i == winner) {
				t.Errorf("creator c%d: ByID = %v; want found only for the winner", i, err)
			}
		}
	})

	t.Run("ConcurrentUpdatesAreAllApplied", func(t *testing.T) {
		users, ctx := open(t).Users, t.Context()
		u1 := create(t, users, "u1", phone(1), "a@example.com")
		// Half change the password (each to its own), half revoke through
		// RevokeSessions: every one bumps the generation once.
		errs := race(concurrency, func(i int) error {
			if i%2 == 0 {
				_, err := users.RevokeSessions(ctx, "u1")
				return err
			}
			_, err := users.Update(ctx, "u1", func(u *domain.User) error {
				u.ChangePassword([]byte(fmt.Sprintf("password-%d", i)))
				return nil
			})
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}
		u, err := users.ByID(ctx, "u1")
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		if u.SessionGeneration() != concurrency {
			t.Errorf("generation after %d concurrent changes = %d; one was lost", concurrency, u.SessionGeneration())
		}
		if !strings.HasPrefix(string(u.SealedPassword()), "password-") {
			t.Errorf("sealed password = %q, want one of the changes'", u.SealedPassword())
		}
		wantUser(t, users, u1, phone(1), u.SealedPassword(), concurrency)
	})

	t.Run("DeleteRemovesEverything", func(t *testing.T) {
		s := open(t)
		users, ctx := s.Users, t.Context()
		if s.Dump == nil {
			// Independent fakes: only Users is checked.
			s = Stores{Users: users}
		}
		const id, addr = "acct-7f3a9c", "gone@example.com"
		number := phone(1)
		create(t, users, id, number, addr)
		other := create(t, users, "acct-other", phone(2), "kept@example.com")

		// What the service writes of an account, as it writes it.
		var sessionIDs []string
		if s.Sessions != nil {
			for i, fn := range []func(*domain.Session, domain.SessionToken) error{
				func(ss *domain.Session, tok domain.SessionToken) error {
					ss.Revoke(tok, base.Add(lifetimes.Refresh))
					return nil
				},
				func(ss *domain.Session, tok domain.SessionToken) error {
					if d := ss.Refresh(tok, 0, base.Add(time.Minute), lifetimes); d != domain.RefreshAdvanced {
						return fmt.Errorf("refresh decided %v", d)
					}
					return nil
				},
			} {
				for _, uid := range []string{id, other.ID()} {
					sid := fmt.Sprintf("sess-%s-%d", uid, i)
					tok := sessionToken(sid, uid, 0)
					if err := s.Sessions.Update(ctx, sid, base.Add(time.Minute), func(ss *domain.Session) error { return fn(ss, tok) }); err != nil {
						t.Fatalf("Sessions.Update: %v", err)
					}
					if uid == id {
						sessionIDs = append(sessionIDs, sid)
					}
				}
			}
		}
		codeKeys := map[string]string{} // key: whose
		if s.Codes != nil {
			for _, sub := range []domain.CodeSubject{
				{Purpose: domain.PurposeResetPassword, Phone: number},
				{Purpose: domain.PurposeChangePhone, Phone: phone(3), Account: id},
				{Purpose: domain.PurposeResetPassword, Phone: phone(2)},
				{Purpose: domain.PurposeChangePhone, Phone: phone(4), Account: other.ID()},
			} {
				upsertCode(t, s.Codes, sub, base)
				codeKeys[sub.Key()] = sub.Account + sub.Phone.E164()
			}
		}
		if s.Lockouts != nil {
			for _, p := range []domain.PhoneNumber{number, phone(2)} {
				if err := s.Lockouts.Update(ctx, application.LoginLockoutKey(p), base, func(f *domain.LoginFailures) error {
					f.Reserve(1, time.Hour, base)
					return nil
				}); err != nil {
					t.Fatalf("Lockouts.Update: %v", err)
				}
			}
		}
		// Abuse counters about the number: they stay until their window
		// ends.
		windows := map[string]bool{"sms:day:" + number.E164(): true, "code_failures:" + number.E164(): true}
		if s.Limits != nil {
			for key := range windows {
				if err := s.Limits.Update(ctx, key, base, func(w *domain.FixedWindow) error { w.Take(5, 24*time.Hour, base); return nil }); err != nil {
					t.Fatalf("Limits.Update: %v", err)
				}
			}
		}
		// A registration left under the number by a crash between the
		// account's creation and the registration's removal.
		if s.Pending != nil {
			if err := s.Pending.Save(ctx, domain.NewPendingRegistration(number, rightCode, base, time.Hour)); err != nil {
				t.Fatalf("Pending.Save: %v", err)
			}
		}

		if err := users.Delete(ctx, id); err != nil {
			t.Fatalf("Delete: %v", err)
		}

		if s.Dump != nil {
			records, err := s.Dump(ctx)
			if err != nil {
				t.Fatalf("Dump: %v", err)
			}
			// The national number is in every form of it.
			mentions := []string{id, strings.TrimPrefix(number.E164(), "+86"), addr}
			for _, r := range records {
				if windows[r.Key] {
					continue
				}
				for _, m := range mentions {
					if strings.Contains(r.Key, m) || strings.Contains(r.Value, m) {
						t.Errorf("after Delete, %s holds %q: %s", r.Where, r.Key, r.Value)
					}
				}
			}
		}
		if _, err := users.ByID(ctx, id); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("ByID after Delete = %v, want domain.ErrUserNotFound", err)
		}
		wantNoPhone(t, users, number)
		for _, sid := range sessionIDs {
			if got, err := s.Sessions.Get(ctx, sid, base.Add(time.Minute)); err != nil || got.Recorded() {
				t.Errorf("session %s after Delete: %+v, %v; want no record", sid, got.Snapshot(), err)
			}
		}
		for key, whose := range codeKeys {
			err := s.Codes.Update(ctx, key, base, func(*domain.PendingCode) error { return nil })
			if deleted := strings.Contains(whose, id) || strings.Contains(whose, number.E164()); deleted != errors.Is(err, domain.ErrNoPendingCode) {
				t.Errorf("code %s after Delete: %v; want it gone only if it was the account's", key, err)
			}
		}
		if s.Lockouts != nil {
			for p, want := range map[domain.PhoneNumber]bool{number: false, phone(2): true} {
				var locked time.Time
				if err := s.Lockouts.Update(ctx, application.LoginLockoutKey(p), base, func(f *domain.LoginFailures) error {
					locked = f.Locked(base)
					return nil
				}); err != nil || locked.IsZero() == want {
					t.Errorf("lockout of %s after Delete: until %v, %v; want locked %v", p.Masked(), locked, err, want)
				}
			}
		}
		if s.Limits != nil {
			for key := range windows {
				n := -1
				if err := s.Limits.Update(ctx, key, base, func(w *domain.FixedWindow) error { n = w.Count(base); return nil }); err != nil || n != 1 {
					t.Errorf("window %s after Delete: count %d, %v; want 1 (windows stay until they end)", key, n, err)
				}
			}
		}
		if s.Pending != nil {
			if _, err := s.Pending.Get(ctx, number, base); !errors.Is(err, domain.ErrNoPending) {
				t.Errorf("the registration left under the number after Delete: %v, want domain.ErrNoPending", err)
			}
		}
		// The other account lost nothing.
		wantUser(t, users, other, phone(2), other.SealedPassword(), 0)
		if s.Sessions != nil {
			for i := range 2 {
				sid := fmt.Sprintf("sess-%s-%d", other.ID(), i)
				if got, err := s.Sessions.Get(ctx, sid, base.Add(time.Minute)); err != nil || !got.Recorded() {
					t.Errorf("the other account's session %s: %v; want it kept", sid, err)
				}
			}
		}
		// Deleting again, or changing the deleted account, finds nothing.
		if err := users.Delete(ctx, id); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("second Delete = %v, want domain.ErrUserNotFound", err)
		}
		if _, err := users.Update(ctx, id, func(*domain.User) error { return nil }); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("Update after Delete = %v, want domain.ErrUserNotFound", err)
		}
		if _, err := users.RevokeSessions(ctx, id); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("RevokeSessions after Delete = %v, want domain.ErrUserNotFound", err)
		}
		// The number and the email register again, as a new account.
		again := create(t, users, "acct-new", number, addr)
		wantUser(t, users, again, number, again.SealedPassword(), 0)
	})

	t.Run("DeleteAfterAMove", func(t *testing.T) {
		s := open(t)
		users, ctx := s.Users, t.Context()
		create(t, users, "u1", phone(1), "a@example.com")
		if _, err := users.Update(ctx, "u1", changePhone(phone(2))); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if err := users.Delete(ctx, "u1"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantNoPhone(t, users, phone(1))
		wantNoPhone(t, users, phone(2))
		for i, p := range []domain.PhoneNumber{phone(1), phone(2)} {
			create(t, users, fmt.Sprintf("n%d", i), p, fmt.Sprintf("n%d@example.com", i))
		}
		create(t, users, "n3", phone(3), "a@example.com")
	})

	t.Run("DeleteUnknownID", func(t *testing.T) {
		users, ctx := open(t).Users, t.Context()
		u1 := create(t, users, "u1", phone(1), "a@example.com")
		if err := users.Delete(ctx, "u2"); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("Delete(unknown) = %v, want domain.ErrUserNotFound", err)
		}
		wantUser(t, users, u1, phone(1), u1.SealedPassword(), 0)
	})
}

// sessionToken is the refresh token of a login of account uid to session
// sid at base, under generation gen.
func sessionToken(sid, uid string, gen uint64) domain.SessionToken {
	i := domain.OpenSession(sid, uid, gen, base, lifetimes)
	return domain.SessionToken{
		SessionID: i.SessionID, UserID: i.UserID, Generation: i.Generation, Seq: i.Seq,
		IssuedAt: i.IssuedAt, ExpiresAt: i.RefreshExpiresAt,
	}
}
