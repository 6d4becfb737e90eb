package bolt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/bolt"
	"github.com/phoneauth/phoneauth/domain"
)

var lifetimes = domain.SessionLifetimes{Access: 15 * time.Minute, Refresh: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

// revokeSession records session sid of account uid as revoked, its
// record kept until base+retain.
func revokeSession(t *testing.T, s *bolt.Store, sid, uid string, retain time.Duration) {
	t.Helper()
	i := domain.OpenSession(sid, uid, 0, base, lifetimes)
	tok := domain.SessionToken{SessionID: sid, UserID: uid, IssuedAt: i.IssuedAt, ExpiresAt: i.RefreshExpiresAt}
	if err := s.Sessions().Update(t.Context(), sid, base, func(ss *domain.Session) error {
		ss.Revoke(tok, base.Add(retain))
		return nil
	}); err != nil {
		t.Fatalf("Sessions.Update: %v", err)
	}
}

// indexEntries lists the sessions_by_user entries the file holds.
func indexEntries(t *testing.T, s *bolt.Store) []string {
	t.Helper()
	records, err := s.Dump(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range records {
		if r.Where == "sessions_by_user" {
			out = append(out, strings.ReplaceAll(r.Key, "\x00", "/"))
		}
	}
	return out
}

// TestSessionIndexIsSweptWithTheSessions: the sweeper deletes a session
// record's sessions_by_user entry with it, and only then.
func TestSessionIndexIsSweptWithTheSessions(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "phoneauth.db"))
	defer s.Close()
	revokeSession(t, s, "short", "u1", time.Minute)
	revokeSession(t, s, "long", "u1", time.Hour)
	// A second write of a recorded session adds no entry.
	revokeSession(t, s, "long", "u1", 2*time.Hour)
	if got := indexEntries(t, s); fmt.Sprint(got) != "[u1/long u1/short]" {
		t.Fatalf("index before the sweep = %v", got)
	}
	if n, err := s.DeleteExpired(t.Context(), base.Add(30*time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if got := indexEntries(t, s); fmt.Sprint(got) != "[u1/long]" {
		t.Errorf("index after the sweep = %v, want the live session's entry alone", got)
	}
}

// TestOpenBuildsTheSessionIndexOnce: a file written before sessions were
// indexed by account gets the index at its first Open, and only then, so
// that deleting an account finds the sessions recorded before.
func TestOpenBuildsTheSessionIndexOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoneauth.db")
	s := open(t, path)
	ctx := t.Context()
	e, _ := domain.ParseEmail("a@example.com")
	if err := s.Users().Create(ctx, domain.NewUser("u1", phoneNumber(1), e, []byte{1}, base)); err != nil {
		t.Fatal(err)
	}
	revokeSession(t, s, "s1", "u1", time.Hour)
	revokeSession(t, s, "s2", "u2", time.Hour)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The release before had no index.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("sessions_by_user")) }); err != nil || db.Close() != nil {
		t.Fatalf("removing the index: %v", err)
	}

	reopen := func() (*bolt.Store, int) {
		t.Helper()
		core, logs := observer.New(zap.InfoLevel)
		s, err := bolt.Open(path, zap.New(core))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		for _, e := range logs.FilterMessage("built the sessions-by-account index").All() {
			return s, int(e.ContextMap()["sessions"].(int64))
		}
		return s, 0
	}
	s, built := reopen()
	if built != 2 {
		t.Errorf("first Open indexed %d sessions, want 2", built)
	}
	if err := s.Users().Delete(ctx, "u1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, err := s.Sessions().Get(ctx, "s1", base); err != nil || got.Recorded() {
		t.Errorf("the deleted account's session recorded before the index: %v, recorded %v", err, got.Recorded())
	}
	if got, err := s.Sessions().Get(ctx, "s2", base); err != nil || !got.Recorded() {
		t.Errorf("another account's session: %v, recorded %v", err, got.Recorded())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, built = reopen()
	defer s.Close()
	if built != 0 {
		t.Errorf("second Open indexed %d sessions, want none", built)
	}
}

// BenchmarkAccountChanges measures Users.Update (a password change, and a
// move to another number) and Users.Delete, one at a time (a commit and
// fsync each), against a store preloaded with BENCH_USERS users (default
// 100,000), each deleted account with two session records.
func BenchmarkAccountChanges(b *testing.B) {
	n := benchUsers(b)
	users := makeUsers(b, 0, n)
	s := open(b, filepath.Join(b.TempDir(), "phoneauth.db"))
	defer s.Close()
	if err := bolt.NewBulkLoader(s).BulkCreateUsers(b.Context(), users); err != nil {
		b.Fatalf("BulkCreateUsers: %v", err)
	}
	ctx := b.Context()
	b.Run("update-password", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i = (i + 7919) % n
			if _, err := s.Users().Update(ctx, users[i].ID(), func(u *domain.User) error {
				u.ChangePassword([]byte("new sealed password"))
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("update-phone", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			u := users[i%n]
			to := phoneNumber(n + 1 + i)
			if _, err := s.Users().Update(ctx, u.ID(), func(u *domain.User) error {
				u.ChangePhone(to, []byte("sealed again"))
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("delete", func(b *testing.B) {
		i := 0
		for b.Loop() {
			b.StopTimer()
			id := users[i%n].ID()
			i++
			for k := range 2 {
				i := domain.OpenSession(fmt.Sprintf("%s-%d", id, k), id, 0, base, lifetimes)
				if err := s.Sessions().Update(ctx, i.SessionID, base, func(ss *domain.Session) error {
					ss.Revoke(domain.SessionToken{SessionID: i.SessionID, UserID: id, IssuedAt: i.IssuedAt}, base.Add(time.Hour))
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			if err := s.Users().Delete(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchUsers is BENCH_USERS, or 100,000.
func benchUsers(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("BENCH_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("BENCH_USERS: %v", err)
		}
	}
	return n
}

// BenchmarkSessionFirstRecord measures the write of a session's first
// record (a login's first refresh), the one that also writes its
// sessions_by_user entry, from 64 writers sharing commits.
func BenchmarkSessionFirstRecord(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "phoneauth.db"))
	defer s.Close()
	ctx := b.Context()
	var seq atomic.Int64
	b.SetParallelism(32) // 32 per core on two cores: 64 writers
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			uid := fmt.Sprintf("%032x", n%10_000)
			i := domain.OpenSession(fmt.Sprintf("s%032x", n), uid, 0, base, lifetimes)
			tok := domain.SessionToken{SessionID: i.SessionID, UserID: uid, IssuedAt: i.IssuedAt, ExpiresAt: i.RefreshExpiresAt}
			if err := s.Sessions().Update(ctx, i.SessionID, base.Add(time.Minute), func(ss *domain.Session) error {
				ss.Refresh(tok, 0, base.Add(time.Minute), lifetimes)
				return nil
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestRefreshRacingDeleteLeavesOneRecordUntilRetention: a refresh reads
// the account (Users.ByID), then records the session (Sessions.Update).
// A deletion committed between the two leaves that session's record and
// its sessions_by_user entry, as Users.Delete says: the refresh reads
// the account again and is refused, and no token authenticates without
// the account. The record goes with its retention, its index entry too.
func TestRefreshRacingDeleteLeavesOneRecordUntilRetention(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "phoneauth.db"))
	defer s.Close()
	e, _ := domain.ParseEmail("u@example.com")
	if err := s.Users().Create(ctx, domain.NewUser("u1", domain.MustParsePhoneNumber("+8613800000001"), e, []byte{1}, base)); err != nil {
		t.Fatal(err)
	}
	// The refresh has read the account (generation 0) ...
	u, err := s.Users().ByID(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	// ... the owner deletes the account ...
	if err := s.Users().Delete(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	// ... and the refresh records its session.
	i := domain.OpenSession("s1", "u1", 0, base, lifetimes)
	tok := domain.SessionToken{SessionID: "s1", UserID: "u1", IssuedAt: i.IssuedAt, ExpiresAt: i.RefreshExpiresAt}
	now := base.Add(time.Minute)
	if err := s.Sessions().Update(ctx, "s1", now, func(ss *domain.Session) error {
		ss.Refresh(tok, u.SessionGeneration(), now, lifetimes)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	left := func() []string {
		t.Helper()
		records, err := s.Dump(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range records {
			if strings.Contains(r.Key, "u1") || strings.Contains(r.Value, "u1") {
				got = append(got, r.Where)
			}
		}
		slices.Sort(got)
		return got
	}
	if got := left(); !slices.Equal(got, []string{"sessions", "sessions_by_user"}) {
		t.Fatalf("left of the deleted account by the racing refresh: %q; want its one session record and index entry", got)
	}
	if _, err := s.DeleteExpired(ctx, now.Add(lifetimes.Refresh+time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 0 {
		t.Fatalf("left of the deleted account past the session's retention: %q", got)
	}
}
