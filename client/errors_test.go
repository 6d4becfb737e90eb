package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
