package httpapi_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application"
)

const refusedEncoding = `{"code":0,"message":"请求参数错误","error":"unsupported_encoding"}`

// TestEncodedBodiesAreRefused: on every route, a Content-Encoding other
// than identity answers 415 before the handler runs, with the headers,
// the observation and the wording of any other refusal.
func TestEncodedBodiesAreRefused(t *testing.T) {
	obs := &recordingObserver{}
	x := serveReady(t, httpapi.Config{Observer: obs}, nil)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(`{"phone_number":"15850551102"}`))
	_ = w.Close()
	routes := []string{"/client/register-step-1", "/client/register-step-2", "/client/register-step-3", "/client/register-step-4", "/client/login"}
	for _, enc := range []string{"gzip", "gzip, gzip", "deflate,deflate", "br", "zstd", "GZip", "identity, gzip", "x-unknown"} {
		for _, path := range routes {
			status, body, hdr := x.do(t, http.MethodPost, path, gz.String(), "Content-Encoding", enc)
			if status != 415 || body != refusedEncoding {
				t.Errorf("POST %s with %q: %d %s", path, enc, status, body)
			}
			if hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Request-ID") == "" {
				t.Errorf("POST %s with %q: headers %v", path, enc, hdr)
			}
			got := obs.last(t)
			got.Duration = 0
			if want := (application.RequestOutcome{Route: path, Status: 415, Reason: "unsupported_encoding"}); got != want {
				t.Errorf("POST %s with %q observed as %+v, want %+v", path, enc, got, want)
			}
		}
	}
	// Every route, not only the API's.
	if status, body, _ := x.do(t, http.MethodGet, "/healthz", "", "Content-Encoding", "gzip"); status != 415 || body != refusedEncoding {
		t.Errorf("GET /healthz with gzip: %d %s", status, body)
	}
	if status, _, _ := x.do(t, http.MethodPost, "/client/nope", gz.String(), "Content-Encoding", "gzip"); status != 415 {
		t.Errorf("unknown path with gzip: %d", status)
	}
	if got := obs.last(t); got.Route != httpapi.RouteUnmatched {
		t.Errorf("unknown path observed as %q", got.Route)
	}
	if x.f.SMS.Sent() != 0 {
		t.Fatal("an encoded request reached the use case")
	}
	// identity is no encoding; an empty header is none either, and nor is
	// a list of identities (Fiber's Ctx.Body answers an empty body for a
	// list it does not inflate: the handlers read the raw body).
	for i, enc := range []string{"identity", " IDENTITY ", "", "identity, identity", "identity,", ","} {
		if status, body, _ := x.do(t, http.MethodPost, "/client/register-step-1", `{"phone_number":"1385055110`+strconv.Itoa(i)+`"}`, "Content-Encoding", enc); status != 200 || body != `{"code":1,"message":"发送成功"}` {
			t.Errorf("Content-Encoding %q: %d %s", enc, status, body)
		}
	}
}

// TestEncodingOnAnyHeaderLine: a request with two Content-Encoding lines
// (the second one's name in lower case) is refused when either names an
// encoding (Fiber would inflate by the last one), sent as raw bytes so
// nothing merges or renames the lines.
func TestEncodingOnAnyHeaderLine(t *testing.T) {
	x := serveReady(t, httpapi.Config{}, nil)
	for _, lines := range [][2]string{{"gzip", "identity"}, {"identity", "gzip"}, {"", "br"}} {
		body := `{"phone_number":"15850551102"}`
		req := "POST /client/register-step-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Content-Encoding: " + lines[0] + "\r\ncontent-encoding: " + lines[1] + "\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(x.base, "http://"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		conn.Close()
		if resp.StatusCode != 415 || out.String() != refusedEncoding {
			t.Errorf("Content-Encoding lines %q: %d %s", lines, resp.StatusCode, out.String())
		}
	}
	if x.f.SMS.Sent() != 0 {
		t.Fatal("an encoded request reached the use case")
	}
}
