package application_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
)

// account creates a user in f and returns it as stored.
func account(t *testing.T, f *apptest.Fakes, id, ph, mail string) *domain.User {
	t.Helper()
	e, err := domain.ParseEmail(mail)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Users.Create(ctx, domain.NewUser(id, domain.MustParsePhoneNumber(ph), e, []byte("sealed"), t0)); err != nil {
		t.Fatal(err)
	}
	u, err := f.Users.ByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// logIn opens a session for the account as a login does, at the clock's
// now, under the account's current generation.
func logIn(t *testing.T, f *apptest.Fakes, userID string) application.SessionTokens {
	t.Helper()
	u, err := f.Users.ByID(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Issuer.Open(u.ID(), u.SessionGeneration(), f.Clock.Now())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return p
}

func refresh(t *testing.T, f *apptest.Fakes, p application.SessionTokens) application.SessionTokens {
	t.Helper()
	next, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken})
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return next
}

// subSecond is a test start with a sub-millisecond part, which token
// times drop.
var subSecond = t0.Add(123_456_789 * time.Nanosecond)

func TestOpenWritesNothingAndSaysTheSession(t *testing.T) {
	f := apptest.New(subSecond, apptest.DefaultPolicy())
	account(t, f, "u1", phone, "a@qq.com")
	p := logIn(t, f, "u1")
	if f.Sessions.Writes() != 0 || f.Sessions.Len() != 0 {
		t.Fatalf("a login wrote %d session records", f.Sessions.Writes())
	}
	if p.ExpiresIn != f.Policy.AccessTTL || p.RefreshExpiresIn != f.Policy.RefreshTTL {
		t.Errorf("expires in %v / %v, want %v / %v", p.ExpiresIn, p.RefreshExpiresIn, f.Policy.AccessTTL, f.Policy.RefreshTTL)
	}
	a, err := apptest.Signer{}.ParseAccess(p.Token, subSecond)
	if err != nil {
		t.Fatal(err)
	}
	r, err := apptest.Signer{}.ParseRefresh(p.RefreshToken, subSecond)
	if err != nil {
		t.Fatal(err)
	}
	if a.UserID != "u1" || a.SessionID == "" || a.SessionID != r.SessionID || a.Generation != 0 || r.Seq != 0 {
		t.Errorf("claims %+v / %+v", a, r)
	}
	if !a.IssuedAt.Equal(t0) || !a.ExpiresAt.Equal(t0.Add(f.Policy.AccessTTL)) {
		t.Errorf("access iat %v exp %v, want whole seconds from %v", a.IssuedAt, a.ExpiresAt, t0)
	}
	ms := subSecond.Truncate(time.Millisecond)
	if !r.IssuedAt.Equal(ms) || !r.ExpiresAt.Equal(ms.Add(f.Policy.RefreshTTL)) {
		t.Errorf("refresh iat %v exp %v, want milliseconds from %v", r.IssuedAt, r.ExpiresAt, ms)
	}
	if q := logIn(t, f, "u1"); q.Token == p.Token {
		t.Errorf("two logins got one session")
	}
}

func TestRefreshRotatesAndSlides(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "a@qq.com")
	p0 := logIn(t, f, "u1")
	f.Clock.Advance(20 * 24 * time.Hour)
	p1 := refresh(t, f, p0)
	if p1.Token == p0.Token || p1.RefreshToken == p0.RefreshToken {
		t.Fatal("the successor is the same pair")
	}
	if f.Sessions.Writes() != 1 {
		t.Errorf("first refresh made %d writes, want 1", f.Sessions.Writes())
	}
	// Past the login's refresh expiry, its successor lives on: it lives
	// from its own issue.
	f.Clock.Advance(20 * 24 * time.Hour)
	p2 := refresh(t, f, p1)
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p2.Token}); err != nil {
		t.Fatalf("the newest access token: %v", err)
	}
	r, _ := apptest.Signer{}.ParseRefresh(p2.RefreshToken, f.Clock.Now())
	if r.Seq != 2 || !r.ExpiresAt.Equal(f.Clock.Now().Add(f.Policy.RefreshTTL)) {
		t.Errorf("seq %d expires %v", r.Seq, r.ExpiresAt)
	}
	// The login's refresh token has expired by now: not reuse, invalid.
	if _, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p0.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
		t.Errorf("expired token: %v", err)
	}
}

// TestParallelRefreshesMakeOneSuccessor: a token refreshed by many
// requests at once gets one successor; every request hears that same pair.
func TestParallelRefreshesMakeOneSuccessor(t *testing.T) {
	for _, rerun := range []bool{false, true} {
		f := newFakes(t)
		f.Sessions.Rerun = rerun
		account(t, f, "u1", phone, "a@qq.com")
		p0 := logIn(t, f, "u1")
		const n = 20
		got := make([]application.SessionTokens, n)
		errs := make([]error, n)
		done := make(chan struct{})
		start := make(chan struct{})
		for i := range n {
			go func() {
				defer func() { done <- struct{}{} }()
				<-start
				got[i], errs[i] = f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p0.RefreshToken})
			}()
		}
		close(start)
		for range n {
			<-done
		}
		for i := range n {
			if errs[i] != nil || got[i] != got[0] {
				t.Fatalf("rerun %v: refresh %d: %v, same pair %v", rerun, i, errs[i], got[i] == got[0])
			}
		}
		if f.Sessions.Writes() != 1 {
			t.Errorf("rerun %v: %d writes, want 1", rerun, f.Sessions.Writes())
		}
		if r, _ := (apptest.Signer{}).ParseRefresh(got[0].RefreshToken, f.Clock.Now()); r.Seq != 1 {
			t.Errorf("rerun %v: successor seq %d, want 1", rerun, r.Seq)
		}
		// The successor is the session's current token.
		refresh(t, f, got[0])
	}
}

// TestReuseAfterGraceRevokesTheWholeSession: a lost answer retried within
// the grace gets the identical pair; a millisecond past it, the reuse
// revokes the session, and every token descended from the login is
// refused, refresh and access tokens alike.
func TestReuseAfterGraceRevokesTheWholeSession(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "a@qq.com")
	other := logIn(t, f, "u1")
	p0 := logIn(t, f, "u1")
	f.Clock.Advance(time.Hour)
	p1 := refresh(t, f, p0)
	f.Clock.Advance(time.Hour)
	p2 := refresh(t, f, p1)
	writes := f.Sessions.Writes()

	f.Clock.Advance(f.Policy.RefreshReuseGrace)
	if again := refresh(t, f, p1); again != p2 {
		t.Fatalf("retry at the end of the grace got another pair")
	}
	if f.Sessions.Writes() != writes {
		t.Errorf("a repeated answer wrote")
	}
	f.Clock.Advance(time.Millisecond)
	_, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p1.RefreshToken})
	if !errors.Is(err, application.ErrRefreshTokenReused) {
		t.Fatalf("reuse a millisecond past the grace: %v", err)
	}
	if f.Sessions.Writes() != writes+1 {
		t.Errorf("the revocation was not written")
	}
	for i, p := range []application.SessionTokens{p0, p1, p2} {
		if _, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
			t.Errorf("refresh token %d after the reuse: %v, want invalid", i, err)
		}
		if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token}); !errors.Is(err, application.ErrUnauthorized) {
			t.Errorf("access token %d after the reuse: %v, want unauthorized", i, err)
		}
	}
	// Another session of the account lives on.
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: other.Token}); err != nil {
		t.Errorf("another session: %v", err)
	}
	refresh(t, f, other)
}

// TestRepeatRefusedOnceRevoked: within the grace, the pair is not
// answered again if the session or the account was revoked since.
func TestRepeatRefusedOnceRevoked(t *testing.T) {
	for _, all := range []bool{false, true} {
		f := newFakes(t)
		account(t, f, "u1", phone, "a@qq.com")
		p0 := logIn(t, f, "u1")
		p1 := refresh(t, f, p0)
		if err := f.Logout.Handle(ctx, application.Logout{AccessToken: p1.Token, All: all}); err != nil {
			t.Fatalf("logout (all %v): %v", all, err)
		}
		f.Clock.Advance(time.Second)
		if _, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p0.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
			t.Errorf("all %v: retry within the grace after logout: %v, want invalid", all, err)
		}
	}
}

func TestRefreshRefusals(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "a@qq.com")
	p := logIn(t, f, "u1")
	forged := p.RefreshToken[:len(p.RefreshToken)-2] + "AA"
	for name, tok := range map[string]string{"empty": "", "garbage": "garbage", "forged": forged, "an access token": p.Token} {
		_, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: tok})
		if !errors.Is(err, application.ErrInvalidRefreshToken) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
		if tok != "" && err != nil && strings.Contains(err.Error(), tok) {
			t.Errorf("%s: the error carries the token", name)
		}
	}
	if err := f.Users.Delete(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	_, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken})
	if !errors.Is(err, application.ErrInvalidRefreshToken) || errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("deleted account: %v, want invalid only", err)
	}
	if f.Sessions.Writes() != 0 {
		t.Errorf("refusals wrote %d records", f.Sessions.Writes())
	}
}

// TestRefreshIsDurableBeforeItIsAnswered: when the session cannot be
// recorded, no pair goes out.
func TestRefreshIsDurableBeforeItIsAnswered(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "a@qq.com")
	p := logIn(t, f, "u1")
	f.Sessions.Err = application.ErrUnavailable
	got, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken})
	if !errors.Is(err, application.ErrUnavailable) || got.Token != "" || got.RefreshToken != "" {
		t.Fatalf("store down: %+v, %v", got, err)
	}
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token}); !errors.Is(err, application.ErrUnavailable) || errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("authenticate with the store down: %v, want unavailable", err)
	}
	f.Sessions.Err = nil
	refresh(t, f, p)
}

func TestAuthenticate(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "a@qq.com")
	p := logIn(t, f, "u1")
	got, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token})
	if err != nil || got.User.ID() != "u1" || got.Claims.UserID != "u1" {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{}); !errors.Is(err, application.ErrTokenMissing) {
		t.Errorf("no token: %v", err)
	}
	for name, tok := range map[string]string{"garbage": "x.y", "a refresh token": p.RefreshToken} {
		if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: tok}); !errors.Is(err, application.ErrUnauthorized) {
			t.Errorf("%s: %v", name, err)
		}
	}
	f.Clock.Advance(f.Policy.AccessTTL - time.Second)
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token}); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	f.Clock.Advance(time.Second)
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("at expiry: %v", err)
	}
	q := logIn(t, f, "u1")
	if err := f.Users.Delete(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: q.Token}); !errors.Is(err, application.ErrUnauthorized) || errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("deleted account: %v, want unauthorized only", err)
	}
}

func TestMe(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "Someone@QQ.com")
	p := logIn(t, f, "u1")
	principal, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Me.Handle(ctx, application.Me{Principal: principal})
	want := application.MeResult{Phone: e164, Email: "Someone@qq.com", CreatedAt: t0}
	if err != nil || got != want {
		t.Fatalf("Me = %+v, %v; want %+v", got, err, want)
	}
	// A refresh token is no principal, and a principal without an account
	// reads nothing.
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.RefreshToken}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("Me with a refresh token: %v", err)
	}
	if _, err := f.Me.Handle(ctx, application.Me{Principal: application.Principal{Claims: principal.Claims}}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("Me without an account: %v", err)
	}
}

func TestLogoutRevokesOneSession(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "a@qq.com")
	other := logIn(t, f, "u1")
	p := logIn(t, f, "u1")
	if err := f.Logout.Handle(ctx, application.Logout{AccessToken: p.Token}); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("access token after logout: %v", err)
	}
	if _, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
		t.Errorf("refresh token after logout: %v", err)
	}
	if err := f.Logout.Handle(ctx, application.Logout{AccessToken: p.Token}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("second logout: %v", err)
	}
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: other.Token}); err != nil {
		t.Errorf("the account's other session: %v", err)
	}
	if err := f.Logout.Handle(ctx, application.Logout{}); !errors.Is(err, application.ErrTokenMissing) {
		t.Errorf("logout without a token: %v", err)
	}
}

// TestLogoutRecordLivesAsLongAsTheTokens: the revocation of a session
// never refreshed is kept until its refresh token would have expired
// (known only from the access token's claims), and no longer.
func TestLogoutRecordLivesAsLongAsTheTokens(t *testing.T) {
	f := apptest.New(subSecond, apptest.DefaultPolicy())
	account(t, f, "u1", phone, "a@qq.com")
	p := logIn(t, f, "u1")
	if err := f.Logout.Handle(ctx, application.Logout{AccessToken: p.Token}); err != nil {
		t.Fatal(err)
	}
	r, _ := apptest.Signer{}.ParseRefresh(p.RefreshToken, f.Clock.Now())
	// The last instant the refresh token is valid: the record must hold.
	f.Clock.Advance(r.ExpiresAt.Sub(f.Clock.Now()) - time.Millisecond)
	if n, _ := f.Sessions.DeleteExpired(ctx, f.Clock.Now()); n != 0 {
		t.Fatalf("the revocation was swept while the refresh token lives")
	}
	if _, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
		t.Fatalf("refresh token at its last millisecond: %v", err)
	}
	f.Clock.Advance(time.Second + time.Millisecond)
	if n, _ := f.Sessions.DeleteExpired(ctx, f.Clock.Now()); n != 1 {
		t.Errorf("a second after the tokens expired, the sweep deleted %d records, want 1", n)
	}
}

func TestLogoutByRefreshToken(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "a@qq.com")
	p := logIn(t, f, "u1")
	f.Clock.Advance(f.Policy.AccessTTL)
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token}); !errors.Is(err, application.ErrUnauthorized) {
		t.Fatalf("the access token should have expired: %v", err)
	}
	// The app still sends its expired access token; the refresh token wins.
	if err := f.Logout.Handle(ctx, application.Logout{AccessToken: p.Token, RefreshToken: p.RefreshToken}); err != nil {
		t.Fatalf("logout by refresh token: %v", err)
	}
	if _, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
		t.Errorf("refresh after logout: %v", err)
	}
	if err := f.Logout.Handle(ctx, application.Logout{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("logout again: %v", err)
	}
	if err := f.Logout.Handle(ctx, application.Logout{RefreshToken: p.Token}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("an access token as refresh token: %v", err)
	}
}

// TestLogoutAllSameSecond: logging out everywhere refuses every session
// opened before it, and accepts one opened after it within the same
// second (a generation, not a time).
func TestLogoutAllSameSecond(t *testing.T) {
	f := newFakes(t)
	account(t, f, "u1", phone, "a@qq.com")
	account(t, f, "u2", "13900000001", "b@qq.com")
	a, b := logIn(t, f, "u1"), logIn(t, f, "u1")
	stranger := logIn(t, f, "u2")
	if err := f.Logout.Handle(ctx, application.Logout{RefreshToken: a.RefreshToken, All: true}); err != nil {
		t.Fatalf("logout all: %v", err)
	}
	after := logIn(t, f, "u1") // same instant
	for name, p := range map[string]application.SessionTokens{"a": a, "b": b} {
		if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: p.Token}); !errors.Is(err, application.ErrUnauthorized) {
			t.Errorf("session %s after logout all: %v", name, err)
		}
		if _, err := f.Refresh.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
			t.Errorf("session %s refresh after logout all: %v", name, err)
		}
	}
	if _, err := f.Authenticate.Handle(ctx, application.Authenticate{Token: after.Token}); err != nil {
		t.Errorf("a session opened after, in the same second: %v", err)
	}
	refresh(t, f, after)
	refresh(t, f, stranger)
	if f.Sessions.Writes() != 2 {
		t.Errorf("%d session writes, want only the two refreshes: logout all writes the account", f.Sessions.Writes())
	}
	if err := f.Logout.Handle(ctx, application.Logout{AccessToken: b.Token, All: true}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("logout all with a revoked token: %v", err)
	}
}

// TestShorterLifetimesApplyAtOnce: when the policy shortens the token
// lifetimes, tokens already out live no longer than the new ones; and a
// revocation record is kept until the presented token's own expiry, not
// only as long as the new lifetimes say, so that a logged-out session
// does not come back when its record is swept, even if the lifetimes are
// raised again.
func TestShorterLifetimesApplyAtOnce(t *testing.T) {
	f := newFakes(t) // issues under 7-day access and 30-day refresh tokens
	account(t, f, "u1", phone, "a@qq.com")
	loggedOut, kept := logIn(t, f, "u1"), logIn(t, f, "u1")

	short := f.Policy
	short.AccessTTL, short.RefreshTTL = time.Hour, 24*time.Hour
	auth := application.NewAuthenticateHandler(apptest.Signer{}, f.Users, f.Sessions, f.Clock, short)
	ref := application.NewRefreshHandler(application.NewSessionIssuer(apptest.Signer{}, short), f.Users, f.Sessions, f.Clock, short)
	logout := application.NewLogoutHandler(auth, f.Users, f.Sessions, f.Clock, short)

	if err := logout.Handle(ctx, application.Logout{AccessToken: loggedOut.Token}); err != nil {
		t.Fatalf("logout: %v", err)
	}
	f.Clock.Advance(time.Hour)
	if _, err := auth.Handle(ctx, application.Authenticate{Token: kept.Token}); !errors.Is(err, application.ErrUnauthorized) {
		t.Errorf("an access token older than the new lifetime: %v", err)
	}
	f.Clock.Advance(23*time.Hour + time.Second)
	// The record outlives the new lifetimes: it is kept until the logged
	// out access token's own expiry, so that raising the lifetimes again
	// cannot bring that token back once the record is gone.
	if n, _ := f.Sessions.DeleteExpired(ctx, f.Clock.Now()); n != 0 {
		t.Fatalf("the revocation record was swept before the logged-out token's own expiry (%d deleted)", n)
	}
	for name, p := range map[string]application.SessionTokens{"logged out": loggedOut, "kept": kept} {
		if _, err := ref.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
			t.Errorf("%s session's refresh token, older than the new lifetime: %v", name, err)
		}
		if err := logout.Handle(ctx, application.Logout{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrUnauthorized) {
			t.Errorf("%s session's logout by refresh token: %v", name, err)
		}
	}
	if f.Sessions.Len() != 1 {
		t.Errorf("%d session records, want only the logged-out one: a refused refresh recorded a session", f.Sessions.Len())
	}
	f.Clock.Advance(6 * 24 * time.Hour) // 7 days and a second after the login
	if n, _ := f.Sessions.DeleteExpired(ctx, f.Clock.Now()); n != 1 {
		t.Fatalf("the revocation record was not swept at the logged-out token's own expiry (%d deleted)", n)
	}
}

// bumpBeforeUpdate is a Sessions store that revokes every session of the
// account (a logout-all on another instance) just before the refresh's
// atomic update runs: the race between reading the account and recording
// the refresh.
type bumpBeforeUpdate struct {
	application.Sessions
	users  *apptest.Users
	userID string
}

func (b bumpBeforeUpdate) Update(ctx context.Context, id string, now time.Time, fn func(*domain.Session) error) error {
	if _, err := b.users.RevokeSessions(ctx, b.userID); err != nil {
		return err
	}
	return b.Sessions.Update(ctx, id, now, fn)
}

// TestRefreshRacingLogoutAllAnswersNoPair: a logout-all acknowledged while
// a refresh was between reading the account and recording the refresh
// must not be followed by a fresh pair for the revoked session.
func TestRefreshRacingLogoutAllAnswersNoPair(t *testing.T) {
	f := apptest.New(subSecond, apptest.DefaultPolicy())
	u := account(t, f, "u1", "15850551102", "a@example.com")
	p := logIn(t, f, u.ID())
	racy := application.NewRefreshHandler(f.Issuer, f.Users, bumpBeforeUpdate{f.Sessions, f.Users, u.ID()}, f.Clock, f.Policy)
	got, err := racy.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken})
	if !errors.Is(err, application.ErrInvalidRefreshToken) {
		t.Fatalf("refresh racing a logout-all answered %+v, %v; want ErrInvalidRefreshToken", got, err)
	}
}

// countUpdates is a Sessions store that counts the atomic updates asked
// of it.
type countUpdates struct {
	application.Sessions
	n *int
}

func (c countUpdates) Update(ctx context.Context, id string, now time.Time, fn func(*domain.Session) error) error {
	*c.n++
	return c.Sessions.Update(ctx, id, now, fn)
}

// TestRefreshOfRevokedAccountAsksNoWrite: a refresh token of an account
// whose sessions were all revoked is refused before the session store is
// asked for an atomic update (on bbolt each one is a synced write
// transaction, even when it changes nothing, so a replayed dead token must
// not cost one).
func TestRefreshOfRevokedAccountAsksNoWrite(t *testing.T) {
	f := apptest.New(subSecond, apptest.DefaultPolicy())
	u := account(t, f, "u1", "15850551102", "a@example.com")
	p := logIn(t, f, u.ID())
	if _, err := f.Users.RevokeSessions(ctx, u.ID()); err != nil {
		t.Fatal(err)
	}
	var updates int
	h := application.NewRefreshHandler(f.Issuer, f.Users, countUpdates{f.Sessions, &updates}, f.Clock, f.Policy)
	for range 3 {
		if _, err := h.Handle(ctx, application.Refresh{RefreshToken: p.RefreshToken}); !errors.Is(err, application.ErrInvalidRefreshToken) {
			t.Fatalf("refresh of a revoked account: %v", err)
		}
	}
	if updates != 0 {
		t.Fatalf("refusing a revoked account's refresh token asked the store for %d updates", updates)
	}
}
