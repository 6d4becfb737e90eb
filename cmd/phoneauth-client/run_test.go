package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/client"
)

// runIn runs the command in-process with env (NAME=value pairs) and
// stdin; the end-to-end tests (test/cli_test.go) run the built binary
// against the wired service.
func runIn(t *testing.T, stdin string, args []string, env ...string) (int, string, string) {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var out, errOut bytes.Buffer
	status := run(context.Background(), args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestUsageErrorsExit2(t *testing.T) {
	session := "PHONEAUTH_SESSION_FILE=" + filepath.Join(t.TempDir(), "s.json")
	url := "PHONEAUTH_URL=http://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, []string{url, session}, "no command"},
		{[]string{"fly"}, []string{url, session}, `unknown command "fly"`},
		{[]string{"me"}, []string{session}, "no service"},
		{[]string{"me", "-nope"}, []string{url, session}, "flag provided but not defined: -nope"},
		{[]string{"me", "extra"}, []string{url, session}, `unexpected argument "extra"`},
		{[]string{"login"}, []string{url, session, "PHONEAUTH_PASSWORD=x"}, "no number"},
		{[]string{"login", "-phone", "+8615850551102"}, []string{url, session}, "no password"},
		{[]string{"change-phone"}, []string{url, session}, "no new number"},
	} {
		status, out, errOut := runIn(t, "", tc.args, tc.env...)
		if status != exitUsage || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "usage: phoneauth-client") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, status, out, errOut, tc.want)
		}
	}
	if status, _, errOut := runIn(t, "", []string{"-h"}); status != exitOK || !strings.Contains(errOut, "usage:") {
		t.Errorf("-h: exit %d %q", status, errOut)
	}
}

func TestFailureLine(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&client.Error{HTTPStatus: 429, Message: "请求过于频繁，请稍后再试", Reason: "rate_limited", RetryAfter: 60 * time.Second},
			"rate_limited: 请求过于频繁，请稍后再试 (retry after 60s)"},
		{&client.Error{HTTPStatus: 200, Message: "密码错误", Reason: "wrong_password"}, "wrong_password: 密码错误"},
		{client.ErrLoginRequired, "not logged in: run phoneauth-client login"},
		{errors.New("dial tcp: refused"), "dial tcp: refused"},
	} {
		if got := describe(tc.err); got != tc.want {
			t.Errorf("describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestSessionFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conf", "phoneauth", "session.json")
	f := &sessionFile{path: path, baseURL: "https://a.example"}
	if s, err := f.load(); s != nil || err != nil {
		t.Fatalf("no file: %v, %v", s, err)
	}
	want := client.Session{AccessToken: "a", AccessExpiry: time.Unix(1700000000, 0).UTC(), RefreshToken: "r", RefreshExpiry: time.Unix(1800000000, 0).UTC()}
	f.save(want)
	if f.err != nil {
		t.Fatal(f.err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, %v", st, err)
	}
	if dir, _ := os.Stat(filepath.Dir(path)); dir.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", dir.Mode().Perm())
	}
	got, err := f.load()
	if err != nil || got == nil || !got.AccessExpiry.Equal(want.AccessExpiry) || got.RefreshToken != "r" || got.AccessToken != "a" {
		t.Fatalf("load: %+v, %v", got, err)
	}
	other := &sessionFile{path: path, baseURL: "https://b.example"}
	if s, err := other.load(); s != nil || err != nil {
		t.Errorf("another service's session: %+v, %v", s, err)
	}
	f.save(client.Session{})
	if _, err := os.Stat(path); !os.IsNotExist(err) || f.err != nil {
		t.Errorf("after the zero session: %v, %v", err, f.err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// A password is read as a line from standard input when it is not a
// terminal; the command then reaches the service (here: none).
func TestPasswordFromStandardInput(t *testing.T) {
	session := "PHONEAUTH_SESSION_FILE=" + filepath.Join(t.TempDir(), "s.json")
	status, out, errOut := runIn(t, "pw-from-stdin\n", []string{"login", "-phone", "+8615850551102"}, "PHONEAUTH_URL=http://127.0.0.1:1", session)
	if status != exitFailure || out != "" || !strings.HasPrefix(errOut, "error: phoneauth: POST /client/login: ") {
		t.Errorf("exit %d, %q, %q", status, out, errOut)
	}
	if strings.Contains(errOut, "pw-from-stdin") {
		t.Error("the password is in the error")
	}
}
