package httpapi_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
)

// BenchmarkLoginHandler is POST /client/login through the Fiber app
// (middleware, decoding, use case, error mapping, encoding) with the
// application's fakes and no network: the HTTP adapter's own cost.
func BenchmarkLoginHandler(b *testing.B) {
	// As in the service's benchmark: one account logging in from one
	// address without end would meet the hourly and per-network limits.
	policy := apptest.DefaultPolicy()
	policy.LoginHourlyLimitPerAccount, policy.FailuresHourlyPerNet = 0, 0
	f := apptest.New(t0, policy)
	p := domain.MustParsePhoneNumber("15850551102")
	sealed, _ := apptest.Vault{}.Seal(p, "password1")
	email, _ := domain.ParseEmail("2214102327@qq.com")
	if err := f.Users.Create(context.Background(), domain.NewUser("u1", p, email, sealed, t0)); err != nil {
		b.Fatal(err)
	}
	h := httpapi.New(f.App, httpapi.Config{}, nil, zap.NewNop()).App().Handler()
	ts := strconv.FormatInt(t0.Unix(), 10)
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	i := 0
	for b.Loop() {
		i++
		random := "r" + strconv.Itoa(i) // a fresh nonce each time, as clients send
		req.Reset()
		req.Header.SetMethod("POST")
		req.SetRequestURI("/client/login")
		req.Header.SetContentType("application/json")
		req.SetBodyString(`{"phone_number":"15850551102","encryption_str":"` + domain.LoginProof("password1", random, ts) +
			`","random_str":"` + random + `","time_stamp":"` + ts + `"}`)
		ctx.Init(&req, remote, nil)
		h(&ctx)
		if !bytes.HasPrefix(ctx.Response.Body(), []byte(`{"code":1`)) {
			b.Fatalf("login answered %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
