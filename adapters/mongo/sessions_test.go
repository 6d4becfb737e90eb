package mongo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/mongotest"
)

// TestSessionsAcrossStores: two stores (two instances) on one database
// make one successor of a token refreshed on both at once, and a
// revocation or a new session generation written on one is read on the
// other at once. The single-store contract is in storetest.
func TestSessionsAcrossStores(t *testing.T) {
	ctx := context.Background()
	uri := mongotest.Start(t)
	db := mongotest.Database(t, uri)
	a, b := openAt(t, uri, db, 5*time.Second), openAt(t, uri, db, 5*time.Second)
	lifetimes := domain.SessionLifetimes{Access: time.Hour, Refresh: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}
	first := domain.OpenSession("s1", "u1", 0, t0, lifetimes)
	tok := domain.SessionToken{SessionID: "s1", UserID: "u1", IssuedAt: first.IssuedAt, ExpiresAt: first.RefreshExpiresAt}

	var mu sync.Mutex
	decided := map[domain.RefreshDecision]int{}
	issued := map[domain.SessionIssue]bool{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			s := a
			if i%2 == 1 {
				s = b
			}
			now := t0.Add(time.Minute)
			var d domain.RefreshDecision
			var cur domain.SessionIssue
			err := s.Sessions().Update(ctx, "s1", now, func(ss *domain.Session) error {
				d, cur = ss.Refresh(tok, 0, now, lifetimes), ss.Current()
				return nil
			})
			if err != nil {
				t.Errorf("Update: %v", err)
				return
			}
			mu.Lock()
			decided[d]++
			issued[cur] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if decided[domain.RefreshAdvanced] != 1 || decided[domain.RefreshRepeated] != 19 || len(issued) != 1 {
		t.Errorf("20 refreshes of one token over two instances: %v, %d distinct pairs; want 1 advanced, 19 repeated, 1 pair", decided, len(issued))
	}

	if err := a.Sessions().Update(ctx, "s2", t0, func(ss *domain.Session) error {
		ss.Revoke(domain.SessionToken{SessionID: "s2", UserID: "u1"}, t0.Add(time.Hour))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Sessions().Get(ctx, "s2", t0); err != nil || !got.Revoked() {
		t.Errorf("revocation seen from the other instance: revoked %v, %v", got.Revoked(), err)
	}

	if err := a.Users().Create(ctx, domain.NewUser("u1", phone(1), email(t, "a@example.com"), []byte{1}, t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Users().RevokeSessions(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if u, err := b.Users().ByID(ctx, "u1"); err != nil || u.SessionGeneration() != 1 || u.AcceptsSession(0) {
		t.Errorf("generation seen from the other instance: %v", err)
	}
}
