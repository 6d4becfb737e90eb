package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/adapters/sms/capture"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/client"
)

// service is the real phoneauth service, wired on a temporary embedded
// store and served on a loopback port, for the examples: codes are
// captured instead of sent.
type service struct {
	URL   string
	SMS   *capture.Sender
	clock *apptest.Clock // the service's clock, which examples move on
	stop  func()
}

// startService starts a service; it panics when it cannot (an example
// has no *testing.T).
func startService() *service {
	dir, err := os.MkdirTemp("", "phoneauth-client-example")
	if err != nil {
		panic(err)
	}
	key := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	cfg, err := phoneauth.ParseConfig(map[string]string{
		"DATA_DIR": dir, "HTTP_ADDR": "127.0.0.1:0",
		"TOKEN_KEY": key(1), "PASSWORD_KEY": key(2), "CODE_HMAC_KEY": key(3), "TOKEN_SIGNING_KEYS": key(4),
	})
	if err != nil {
		panic(err)
	}
	sms := capture.New()
	clock := apptest.NewClock(time.Now())
	svc, cleanup, err := phoneauth.Initialize(cfg, zap.NewNop(), phoneauth.Overrides{SMS: sms, Clock: clock})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	return &service{URL: "http://" + ln.Addr().String(), SMS: sms, clock: clock, stop: func() {
		cancel()
		<-done
		cleanup()
		os.RemoveAll(dir)
	}}
}

// Close stops the service and removes its store.
func (s *service) Close() { s.stop() }

// code is the last code sent to phone (E.164).
func (s *service) code(phone string) string {
	c, _ := s.SMS.Code(phone)
	return c
}

// register creates the account through the client, for examples that
// start logged out.
func register(s *service, phone, password string) {
	ctx := context.Background()
	c := client.New(s.URL)
	if _, err := c.SendCode(ctx, phone); err != nil {
		panic(err)
	}
	if _, err := c.VerifyCode(ctx, phone, s.code(phone)); err != nil {
		panic(err)
	}
	if _, err := c.SetPassword(ctx, phone, password, password); err != nil {
		panic(err)
	}
	if _, err := c.CompleteProfile(ctx, phone, "li.lei@example.com"); err != nil {
		panic(err)
	}
}
