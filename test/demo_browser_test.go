package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/phoneauth/phoneauth/domain"
)

// browserNames are the names a Chromium goes by in PATH: Debian's
// package, other distributions', Google's.
var browserNames = []string{"chromium", "chromium-browser", "google-chrome"}

// EnvScreenshots names a directory for the demo page's screenshots; when
// it is unset they go to the test's artifact directory (kept with go test
// -artifacts, under -outputdir).
const EnvScreenshots = "PHONEAUTH_SCREENSHOTS"

// findBrowser is the path of a Chromium, or skips the test saying why;
// in CI (CI set) a missing browser fails it: .ci/run installs one.
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range browserNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no Chromium in PATH (looked for %s): the demo page is not tested in a browser; "+
		"install one (Debian: apt-get install chromium) to run this test", strings.Join(browserNames, ", "))
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: .ci/run should have installed it)")
	}
	t.Skip(msg)
	return ""
}

// demoBrowser is one headless Chromium tab on the demo page, with what it
// saw: every request the page made and every problem it reported.
type demoBrowser struct {
	t      *testing.T
	ctx    context.Context
	origin string // scheme://host:port of the service
	shots  string // where screenshots go
	// exchanges is how many entries the protocol panel must hold once
	// the requests sent so far are answered.
	exchanges int

	mu       sync.Mutex
	requests []*network.Request
	problems []string
}

// cspProbe runs in every document before the page's own script (the
// DevTools protocol injects it, so the policy does not apply to it) and
// records each Content-Security-Policy violation the page causes.
const cspProbe = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});`

func openDemoBrowser(t *testing.T, browser, base, shots string) *demoBrowser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		// The tab loads nothing but the service's own page on loopback;
		// a root user (CI) or a container has no sandbox to give it.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	return openTab(t, actx, base, shots)
}

// newTab opens another tab of b's browser, for the service at base.
func (b *demoBrowser) newTab(base string) *demoBrowser {
	b.t.Helper()
	return openTab(b.t, b.ctx, base, b.shots)
}

// openTab opens a tab (the first one starts the browser of parent's
// allocator) and starts observing it.
func openTab(t *testing.T, parent context.Context, base, shots string) *demoBrowser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	b := &demoBrowser{t: t, ctx: ctx, origin: u.Scheme + "://" + u.Host, shots: shots}
	// Listen starts the browser if need be and opens the tab.
	if err := chromedp.Listen(ctx, b.observe); err != nil {
		t.Fatalf("starting the browser: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatal(err)
	}
	return b
}

// observe records the tab's requests and problems: uncaught exceptions,
// console errors and warnings, and browser log entries at those levels
// (a policy violation is one), except the network's notes on the API's
// own refusals (a 401 is part of the flow).
func (b *demoBrowser) observe(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, e.Request)
	case *runtime.EventExceptionThrown:
		text := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			text += " " + e.ExceptionDetails.Exception.Description
		}
		b.problems = append(b.problems, "exception: "+text)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		en := e.Entry
		if strings.Contains(en.Text, "Content Security Policy") || en.Source == log.EntrySourceSecurity {
			b.problems = append(b.problems, "policy: "+en.Text)
			return
		}
		if en.Level != log.EntryLevelError && en.Level != log.EntryLevelWarning {
			return
		}
		if en.Source == log.EntrySourceNetwork && strings.Contains(en.URL, "/client") {
			return
		}
		b.problems = append(b.problems, string(en.Source)+" "+string(en.Level)+": "+en.Text+" "+en.URL)
	}
}

// do runs steps, each group bounded in time; a failure names the step.
func (b *demoBrowser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\nproblems: %v", what, err, b.problemList())
	}
}

func (b *demoBrowser) eval(expr string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		b.t.Fatalf("evaluating %s: %s: %v", expr, raw, err)
	}
}

func (b *demoBrowser) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`document.querySelector(%q).textContent`, sel), &s)
	return strings.TrimSpace(s)
}

// fill types value into the field, as a person would.
func (b *demoBrowser) fill(sel, value string) {
	b.t.Helper()
	var cleared string
	b.eval(fmt.Sprintf(`document.querySelector(%q).value = ""`, sel), &cleared)
	b.do("typing into "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (b *demoBrowser) click(sel string) {
	b.t.Helper()
	b.do("clicking "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// send clicks sel, which sends n requests, and waits until the protocol
// panel shows each of them answered.
func (b *demoBrowser) send(sel string, n int) {
	b.t.Helper()
	b.click(sel)
	b.exchanges += n
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(
		`document.querySelectorAll("#log > li").length === %d && !document.querySelector("#log > li.pending")`, b.exchanges),
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		var shown int
		b.eval(`document.querySelectorAll("#log > li").length`, &shown)
		b.t.Fatalf("after %s the protocol panel shows %d exchanges, want %d answered (%v); the page says %q; the last exchange: %s\nproblems: %v",
			sel, shown, b.exchanges, err, b.text("#notice-message"), b.text("#log > li"), b.problemList())
	}
}

// expectNotice: the page shows the service's message as it was sent.
func (b *demoBrowser) expectNotice(message, reason string) {
	b.t.Helper()
	b.do("the notice", chromedp.WaitVisible(chromedp.CSS("#notice")))
	if got := b.text("#notice-message"); got != message {
		b.t.Fatalf("the page shows %q, want the service's %q (last exchange: %s)", got, message, b.text("#log > li"))
	}
	if got := b.text("#notice-reason"); got != reason {
		b.t.Fatalf("the page shows the reason %q, want %q", got, reason)
	}
}

// screenSizes are the windows each screen is photographed in.
var screenSizes = []struct {
	name          string
	width, height int64
	opts          []chromedp.EmulateViewportOption
}{
	{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait}},
	{"desktop", 1280, 800, nil},
}

// shoot saves the screen, scrolled to the top, as name-phone.png and
// name-desktop.png, then leaves the tab at the desktop size.
func (b *demoBrowser) shoot(name string) {
	b.t.Helper()
	for _, size := range screenSizes {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.width, size.height, size.opts...)); err != nil {
			cancel()
			b.t.Fatalf("viewport %s: %v", size.name, err)
		}
		// Each picture starts at the top of the page, as the screen opens.
		var top int
		b.eval(`window.scrollTo(0, 0), window.scrollY`, &top)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s-%s: %v", name, size.name, err)
		}
		if err := os.WriteFile(filepath.Join(b.shots, name+"-"+size.name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

func (b *demoBrowser) problemList() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// requestsTo are the requests the page sent to path, in order.
func (b *demoBrowser) requestsTo(path string) []*network.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*network.Request
	for _, r := range b.requests {
		if u, err := url.Parse(r.URL); err == nil && u.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// body is a request's JSON body as a map.
func body(t *testing.T, r *network.Request) map[string]any {
	t.Helper()
	var raw []byte
	for _, e := range r.PostDataEntries {
		raw = append(raw, e.Bytes...)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: body %q: %v", r.Method, r.URL, raw, err)
	}
	return m
}

// finish checks what the whole visit must have kept to: no problem
// reported, no policy violation, every request to the service's own
// origin, nothing kept in the browser's storage, no password shown.
func (b *demoBrowser) finish(secrets ...string) {
	b.t.Helper()
	var violations []string
	b.eval(`window.__cspViolations`, &violations)
	if len(violations) > 0 {
		b.t.Errorf("Content-Security-Policy violations: %v", violations)
	}
	if p := b.problemList(); len(p) > 0 {
		b.t.Errorf("the browser reported problems:\n  %s", strings.Join(p, "\n  "))
	}
	b.mu.Lock()
	n := len(b.requests)
	for _, r := range b.requests {
		u, err := url.Parse(r.URL)
		if err != nil || u.Scheme+"://"+u.Host != b.origin {
			b.t.Errorf("the page requested %s %s, outside the service's origin %s", r.Method, r.URL, b.origin)
		}
	}
	b.mu.Unlock()
	if n == 0 {
		b.t.Error("no request was seen: the network events are not observed")
	}
	var stored int
	b.eval(`localStorage.length + sessionStorage.length`, &stored)
	if stored != 0 {
		b.t.Errorf("the page stored %d items in the browser's storage", stored)
	}
	var shown string
	b.eval(`document.body.innerText`, &shown)
	for _, s := range secrets {
		if strings.Contains(shown, s) {
			b.t.Errorf("the page shows the secret %q", s)
		}
	}
}

// TestDemoPageInABrowser drives the demo page in headless Chromium through
// the whole flow against the wired service, as a person would: register
// (the code read from the SMS the service sent), log in (the proof
// computed by the page's Web Crypto), the account, a refresh, logout and
// the refused old token, a password reset and a login with the new
// password. Each screen is photographed at phone and desktop sizes.
// REGISTRATION_BINDING=token makes the service require step 2's token at
// steps 3 and 4, so the page must keep it and send it.
func TestDemoPageInABrowser(t *testing.T) {
	browser := findBrowser(t)
	startedAt := time.Now()
	shots := os.Getenv(EnvScreenshots)
	if shots == "" {
		shots = t.ArtifactDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	in := start(t, options{vars: map[string]string{"DEMO_PAGE": "true", "REGISTRATION_BINDING": "token"}})
	b := openDemoBrowser(t, browser, in.base, shots)

	const (
		phone       = "15850551102"
		e164        = "+8615850551102"
		password    = "correct-horse-9"
		newPassword = "battery-staple-7"
		email       = "demo@example.com"
	)

	b.do("opening the page", chromedp.Navigate(in.base+"/demo"), chromedp.WaitVisible(chromedp.CSS("#register-1")))

	// Registration, steps 1 to 4.
	b.fill("#register-phone", phone)
	b.shoot("01-register-phone")
	b.send("#register-1 button[type=submit]", 1)
	b.expectNotice("发送成功", "")
	b.do("step 2", chromedp.WaitVisible(chromedp.CSS("#register-2")))
	if note := b.text("#register-2 .devnote"); !strings.Contains(note, "terminal running make run") {
		t.Errorf("step 2 does not say where the console code is: %q", note)
	}
	b.shoot("02-register-code")
	// A wrong code first: the refusal is shown as the service words it.
	code := in.code(t, e164)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	b.fill("#register-code", wrong)
	b.send("#register-2 button[type=submit]", 1)
	b.expectNotice("验证没有通过", "code_mismatch")
	b.shoot("02-register-wrong-code")
	b.fill("#register-code", code)
	b.send("#register-2 button[type=submit]", 1)
	b.expectNotice("短信验证通过", "")
	b.do("step 3", chromedp.WaitVisible(chromedp.CSS("#register-3")))
	b.fill("#register-password", password)
	b.fill("#register-confirm", password)
	b.shoot("03-register-password")
	b.send("#register-3 button[type=submit]", 1)
	b.expectNotice("提交密码成功", "")
	b.do("step 4", chromedp.WaitVisible(chromedp.CSS("#register-4")))
	b.fill("#register-email", email)
	b.shoot("04-register-email")
	b.send("#register-4 button[type=submit]", 1)
	b.expectNotice("注册成功", "")
	b.do("registered", chromedp.WaitVisible(chromedp.CSS("#register-done")))
	b.shoot("05-registered")
	for _, path := range []string{"/client/register-step-3", "/client/register-step-4"} {
		reqs := b.requestsTo(path)
		if len(reqs) != 1 || len(fmt.Sprint(body(t, reqs[0])["registration_token"])) != 43 {
			t.Errorf("%s: %d requests, want one carrying step 2's registration_token", path, len(reqs))
		}
	}

	// Login: the page computes the proof; the password does not travel.
	b.click("#register-done button[data-screen=login]")
	b.do("login", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.fill("#login-password", password)
	b.shoot("06-login")
	b.send("#login-form button[type=submit]", 2) // the login, then GET /client
	b.do("the account", chromedp.WaitVisible(chromedp.CSS("#account-view")))
	b.expectNotice("获取成功", "")
	checkLoginProof(t, b.requestsTo("/client/login"), password)
	if got := b.text("#account-phone"); got != e164 {
		t.Errorf("the account page shows the number %q, want %q", got, e164)
	}
	if got := b.text("#account-email"); got != email {
		t.Errorf("the account page shows the email %q, want %q", got, email)
	}
	b.shoot("07-account")

	// Refresh: a new pair replaces the one held.
	before := b.text("#session-refresh")
	b.send("#refresh-session", 1)
	b.expectNotice("刷新成功", "")
	if after := b.text("#session-refresh"); after == before {
		t.Errorf("the refresh token shown did not change at the refresh: %s", after)
	}
	b.shoot("08-refreshed")

	// Logout, then the old token is refused.
	b.send("#logout", 1)
	b.expectNotice("成功注销", "")
	b.do("logged out", chromedp.WaitVisible(chromedp.CSS("#revoked")))
	b.shoot("09-logged-out")
	b.send("#check-old-token", 1)
	b.expectNotice("验证信息错误", "unauthorized")
	b.shoot("10-old-token-refused")

	// Password reset. The number's resend cooldown, which registration's
	// code started, has passed.
	in.clock.Advance(61 * time.Second)
	b.click("#tab-reset")
	b.do("reset", chromedp.WaitVisible(chromedp.CSS("#reset-1")))
	var offered string
	b.eval(`document.querySelector("#reset-phone").value`, &offered)
	if offered != phone {
		t.Errorf("the reset screen offers the number %q, want the one typed at login, %q", offered, phone)
	}
	b.fill("#reset-phone", phone)
	b.shoot("11-reset-phone")
	b.send("#reset-1 button[type=submit]", 1)
	b.expectNotice("发送成功", "")
	b.do("reset step 2", chromedp.WaitVisible(chromedp.CSS("#reset-2")))
	b.fill("#reset-code", in.code(t, e164))
	b.fill("#reset-password", newPassword)
	b.fill("#reset-confirm", newPassword)
	b.shoot("12-reset-code")
	b.send("#reset-2 button[type=submit]", 1)
	b.expectNotice("密码重置成功", "")
	b.do("reset done", chromedp.WaitVisible(chromedp.CSS("#reset-done")))
	b.shoot("13-reset-done")

	// The new password logs in.
	b.click("#reset-done button[data-screen=login]")
	b.do("login again", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.fill("#login-password", newPassword)
	b.send("#login-form button[type=submit]", 2)
	b.do("the account again", chromedp.WaitVisible(chromedp.CSS("#account-view")))
	b.expectNotice("获取成功", "")
	b.shoot("14-account-after-reset")
	checkLoginProof(t, b.requestsTo("/client/login")[1:], newPassword)

	b.finish(password, newPassword)

	// Under HTTP_PATH_PREFIX the page, its assets and its API calls all
	// live under the prefix.
	prefixed := start(t, options{vars: map[string]string{"DEMO_PAGE": "true", "HTTP_PATH_PREFIX": "/api/v1_1"}})
	p := b.newTab(prefixed.base)
	p.do("opening the page under the prefix", chromedp.Navigate(prefixed.base+"/api/v1_1/demo"), chromedp.WaitVisible(chromedp.CSS("#register-1")))
	p.fill("#register-phone", "15850551103")
	p.send("#register-1 button[type=submit]", 1)
	p.expectNotice("发送成功", "")
	if reqs := p.requestsTo("/api/v1_1/client/register-step-1"); len(reqs) != 1 {
		t.Errorf("under the prefix the page sent %d step 1 requests to /api/v1_1/client/register-step-1", len(reqs))
	}
	for _, asset := range []string{"/api/v1_1/demo/demo.js", "/api/v1_1/demo/demo.css"} {
		if len(p.requestsTo(asset)) != 1 {
			t.Errorf("under the prefix the page did not load %s", asset)
		}
	}
	p.finish()

	t.Logf("the browser test took %v; screenshots (phone 390x844, desktop 1280x800) in %s", time.Since(startedAt).Round(10*time.Millisecond), shots)
}

// checkLoginProof: the page's login requests carry a proof that is the
// SHA-256 of the password, random_str and time_stamp the request names,
// and not the password.
func checkLoginProof(t *testing.T, reqs []*network.Request, password string) {
	t.Helper()
	if len(reqs) == 0 {
		t.Fatal("no login request seen")
	}
	m := body(t, reqs[0])
	if _, ok := m["password"]; ok {
		t.Errorf("the login request carries the password: %v", m)
	}
	random, _ := m["random_str"].(string)
	ts, _ := m["time_stamp"].(string)
	if len(random) != 32 || len(ts) < 10 {
		t.Errorf("login: random_str %q, time_stamp %q: want 16 random bytes in hex and Unix seconds as text", random, ts)
	}
	if got, want := m["encryption_str"], domain.LoginProof(password, random, ts); got != want {
		t.Errorf("login: encryption_str %v, want %s", got, want)
	}
}
