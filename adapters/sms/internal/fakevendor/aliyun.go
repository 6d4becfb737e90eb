package fakevendor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// AliyunRequest is what a well-formed SendSms request asked for.
type AliyunRequest struct {
	PhoneNumbers  string
	SignName      string
	TemplateCode  string
	TemplateParam map[string]string
}

// Aliyun plays dysmsapi's SendSms (version 2017-05-25) for one AccessKey.
// It verifies the V3 signature (ACS3-HMAC-SHA256) as the vendor's
// documentation describes it: a canonical request of method, path, sorted
// RFC 3986-encoded query, the signed headers (host, content-type and every
// x-acs-*), and the payload's SHA-256, hashed and signed with HMAC-SHA256
// under the AccessKey secret. It also refuses a reused signature nonce, so a
// retried request cannot pass unnoticed.
type Aliyun struct {
	*server
	AccessKeyID, AccessKeySecret string

	received []AliyunRequest
	nonces   map[string]bool
}

// NewAliyun starts a fake for the AccessKey; it accepts until told
// otherwise.
func NewAliyun(t testing.TB, accessKeyID, accessKeySecret string) *Aliyun {
	a := &Aliyun{AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret, nonces: map[string]bool{}}
	a.server = newServer(t, func(s *server, w http.ResponseWriter, r *http.Request) { a.handle(w, r) })
	return a
}

// Endpoint is the fake's address in the form ALIYUN_ENDPOINT accepts.
func (a *Aliyun) Endpoint() string { return a.URL() }

// Requests returns the well-formed requests received, in order.
func (a *Aliyun) Requests() []AliyunRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AliyunRequest(nil), a.received...)
}

const aliyunRequestID = "F655A8D5-B967-440B-8683-DAD6FF8DE990"

func (a *Aliyun) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers an API-level error (HTTP 4xx) the way the gateway does.
func (a *Aliyun) fail(w http.ResponseWriter, why string, status int, code, msg string) {
	a.reject(why)
	a.answer(w, status, map[string]string{
		"RequestId": aliyunRequestID, "HostId": "dysmsapi.aliyuncs.com",
		"Code": code, "Message": msg,
	})
}

func (a *Aliyun) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		a.fail(w, fmt.Sprintf("%s %s, want POST /", r.Method, r.URL.Path), http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
		return
	}
	if got := r.Header.Get("x-acs-action"); got != "SendSms" {
		a.fail(w, "x-acs-action is "+got, http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
		return
	}
	if got := r.Header.Get("x-acs-version"); got != "2017-05-25" {
		a.fail(w, "x-acs-version is "+got, http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid.")
		return
	}
	if why := a.verifySignature(r, body); why != "" {
		a.fail(w, why, http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
		return
	}

	params := r.URL.Query()
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, _ := url.ParseQuery(string(body))
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	req := AliyunRequest{
		PhoneNumbers: params.Get("PhoneNumbers"),
		SignName:     params.Get("SignName"),
		TemplateCode: params.Get("TemplateCode"),
	}
	switch {
	case req.PhoneNumbers == "":
		a.fail(w, "PhoneNumbers missing", http.StatusBadRequest, "MissingPhoneNumbers", "PhoneNumbers is mandatory for this action.")
		return
	case req.SignName == "":
		a.fail(w, "SignName missing", http.StatusBadRequest, "MissingSignName", "SignName is mandatory for this action.")
		return
	case req.TemplateCode == "":
		a.fail(w, "TemplateCode missing", http.StatusBadRequest, "MissingTemplateCode", "TemplateCode is mandatory for this action.")
		return
	}
	if err := json.Unmarshal([]byte(params.Get("TemplateParam")), &req.TemplateParam); err != nil {
		// The vendor answers this one with HTTP 200 and a business code.
		a.reject("TemplateParam is not a JSON object of strings: " + err.Error())
		a.answer(w, http.StatusOK, map[string]string{"RequestId": aliyunRequestID, "Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法，只接受字符串值"})
		return
	}
	if strings.HasPrefix(req.PhoneNumbers, "+") || strings.HasPrefix(req.PhoneNumbers, "00") {
		a.reject("PhoneNumbers not in the vendor's form: " + req.PhoneNumbers)
		a.answer(w, http.StatusOK, map[string]string{"RequestId": aliyunRequestID, "Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"})
		return
	}
	a.mu.Lock()
	a.received = append(a.received, req)
	a.mu.Unlock()

	b, code, msg := a.current()
	if a.common(b, w, r) {
		return
	}
	switch b {
	case Refuse:
		a.answer(w, http.StatusOK, map[string]string{"RequestId": aliyunRequestID, "Code": code, "Message": msg})
	case Fail:
		status := a.status()
		code, msg := "InternalError", "The request processing has failed due to some unknown error, exception or failure."
		switch status {
		case http.StatusServiceUnavailable:
			code, msg = "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
		case http.StatusTooManyRequests:
			code, msg = "Throttling.User", "Request was denied due to user flow control."
		}
		a.answer(w, status, map[string]string{"RequestId": aliyunRequestID, "Code": code, "Message": msg})
	default:
		a.answer(w, http.StatusOK, map[string]string{"RequestId": aliyunRequestID, "Code": "OK", "Message": "OK", "BizId": "900619746936498440^0"})
	}
}

// verifySignature returns why the request's V3 signature is not valid, or
// "" if it is.
func (a *Aliyun) verifySignature(r *http.Request, body []byte) string {
	const algorithm = "ACS3-HMAC-SHA256"
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return "Authorization does not use " + algorithm
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	if fields["Credential"] != a.AccessKeyID {
		return "unknown AccessKeyId " + fields["Credential"]
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !sort.StringsAreSorted(signed) {
		return "SignedHeaders not sorted"
	}
	isSigned := map[string]bool{}
	for _, h := range signed {
		isSigned[h] = true
	}
	for _, must := range []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"} {
		if !isSigned[must] {
			return "SignedHeaders lacks " + must
		}
	}
	for name := range r.Header {
		if n := strings.ToLower(name); strings.HasPrefix(n, "x-acs-") && !isSigned[n] {
			return "header " + n + " is not signed"
		}
	}

	sum := sha256.Sum256(body)
	if r.Header.Get("x-acs-content-sha256") != hex.EncodeToString(sum[:]) {
		return "x-acs-content-sha256 is not the body's hash"
	}
	date, err := time.Parse("2006-01-02T15:04:05Z", r.Header.Get("x-acs-date"))
	if err != nil || time.Since(date).Abs() > 15*time.Minute {
		return "x-acs-date is not now in UTC ISO 8601"
	}
	nonce := r.Header.Get("x-acs-signature-nonce")
	a.mu.Lock()
	used := nonce == "" || a.nonces[nonce]
	a.nonces[nonce] = true
	a.mu.Unlock()
	if used {
		return "signature nonce missing or reused"
	}

	var canonHeaders strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canonHeaders.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonical := strings.Join([]string{
		r.Method,
		path,
		canonicalQuery(r.URL.Query()),
		canonHeaders.String(),
		fields["SignedHeaders"],
		r.Header.Get("x-acs-content-sha256"),
	}, "\n")
	hashed := sha256.Sum256([]byte(canonical))
	stringToSign := algorithm + "\n" + hex.EncodeToString(hashed[:])
	mac := hmac.New(sha256.New, []byte(a.AccessKeySecret))
	mac.Write([]byte(stringToSign))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(fields["Signature"]), []byte(want)) {
		return "signature mismatch"
	}
	return ""
}

// canonicalQuery sorts parameters by name and percent-encodes names and
// values per RFC 3986 (only A-Z a-z 0-9 - _ . ~ stay as they are).
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			parts = append(parts, percentEncode(k)+"="+percentEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
