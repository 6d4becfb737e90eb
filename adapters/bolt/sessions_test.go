package bolt_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/bolt"
	"github.com/phoneauth/phoneauth/domain"
)

// TestOpenBuildsTheUserIDIndexOnce: a file written before users had an
// id index (and a session generation) gets the index at its first Open,
// and only then.
func TestOpenBuildsTheUserIDIndexOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoneauth.db")
	const n = 300
	// The layout and records of the release before sessions, written
	// without this package.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		users, _ := tx.CreateBucket([]byte("users"))
		emails, _ := tx.CreateBucket([]byte("users_by_email"))
		if _, err := tx.CreateBucket([]byte("pending")); err != nil {
			return err
		}
		for i := range n {
			phone, email := fmt.Sprintf("+86139%08d", i), fmt.Sprintf("u%d@example.com", i)
			doc := fmt.Sprintf(`{"id":"id-%d","phone":%q,"email":%q,"sealed_password":"AQID","created_at":"2030-01-01T00:00:00Z"}`, i, phone, email)
			if err := users.Put([]byte(phone), []byte(doc)); err != nil {
				return err
			}
			if err := emails.Put([]byte(email), []byte(phone)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || db.Close() != nil {
		t.Fatalf("writing the old file: %v", err)
	}

	openObserved := func() (*bolt.Store, *observer.ObservedLogs) {
		t.Helper()
		core, logs := observer.New(zap.InfoLevel)
		s, err := bolt.Open(path, zap.New(core))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, logs
	}
	built := func(logs *observer.ObservedLogs) int {
		for _, e := range logs.FilterMessage("built the user id index").All() {
			return int(e.ContextMap()["users"].(int64))
		}
		return 0
	}

	s, logs := openObserved()
	if got := built(logs); got != n {
		t.Errorf("first Open indexed %d users, want %d", got, n)
	}
	ctx := t.Context()
	for _, i := range []int{0, 1, n / 2, n - 1} {
		u, err := s.Users().ByID(ctx, fmt.Sprintf("id-%d", i))
		if err != nil || u.Phone().E164() != fmt.Sprintf("+86139%08d", i) || u.SessionGeneration() != 0 {
			t.Fatalf("ByID(id-%d) after the migration: %v", i, err)
		}
	}
	if gen, err := s.Users().RevokeSessions(ctx, "id-7"); err != nil || gen != 1 {
		t.Fatalf("RevokeSessions = %d, %v", gen, err)
	}
	e, _ := domain.ParseEmail("new@example.com")
	if err := s.Users().Create(ctx, domain.NewUser("id-new", domain.MustParsePhoneNumber("+8613900099999"), e, nil, base)); err != nil {
		t.Fatalf("Create after the migration: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, logs = openObserved()
	defer s.Close()
	if got := built(logs); got != 0 {
		t.Errorf("second Open indexed %d users again", got)
	}
	for id, gen := range map[string]uint64{"id-7": 1, "id-8": 0, "id-new": 0} {
		if u, err := s.Users().ByID(ctx, id); err != nil || u.SessionGeneration() != gen {
			t.Errorf("ByID(%s) after reopening: %v; want generation %d", id, err, gen)
		}
	}
	// Records of the old shape still read by number.
	if u, err := s.Users().ByPhone(ctx, domain.MustParsePhoneNumber("+8613900000008")); err != nil || u.ID() != "id-8" {
		t.Errorf("ByPhone of an old record: %v", err)
	}
}

// TestSessionsSurviveRestart: an acknowledged refresh, a revocation and a
// new session generation are in the file when the process comes back.
func TestSessionsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoneauth.db")
	ctx := t.Context()
	lifetimes := domain.SessionLifetimes{Access: time.Hour, Refresh: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}
	first := domain.OpenSession("s1", "u1", 0, base, lifetimes)
	tok := domain.SessionToken{SessionID: "s1", UserID: "u1", IssuedAt: first.IssuedAt, ExpiresAt: first.RefreshExpiresAt}

	s := open(t, path)
	e, _ := domain.ParseEmail("a@example.com")
	if err := s.Users().Create(ctx, domain.NewUser("u1", domain.MustParsePhoneNumber("+8613800000001"), e, nil, base)); err != nil {
		t.Fatal(err)
	}
	var issued domain.SessionIssue
	if err := s.Sessions().Update(ctx, "s1", base, func(ss *domain.Session) error {
		if d := ss.Refresh(tok, 0, base, lifetimes); d != domain.RefreshAdvanced {
			return fmt.Errorf("refresh: %v", d)
		}
		issued = ss.Current()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sessions().Update(ctx, "s2", base, func(ss *domain.Session) error {
		ss.Revoke(domain.SessionToken{SessionID: "s2", UserID: "u1"}, base.Add(time.Hour))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Users().RevokeSessions(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	got, err := s.Sessions().Get(ctx, "s1", base)
	if err != nil || got.Current() != issued {
		t.Errorf("s1 after restart: %+v, %v; want %+v", got.Current(), err, issued)
	}
	if got, err := s.Sessions().Get(ctx, "s2", base); err != nil || !got.Revoked() {
		t.Errorf("s2 after restart: revoked %v, %v", got.Revoked(), err)
	}
	if u, err := s.Users().ByID(ctx, "u1"); err != nil || u.SessionGeneration() != 1 {
		t.Errorf("u1 after restart: %v", err)
	}
	// The stored session is what the port promised: JSON, its retention
	// as expires_at, which the sweeper reads.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		return json.Unmarshal(tx.Bucket([]byte("sessions")).Get([]byte("s1")), &doc)
	})
	if doc["expires_at"] == nil || doc["seq"] != float64(1) {
		t.Errorf("stored session %v", doc)
	}
}
