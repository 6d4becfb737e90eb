package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// TestCLI builds the command-line client and runs the binary against the
// wired service, on both stores, through a whole flow.
func TestCLI(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "phoneauth-client")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/phoneauth/phoneauth/cmd/phoneauth-client").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			t.Run("Session", func(t *testing.T) { testCLIFlow(t, storeOptions(t, store), bin) })
			t.Run("AccountChanges", func(t *testing.T) { testCLIAccountChanges(t, storeOptions(t, store), bin) })
		})
	}
}

// cli runs the binary with the service's URL and a session file in the
// environment.
type cli struct {
	bin, url, session string
}

type cliResult struct {
	stdout, stderr string
	status         int
}

// run runs args with stdin and extra environment variables (NAME=value).
func (c cli) run(t *testing.T, stdin string, args []string, env ...string) cliResult {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append([]string{"PHONEAUTH_URL=" + c.url, "PHONEAUTH_SESSION_FILE=" + c.session, "HOME=" + filepath.Dir(c.session)}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.status = exit.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	return r
}

// ok runs args and fails t unless it exits 0 printing want on stdout.
func (c cli) ok(t *testing.T, stdin, want string, args []string, env ...string) {
	t.Helper()
	r := c.run(t, stdin, args, env...)
	if r.status != 0 || r.stdout != want {
		t.Fatalf("%v: exit %d\nstdout %q\nstderr %q\nwant stdout %q", args, r.status, r.stdout, r.stderr, want)
	}
}

// fails runs args and fails t unless it exits status printing the line
// want on stderr.
func (c cli) fails(t *testing.T, status int, want string, args []string, env ...string) {
	t.Helper()
	r := c.run(t, "", args, env...)
	if r.status != status || !strings.Contains(r.stderr, want) {
		t.Fatalf("%v: exit %d, stderr %q; want exit %d and %q", args, r.status, r.stderr, status, want)
	}
}

func (c cli) saved(t *testing.T) (s struct {
	BaseURL string `json:"base_url"`
	Session struct {
		RefreshToken string `json:"refresh_token"`
	} `json:"session"`
}, mode fs.FileMode) {
	t.Helper()
	st, err := os.Stat(c.session)
	if err != nil {
		t.Fatalf("session file: %v", err)
	}
	b, err := os.ReadFile(c.session)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("session file %s: %v", b, err)
	}
	return s, st.Mode().Perm()
}

func testCLIFlow(t *testing.T, o options, bin string) {
	in := start(t, o)
	c := cli{bin: bin, url: in.base, session: filepath.Join(t.TempDir(), "conf", "session.json")}
	const phone, password, email = "+8615850551102", "cli-pass-123", "cli@qq.com"
	pw := "PHONEAUTH_PASSWORD=" + password

	// Usage errors exit 2.
	c.fails(t, 2, "no command", nil)
	c.fails(t, 2, `unknown command "fly"`, []string{"fly"})
	c.fails(t, 2, "no number", []string{"login"}, pw)
	c.fails(t, 2, "no password", []string{"login", "-phone", phone})
	c.fails(t, 2, "unexpected argument", []string{"me", "extra"})

	// Register: the first run sends the code and, standard input being
	// empty, stops; the second continues with -code, the password read
	// from standard input.
	c.ok(t, "", "发送成功\n", []string{"register", "-phone", phone})
	c.ok(t, password+"\n", "短信验证通过\n提交密码成功\n注册成功\n",
		[]string{"-phone", phone, "register", "-code", in.code(t, phone), "-email", email})
	c.fails(t, 1, "error: user_exists: 该用户已经存在,注册失败\n", []string{"register", "-phone", phone})

	// The service's refusal, with its wait.
	c.ok(t, "", "发送成功\n", []string{"register", "-phone", "+8613800138000"})
	c.fails(t, 1, "error: rate_limited: 请求过于频繁，请稍后再试 (retry after 60s)\n", []string{"register", "-phone", "+8613800138000"})

	// Before a login there is no session.
	c.fails(t, 1, "error: not logged in", []string{"me"})
	c.fails(t, 1, "error: wrong_password: 密码错误\n", []string{"login", "-phone", phone, "-password", "wrong-password"})

	c.ok(t, "", "成功登录\n", []string{"login"}, "PHONEAUTH_PHONE="+phone, pw)
	first, mode := c.saved(t)
	if mode != 0o600 || first.BaseURL != in.base || first.Session.RefreshToken == "" {
		t.Errorf("session file: mode %v, %+v", mode, first)
	}
	r := c.run(t, "", []string{"me"})
	if r.status != 0 || !strings.HasPrefix(r.stdout, "获取成功\nphone_number: "+phone+"\nemail: "+email+"\ncreated_at: ") {
		t.Errorf("me: exit %d %q %q", r.status, r.stdout, r.stderr)
	}
	c.ok(t, "", "刷新成功\n", []string{"refresh"})
	if next, _ := c.saved(t); next.Session.RefreshToken == first.Session.RefreshToken {
		t.Error("refresh did not save the new pair")
	}
	c.ok(t, "", "成功注销\n", []string{"logout"})
	if _, err := os.Stat(c.session); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("session file after logout: %v", err)
	}
	c.fails(t, 1, "error: not logged in", []string{"me"})
	// A session of another service is not used.
	c.ok(t, "", "成功登录\n", []string{"login", "-phone", phone}, pw)
	c.fails(t, 1, "error: not logged in", []string{"me", "-base-url", "http://127.0.0.1:1"})
	c.ok(t, "", "成功注销\n", []string{"logout", "-all"})
}

// testCLIAccountChanges runs the account commands through the binary:
// a reset, a password change, a phone change, the deletion.
func testCLIAccountChanges(t *testing.T, o options, bin string) {
	in := start(t, o)
	c := cli{bin: bin, url: in.base, session: filepath.Join(t.TempDir(), "session.json")}
	const phone, newPhone, email = "+8615850551102", "+8613912345678", "cli@qq.com"
	c.ok(t, "", "发送成功\n", []string{"register", "-phone", phone})
	c.ok(t, "", "短信验证通过\n提交密码成功\n注册成功\n",
		[]string{"register", "-phone", phone, "-code", in.code(t, phone), "-email", email, "-password", "first-pass-1"})
	c.ok(t, "", "成功登录\n", []string{"login", "-phone", phone, "-password", "first-pass-1"})

	// A reset: the code is read from standard input in one run.
	in.clock.Advance(61 * time.Second) // past the number's resend interval
	done := make(chan struct{})
	in.sms.OnSend(func(domain.PhoneNumber, string) { close(done) })
	cmd, stdin, out := c.start(t, []string{"reset-password", "-phone", phone}, "PHONEAUTH_PASSWORD=second-pass-2")
	<-done
	in.sms.OnSend(nil)
	if _, err := stdin.Write([]byte(in.code(t, phone) + "\n")); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || out.String() != "发送成功\n密码重置成功\n" {
		t.Fatalf("reset-password: %v %q", err, out.String())
	}
	// The reset ended the session: the saved one is refused and dropped.
	c.fails(t, 1, "error: invalid_refresh_token: 验证信息错误; log in again", []string{"me"})
	c.fails(t, 1, "error: not logged in", []string{"me"})
	c.ok(t, "", "成功登录\n", []string{"login", "-phone", phone, "-password", "second-pass-2"})

	c.fails(t, 1, "error: wrong_password: 密码错误\n", []string{"change-password", "-password", "nope-nope-1", "-new-password", "third-pass-3"})
	c.ok(t, "", "密码修改成功\n", []string{"change-password", "-new-password", "third-pass-3"}, "PHONEAUTH_PASSWORD=second-pass-2")

	in.clock.Advance(61 * time.Second)
	c.ok(t, "", "发送成功\n", []string{"change-phone", "-new-phone", newPhone, "-password", "third-pass-3"})
	c.ok(t, "", "手机号修改成功\n", []string{"change-phone", "-new-phone", newPhone, "-code", in.code(t, newPhone)})
	r := c.run(t, "", []string{"me"})
	if r.status != 0 || !strings.Contains(r.stdout, "phone_number: "+newPhone+"\n") {
		t.Errorf("me after the phone change: %d %q %q", r.status, r.stdout, r.stderr)
	}

	c.fails(t, 1, "error: wrong_password: 密码错误\n", []string{"delete-account", "-password", "nope-nope-1"})
	c.ok(t, "third-pass-3\n", "账号已注销\n", []string{"delete-account"})
	if _, err := os.Stat(c.session); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("session file after the deletion: %v", err)
	}
	c.fails(t, 1, "error: no_such_user: 没有此用户\n", []string{"login", "-phone", newPhone, "-password", "third-pass-3"})
}

// start starts args and returns the command, its standard input and its
// standard output, for a run that reads a value after a send.
func (c cli) start(t *testing.T, args []string, env ...string) (*exec.Cmd, io.WriteCloser, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append([]string{"PHONEAUTH_URL=" + c.url, "PHONEAUTH_SESSION_FILE=" + c.session}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, &out
}
