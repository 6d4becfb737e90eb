package test

import (
	"errors"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener accepts on loopback and counts the connections it
// accepted, holding none of them open.
func countingListener(t *testing.T) (addr string, accepted func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), func() int64 {
		// A connection made just before the process exited may still
		// wait in the backlog: give the accept loop time to count it.
		time.Sleep(300 * time.Millisecond)
		return n.Load()
	}
}

// runRefused runs the real server with env and returns its output; the
// test fails unless it exits non-zero within a few seconds.
func runRefused(t *testing.T, bin string, env ...string) string {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{"HTTP_ADDR=127.0.0.1:0", "DATA_DIR=" + cmd.Dir}, env...)
	timer := time.AfterFunc(8*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("server started (or was killed) with %v: err=%v\n%s", env, err, out)
	}
	return string(out)
}

// TestMongoModeWithoutKeysRefusesToStart: instances that generate their own
// keys cannot read each other's codes, passwords or tokens. With MONGO_URI
// set and keys missing, the binary names each missing key and exits before
// it opens a single connection to the database host.
func TestMongoModeWithoutKeysRefusesToStart(t *testing.T) {
	bin := buildServer(t)
	const key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	for _, tc := range []struct {
		name    string
		keys    []string
		missing []string
	}{
		{"no key", nil, []string{"PASSWORD_KEY", "TOKEN_KEY", "CODE_HMAC_KEY", "TOKEN_SIGNING_KEYS"}},
		{"one key", []string{"TOKEN_KEY=" + key}, []string{"PASSWORD_KEY", "CODE_HMAC_KEY", "TOKEN_SIGNING_KEYS"}},
		{"blank key", []string{"TOKEN_KEY=" + key, "PASSWORD_KEY=" + key, "CODE_HMAC_KEY= ", "TOKEN_SIGNING_KEYS=" + key}, []string{"CODE_HMAC_KEY"}},
		{"no signing key", []string{"TOKEN_KEY=" + key, "PASSWORD_KEY=" + key, "CODE_HMAC_KEY=" + key}, []string{"TOKEN_SIGNING_KEYS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, accepted := countingListener(t)
			env := append([]string{"MONGO_URI=mongodb://" + addr + "/?directConnection=true", "MONGO_TIMEOUT=2s"}, tc.keys...)
			out := runRefused(t, bin, env...)
			for _, k := range tc.missing {
				if !strings.Contains(out, k) {
					t.Errorf("the refusal does not name %s:\n%s", k, out)
				}
			}
			if n := accepted(); n != 0 {
				t.Errorf("the server opened %d connection(s) to MONGO_URI before refusing", n)
			}
		})
	}
}

// TestCountryListNamingNoCodeRefusesToStart: SMS_ALLOWED_COUNTRY_CODES made
// only of separators once meant "every country"; the binary now refuses it.
func TestCountryListNamingNoCodeRefusesToStart(t *testing.T) {
	bin := buildServer(t)
	for _, v := range []string{" , ", ","} {
		out := runRefused(t, bin, "SMS_ALLOWED_COUNTRY_CODES="+v)
		if !strings.Contains(out, "SMS_ALLOWED_COUNTRY_CODES") {
			t.Errorf("SMS_ALLOWED_COUNTRY_CODES=%q: the refusal does not name the variable:\n%s", v, out)
		}
	}
}

// TestBadSigningKeyRefusesToStart: a TOKEN_SIGNING_KEYS the service
// cannot use stops the binary at start, naming the variable and the
// key's place in the list, never the key.
func TestBadSigningKeyRefusesToStart(t *testing.T) {
	bin := buildServer(t)
	const good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	const short = "c2hvcnQtc2lnbmluZy1rZXk="
	out := runRefused(t, bin, "TOKEN_SIGNING_KEYS="+good+","+short)
	if !strings.Contains(out, "TOKEN_SIGNING_KEYS key 2 of 2") || strings.Contains(out, short) || strings.Contains(out, good) {
		t.Fatalf("the refusal does not name TOKEN_SIGNING_KEYS's second key, or shows a key:\n%s", out)
	}
	out = runRefused(t, bin, "HTTP_PATH_PREFIX=v1_1")
	if !strings.Contains(out, "HTTP_PATH_PREFIX") {
		t.Fatalf("the refusal does not name HTTP_PATH_PREFIX:\n%s", out)
	}
}
