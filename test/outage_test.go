package test

import (
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/test/mongotest"
)

// TestMongoOutageIsUnavailableAndHeals: with MongoDB gone, every request
// that needs it answers 503 unavailable (and /readyz says so); when it
// returns, the same process serves again without a restart.
func TestMongoOutageIsUnavailableAndHeals(t *testing.T) {
	uri := mongotest.Start(t)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	db := mongotest.Database(t, uri)
	proxy := mongotest.NewProxy(t, u.Host)
	in := start(t, options{vars: map[string]string{
		"MONGO_URI":      "mongodb://" + proxy.Addr() + "/?directConnection=true&serverSelectionTimeoutMS=1000",
		"MONGO_DATABASE": db,
		"MONGO_TIMEOUT":  "1s",
	}})
	in.register(t, "13200000001", "outage-pass", "outage@qq.com")

	proxy.Down()
	in.expect(t, "/client/register-step-1", m{"phone_number": "13200000002"}, 503, `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`)
	in.expect(t, "/client/login", loginBody("13200000001", "outage-pass", nextRandom(), in.clock.Now().Unix()), 503, `{"code":0,"message":"服务暂不可用，请稍后再试","error":"unavailable"}`)
	if status := getStatus(t, in.base+"/readyz"); status != 503 {
		t.Fatalf("/readyz with MongoDB down: %d", status)
	}
	if status := getStatus(t, in.base+"/healthz"); status != 200 {
		t.Fatalf("/healthz must not depend on MongoDB: %d", status)
	}
	if in.sms.Sends() != 1 {
		t.Fatalf("%d SMS sent; none may go out while the store is down", in.sms.Sends())
	}

	proxy.Up()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := in.login(t, "13200000001", "outage-pass")
		if a.Code == 1 {
			break
		}
		if a.Status != 503 || time.Now().After(deadline) {
			t.Fatalf("after MongoDB returned: %d %s", a.Status, a.Raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.expect(t, "/client/register-step-1", m{"phone_number": "13200000002"}, 200, `{"code":1,"message":"发送成功"}`)
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestUnreachableMongoStopsTheStart: a server that cannot reach MONGO_URI
// at start says so and exits non-zero instead of serving errors.
func TestUnreachableMongoStopsTheStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens here now

	bin := buildServer(t)
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{
		"HTTP_ADDR=127.0.0.1:0", "DATA_DIR=" + cmd.Dir,
		"MONGO_URI=mongodb://" + closed + "/?directConnection=true", "MONGO_TIMEOUT=1s",
		// Mongo mode requires the keys; with them the start gets as far
		// as connecting.
		"PASSWORD_KEY=" + base64.StdEncoding.EncodeToString(passwordKey),
		"TOKEN_KEY=" + base64.StdEncoding.EncodeToString(tokenKey),
		"CODE_HMAC_KEY=" + base64.StdEncoding.EncodeToString(hmacKey),
		"TOKEN_SIGNING_KEYS=" + base64.StdEncoding.EncodeToString(signingSeed),
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("server with MongoDB unreachable: err=%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "MONGO_URI") || !strings.Contains(string(out), closed) {
		t.Fatalf("the message names neither MONGO_URI nor the host:\n%s", out)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("gave up only after %s", took)
	}
}
