package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// The rules of sessions are the domain's (and tested there); these
// subtests check what a store adds: that what fn leaves is what the next
// read sees, every field of it, that an error or no change writes
// nothing, that a record past its retention is gone, and that concurrent
// refreshes of one token make one successor.

// lifetimes are the sessions' in these subtests; every time they give is
// a whole millisecond.
var lifetimes = domain.SessionLifetimes{Access: 15 * time.Minute, Refresh: 30 * 24 * time.Hour, ReuseGrace: 10 * time.Second}

// loginToken is the refresh token of a login to session id at base.
func loginToken(id string) domain.SessionToken {
	i := domain.OpenSession(id, "user-"+id, 7, base, lifetimes)
	return domain.SessionToken{
		SessionID: i.SessionID, UserID: i.UserID, Generation: i.Generation, Seq: i.Seq,
		IssuedAt: i.IssuedAt, ExpiresAt: i.RefreshExpiresAt,
	}
}

// revokeFor is an fn that revokes the session, keeping its record until
// lastExpiry.
func revokeFor(id string, lastExpiry time.Time) func(*domain.Session) error {
	return func(s *domain.Session) error {
		s.Revoke(loginToken(id), lastExpiry)
		return nil
	}
}

func testSessions(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) application.Sessions {
		t.Helper()
		s := newStores(t)
		if s.Sessions == nil {
			t.Skip("Sessions not implemented by these stores")
		}
		return s.Sessions
	}
	get := func(t *testing.T, s application.Sessions, id string, now time.Time) domain.Session {
		t.Helper()
		got, err := s.Get(t.Context(), id, now)
		if err != nil {
			t.Fatalf("Get(%q, base+%v): %v", id, now.Sub(base), err)
		}
		return got
	}

	t.Run("UnknownIsNeverRecorded", func(t *testing.T) {
		sessions, ctx := open(t), t.Context()
		if got := get(t, sessions, "s1", base); got.Recorded() {
			t.Fatalf("Get(unknown) = %+v, want the zero session", got.Snapshot())
		}
		calls := 0
		err := sessions.Update(ctx, "s1", base, func(s *domain.Session) error {
			calls++
			if s.Recorded() {
				t.Errorf("Update(unknown) handed fn a recorded session: %+v", s.Snapshot())
			}
			return nil
		})
		if err != nil || calls == 0 {
			t.Fatalf("Update(unknown) = %v after %d calls of fn", err, calls)
		}
		if got := get(t, sessions, "s1", base); got.Recorded() {
			t.Errorf("an Update that changed nothing stored %+v", got.Snapshot())
		}
	})

	t.Run("GetRoundTripsEverySnapshotField", func(t *testing.T) {
		sessions, ctx := open(t), t.Context()
		// Not a state the domain reaches, but every field at once, each
		// distinct, the numbers past 32 bits.
		want := domain.SessionSnapshot{
			Current: domain.SessionIssue{
				SessionID: "s1", UserID: "user-1", Generation: 1<<40 + 3, Seq: 1<<33 + 5,
				IssuedAt:         base.Add(1234 * time.Millisecond),
				AccessExpiresAt:  base.Add(15*time.Minute + 7*time.Millisecond),
				RefreshExpiresAt: base.Add(720*time.Hour + 9*time.Millisecond),
			},
			Revoked:     true,
			RetainUntil: base.Add(721*time.Hour + 11*time.Millisecond),
		}
		err := sessions.Update(ctx, "s1", base, func(s *domain.Session) error {
			*s = domain.RestoreSession(want)
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		got := get(t, sessions, "s1", base.Add(time.Minute))
		checkSessionSnapshot(t, got.Snapshot(), want)
		// Update hands fn the same.
		if err := sessions.Update(ctx, "s1", base.Add(time.Minute), func(s *domain.Session) error {
			checkSessionSnapshot(t, s.Snapshot(), want)
			return nil
		}); err != nil {
			t.Fatalf("Update: %v", err)
		}
	})

	t.Run("KeepsWhatFnLeaves", func(t *testing.T) {
		sessions, ctx := open(t), t.Context()
		tok := loginToken("s1")
		refresh := func(tok domain.SessionToken, now time.Time) (domain.RefreshDecision, domain.SessionIssue) {
			t.Helper()
			var d domain.RefreshDecision
			var cur domain.SessionIssue
			if err := sessions.Update(ctx, "s1", now, func(s *domain.Session) error {
				d, cur = s.Refresh(tok, 7, now, lifetimes), s.Current()
				return nil
			}); err != nil {
				t.Fatalf("Update: %v", err)
			}
			return d, cur
		}
		at := base.Add(time.Hour + 5*time.Millisecond)
		d, first := refresh(tok, at)
		if d != domain.RefreshAdvanced || first.Seq != 1 {
			t.Fatalf("first refresh: %v, seq %d", d, first.Seq)
		}
		got := get(t, sessions, "s1", at)
		if !got.Recorded() || got.Current().Seq != 1 || !sameMillis(got.Current().IssuedAt, at) {
			t.Fatalf("after the first refresh Get = %+v", got.Snapshot())
		}
		// The used token, within the grace and past it (to the millisecond).
		if d, again := refresh(tok, at.Add(lifetimes.ReuseGrace)); d != domain.RefreshRepeated || again.Seq != 1 {
			t.Errorf("reuse at the end of the grace: %v, seq %d", d, again.Seq)
		}
		if d, _ := refresh(tok, at.Add(lifetimes.ReuseGrace+time.Millisecond)); d != domain.RefreshReused {
			t.Errorf("reuse a millisecond past the grace: %v", d)
		}
		if got := get(t, sessions, "s1", at); !got.Revoked() {
			t.Errorf("the reuse's revocation was not stored")
		}
	})

	t.Run("ErrorWritesNothing", func(t *testing.T) {
		sessions, ctx := open(t), t.Context()
		refused := errors.New("refused")
		err := sessions.Update(ctx, "s1", base, func(s *domain.Session) error {
			s.Revoke(loginToken("s1"), base.Add(time.Hour))
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("Update = %v, want fn's error", err)
		}
		if got := get(t, sessions, "s1", base); got.Recorded() {
			t.Errorf("a failed fn stored %+v", got.Snapshot())
		}
	})

	t.Run("RefusesAnotherID", func(t *testing.T) {
		sessions, ctx := open(t), t.Context()
		err := sessions.Update(ctx, "s1", base, revokeFor("s2", base.Add(time.Hour)))
		if err == nil {
			t.Fatalf("Update of s1 storing session s2: nil error")
		}
		for _, id := range []string{"s1", "s2"} {
			if got := get(t, sessions, id, base); got.Recorded() {
				t.Errorf("%s stored after a refused Update: %+v", id, got.Snapshot())
			}
		}
	})

	t.Run("PastItsRetentionIsGone", func(t *testing.T) {
		sessions, ctx := open(t), t.Context()
		until := base.Add(time.Hour)
		if err := sessions.Update(ctx, "s1", base, revokeFor("s1", until)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got := get(t, sessions, "s1", until.Add(-time.Millisecond)); !got.Revoked() {
			t.Errorf("a millisecond before its retention ends: %+v, want revoked", got.Snapshot())
		}
		if got := get(t, sessions, "s1", until); got.Recorded() {
			t.Errorf("at the end of its retention Get = %+v, want the zero session", got.Snapshot())
		}
		// Update too sees nothing there, and may record the id afresh.
		tok := loginToken("s1")
		var d domain.RefreshDecision
		if err := sessions.Update(ctx, "s1", until, func(s *domain.Session) error {
			if s.Recorded() {
				t.Errorf("Update past the retention handed fn %+v", s.Snapshot())
			}
			d = s.Refresh(tok, 7, until, lifetimes)
			return nil
		}); err != nil || d != domain.RefreshAdvanced {
			t.Fatalf("Update over an expired record: %v, %v", d, err)
		}
		if got := get(t, sessions, "s1", until); got.Revoked() || got.Current().Seq != 1 {
			t.Errorf("the record written over the expired one: %+v", got.Snapshot())
		}
	})

	t.Run("ConcurrentRefreshesMakeOneSuccessor", func(t *testing.T) {
		sessions, ctx := open(t), t.Context()
		tok := loginToken("s1")
		decided := make([]domain.RefreshDecision, concurrency)
		issued := make([]domain.SessionIssue, concurrency)
		errs := race(concurrency, func(i int) error {
			now := base.Add(time.Minute + time.Duration(i)*time.Millisecond)
			return sessions.Update(ctx, "s1", now, func(s *domain.Session) error {
				decided[i], issued[i] = s.Refresh(tok, 7, now, lifetimes), s.Current()
				return nil
			})
		})
		advanced := -1
		for i, err := range errs {
			switch {
			case err != nil:
				t.Errorf("refresh %d: %v", i, err)
			case decided[i] == domain.RefreshAdvanced && advanced >= 0:
				t.Errorf("refreshes %d and %d both advanced the session", advanced, i)
			case decided[i] == domain.RefreshAdvanced:
				advanced = i
			case decided[i] != domain.RefreshRepeated:
				t.Errorf("refresh %d: %v, want advanced or repeated", i, decided[i])
			}
		}
		if advanced < 0 {
			t.Fatalf("no refresh advanced the session")
		}
		for i := range concurrency {
			if errs[i] == nil && issued[i] != issued[advanced] {
				t.Errorf("refresh %d answers %+v, the successor is %+v", i, issued[i], issued[advanced])
			}
		}
		if got := get(t, sessions, "s1", base.Add(time.Hour)); got.Current().Seq != 1 || got.Revoked() {
			t.Errorf("after the race: %+v, want seq 1", got.Snapshot())
		}
	})

	t.Run("ConcurrentSessionsAreIndependent", func(t *testing.T) {
		sessions, ctx := open(t), t.Context()
		errs := race(concurrency, func(i int) error {
			id := fmt.Sprintf("s%d", i)
			return sessions.Update(ctx, id, base, revokeFor(id, base.Add(time.Hour)))
		})
		for i, err := range errs {
			id := fmt.Sprintf("s%d", i)
			if err != nil {
				t.Errorf("revoke %s: %v", id, err)
			} else if got := get(t, sessions, id, base); !got.Revoked() {
				t.Errorf("%s not revoked", id)
			}
		}
	})
}

func checkSessionSnapshot(t *testing.T, got, want domain.SessionSnapshot) {
	t.Helper()
	g, w := got.Current, want.Current
	if g.SessionID != w.SessionID || g.UserID != w.UserID || g.Generation != w.Generation || g.Seq != w.Seq {
		t.Errorf("ids and counts = %q %q %d %d, want %q %q %d %d",
			g.SessionID, g.UserID, g.Generation, g.Seq, w.SessionID, w.UserID, w.Generation, w.Seq)
	}
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"IssuedAt", g.IssuedAt, w.IssuedAt},
		{"AccessExpiresAt", g.AccessExpiresAt, w.AccessExpiresAt},
		{"RefreshExpiresAt", g.RefreshExpiresAt, w.RefreshExpiresAt},
		{"RetainUntil", got.RetainUntil, want.RetainUntil},
	} {
		// Session times are whole milliseconds: a store keeps them exactly.
		if !c.got.Equal(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got.Revoked != want.Revoked {
		t.Errorf("Revoked = %v, want %v", got.Revoked, want.Revoked)
	}
}
