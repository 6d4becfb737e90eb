// Package test holds end-to-end tests: the wired service, served on a
// loopback port, driven over HTTP through the seed's five endpoints.
package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/adapters/sms/capture"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/mongotest"
)

// Fixed secrets so a test can check tokens; real deployments generate or
// configure their own.
var (
	tokenKey    = bytes.Repeat([]byte{7}, 32)
	passwordKey = bytes.Repeat([]byte{8}, 32)
	hmacKey     = bytes.Repeat([]byte{9}, 32)
	// signingSeed is the seed of TOKEN_SIGNING_KEYS's one key.
	signingSeed = bytes.Repeat([]byte{6}, 32)
)

// instance is one running service.
type instance struct {
	base string
	// prefix is its HTTP_PATH_PREFIX, which the contract checks take off
	// the paths the tests call.
	prefix string
	sms    *capture.Sender
	clock  *apptest.Clock
	svc    *phoneauth.Service
	logs   *observer.ObservedLogs
	stop   func()
}

// options shape an instance; vars are extra environment variables.
type options struct {
	dataDir string
	vars    map[string]string
	sms     *capture.Sender
	clock   *apptest.Clock
	noKeys  bool // let the service generate its keys in DATA_DIR
	// configuredSMS sends through the vendors SMS_PROVIDER names (in
	// vars) instead of capturing codes; in.sms is then nil.
	configuredSMS bool
}

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

// storeOptions selects a store: "embedded" (bbolt in a temp DATA_DIR) or
// "mongo" (a fresh database on the shared test server).
// mongoTestTimeout bounds each store call of the instances the tests run
// on MongoDB. The test server (FerretDB) runs one command at a time; on a
// loaded two-core CI machine a burst of parallel requests can queue a
// command past the 5 s default and answer 503 for a wait, not an outage
// (seen under a second test run beside CI). The outage tests set their
// own, short, timeout; the HTTP client waits longer than this.
const mongoTestTimeout = "15s"

func storeOptions(t *testing.T, store string) options {
	t.Helper()
	if store != "mongo" {
		return options{}
	}
	uri := mongotest.Start(t)
	return options{vars: map[string]string{"MONGO_URI": uri, "MONGO_DATABASE": mongotest.Database(t, uri), "MONGO_TIMEOUT": mongoTestTimeout}}
}

func start(t *testing.T, o options) *instance {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	vars := map[string]string{"DATA_DIR": o.dataDir, "HTTP_ADDR": "127.0.0.1:0", "LOG_LEVEL": "debug"}
	if !o.noKeys {
		vars["TOKEN_KEY"] = base64.StdEncoding.EncodeToString(tokenKey)
		vars["PASSWORD_KEY"] = base64.StdEncoding.EncodeToString(passwordKey)
		vars["CODE_HMAC_KEY"] = base64.StdEncoding.EncodeToString(hmacKey)
		vars["TOKEN_SIGNING_KEYS"] = base64.StdEncoding.EncodeToString(signingSeed)
	}
	for k, v := range o.vars {
		vars[k] = v
	}
	cfg, err := phoneauth.ParseConfig(vars)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if o.sms == nil && !o.configuredSMS {
		o.sms = capture.New()
	}
	if o.clock == nil {
		o.clock = apptest.NewClock(time.Now())
	}
	core, logs := observer.New(zapcore.DebugLevel)
	overrides := phoneauth.Overrides{Clock: o.clock}
	if !o.configuredSMS {
		overrides.SMS = o.sms
	}
	svc, cleanup, err := phoneauth.Initialize(cfg, zap.New(core), overrides)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	var once sync.Once
	in := &instance{base: "http://" + ln.Addr().String(), prefix: cfg.HTTPPathPrefix, sms: o.sms, clock: o.clock, svc: svc, logs: logs}
	in.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			cleanup()
		})
	}
	t.Cleanup(in.stop)
	return in
}

// answer is a decoded response plus its raw bytes and headers.
type answer struct {
	Status           int
	Raw              string
	Header           http.Header
	Code             int    `json:"code"`
	Message          string `json:"message"`
	Error            string `json:"error"`
	Email            string `json:"email"`
	Token            string `json:"token"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	PhoneNumber      string `json:"phone_number"`
	CreatedAt        string `json:"created_at"`
	RetryAfter       int64  `json:"retry_after"`
}

var client = &http.Client{Timeout: 45 * time.Second}

func (in *instance) post(t testing.TB, path string, body any) answer {
	t.Helper()
	return in.postWith(t, path, body)
}

// postWith is post with request headers (name, value, ...); a name given
// twice is sent as two header lines. A string body is sent as it is
// (malformed and compressed bodies are tests too); anything else as JSON.
// Every answer is checked against the OpenAPI document.
func (in *instance) postWith(t testing.TB, path string, body any, hdr ...string) answer {
	t.Helper()
	return in.call(t, http.MethodPost, path, body, hdr...)
}

// call sends method to path, with body (as postWith sends it; nil for
// none) and headers, and checks the answer against the OpenAPI document.
func (in *instance) call(t testing.TB, method, path string, body any, hdr ...string) answer {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, in.base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Raw: string(raw), Header: resp.Header}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, raw, err)
	}
	checkContract(t, method, in.unprefixed(path), resp.StatusCode, resp.Header, raw)
	return a
}

// unprefixed is path without the instance's HTTP_PATH_PREFIX: where the
// OpenAPI document describes it.
func (in *instance) unprefixed(path string) string {
	if in.prefix != "" && strings.HasPrefix(path, in.prefix+"/") {
		return strings.TrimPrefix(path, in.prefix)
	}
	return path
}

func (in *instance) expect(t testing.TB, path string, body any, status int, raw string) answer {
	t.Helper()
	a := in.post(t, path, body)
	if a.Status != status || (raw != "" && a.Raw != raw) {
		t.Fatalf("POST %s %v\n got  %d %s\n want %d %s", path, body, a.Status, a.Raw, status, raw)
	}
	return a
}

type m = map[string]any

// register runs the four steps as a client following the seed would.
func (in *instance) register(t testing.TB, phone, password, email string) {
	t.Helper()
	in.expect(t, "/client/register-step-1", m{"phone_number": phone}, 200, `{"code":1,"message":"发送成功"}`)
	code := in.code(t, domain.MustParsePhoneNumber(phone).E164())
	in.verify(t, phone, code)
	in.expect(t, "/client/register-step-3", m{"phone_number": phone, "password": password, "password_confirm": password}, 200, `{"code":1,"message":"提交密码成功"}`)
	in.expect(t, "/client/register-step-4", m{"phone_number": phone, "email": email}, 200, `{"code":1,"message":"注册成功"}`)
}

// verifiedAnswer is step 2's success: the seed's fields, then the
// registration token (256 bits, base64url without padding).
var verifiedAnswer = regexp.MustCompile(`^\{"code":1,"message":"短信验证通过","registration_token":"([A-Za-z0-9_-]{43})"\}$`)

// verify runs step 2, fails the test unless it succeeds, and returns the
// registration token.
func (in *instance) verify(t testing.TB, phone, code string, hdr ...string) string {
	t.Helper()
	a := in.postWith(t, "/client/register-step-2", m{"phone_number": phone, "validate_number": code}, hdr...)
	match := verifiedAnswer.FindStringSubmatch(a.Raw)
	if a.Status != 200 || match == nil {
		t.Fatalf("step 2 for %s: %d %s", phone, a.Status, a.Raw)
	}
	return match[1]
}

// code is the last code sent to e164; the test fails if none was sent.
func (in *instance) code(t testing.TB, e164 string) string {
	t.Helper()
	c, ok := in.sms.Code(e164)
	if !ok {
		t.Fatalf("no SMS code was sent to %s", e164)
	}
	return c
}

// loginBody is what the seed's client sends: sha256(password ‖ random ‖ ts).
func loginBody(phone, password, random string, ts int64) m {
	s := strconv.FormatInt(ts, 10)
	return m{"phone_number": phone, "encryption_str": domain.LoginProof(password, random, s), "random_str": random, "time_stamp": s}
}

var randomSeq struct {
	sync.Mutex
	n int
}

func nextRandom() string {
	randomSeq.Lock()
	defer randomSeq.Unlock()
	randomSeq.n++
	return "rnd" + strconv.Itoa(randomSeq.n)
}

func (in *instance) login(t testing.TB, phone, password string) answer {
	t.Helper()
	return in.post(t, "/client/login", loginBody(phone, password, nextRandom(), in.clock.Now().Unix()))
}

// logText renders every captured log entry with its fields, for secret
// scanning.
func (in *instance) logText() string {
	var sb strings.Builder
	for _, e := range in.logs.All() {
		sb.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			sb.WriteString(" " + k + "=")
			sb.WriteString(strings.ReplaceAll(toString(v), "\n", " "))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

func toString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
