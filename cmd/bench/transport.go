package main

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// fastTransport carries vegeta's requests over fasthttp: net/http's
// client spends about half the load generator's CPU on its per-connection
// reader and writer goroutines, which on a 2-core machine is CPU taken
// from the service being measured. Vegeta still paces, times and
// collects every request; only the wire work is cheaper.
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

// RoundTrip sends req and returns the whole response, body in memory.
func (t *fastTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	freq := fasthttp.AcquireRequest()
	fresp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(freq)
	defer fasthttp.ReleaseResponse(fresp)
	freq.Header.SetMethod(req.Method)
	freq.SetRequestURI(req.URL.RequestURI())
	freq.Header.SetHost(req.URL.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			freq.Header.Add(k, v)
		}
	}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		freq.SetBodyRaw(body)
	}
	if err := t.client.Do(freq, fresp); err != nil {
		return nil, err
	}
	code := fresp.StatusCode()
	return &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{},
		Body:          io.NopCloser(bytes.NewReader(bytes.Clone(fresp.Body()))),
		ContentLength: int64(len(fresp.Body())),
		Request:       req,
	}, nil
}
