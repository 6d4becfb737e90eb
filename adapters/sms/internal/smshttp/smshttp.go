// Package smshttp holds what every HTTP-speaking SMS adapter needs to decide
// how a failed send ends (application.SMSErrorKind) and to keep secrets,
// phone numbers and codes out of error strings.
//
// The rule it encodes: a request that never fully left this machine cannot
// have been executed by the vendor, nor can one the vendor answered with
// HTTP 503 or 429 (SMSNotSent, another vendor may be tried); once it has
// been written, silence, any other 5xx or an unreadable answer means the
// SMS may be on its way (SMSUncertain, nobody may try again).
package smshttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// MaxBody bounds how much of a vendor's answer is read: real answers are a
// few hundred bytes.
const MaxBody = 64 << 10

// Tracker records whether a request was completely written to a
// connection, through net/http's client trace.
type Tracker struct {
	wrote atomic.Bool
}

// Track returns ctx carrying a trace that feeds a new Tracker.
func Track(ctx context.Context) (context.Context, *Tracker) {
	t := &Tracker{}
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				t.wrote.Store(true)
			}
		},
	}
	return httptrace.WithClientTrace(ctx, trace), t
}

// Wrote reports whether the whole request went out: from then on the vendor
// may act on it whatever happens to the answer.
func (t *Tracker) Wrote() bool { return t.wrote.Load() }

// NewClient returns the client adapters use when none is given. It does not
// follow redirects (a vendor API that redirects a POST is misconfigured, and
// following would send the request twice), and has no timeout of its own:
// each send bounds itself with a context deadline.
func NewClient() *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ReadBody reads at most MaxBody bytes of an answer.
func ReadBody(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, MaxBody))
}

// TransportError builds the SMSError for a request that got no usable
// answer: SMSNotSent if the request was not completely written, else
// SMSUncertain. err is redacted (see Redact).
func TransportError(vendor string, err error, wrote bool) *application.SMSError {
	kind := application.SMSUncertain
	if !wrote {
		kind = application.SMSNotSent
	}
	return &application.SMSError{Vendor: vendor, Kind: kind, Err: Redact(err)}
}

// StatusKind is what an HTTP status says about a send whose answer
// carries no readable refusal. Only 503 and 429 say the vendor certainly
// did nothing (it is unavailable, or limits the caller), so another vendor
// may be tried. Any other 5xx may come after the vendor acted (a gateway
// timing out on a vendor that sends anyway, a crash after queueing), and a
// 2xx that cannot be read may be an acceptance: both are SMSUncertain.
// Anything else (a 404 from a wrong base URL, a 401, a redirect) is the
// vendor refusing the request without a text for the client: SMSRefused.
func StatusKind(status int) application.SMSErrorKind {
	switch {
	case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests:
		return application.SMSNotSent
	case status >= 500, status >= 200 && status < 300:
		return application.SMSUncertain
	default:
		return application.SMSRefused
	}
}

// StatusError builds the SMSError for an HTTP answer that carries no
// refusal the client could read, its kind from StatusKind.
func StatusError(vendor string, status int, body []byte, cause error) *application.SMSError {
	err := fmt.Errorf("HTTP %d, body %s", status, Snippet(body))
	if cause != nil {
		err = fmt.Errorf("HTTP %d: %w, body %s", status, cause, Snippet(body))
	}
	return &application.SMSError{Vendor: vendor, Kind: StatusKind(status), Err: err}
}

// Refused builds the SMSError for a definite refusal: the vendor's code and
// its own text, which the client hears verbatim.
func Refused(vendor, code, message string) *application.SMSError {
	return &application.SMSError{
		Vendor:  vendor,
		Kind:    application.SMSRefused,
		Code:    code,
		Message: message,
		Err:     errors.New("vendor refused"),
	}
}

// BeforeWrite reports whether err is one that happens before any byte of a
// request can leave: a failed name lookup, a refused or unreachable
// connection, a failed TLS handshake. It is the fallback classification for
// clients that cannot be traced (SDKs that own their transport); anything it
// does not recognise counts as possibly written.
func BeforeWrite(err error) bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &dnsErr):
		return true
	case errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect"):
		return true
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &recErr):
		return true
	}
	return false
}

// Redact removes the query string from URLs inside err. Vendor URLs can
// carry a signature, the phone number or (Aliyun) the template parameters
// with the code; the error ends up in SMSError.Err and so in logs.
func Redact(err error) error {
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	clean := "(unparsable URL)"
	if perr == nil {
		u.RawQuery, u.Fragment, u.User = "", "", nil
		clean = u.String()
	}
	return &url.Error{Op: ue.Op, URL: clean, Err: ue.Err}
}

// Snippet quotes the start of a body for a log line, its long digit runs
// masked (vendors echo the phone number).
func Snippet(body []byte) string {
	const max = 200
	if len(body) > max {
		return strconv.Quote(domain.MaskDigitRuns(string(body[:max]))) + "…"
	}
	return strconv.Quote(domain.MaskDigitRuns(string(body)))
}

// LogText is a vendor's text as it may be logged: runs of seven or more
// digits masked. The client still hears the text verbatim.
func LogText(s string) string { return domain.MaskDigitRuns(s) }

// Minutes is a code lifetime as template data: whole minutes, rounded down
// (a message must not promise more time than the code has), at least 1.
func Minutes(ttl time.Duration) string {
	m := int64(ttl / time.Minute)
	if m < 1 {
		m = 1
	}
	return strconv.FormatInt(m, 10)
}
