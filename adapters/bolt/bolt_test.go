package bolt_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/phoneauth/phoneauth/adapters/bolt"
	"github.com/phoneauth/phoneauth/adapters/storetest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

var base = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

func open(t testing.TB, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		s := open(t, filepath.Join(t.TempDir(), "phoneauth.db"))
		t.Cleanup(func() { _ = s.Close() })
		return storetest.Stores{
			Users: s.Users(), Pending: s.PendingRegistrations(), Sessions: s.Sessions(), Codes: s.PendingCodes(),
			Dump: s.Dump, Expirers: []application.Expirer{s},
		}
	})
}

func TestSurvivesRestart(t *testing.T) {
	// The data dir does not exist yet: Open makes it.
	path := filepath.Join(t.TempDir(), "data", "phoneauth.db")
	ctx := t.Context()
	p := domain.MustParsePhoneNumber("+8613800000001")
	e, _ := domain.ParseEmail("a@example.com")

	s := open(t, path)
	if err := s.Users().Create(ctx, domain.NewUser("u1", p, e, []byte{1, 2, 3}, base)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.PendingRegistrations().Save(ctx, domain.NewPendingRegistration(domain.MustParsePhoneNumber("+8613800000002"), []byte{9}, base, time.Hour)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file: %v, %v; want mode 0600", fi, err)
	}

	s = open(t, path)
	defer s.Close()
	u, err := s.Users().ByPhone(ctx, p)
	if err != nil || u.ID() != "u1" || u.Email() != e {
		t.Errorf("after restart ByPhone = %v, %v", u, err)
	}
	if _, err := s.PendingRegistrations().Get(ctx, domain.MustParsePhoneNumber("+8613800000002"), base); err != nil {
		t.Errorf("after restart Get: %v", err)
	}
	// The email index survived too.
	err = s.Users().Create(ctx, domain.NewUser("u2", domain.MustParsePhoneNumber("+8613800000003"), e, nil, base))
	if !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("after restart Create with a taken email = %v, want domain.ErrEmailTaken", err)
	}
}

func TestSecondOpenTimesOut(t *testing.T) {
	defer bolt.SetTuning(100*time.Millisecond, 10_000)()
	path := filepath.Join(t.TempDir(), "phoneauth.db")
	s := open(t, path)
	defer s.Close()
	if _, err := bolt.Open(path, nil); !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("second Open of a locked file = %v, want application.ErrUnavailable", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "phoneauth.db"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	p := domain.MustParsePhoneNumber("+8613800000001")
	e, _ := domain.ParseEmail("a@example.com")
	u := domain.NewUser("u1", p, e, nil, base)
	for name, call := range map[string]func() error{
		"Create":          func() error { return s.Users().Create(ctx, u) },
		"ByPhone":         func() error { _, err := s.Users().ByPhone(ctx, p); return err },
		"Exists":          func() error { _, err := s.Users().Exists(ctx, p); return err },
		"BulkCreateUsers": func() error { return bolt.NewBulkLoader(s).BulkCreateUsers(ctx, []*domain.User{u}) },
		"Save": func() error {
			return s.PendingRegistrations().Save(ctx, domain.NewPendingRegistration(p, []byte{1}, base, time.Hour))
		},
		"Get": func() error { _, err := s.PendingRegistrations().Get(ctx, p, base); return err },
		"Update": func() error {
			return s.PendingRegistrations().Update(ctx, p, base, func(*domain.PendingRegistration) error { return nil })
		},
		"Delete": func() error { return s.PendingRegistrations().Delete(ctx, p) },
		"Users.Update": func() error {
			_, err := s.Users().Update(ctx, "u1", func(*domain.User) error { return nil })
			return err
		},
		"Users.Delete": func() error { return s.Users().Delete(ctx, "u1") },
		"PendingCodes.Upsert": func() error {
			return s.PendingCodes().Upsert(ctx, "k", base, func(c *domain.PendingCode) *domain.PendingCode { return c })
		},
		"PendingCodes.Update": func() error {
			return s.PendingCodes().Update(ctx, "k", base, func(*domain.PendingCode) error { return nil })
		},
		"PendingCodes.Delete": func() error { return s.PendingCodes().Delete(ctx, "k") },
		"DeleteExpired":       func() error { _, err := s.DeleteExpired(ctx, base); return err },
		"Ping":                func() error { return s.Ping(ctx) },
	} {
		if err := call(); !errors.Is(err, application.ErrUnavailable) {
			t.Errorf("%s on a closed store = %v, want application.ErrUnavailable", name, err)
		}
	}
}

func TestPing(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "phoneauth.db"))
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestDeleteExpiredSpansTransactions(t *testing.T) {
	const scan, n = 40, 250 // several sweeping transactions' worth
	defer bolt.SetTuning(time.Second, scan)()
	s := open(t, filepath.Join(t.TempDir(), "phoneauth.db"))
	defer s.Close()
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		ttl := time.Minute
		if i%5 == 0 {
			ttl = time.Hour
		}
		reg := domain.NewPendingRegistration(phoneNumber(i), []byte{1}, base, ttl)
		wg.Go(func() {
			if err := s.PendingRegistrations().Save(ctx, reg); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Save: %v", err)
	}
	deleted, err := s.DeleteExpired(ctx, base.Add(30*time.Minute))
	if err != nil || deleted != n*4/5 {
		t.Errorf("DeleteExpired = %d, %v; want %d", deleted, err, n*4/5)
	}
	if deleted, err := s.DeleteExpired(ctx, base.Add(2*time.Hour)); err != nil || deleted != n/5 {
		t.Errorf("second DeleteExpired = %d, %v; want %d", deleted, err, n/5)
	}
}

// phoneCache keeps parsed numbers across benchmark runs: parsing one costs
// about 40 µs, which would dominate preloading a million users.
var phoneCache sync.Map

func phoneNumber(i int) domain.PhoneNumber {
	if p, ok := phoneCache.Load(i); ok {
		return p.(domain.PhoneNumber)
	}
	p := domain.MustParsePhoneNumber(fmt.Sprintf("+86139%08d", i))
	phoneCache.Store(i, p)
	return p
}

// makeUsers builds users from to-from, parsing their numbers on every core.
func makeUsers(t testing.TB, from, to int) []*domain.User {
	t.Helper()
	users := make([]*domain.User, to-from)
	sealed := make([]byte, 60) // key id, nonce, a 16-character password, tag
	workers := 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := from + w; i < to; i += workers {
				e, err := domain.ParseEmail("user" + strconv.Itoa(i) + "@example.com")
				if err != nil {
					panic(err)
				}
				users[i-from] = domain.NewUser(fmt.Sprintf("%032x", i), phoneNumber(i), e, sealed, base)
			}
		})
	}
	wg.Wait()
	return users
}

// BenchmarkByPhone measures the login path's read against a store preloaded
// with BENCH_USERS users (default 100,000).
func BenchmarkByPhone(b *testing.B) {
	n := 100_000
	if v := os.Getenv("BENCH_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("BENCH_USERS: %v", err)
		}
	}
	users := makeUsers(b, 0, n)
	path := filepath.Join(b.TempDir(), "phoneauth.db")
	s := open(b, path)
	defer s.Close()
	start := time.Now()
	if err := bolt.NewBulkLoader(s).BulkCreateUsers(b.Context(), users); err != nil {
		b.Fatalf("BulkCreateUsers: %v", err)
	}
	if fi, err := os.Stat(path); err == nil {
		b.Logf("preloaded %d users in %v, file %d MB", n, time.Since(start).Round(time.Millisecond), fi.Size()>>20)
	}
	missing := phoneNumber(n + 1)

	b.Run("hit", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i = (i + 7919) % n
			if _, err := s.Users().ByPhone(b.Context(), users[i].Phone()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i = (i + 7919) % n
				if _, err := s.Users().ByPhone(b.Context(), users[i].Phone()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("miss", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Users().ByPhone(b.Context(), missing); !errors.Is(err, domain.ErrUserNotFound) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAuthenticatedReads measures the two reads of every
// authenticated request (application.AuthenticateHandler) against a store
// preloaded with BENCH_USERS users (default 100,000): the account by id,
// and the session record, which a session never refreshed nor revoked
// (nearly every one) does not have.
func BenchmarkAuthenticatedReads(b *testing.B) {
	n := 100_000
	if v := os.Getenv("BENCH_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("BENCH_USERS: %v", err)
		}
	}
	users := makeUsers(b, 0, n)
	s := open(b, filepath.Join(b.TempDir(), "phoneauth.db"))
	defer s.Close()
	if err := bolt.NewBulkLoader(s).BulkCreateUsers(b.Context(), users); err != nil {
		b.Fatalf("BulkCreateUsers: %v", err)
	}
	now := time.Now()
	b.Run("user-by-id", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i = (i + 7919) % n
			if _, err := s.Users().ByID(b.Context(), users[i].ID()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session-none", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i = (i + 7919) % n
			if sess, err := s.Sessions().Get(b.Context(), users[i].ID(), now); err != nil || sess.ID() != "" {
				b.Fatal(sess, err)
			}
		}
	})
}

// BenchmarkSave measures durable writes of pending registrations: one at a
// time (a commit and fsync each) and from many goroutines (sharing commits
// through Batch).
func BenchmarkSave(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "phoneauth.db"))
	defer s.Close()
	phones := make([]domain.PhoneNumber, 1000)
	for i := range phones {
		phones[i] = phoneNumber(i)
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if err := s.PendingRegistrations().Save(b.Context(), domain.NewPendingRegistration(phones[i%len(phones)], make([]byte, 32), base, time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-64", func(b *testing.B) {
		b.SetParallelism(32) // 32 per core on two cores: 64 writers
		var seq sync.Mutex
		next := 0
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				seq.Lock()
				next++
				p := phones[next%len(phones)]
				seq.Unlock()
				if err := s.PendingRegistrations().Save(b.Context(), domain.NewPendingRegistration(p, make([]byte, 32), base, time.Hour)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
