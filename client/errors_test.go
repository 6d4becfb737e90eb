package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/client"
)

// An answer that is not the service's JSON (a proxy's error page) is an
// *Error of the client's own reason, with the status.
func TestUnexpectedAnswer(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	_, err := client.New(proxy.URL).SendCode(context.Background(), "+8615850551102")
	var e *client.Error
	if !errors.As(err, &e) || e.HTTPStatus != 502 || e.Reason != client.ReasonUnexpectedAnswer || e.Message != "Bad Gateway" {
		t.Fatalf("got %#v", err)
	}
}

func TestErrorIs(t *testing.T) {
	err := error(&client.Error{HTTPStatus: 429, Message: "请求过于频繁，请稍后再试", Reason: "rate_limited", RetryAfter: time.Minute})
	if !errors.Is(err, client.ErrRateLimited) || errors.Is(err, client.ErrAccountLocked) || errors.Is(err, client.ErrLoginRequired) {
		t.Error("errors.Is does not follow the reason")
	}
	// Two answers are not the same error because they share a reason:
	// only a sentinel (no status) matches by reason.
	other := &client.Error{HTTPStatus: 429, Reason: "rate_limited"}
	if errors.Is(err, other) {
		t.Error("an answer matches another answer")
	}
	if got := err.Error(); got != "phoneauth: rate_limited: 请求过于频繁，请稍后再试 (retry after 60s)" {
		t.Errorf("Error() = %q", got)
	}
}

// Without a session, an authenticated call fails at once, sending
// nothing.
func TestNoSessionSendsNothing(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	c := client.New(srv.URL)
	ctx := context.Background()
	if _, err := c.Me(ctx); !errors.Is(err, client.ErrLoginRequired) {
		t.Errorf("me: %v", err)
	}
	if _, err := c.Refresh(ctx); !errors.Is(err, client.ErrLoginRequired) {
		t.Errorf("refresh: %v", err)
	}
	if _, err := c.Logout(ctx, false); !errors.Is(err, client.ErrLoginRequired) {
		t.Errorf("logout: %v", err)
	}
	if _, err := c.DeleteAccount(ctx, "pw"); !errors.Is(err, client.ErrLoginRequired) {
		t.Errorf("delete: %v", err)
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests sent", calls.Load())
	}
}

// Every reason docs/api.md lists (its table of messages and reasons)
// has a sentinel here, and each sentinel names a reason of its own.
func TestEveryDocumentedReasonHasASentinel(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range []*client.Error{
		client.ErrBadRequest, client.ErrBodyTooLarge, client.ErrUnsupportedEncoding, client.ErrRateLimited,
		client.ErrAccountLocked, client.ErrUnavailable, client.ErrInternal, client.ErrNotFound, client.ErrMethodNotAllowed,
		client.ErrInvalidPhone, client.ErrCountryNotAllowed, client.ErrUserExists, client.ErrSMSVendor,
		client.ErrSMSUnavailable, client.ErrCodeMismatch, client.ErrCodeExpired, client.ErrTooManyAttempts,
		client.ErrNoPendingRegistration, client.ErrNoPendingCode, client.ErrNotVerified, client.ErrPasswordLength,
		client.ErrPasswordMismatch, client.ErrInvalidEmail, client.ErrEmailTaken, client.ErrPasswordMissing,
		client.ErrNoSuchUser, client.ErrWrongPassword, client.ErrStaleRequest, client.ErrReplayedRequest,
		client.ErrPhoneTaken, client.ErrTokenMissing, client.ErrUnauthorized, client.ErrInvalidRefreshToken,
		client.ErrRefreshTokenReused,
	} {
		if seen[e.Reason] {
			t.Errorf("%s twice", e.Reason)
		}
		seen[e.Reason] = true
	}
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("\\| `([a-z_]+)` \\| [0-9]{3} \\|").FindAllStringSubmatch(string(doc), -1)
	if len(rows) < 30 {
		t.Fatalf("only %d reasons found in docs/api.md", len(rows))
	}
	for _, r := range rows {
		if !seen[r[1]] {
			t.Errorf("docs/api.md lists %s: no sentinel", r[1])
		}
	}
}
