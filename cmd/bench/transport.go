package main

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// fastTransport carries vegeta's requests over fasthttp: net/http's
// client spends about half the load generator's CPU on its per-connection
// reader and writer goroutines, which on a 2-core machine is CPU taken
// from the service being measured. Vegeta still paces, times and
// collects every request; only the wire work is cheaper.
//
// Every request with a body goes out as application/json, so targets
// carry no header map for vegeta to copy per request; vegeta's own
// X-Vegeta-* headers stay off the wire, as a phone would never send them.
type fastTransport struct {
	client *fasthttp.HostClient
}

func newFastTransport(addr string, conns int) *fastTransport {
	return &fastTransport{client: &fasthttp.HostClient{
		Addr:                     addr,
		MaxConns:                 conns,
		MaxIdleConnDuration:      time.Minute,
		ReadTimeout:              30 * time.Second,
		WriteTimeout:             30 * time.Second,
		NoDefaultUserAgentHeader: true,
		MaxConnWaitTimeout:       30 * time.Second,
	}}
}

// noHeader is every response's header map: vegeta only passes it on, and
// the benchmark reads status and body alone.
var noHeader = http.Header{}

// RoundTrip sends req; the response body is read from fasthttp's own
// buffer, which goes back to its pool when vegeta closes the body.
func (t *fastTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	freq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(freq)
	freq.Header.SetMethod(req.Method)
	freq.SetRequestURI(req.URL.RequestURI())
	freq.Header.SetHost(req.URL.Host)
	for k, vs := range req.Header {
		if strings.HasPrefix(k, "X-Vegeta-") {
			continue
		}
		for _, v := range vs {
			freq.Header.Add(k, v)
		}
	}
	if req.Body != nil {
		freq.Header.SetContentType("application/json")
		_, err := io.Copy(freq.BodyWriter(), req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	fresp := fasthttp.AcquireResponse()
	if err := t.client.Do(freq, fresp); err != nil {
		fasthttp.ReleaseResponse(fresp)
		return nil, err
	}
	body := &pooledBody{resp: fresp, rest: fresp.Body()}
	return &http.Response{
		StatusCode:    fresp.StatusCode(),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        noHeader,
		Body:          body,
		ContentLength: int64(len(body.rest)),
		Request:       req,
	}, nil
}

// pooledBody reads a fasthttp response's body in place and releases the
// response on Close.
type pooledBody struct {
	resp *fasthttp.Response
	rest []byte
}

func (b *pooledBody) Read(p []byte) (int, error) {
	if len(b.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

func (b *pooledBody) Close() error {
	if b.resp != nil {
		fasthttp.ReleaseResponse(b.resp)
		b.resp, b.rest = nil, nil
	}
	return nil
}
