package crypto_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/phoneauth/phoneauth/application"
)

// TestRememberedTokenAnswersAsVerification: a token ParseAccess accepted
// before (remembered) gets, at every time, the answer a Tokens that never
// saw it gives after verifying it: the same claims while it lives, the
// same refusal from its exp on, and accepted again if the clock goes back.
func TestRememberedTokenAnswersAsVerification(t *testing.T) {
	current, previous := edKey(1), edKey(2)
	signer := newTokens(t, previous)
	byOld, err := signer.IssueAccess(access("u-old", "s-old", 4, tokNow, 15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"signed by the previous key": byOld}
	tk := newTokens(t, current, previous)
	for name, c := range map[string]application.AccessClaims{
		"plain":            access("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", 0, tokNow, 15*time.Minute),
		"sub-second times": access("u", "s", 9, tokNow.Add(999*time.Millisecond), time.Minute),
		"longest ids":      access(strings.Repeat("u", 255), strings.Repeat("界", 85), 1<<63+5, tokNow, time.Second),
	} {
		tok, err := tk.IssueAccess(c)
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			warm := newTokens(t, current, previous)
			first, err := warm.ParseAccess(tok, tokNow)
			if err != nil {
				t.Fatal(err)
			}
			exp := first.ExpiresAt
			for _, at := range []time.Time{tokNow, tokNow.Add(-time.Hour), exp.Add(-time.Nanosecond), exp, exp.Add(time.Second), tokNow} {
				cold := newTokens(t, current, previous)
				want, wantErr := cold.ParseAccess(tok, at)
				got, gotErr := warm.ParseAccess(tok, at)
				if !reflect.DeepEqual(got, want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) ||
					errors.Is(gotErr, application.ErrInvalidToken) != errors.Is(wantErr, application.ErrInvalidToken) ||
					errors.Is(gotErr, jwt.ErrTokenExpired) != errors.Is(wantErr, jwt.ErrTokenExpired) {
					t.Fatalf("at %v: remembered answers %+v, %v; verified %+v, %v", at, got, gotErr, want, wantErr)
				}
				if at.Equal(exp) && !errors.Is(gotErr, application.ErrInvalidToken) {
					t.Fatalf("accepted at its exp: %+v", got)
				}
			}
			if n := warm.RememberedTokens(); n != 1 {
				t.Fatalf("remembers %d tokens, want 1", n)
			}
		})
	}
}

// TestParseAccessRemembersOnlyAccepted: refused tokens, expired ones
// included, are verified every time and never take a place.
func TestParseAccessRemembersOnlyAccepted(t *testing.T) {
	tk := newTokens(t, edKey(1))
	good, err := tk.IssueAccess(access("u", "s", 0, tokNow, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := tk.IssueAccess(access("u", "s", 0, tokNow.Add(-2*time.Hour), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		for _, tok := range []string{expired, good[:len(good)-2], good + "\n", "Bearer " + good, hs256Token(t)} {
			if _, err := tk.ParseAccess(tok, tokNow); !errors.Is(err, application.ErrInvalidToken) {
				t.Fatalf("accepted a bad token: %v", err)
			}
		}
	}
	if n := tk.RememberedTokens(); n != 0 {
		t.Fatalf("remembers %d refused tokens", n)
	}
	if _, err := tk.ParseAccess(good, tokNow); err != nil {
		t.Fatal(err)
	}
	if n := tk.RememberedTokens(); n != 1 {
		t.Fatalf("remembers %d tokens after one acceptance", n)
	}
}

// TestParseAccessConcurrently: many goroutines parse a mix of tokens, new
// and remembered, live, expired and tampered, and each gets its own
// answer (run with -race).
func TestParseAccessConcurrently(t *testing.T) {
	tk := newTokens(t, edKey(1))
	const sessions = 40
	good := make([]string, sessions)
	for i := range good {
		tok, err := tk.IssueAccess(access(fmt.Sprintf("user-%d", i), fmt.Sprintf("sess-%d", i), uint64(i), tokNow, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		good[i] = tok
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for n := range 300 {
				i := (g*7 + n) % sessions
				at := tokNow
				if n%5 == 4 {
					at = tokNow.Add(time.Hour) // expired by then
				}
				c, err := tk.ParseAccess(good[i], at)
				switch {
				case at.After(tokNow) && !errors.Is(err, application.ErrInvalidToken):
					errs <- fmt.Errorf("token %d accepted at its expiry", i)
					return
				case !at.After(tokNow) && (err != nil || c.UserID != fmt.Sprintf("user-%d", i) || c.SessionID != fmt.Sprintf("sess-%d", i) || c.Generation != uint64(i)):
					errs <- fmt.Errorf("token %d: %+v, %v", i, c, err)
					return
				}
				if _, err := tk.ParseAccess(good[i][:len(good[i])-3]+"AAA", tokNow); err == nil {
					errs <- fmt.Errorf("tampered token %d accepted", i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := tk.RememberedTokens(); n != sessions {
		t.Fatalf("remembers %d tokens, want %d", n, sessions)
	}
}
