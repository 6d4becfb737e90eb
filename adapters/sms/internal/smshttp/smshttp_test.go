package smshttp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/sms/internal/smshttp"
	"github.com/phoneauth/phoneauth/application"
)

func TestMinutes(t *testing.T) {
	for ttl, want := range map[time.Duration]string{
		5 * time.Minute: "5", 150 * time.Second: "2", 30 * time.Second: "1", 0: "1", 10 * time.Minute: "10",
	} {
		if got := smshttp.Minutes(ttl); got != want {
			t.Errorf("Minutes(%s) = %s, want %s", ttl, got, want)
		}
	}
}

func TestRedactDropsTheQuery(t *testing.T) {
	inner := errors.New("connection reset")
	err := fmt.Errorf("send: %w", &url.Error{Op: "Post", URL: "https://u:p@host/path?sig=ABC&TemplateParam=%7B%22code%22%3A%22454078%22%7D", Err: inner})
	got := smshttp.Redact(err)
	if s := got.Error(); strings.Contains(s, "sig") || strings.Contains(s, "454078") || strings.Contains(s, "u:p") || !strings.Contains(s, "https://host/path") {
		t.Errorf("Redact = %q", s)
	}
	if !errors.Is(got, inner) {
		t.Error("Redact lost the cause")
	}
	plain := errors.New("plain")
	if smshttp.Redact(plain) != plain || smshttp.Redact(nil) != nil {
		t.Error("Redact changed an error without a URL")
	}
}

func TestBeforeWrite(t *testing.T) {
	client := &http.Client{Timeout: 2 * time.Second}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, refused := client.Post("http://"+addr+"/", "text/plain", nil)
	if refused == nil || !smshttp.BeforeWrite(refused) {
		t.Errorf("connection refused: BeforeWrite(%v) = false", refused)
	}
	_, dns := client.Post("http://no-such-host.invalid/", "text/plain", nil)
	if dns == nil || !smshttp.BeforeWrite(dns) {
		t.Errorf("DNS failure: BeforeWrite(%v) = false", dns)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) }))
	defer srv.Close()
	client.Timeout = 50 * time.Millisecond
	_, timeout := client.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if timeout == nil || smshttp.BeforeWrite(timeout) {
		t.Errorf("timeout awaiting the answer: BeforeWrite(%v) = true", timeout)
	}
}

func TestTrackerSeesTheWrite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, tr := smshttp.Track(context.Background())
	if tr.Wrote() {
		t.Fatal("wrote before sending")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err := smshttp.NewClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !tr.Wrote() {
		t.Error("tracker missed a written request")
	}
}

func TestStatusError(t *testing.T) {
	for status, want := range map[int]application.SMSErrorKind{
		200: application.SMSUncertain, 201: application.SMSUncertain,
		500: application.SMSUncertain, 502: application.SMSUncertain, 504: application.SMSUncertain, 599: application.SMSUncertain,
		503: application.SMSNotSent, 429: application.SMSNotSent,
		302: application.SMSRefused, 400: application.SMSRefused, 401: application.SMSRefused, 404: application.SMSRefused,
	} {
		if got := smshttp.StatusError("v", status, []byte("x"), nil).Kind; got != want {
			t.Errorf("StatusError(%d).Kind = %d, want %d", status, got, want)
		}
	}
}

func TestSnippetMasksLongDigitRuns(t *testing.T) {
	got := smshttp.Snippet([]byte(`{"msg":"bad number 15850551102","code":160042}`))
	if strings.Contains(got, "15850551102") || !strings.Contains(got, "160042") {
		t.Errorf("Snippet = %s", got)
	}
}
