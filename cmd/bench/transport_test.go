package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/valyala/fasthttp"
)

// TestFastTransportCarriesVegetaRequests: what vegeta sends through the
// transport arrives as a phone would send it (JSON body, Content-Type, no
// X-Vegeta-* headers), and vegeta reads back status and body intact.
func TestFastTransportCarriesVegetaRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		method, path, contentType, body string
		vegetaHeaders                   int
	}
	got := make(chan seen, 10)
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		s := seen{method: string(c.Method()), path: string(c.Path()), contentType: string(c.Request.Header.ContentType()), body: string(c.PostBody())}
		c.Request.Header.VisitAll(func(k, _ []byte) {
			if strings.HasPrefix(strings.ToLower(string(k)), "x-vegeta") {
				s.vegetaHeaders++
			}
		})
		got <- s
		c.SetStatusCode(fasthttp.StatusTeapot)
		c.SetBodyString(`{"code":1,"echo":"` + strings.Repeat("x", 3000) + `"}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	base := "http://" + ln.Addr().String()
	targets := []vegeta.Target{
		{Method: http.MethodPost, URL: base + "/client/login", Body: []byte(`{"phone_number":"15850551102"}`)},
		{Method: http.MethodGet, URL: base + "/healthz"},
	}
	client := &http.Client{Transport: newFastTransport(ln.Addr().String(), 2)}
	for i, tgt := range targets {
		// One worker, stopped at its first result: a request or two more
		// may be in flight by then, and they end before the results do.
		atk := vegeta.NewAttacker(vegeta.Workers(1), vegeta.MaxWorkers(1), vegeta.Client(client), vegeta.MaxBody(4096))
		var res *vegeta.Result
		for r := range atk.Attack(vegeta.NewStaticTargeter(tgt), vegeta.ConstantPacer{Freq: 1000, Per: time.Second}, 0, "named") {
			if res == nil {
				res = r
				atk.Stop()
			}
		}
		if res == nil || res.Error != "" {
			t.Fatalf("target %d: result %+v", i, res)
		}
		if res.Code != fasthttp.StatusTeapot || !strings.HasPrefix(string(res.Body), `{"code":1,"echo":"xxx`) || len(res.Body) != 3000+len(`{"code":1,"echo":""}`) {
			t.Fatalf("target %d: vegeta read %d and %d bytes %.40q", i, res.Code, len(res.Body), res.Body)
		}
		s := <-got
		for len(got) > 0 {
			<-got
		}
		wantType := ""
		if tgt.Body != nil {
			wantType = "application/json"
		}
		if s.method != tgt.Method || !strings.HasSuffix(tgt.URL, s.path) || s.body != string(tgt.Body) || s.contentType != wantType || s.vegetaHeaders != 0 {
			t.Fatalf("target %d: server saw %+v", i, s)
		}
	}
}
