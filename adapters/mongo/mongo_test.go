package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap/zaptest"

	"github.com/phoneauth/phoneauth/adapters/mongo"
	"github.com/phoneauth/phoneauth/adapters/storetest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/mongotest"
)

// One server for the whole package; every test gets its own database.
func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

func openStore(t *testing.T) *mongo.Store {
	t.Helper()
	uri := mongotest.Start(t)
	return openAt(t, uri, mongotest.Database(t, uri), 5*time.Second)
}

func openAt(t *testing.T, uri, db string, timeout time.Duration) *mongo.Store {
	t.Helper()
	s, err := mongo.Open(context.Background(), mongo.Config{URI: uri, Database: db, Timeout: timeout}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// phone returns the i-th of a run of valid mainland mobile numbers.
func phone(i int) domain.PhoneNumber {
	return domain.MustParsePhoneNumber(fmt.Sprintf("+86158%08d", 50550000+i))
}

func email(t *testing.T, s string) domain.Email {
	t.Helper()
	e, err := domain.ParseEmail(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestContract runs the repository contract suite that every store
// passes, each subtest against a fresh database. The suite's records are
// dated in the past; on a server with TTL indexes (MongoDB, not FerretDB)
// the monitor would delete them by its own clock in the middle of a
// subtest, so they go.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		s := openStore(t)
		if err := s.DropTTLIndexes(t.Context()); err != nil {
			t.Fatalf("DropTTLIndexes: %v", err)
		}
		return storetest.Stores{
			Users:    s.Users(),
			Pending:  s.PendingRegistrations(),
			Limits:   s.RateLimits(),
			Lockouts: s.Lockouts(),
			Nonces:   s.Nonces(),
			Sessions: s.Sessions(),
			Codes:    s.PendingCodes(),
			Dump:     s.Dump,
			Expirers: []application.Expirer{s},
		}
	})
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// seedClient verifies and continues registrations in these tests: a
// client that sends no token, on one network.
var seedClient = domain.RegistrationClient{Net: "192.0.2.1"}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	users := s.Users()

	u := domain.NewUser("u1", phone(1), email(t, "a@Example.com"), []byte("sealed"), t0)
	if err := users.Create(ctx, u); err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := users.ByPhone(ctx, phone(1))
	if err != nil {
		t.Fatalf("ByPhone: %v", err)
	}
	if got.ID() != "u1" || got.Phone() != phone(1) || got.Email().String() != "a@example.com" ||
		string(got.SealedPassword()) != "sealed" || !got.CreatedAt().Equal(t0) {
		t.Errorf("ByPhone = %+v", got)
	}
	if ok, err := users.Exists(ctx, phone(1)); err != nil || !ok {
		t.Errorf("Exists(registered) = %v, %v", ok, err)
	}
	if ok, err := users.Exists(ctx, phone(2)); err != nil || ok {
		t.Errorf("Exists(unknown) = %v, %v", ok, err)
	}
	if _, err := users.ByPhone(ctx, phone(2)); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("ByPhone(unknown) = %v, want ErrUserNotFound", err)
	}

	// Which unique rule was broken must come back as its own domain error.
	for _, tc := range []struct {
		name string
		user *domain.User
		want error
	}{
		{"same phone", domain.NewUser("u2", phone(1), email(t, "b@example.com"), []byte("x"), t0), domain.ErrUserExists},
		{"same email", domain.NewUser("u3", phone(3), email(t, "a@example.com"), []byte("x"), t0), domain.ErrEmailTaken},
		{"both", domain.NewUser("u4", phone(1), email(t, "a@example.com"), []byte("x"), t0), nil},
	} {
		err := users.Create(ctx, tc.user)
		if tc.want == nil {
			if !errors.Is(err, domain.ErrUserExists) && !errors.Is(err, domain.ErrEmailTaken) {
				t.Errorf("%s: Create = %v, want a uniqueness error", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Create = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := users.ByPhone(ctx, phone(3)); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("a refused Create stored something: %v", err)
	}
}

func TestUsersConcurrentCreateMakesOneAccount(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			u := domain.NewUser(fmt.Sprintf("id%d", i), phone(7), email(t, fmt.Sprintf("c%d@example.com", i)), []byte("x"), t0)
			errs[i] = s.Users().Create(ctx, u)
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, domain.ErrUserExists):
			t.Errorf("Create = %v, want nil or ErrUserExists", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d creates succeeded, want exactly 1", ok)
	}
}

func TestBulkCreateUsers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	loader := mongo.NewBulkLoader(s)
	var us []*domain.User
	for i := range 1500 {
		us = append(us, domain.NewUser(fmt.Sprintf("b%d", i), phone(1000+i), email(t, fmt.Sprintf("b%d@example.com", i)), []byte("x"), t0))
	}
	if err := loader.BulkCreateUsers(ctx, us); err != nil {
		t.Fatalf("BulkCreateUsers: %v", err)
	}
	if got, err := s.Users().ByPhone(ctx, phone(1000+1234)); err != nil || got.ID() != "b1234" {
		t.Errorf("ByPhone after bulk = %v, %v", got, err)
	}
	// Loading again inserts nothing and says so.
	extra := domain.NewUser("new", phone(999), email(t, "new@example.com"), []byte("x"), t0)
	err := loader.BulkCreateUsers(ctx, append(us[:10:10], extra))
	if !errors.Is(err, domain.ErrUserExists) || !strings.Contains(err.Error(), "10 of 11") {
		t.Errorf("BulkCreateUsers(again) = %v, want 10 of 11 existing", err)
	}
	if ok, _ := s.Users().Exists(ctx, phone(999)); !ok {
		t.Error("unordered bulk insert stopped at the first duplicate")
	}
}

func newPending(p domain.PhoneNumber, now time.Time) *domain.PendingRegistration {
	return domain.NewPendingRegistration(p, []byte("right-hash"), now, 5*time.Minute)
}

func TestPendingRegistrations(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	pend := s.PendingRegistrations()

	if _, err := pend.Get(ctx, phone(1), t0); !errors.Is(err, domain.ErrNoPending) {
		t.Fatalf("Get(none) = %v, want ErrNoPending", err)
	}
	if err := pend.Save(ctx, newPending(phone(1), t0)); err != nil {
		t.Fatalf("Save: %v", err)
	}
	// Step 2 and 3 through Update, as the application does.
	var outcome error
	err := pend.Update(ctx, phone(1), t0.Add(time.Minute), func(p *domain.PendingRegistration) error {
		outcome = p.Verify([]byte("right-hash"), t0.Add(time.Minute), 5, 30*time.Minute, seedClient)
		return nil
	})
	if err != nil || outcome != nil {
		t.Fatalf("Update(verify) = %v, outcome %v", err, outcome)
	}
	err = pend.Update(ctx, phone(1), t0.Add(2*time.Minute), func(p *domain.PendingRegistration) error {
		return p.SetPassword([]byte("sealed-pw"), t0.Add(2*time.Minute), seedClient, domain.BindingNetwork)
	})
	if err != nil {
		t.Fatalf("Update(password): %v", err)
	}
	got, err := pend.Get(ctx, phone(1), t0.Add(3*time.Minute))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	sealed, err := got.SealedPasswordForProfile(t0.Add(3*time.Minute), seedClient, domain.BindingNetwork)
	if err != nil || string(sealed) != "sealed-pw" {
		t.Errorf("SealedPasswordForProfile = %q, %v", sealed, err)
	}
	snap := got.Snapshot()
	if snap.CodeHash != nil || !snap.VerifiedAt.Equal(t0.Add(time.Minute)) || !snap.ExpiresAt.Equal(t0.Add(31*time.Minute)) {
		t.Errorf("snapshot after verify = %+v", snap)
	}

	// An error from fn writes nothing.
	boom := errors.New("boom")
	err = pend.Update(ctx, phone(1), t0.Add(4*time.Minute), func(p *domain.PendingRegistration) error {
		p.KillCode()
		_ = p.SetPassword([]byte("other"), t0.Add(4*time.Minute), seedClient, domain.BindingNetwork)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Update(fn fails) = %v, want fn's error", err)
	}
	if got, _ := pend.Get(ctx, phone(1), t0.Add(4*time.Minute)); got != nil {
		if s, _ := got.SealedPasswordForProfile(t0.Add(4*time.Minute), seedClient, domain.BindingNetwork); string(s) != "sealed-pw" {
			t.Errorf("failed Update stored %q", s)
		}
	}

	// Past its expiry it is absent, swept or not.
	late := t0.Add(31 * time.Minute)
	if _, err := pend.Get(ctx, phone(1), late); !errors.Is(err, domain.ErrNoPending) {
		t.Errorf("Get(expired) = %v, want ErrNoPending", err)
	}
	called := false
	err = pend.Update(ctx, phone(1), late, func(*domain.PendingRegistration) error { called = true; return nil })
	if !errors.Is(err, domain.ErrNoPending) || called {
		t.Errorf("Update(expired) = %v (fn called %v), want ErrNoPending", err, called)
	}

	// Save replaces; Delete removes.
	if err := pend.Save(ctx, newPending(phone(1), late)); err != nil {
		t.Fatal(err)
	}
	if got, err := pend.Get(ctx, phone(1), late); err != nil || got.IsVerified(late) {
		t.Errorf("Get after re-Save = %v, %v; want a fresh, unverified registration", got, err)
	}
	if err := pend.Delete(ctx, phone(1)); err != nil {
		t.Fatal(err)
	}
	if err := pend.Delete(ctx, phone(1)); err != nil {
		t.Errorf("Delete(absent) = %v", err)
	}
	if _, err := pend.Get(ctx, phone(1), late); !errors.Is(err, domain.ErrNoPending) {
		t.Errorf("Get after Delete = %v", err)
	}
}

// Concurrent wrong guesses must each be counted: the compare-and-swap
// retries instead of losing an update.
func TestPendingUpdateIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	pend := s.PendingRegistrations()
	if err := pend.Save(ctx, newPending(phone(1), t0)); err != nil {
		t.Fatal(err)
	}
	const n = 10
	var wg sync.WaitGroup
	var calls atomic.Int64
	for range n {
		wg.Go(func() {
			err := pend.Update(ctx, phone(1), t0, func(p *domain.PendingRegistration) error {
				calls.Add(1)
				_ = p.Verify([]byte("wrong"), t0, 1000, time.Hour, seedClient)
				return nil
			})
			if err != nil {
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := pend.Get(ctx, phone(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Snapshot().Attempts; a != n {
		t.Errorf("attempts = %d after %d concurrent wrong guesses (fn ran %d times)", a, n, calls.Load())
	}
}

// TestLimitsAcrossStores: two stores (two instances) on one database
// share windows and locks, and a lock holds under guesses spread over
// both. The rules and the single-store contract are in storetest.
func TestLimitsAcrossStores(t *testing.T) {
	ctx := context.Background()
	uri := mongotest.Start(t)
	db := mongotest.Database(t, uri)
	a, b := openAt(t, uri, db, 5*time.Second), openAt(t, uri, db, 5*time.Second)
	var reserved atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			s := a
			if i%2 == 1 {
				s = b
			}
			var ok bool
			err := s.Lockouts().Update(ctx, "hot", t0, func(f *domain.LoginFailures) error {
				_, _, ok = f.Reserve(5, time.Minute, t0)
				return nil
			})
			if err != nil {
				t.Errorf("Update: %v", err)
			}
			if ok {
				reserved.Add(1)
			}
		})
	}
	wg.Wait()
	if reserved.Load() != 5 {
		t.Errorf("%d of 30 attempts over two instances reserved a place, want 5", reserved.Load())
	}
	var n int
	if err := b.RateLimits().Update(ctx, "w", t0, func(w *domain.FixedWindow) error { w.Take(3, time.Minute, t0); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := a.RateLimits().Update(ctx, "w", t0, func(w *domain.FixedWindow) error { n = w.Count(t0); return nil }); err != nil || n != 1 {
		t.Errorf("window seen from the other instance: %d, %v; want 1", n, err)
	}
}

// TestLimitDocumentsOfEarlierReleases: a rate-limit document written by a
// release whose documents carried no version (it counted with $inc) is
// still counted on, not refused as a lost race until it expires.
func TestLimitDocumentsOfEarlierReleases(t *testing.T) {
	ctx := context.Background()
	uri := mongotest.Start(t)
	db := mongotest.Database(t, uri)
	s := openAt(t, uri, db, 5*time.Second)
	client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(ctx) })
	_, err = client.Database(db).Collection("rate_limits").InsertOne(ctx, bson.D{
		{Key: "_id", Value: "sms:day:+8615850551102"}, {Key: "count", Value: int64(2)}, {Key: "expires_at", Value: t0.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var count int
	var ok bool
	err = s.RateLimits().Update(ctx, "sms:day:+8615850551102", t0, func(w *domain.FixedWindow) error {
		_, _, ok = w.Take(10, 24*time.Hour, t0)
		count = w.Count(t0)
		return nil
	})
	if err != nil || !ok || count != 3 {
		t.Fatalf("Update on an unversioned document: ok %v, count %d, %v; want true, 3, nil", ok, count, err)
	}
	err = s.RateLimits().Update(ctx, "sms:day:+8615850551102", t0, func(w *domain.FixedWindow) error {
		count = w.Count(t0)
		return nil
	})
	if err != nil || count != 3 {
		t.Fatalf("count after the update: %d, %v; want 3", count, err)
	}
}

func TestNonces(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	n := s.Nonces()
	now := time.Now()
	future := now.Add(time.Hour)
	claim := func(key string, expiresAt, now time.Time, want application.NonceClaim) {
		t.Helper()
		if c, err := n.Claim(ctx, key, expiresAt, now); err != nil || c != want {
			t.Errorf("Claim(%q) = %v, %v; want %v", key, c, err, want)
		}
	}
	claim("k", future, now, application.NonceClaimed)
	claim("k", future, now, application.NonceReplayed)
	// A claim that expired by the now it is given no longer holds the key,
	// swept or not; one expired before it is made holds nothing.
	claim("old", now.Add(time.Second), now, application.NonceClaimed)
	claim("old", now.Add(-time.Second), now, application.NonceStale)
	claim("old", future, now.Add(time.Second), application.NonceClaimed)
	claim("old", future, now.Add(time.Second), application.NonceReplayed)

	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			c, err := n.Claim(ctx, "race", future, now)
			if err != nil {
				t.Errorf("Claim: %v", err)
			}
			if c == application.NonceClaimed {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d of 20 concurrent claims won, want 1", wins.Load())
	}
}

func TestDeleteExpired(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Now().Truncate(time.Second)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PendingRegistrations().Save(ctx, newPending(phone(1), now.Add(-time.Hour)))) // expired
	must(s.PendingRegistrations().Save(ctx, newPending(phone(2), now)))                 // live
	takeAt := func(key string, at time.Time) error {
		return s.RateLimits().Update(ctx, key, at, func(w *domain.FixedWindow) error { w.Take(1, time.Minute, at); return nil })
	}
	must(takeAt("old", now.Add(-time.Hour)))
	must(takeAt("new", now))
	must(s.Lockouts().Update(ctx, "old", now.Add(-time.Hour), func(f *domain.LoginFailures) error {
		f.Reserve(5, time.Minute, now.Add(-time.Hour))
		return nil
	}))
	_, err := s.Nonces().Claim(ctx, "old", now.Add(-time.Minute), now.Add(-2*time.Minute))
	must(err)
	_, err = s.Nonces().Claim(ctx, "new", now.Add(time.Minute), now)
	must(err)

	var exp application.Expirer = s
	n, err := exp.DeleteExpired(ctx, now)
	if err != nil || n != 4 {
		t.Errorf("DeleteExpired = %d, %v; want 4", n, err)
	}
	if n, err := exp.DeleteExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0", n, err)
	}
	if _, err := s.PendingRegistrations().Get(ctx, phone(2), now); err != nil {
		t.Errorf("live registration swept: %v", err)
	}
	var n2 int
	must(s.RateLimits().Update(ctx, "new", now, func(w *domain.FixedWindow) error { n2 = w.Count(now); return nil }))
	if n2 != 1 {
		t.Error("live counter swept")
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestOpenFailsFastWhenUnreachable(t *testing.T) {
	const timeout = 500 * time.Millisecond
	addr := closedAddr(t)
	start := time.Now()
	s, err := mongo.Open(context.Background(), mongo.Config{URI: "mongodb://" + addr + "/", Timeout: timeout}, zaptest.NewLogger(t))
	took := time.Since(start)
	if err == nil {
		s.Close(context.Background())
		t.Fatal("Open succeeded against a closed port")
	}
	if !errors.Is(err, application.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
		t.Errorf("Open = %v; want ErrUnavailable naming %s", err, addr)
	}
	// Generous for a loaded machine, and far below the driver's own 30 s
	// server selection timeout, which is what an unbounded Open would take.
	if took > timeout+3*time.Second {
		t.Errorf("Open took %s with a %s timeout", took, timeout)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for _, uri := range []string{"", "http://example.com", "mongodb://user:s3cret@host:notaport/"} {
		_, err := mongo.Open(context.Background(), mongo.Config{URI: uri}, nil)
		if err == nil {
			t.Errorf("Open(%q) succeeded", uri)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open error leaks the password: %v", err)
		}
	}
}

// TestOpenRefusesWeakerGuarantees: URI options that would lose
// acknowledged writes or read a revocation from a lagging secondary stop
// Open before it connects (no server listens at these addresses: an
// attempt to connect would fail otherwise), naming the option and not
// the password. The options that keep the guarantees are accepted as far
// as the connection.
func TestOpenRefusesWeakerGuarantees(t *testing.T) {
	for uri, option := range map[string]string{
		"mongodb://u:s3cret@127.0.0.1:1/?w=1":                             "w=1",
		"mongodb://u:s3cret@127.0.0.1:1/?w=0":                             "w=0",
		"mongodb://u:s3cret@127.0.0.1:1/?journal=false":                   "journal=false",
		"mongodb://u:s3cret@127.0.0.1:1/?readPreference=secondary":        "readPreference=secondary",
		"mongodb://u:s3cret@127.0.0.1:1/?readPreference=nearest":          "readPreference=nearest",
		"mongodb://u:s3cret@127.0.0.1:1/?readPreference=primaryPreferred": "readPreference=primaryPreferred",
	} {
		_, err := mongo.Open(context.Background(), mongo.Config{URI: uri, Timeout: 200 * time.Millisecond}, nil)
		if err == nil || !strings.Contains(err.Error(), option) {
			t.Errorf("Open(%s): %v, want a refusal naming %s", option, err, option)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open error leaks the password: %v", err)
		}
	}
	for _, q := range []string{"w=majority", "w=3", "readPreference=primary", "journal=true", ""} {
		_, err := mongo.Open(context.Background(), mongo.Config{URI: "mongodb://127.0.0.1:1/?" + q, Timeout: 200 * time.Millisecond}, nil)
		if err == nil || !errors.Is(err, application.ErrUnavailable) {
			t.Errorf("Open(%q): %v, want it accepted and then unable to connect", q, err)
		}
	}
}

func TestOutageIsUnavailableAndRecovers(t *testing.T) {
	ctx := context.Background()
	uri := mongotest.Start(t)
	target := strings.TrimSuffix(strings.TrimPrefix(uri, "mongodb://"), "/")
	if strings.ContainsAny(target, "/?,@") {
		t.Skipf("cannot proxy %s", uri)
	}
	p := mongotest.NewProxy(t, target)
	s := openAt(t, "mongodb://"+p.Addr()+"/?directConnection=true", mongotest.Database(t, uri), time.Second)
	u := domain.NewUser("u1", phone(1), email(t, "o@example.com"), []byte("x"), t0)
	if err := s.Users().Create(ctx, u); err != nil {
		t.Fatal(err)
	}

	p.Down()
	calls := map[string]func() error{
		"ByPhone": func() error { _, err := s.Users().ByPhone(ctx, phone(1)); return err },
		"Create": func() error {
			return s.Users().Create(ctx, domain.NewUser("u2", phone(2), email(t, "p@example.com"), []byte("x"), t0))
		},
		"RateLimits.Update": func() error {
			return s.RateLimits().Update(ctx, "k", t0, func(w *domain.FixedWindow) error { w.Take(1, time.Minute, t0); return nil })
		},
		"Ping": func() error { return s.Ping(ctx) },
	}
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Go(func() {
			start := time.Now()
			err := call()
			if !errors.Is(err, application.ErrUnavailable) {
				t.Errorf("%s during outage = %v, want ErrUnavailable", name, err)
			}
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("%s took %s with a 1s timeout", name, took)
			}
		})
	}
	wg.Wait()

	p.Up()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.Users().ByPhone(ctx, phone(1))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing 20s after the server came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
