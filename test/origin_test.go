package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/phoneauth/phoneauth/domain"
)

// originClient is a client written for the seed's origin backend, and
// knowing only its conventions: a base URL ending in /api/v1_1, the
// token sent bare in a `token` header, the account at GET /client,
// logout by GET /client/logout, and `code` 2 meaning "log in again". It
// reads `code`, `message` and the fields it knows from the body, never
// the status, and ignores every other field (the refresh token
// included: it cannot refresh).
type originClient struct {
	t        *testing.T
	in       *instance // for the contract check only: the client knows base
	base     string
	phone    string
	password string
	token    string
	relogins int
	n        int
}

// originAnswer is what such a client reads of an answer.
type originAnswer struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	Token       string `json:"token"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phone_number"`
}

func (c *originClient) do(method, path string, body map[string]string) originAnswer {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("token", c.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw := readAll(c.t, resp)
	// The service, not the client, is held to its contract.
	checkContract(c.t, method, path, resp.StatusCode, resp.Header, raw)
	var a originAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		c.t.Fatalf("%s %s: %q is not JSON", method, path, raw)
	}
	return a
}

// login is the origin's login: the SHA-256 of password ‖ random ‖ time.
func (c *originClient) login() originAnswer {
	c.t.Helper()
	c.n++
	random := "origin" + strconv.Itoa(c.n)
	ts := strconv.FormatInt(c.in.clock.Now().Unix(), 10)
	sum := sha256.Sum256([]byte(c.password + random + ts))
	c.token = ""
	a := c.do(http.MethodPost, "/client/login", map[string]string{
		"phone_number": c.phone, "encryption_str": hex.EncodeToString(sum[:]), "random_str": random, "time_stamp": ts,
	})
	if a.Code == 1 {
		c.token = a.Token
	}
	return a
}

// authed calls an authenticated endpoint as the origin's clients do: on
// code 2 they log in again and call once more.
func (c *originClient) authed(method, path string) originAnswer {
	c.t.Helper()
	a := c.do(method, path, nil)
	if a.Code == 2 {
		c.relogins++
		if l := c.login(); l.Code != 1 {
			c.t.Fatalf("logging in again: %+v", l)
		}
		a = c.do(method, path, nil)
	}
	return a
}

func TestOriginClientWorksUnchanged(t *testing.T) {
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			o := storeOptions(t, store)
			if o.vars == nil {
				o.vars = map[string]string{}
			}
			o.vars["HTTP_PATH_PREFIX"] = "/api/v1_1"
			in := start(t, o)
			c := &originClient{t: t, in: in, base: in.base + "/api/v1_1", phone: "15850551102", password: "origin-pass-1"}

			// Registration, under the prefix.
			if a := c.do(http.MethodPost, "/client/register-step-1", map[string]string{"phone_number": c.phone}); a.Code != 1 || a.Message != "发送成功" {
				t.Fatalf("step 1: %+v", a)
			}
			code := in.code(t, domain.MustParsePhoneNumber(c.phone).E164())
			if a := c.do(http.MethodPost, "/client/register-step-2", map[string]string{"phone_number": c.phone, "validate_number": code}); a.Code != 1 {
				t.Fatalf("step 2: %+v", a)
			}
			if a := c.do(http.MethodPost, "/client/register-step-3", map[string]string{"phone_number": c.phone, "password": c.password, "password_confirm": c.password}); a.Code != 1 {
				t.Fatalf("step 3: %+v", a)
			}
			if a := c.do(http.MethodPost, "/client/register-step-4", map[string]string{"phone_number": c.phone, "email": "origin@qq.com"}); a.Code != 1 {
				t.Fatalf("step 4: %+v", a)
			}

			if a := c.login(); a.Code != 1 || a.Message != "成功登录" || a.Email != "origin@qq.com" || c.token == "" {
				t.Fatalf("login: %+v", a)
			}
			first := c.token
			if a := c.authed(http.MethodGet, "/client"); a.Code != 1 || a.Message != "获取成功" || a.PhoneNumber != "+8615850551102" || a.Email != "origin@qq.com" || c.relogins != 0 {
				t.Fatalf("GET /client: %+v (relogins %d)", a, c.relogins)
			}
			if a := c.authed(http.MethodGet, "/client/logout"); a.Code != 1 || a.Message != "成功注销" {
				t.Fatalf("GET /client/logout: %+v", a)
			}
			// The client still holds the token it logged out: the
			// service answers code 2, and the client logs in again.
			if a := c.do(http.MethodGet, "/client", nil); a.Code != 2 || a.Message != "验证信息错误" {
				t.Fatalf("GET /client after logout: %+v, want code 2", a)
			}
			if a := c.authed(http.MethodGet, "/client"); a.Code != 1 || a.PhoneNumber != "+8615850551102" || c.relogins != 1 || c.token == first {
				t.Fatalf("GET /client after logging in again: %+v (relogins %d)", a, c.relogins)
			}
			// The paths at the root answer the same session.
			if a := in.call(t, http.MethodGet, "/client", nil, "token", c.token); a.Status != 200 || a.PhoneNumber != "+8615850551102" {
				t.Fatalf("GET /client at the root: %s", a.Raw)
			}
		})
	}
}
