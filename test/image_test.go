package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/mongotest"
)

// TestContainerImage builds the image the way `make image` does (the
// Makefile's image-context target, then the Dockerfile), runs it with the
// console SMS provider, and completes a registration and a login through
// the mapped port; then stops it (SIGTERM: a graceful exit), starts it
// again and logs in once more, the account kept in the /data volume by a
// non-root user. Without a Docker engine it skips, or fails under
// REQUIRE_DOCKER=1.
func TestContainerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a container image")
	}
	mongotest.Docker(t)
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		if os.Getenv(mongotest.EnvRequireDocker) == "1" {
			t.Fatalf("make is needed to build the image: %v", err)
		}
		t.Skipf("no make to build the image: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	imageCtx := t.TempDir()
	build := exec.Command(makeCmd, "-C", root, "image-context", "IMAGE_CONTEXT="+imageCtx)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image-context: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const port = "8080/tcp"
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			FromDockerfile: testcontainers.FromDockerfile{
				Context:    imageCtx,
				Dockerfile: "Dockerfile",
				Repo:       "phoneauth-image-test",
				Tag:        fmt.Sprintf("t%d", time.Now().UnixNano()),
				KeepImage:  false, // removed with the container
			},
			ExposedPorts: []string{port},
			Env:          map[string]string{"SMS_PROVIDER": "console"},
			WaitingFor:   wait.ForLog(`"msg":"listening"`).WithStartupTimeout(time.Minute),
		},
		Started: true,
	})
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("start the image: %v", err)
	}

	info, err := ctr.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u := info.Config.User; u != "65532:65532" {
		t.Errorf("runs as %q, want 65532:65532 (non-root)", u)
	}
	dataVolume := false
	for _, mnt := range info.Mounts {
		dataVolume = dataVolume || (mnt.Destination == "/data" && mnt.Type == "volume")
	}
	if !dataVolume {
		t.Errorf("/data is not a volume: %+v", info.Mounts)
	}

	in := &instance{base: "http://" + containerEndpoint(t, ctx, ctr, port)}
	const phone, password, email = "15850551102", "container-pass", "container@qq.com"
	in.expect(t, "/client/register-step-1", m{"phone_number": phone}, 200, `{"code":1,"message":"发送成功"}`)
	code := codeFromLogs(t, ctx, ctr, domain.MustParsePhoneNumber(phone).Masked())
	in.verify(t, phone, code)
	in.expect(t, "/client/register-step-3", m{"phone_number": phone, "password": password, "password_confirm": password}, 200, `{"code":1,"message":"提交密码成功"}`)
	in.expect(t, "/client/register-step-4", m{"phone_number": phone, "email": email}, 200, `{"code":1,"message":"注册成功"}`)
	if a := in.post(t, "/client/login", loginBody(phone, password, nextRandom(), time.Now().Unix())); a.Code != 1 || a.Email != email {
		t.Fatalf("login: %s", a.Raw)
	}
	if status, _, out := in.get(t, "/metrics"); status != 200 || !strings.Contains(out, `phoneauth_sms_sends_total{outcome="sent",vendor="console"} 1`+"\n") {
		t.Errorf("metrics do not count the console SMS: %d", status)
	}

	timeout := 20 * time.Second
	if err := ctr.Stop(ctx, &timeout); err != nil {
		t.Fatalf("stop: %v", err)
	}
	state, err := ctr.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if state.ExitCode != 0 {
		t.Fatalf("exit code %d after SIGTERM", state.ExitCode)
	}
	if last := lastLogMessage(t, ctx, ctr); last != "stopped" {
		t.Errorf("last log line %q, want \"stopped\"", last)
	}

	if err := ctr.Start(ctx); err != nil {
		t.Fatalf("start again: %v", err)
	}
	again := &instance{base: "http://" + containerEndpoint(t, ctx, ctr, port)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(again.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready 30s after a restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if a := again.post(t, "/client/login", loginBody(phone, password, nextRandom(), time.Now().Unix())); a.Code != 1 || a.Email != email {
		t.Fatalf("login after a restart: %s", a.Raw)
	}
}

// containerEndpoint is host:port of the container's port: the published
// port on loopback when it answers there (this project's machines), else
// where testcontainers says the engine is.
func containerEndpoint(t *testing.T, ctx context.Context, ctr testcontainers.Container, port string) string {
	t.Helper()
	mapped, err := ctr.MappedPort(ctx, port)
	if err != nil {
		t.Fatal(err)
	}
	if host, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); ok {
		return net.JoinHostPort(host, mapped.Port())
	}
	loopback := net.JoinHostPort("127.0.0.1", mapped.Port())
	if c, err := net.DialTimeout("tcp", loopback, 2*time.Second); err == nil {
		c.Close()
		return loopback
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(host, mapped.Port())
}

// containerLog is the container's JSON log, line by line.
func containerLog(t *testing.T, ctx context.Context, ctr testcontainers.Container) []logLine {
	t.Helper()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var lines []logLine
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			l.raw = sc.Text()
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return lines
}

// codeFromLogs waits for the console SMS provider's line for the masked
// phone and returns its code.
func codeFromLogs(t *testing.T, ctx context.Context, ctr testcontainers.Container, masked string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range containerLog(t, ctx, ctr) {
			if l.Phone == masked && l.Code != "" {
				return l.Code
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no console SMS line for %s in the container's log", masked)
	return ""
}

func lastLogMessage(t *testing.T, ctx context.Context, ctr testcontainers.Container) string {
	t.Helper()
	lines := containerLog(t, ctx, ctr)
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1].Msg
}
