package fakevendor

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TwilioRequest is what a well-formed Messages.json request asked for.
type TwilioRequest struct {
	To, From, MessagingServiceSID, Body string
}

// Twilio plays Programmable Messaging's Create Message for one account: HTTP
// Basic auth with the Account SID and auth token, a form with To, Body and
// exactly one of From and MessagingServiceSid; errors as
// {code, message, more_info, status}.
type Twilio struct {
	*server
	AccountSID, AuthToken string

	received []TwilioRequest
}

// NewTwilio starts a fake for the account; it accepts until told otherwise.
func NewTwilio(t testing.TB, accountSID, authToken string) *Twilio {
	f := &Twilio{AccountSID: accountSID, AuthToken: authToken}
	f.server = newServer(t, func(s *server, w http.ResponseWriter, r *http.Request) { f.handle(w, r) })
	return f
}

// Requests returns the well-formed requests received, in order.
func (f *Twilio) Requests() []TwilioRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TwilioRequest(nil), f.received...)
}

func (f *Twilio) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Twilio) fail(w http.ResponseWriter, why string, status, code int, msg string) {
	if why != "" {
		f.reject(why)
	}
	f.answer(w, status, map[string]any{
		"code": code, "message": msg,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), "status": status,
	})
}

func (f *Twilio) handle(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(f.AccountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(f.AuthToken)) != 1 {
		f.fail(w, "basic auth does not match the account", http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	want := "/2010-04-01/Accounts/" + f.AccountSID + "/Messages.json"
	if r.Method != http.MethodPost || r.URL.Path != want {
		f.fail(w, fmt.Sprintf("%s %s, want POST %s", r.Method, r.URL.Path, want), http.StatusNotFound, 20404,
			"The requested resource "+r.URL.Path+" was not found")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		f.fail(w, "Content-Type is "+ct, http.StatusBadRequest, 20001, "Invalid content type")
		return
	}
	if err := r.ParseForm(); err != nil {
		f.fail(w, "form: "+err.Error(), http.StatusBadRequest, 20001, "Invalid form")
		return
	}
	req := TwilioRequest{
		To:                  r.PostForm.Get("To"),
		From:                r.PostForm.Get("From"),
		MessagingServiceSID: r.PostForm.Get("MessagingServiceSid"),
		Body:                r.PostForm.Get("Body"),
	}
	switch {
	case req.To == "":
		f.fail(w, "To missing", http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case !strings.HasPrefix(req.To, "+"):
		f.fail(w, "To is not E.164: "+req.To, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+req.To)
		return
	case (req.From == "") == (req.MessagingServiceSID == ""):
		f.fail(w, "want exactly one of From and MessagingServiceSid", http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case req.Body == "":
		f.fail(w, "Body missing", http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	f.mu.Lock()
	f.received = append(f.received, req)
	f.mu.Unlock()

	b, code, msg := f.current()
	if f.common(b, w, r) {
		return
	}
	switch b {
	case Refuse:
		n, _ := strconv.Atoi(code)
		f.fail(w, "", http.StatusBadRequest, n, msg)
	case Fail:
		status := f.status()
		f.fail(w, "", status, 20000+status, http.StatusText(status))
	default:
		now := time.Now().UTC().Format(time.RFC1123Z)
		f.answer(w, http.StatusCreated, map[string]any{
			"account_sid": f.AccountSID, "api_version": "2010-04-01", "body": req.Body,
			"date_created": now, "date_updated": now, "date_sent": nil, "direction": "outbound-api",
			"error_code": nil, "error_message": nil, "from": req.From, "messaging_service_sid": nilIfEmpty(req.MessagingServiceSID),
			"num_media": "0", "num_segments": "1", "price": nil, "price_unit": "USD",
			"sid": "SM3b4f0f6bb0cf4f2d9b3c1a2e5d6f7a8b", "status": "queued", "to": req.To,
			"uri": "/2010-04-01/Accounts/" + f.AccountSID + "/Messages/SM3b4f0f6bb0cf4f2d9b3c1a2e5d6f7a8b.json",
		})
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
