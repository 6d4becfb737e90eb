package twilio

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
)

type countingTransport struct{ n int }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n++
	return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody}, nil
}

func TestOneShotAllowsOneRoundTrip(t *testing.T) {
	next := &countingTransport{}
	base, _ := url.Parse("http://127.0.0.1:1/prefix")
	rt := &oneShot{ctx: context.Background(), base: base, next: next}
	req, _ := http.NewRequest(http.MethodPost, "https://api.twilio.com/2010-04-01/x", http.NoBody)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RoundTrip(req); !errors.Is(err, errSecondRoundTrip) {
		t.Fatalf("second RoundTrip = %v, want errSecondRoundTrip", err)
	}
	if next.n != 1 {
		t.Errorf("transport reached %d times, want 1", next.n)
	}
	if rt.statusCode() != http.StatusServiceUnavailable {
		t.Errorf("status = %d", rt.statusCode())
	}
}
