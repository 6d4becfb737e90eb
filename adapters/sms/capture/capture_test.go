package capture_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/sms/capture"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

func TestRecordsTheLastCodePerPhone(t *testing.T) {
	s := capture.New()
	a := domain.MustParsePhoneNumber("15850551102")
	b := domain.MustParsePhoneNumber("+447911123456")
	ctx := context.Background()
	for _, step := range []struct {
		phone domain.PhoneNumber
		code  string
	}{{a, "111111"}, {b, "222222"}, {a, "333333"}} {
		if err := s.SendCode(ctx, step.phone, step.code, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok := s.Code(a.E164()); !ok || c != "333333" {
		t.Errorf("Code(a) = %q, %v; want the last code", c, ok)
	}
	if c, ok := s.Code(b.E164()); !ok || c != "222222" {
		t.Errorf("Code(b) = %q, %v", c, ok)
	}
	if _, ok := s.Code("+8613900000000"); ok {
		t.Error("Code of a phone never sent to reports a code")
	}
	if s.Sends() != 3 {
		t.Errorf("Sends() = %d, want 3", s.Sends())
	}
}

func TestHookAndFail(t *testing.T) {
	s := capture.New()
	phone := domain.MustParsePhoneNumber("15850551102")
	got := make(chan string, 1)
	s.OnSend(func(p domain.PhoneNumber, code string) { got <- p.E164() + " " + code })
	if err := s.SendCode(context.Background(), phone, "454078", time.Minute); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "+8615850551102 454078" {
		t.Errorf("hook got %q", g)
	}

	refusal := &application.SMSError{Vendor: "capture", Kind: application.SMSRefused, Code: "160038", Message: "短信验证码发送过频繁"}
	s.Fail(refusal)
	err := s.SendCode(context.Background(), phone, "999999", time.Minute)
	var se *application.SMSError
	if !errors.As(err, &se) || se != refusal {
		t.Fatalf("SendCode after Fail = %v, want the given error", err)
	}
	if c, _ := s.Code(phone.E164()); c != "454078" {
		t.Errorf("a failed send replaced the code with %q", c)
	}
	s.Fail(nil)
	if err := s.SendCode(context.Background(), phone, "123123", time.Minute); err != nil {
		t.Errorf("after Fail(nil): %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := capture.New()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			phone := domain.MustParsePhoneNumber(fmt.Sprintf("1585055%04d", i))
			code := fmt.Sprintf("%06d", i)
			if err := s.SendCode(context.Background(), phone, code, time.Minute); err != nil {
				t.Error(err)
			}
			if c, ok := s.Code(phone.E164()); !ok || c != code {
				t.Errorf("Code = %q, %v; want %q", c, ok, code)
			}
		}()
	}
	wg.Wait()
	if s.Sends() != 50 {
		t.Errorf("Sends() = %d", s.Sends())
	}
}
