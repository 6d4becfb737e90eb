package fakevendor

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// CloopenRequest is what a well-formed TemplateSMS request asked for.
type CloopenRequest struct {
	To         string
	AppID      string
	TemplateID string
	Datas      []string
}

// Cloopen plays 容联云's TemplateSMS endpoint (docs/cloopen.md) for one
// account.
type Cloopen struct {
	*server
	AccountSID, AuthToken, AppID string

	received []CloopenRequest
}

// NewCloopen starts a fake for the account; it accepts until told
// otherwise.
func NewCloopen(t testing.TB, accountSID, authToken, appID string) *Cloopen {
	c := &Cloopen{AccountSID: accountSID, AuthToken: authToken, AppID: appID}
	c.server = newServer(t, func(s *server, w http.ResponseWriter, r *http.Request) { c.handle(w, r) })
	return c
}

// Requests returns the well-formed requests received, in order.
func (c *Cloopen) Requests() []CloopenRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CloopenRequest(nil), c.received...)
}

func (c *Cloopen) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (c *Cloopen) refuse(w http.ResponseWriter, why, code, msg string) {
	c.reject(why)
	c.answer(w, http.StatusOK, map[string]string{"statusCode": code, "statusMsg": msg})
}

func (c *Cloopen) handle(w http.ResponseWriter, r *http.Request) {
	wantPath := "/2013-12-26/Accounts/" + c.AccountSID + "/SMS/TemplateSMS"
	if r.Method != http.MethodPost || r.URL.Path != wantPath {
		c.reject(fmt.Sprintf("%s %s, want POST %s", r.Method, r.URL.Path, wantPath))
		http.NotFound(w, r)
		return
	}

	// Authorization: base64(accountSid:timestamp), standard alphabet with
	// padding; sig: upper-case hex MD5(accountSid + authToken + timestamp).
	decoded, err := base64.StdEncoding.Strict().DecodeString(r.Header.Get("Authorization"))
	sid, ts, ok := strings.Cut(string(decoded), ":")
	if err != nil || !ok || sid != c.AccountSID {
		c.refuse(w, "Authorization is not base64(accountSid:timestamp)", "111109", "sig校验失败")
		return
	}
	at, err := time.ParseInLocation("20060102150405", ts, time.FixedZone("CST", 8*3600))
	if err != nil || time.Since(at).Abs() > 10*time.Minute {
		c.refuse(w, fmt.Sprintf("timestamp %q is not now in China Standard Time", ts), "111109", "sig校验失败")
		return
	}
	sum := md5.Sum([]byte(c.AccountSID + c.AuthToken + ts))
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("sig")), []byte(want)) != 1 {
		c.refuse(w, "sig mismatch", "111109", "sig校验失败")
		return
	}

	if got := r.Header.Get("Accept"); got != "application/json" {
		c.refuse(w, "Accept is "+got, "111100", "请求包头Accept错误")
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/json;charset=utf-8" {
		c.refuse(w, "Content-Type is "+got, "111101", "请求包头Content-Type错误")
		return
	}

	var body struct {
		To         *string  `json:"to"`
		AppID      *string  `json:"appId"`
		TemplateID *string  `json:"templateId"`
		Datas      []string `json:"datas"`
	}
	raw, _ := io.ReadAll(r.Body)
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		c.refuse(w, "body is not the TemplateSMS JSON: "+err.Error(), "111200", "请求包体格式错误")
		return
	}
	switch {
	case body.To == nil || *body.To == "":
		c.refuse(w, "to is empty", "112300", "接收短信的手机号码为空")
		return
	case strings.HasPrefix(*body.To, "+") || strings.Contains(*body.To, ","):
		c.refuse(w, "to is not one number in the vendor's form: "+*body.To, "160042", "号码格式有误")
		return
	case body.AppID == nil || *body.AppID != c.AppID:
		c.refuse(w, "appId does not belong to the account", "160043", "应用与模板id不匹配")
		return
	case body.TemplateID == nil || *body.TemplateID == "":
		c.refuse(w, "templateId is empty", "160032", "短信模板无效")
		return
	case len(body.Datas) != 2:
		c.refuse(w, fmt.Sprintf("datas has %d entries, want [code, minutes]", len(body.Datas)), "160032", "短信模板无效")
		return
	}
	c.mu.Lock()
	c.received = append(c.received, CloopenRequest{To: *body.To, AppID: *body.AppID, TemplateID: *body.TemplateID, Datas: body.Datas})
	c.mu.Unlock()

	b, code, msg := c.current()
	if c.common(b, w, r) {
		return
	}
	switch b {
	case Refuse:
		c.answer(w, http.StatusOK, map[string]string{"statusCode": code, "statusMsg": msg})
	case Fail:
		status := c.status()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(http.StatusText(status)))
	default:
		c.answer(w, http.StatusOK, map[string]any{
			"statusCode": "000000",
			"templateSMS": map[string]string{
				"dateCreated":   time.Now().In(time.FixedZone("CST", 8*3600)).Format("20060102150405"),
				"smsMessageSid": "ff8080813c373cab013c94b0f0512345",
			},
		})
	}
}
