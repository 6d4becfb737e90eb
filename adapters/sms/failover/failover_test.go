package failover_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoneauth/phoneauth/adapters/sms/failover"
	"github.com/phoneauth/phoneauth/adapters/sms/internal/smstest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

const code = "454078"

var phone = domain.MustParsePhoneNumber("15850551102")

// vendor answers with a scripted error and counts its calls.
type vendor struct {
	name  string
	err   error
	calls int
	onTry func()
}

func (v *vendor) Name() string { return v.name }

func (v *vendor) SendCode(context.Context, domain.PhoneNumber, string, time.Duration) error {
	v.calls++
	if v.onTry != nil {
		v.onTry()
	}
	return v.err
}

func kindErr(vendor string, k application.SMSErrorKind) *application.SMSError {
	e := &application.SMSError{Vendor: vendor, Kind: k, Err: errors.New("scripted")}
	if k == application.SMSRefused {
		e.Code, e.Message, e.Err = "160038", "短信验证码发送过频繁", nil
	}
	return e
}

func TestFailoverRule(t *testing.T) {
	notSent := application.SMSNotSent
	tests := []struct {
		name      string
		errs      []error // per vendor, in order
		wantCalls []int
		wantTries []string
		wantErrOf int // index of the vendor whose error is returned, -1 for nil
	}{
		{"first accepts", []error{nil, nil}, []int{1, 0}, []string{"a:sent"}, -1},
		{"not sent moves on", []error{kindErr("a", notSent), nil}, []int{1, 1}, []string{"a:not_sent", "b:sent"}, -1},
		{"refusal stops", []error{kindErr("a", application.SMSRefused), nil}, []int{1, 0}, []string{"a:refused"}, 0},
		{"uncertain stops", []error{kindErr("a", application.SMSUncertain), nil}, []int{1, 0}, []string{"a:uncertain"}, 0},
		{"all not sent returns the last", []error{kindErr("a", notSent), kindErr("b", notSent)}, []int{1, 1}, []string{"a:not_sent", "b:not_sent"}, 1},
		{"refusal after a not sent is returned", []error{kindErr("a", notSent), kindErr("b", application.SMSRefused)}, []int{1, 1}, []string{"a:not_sent", "b:refused"}, 1},
		{"a plain error is uncertain and stops", []error{errors.New("boom"), nil}, []int{1, 0}, []string{"a:uncertain"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := []*vendor{{name: "a", err: tt.errs[0]}, {name: "b", err: tt.errs[1]}}
			rec := &smstest.Recorder{}
			core, logs := observer.New(zapcore.DebugLevel)
			s := failover.New(zap.New(core), vs[0], vs[1]).WithObserver(rec)

			err := s.SendCode(context.Background(), phone, code, 5*time.Minute)

			for i, v := range vs {
				if v.calls != tt.wantCalls[i] {
					t.Errorf("vendor %s called %d times, want %d", v.name, v.calls, tt.wantCalls[i])
				}
			}
			if got := rec.String(); got != strings.Join(tt.wantTries, " ") {
				t.Errorf("observed %q, want %v", got, tt.wantTries)
			}
			if tt.wantErrOf < 0 {
				if err != nil {
					t.Fatalf("SendCode = %v, want nil", err)
				}
			} else {
				var se *application.SMSError
				if !errors.As(err, &se) {
					t.Fatalf("SendCode = %v, want an *SMSError", err)
				}
				if se.Vendor != vs[tt.wantErrOf].name {
					t.Errorf("returned the error of %q, want %q", se.Vendor, vs[tt.wantErrOf].name)
				}
				if want, ok := tt.errs[tt.wantErrOf].(*application.SMSError); ok && se != want {
					t.Errorf("returned %v, want the vendor's own *SMSError", se)
				}
			}

			entries := logs.FilterMessage("sms attempt").All()
			if len(entries) != len(tt.wantTries) {
				t.Fatalf("%d attempt log lines, want %d", len(entries), len(tt.wantTries))
			}
			for i, e := range entries {
				f := e.ContextMap()
				if got := f["vendor"].(string) + ":" + f["outcome"].(string); got != tt.wantTries[i] {
					t.Errorf("log line %d says %s, want %s", i, got, tt.wantTries[i])
				}
				if f["phone"] != phone.Masked() {
					t.Errorf("log line %d phone = %v, want masked", i, f["phone"])
				}
				for k, v := range f {
					if s, ok := v.(string); ok && strings.Contains(s, code) {
						t.Errorf("log field %s leaks the code", k)
					}
				}
			}
		})
	}
}

func TestThreeVendorsInOrder(t *testing.T) {
	var order []string
	mk := func(name string, err error) *vendor {
		v := &vendor{name: name, err: err}
		v.onTry = func() { order = append(order, name) }
		return v
	}
	s := failover.New(nil,
		mk("cloopen", kindErr("cloopen", application.SMSNotSent)),
		mk("aliyun", kindErr("aliyun", application.SMSNotSent)),
		mk("twilio", nil))
	if err := s.SendCode(context.Background(), phone, code, time.Minute); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "cloopen,aliyun,twilio" {
		t.Errorf("order = %v", order)
	}
	if s.Name() != "cloopen,aliyun,twilio" {
		t.Errorf("Name() = %q", s.Name())
	}
}

func TestStopsWhenTheCallerGaveUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &vendor{name: "a", err: kindErr("a", application.SMSNotSent)}
	a.onTry = cancel
	b := &vendor{name: "b"}
	err := failover.New(nil, a, b).SendCode(ctx, phone, code, time.Minute)
	var se *application.SMSError
	if !errors.As(err, &se) || se.Vendor != "a" {
		t.Fatalf("SendCode = %v, want a's error", err)
	}
	if b.calls != 0 {
		t.Error("tried the next vendor after the context was cancelled")
	}
}

func TestNoVendors(t *testing.T) {
	err := failover.New(nil).SendCode(context.Background(), phone, code, time.Minute)
	var se *application.SMSError
	if !errors.As(err, &se) || se.Kind != application.SMSNotSent {
		t.Fatalf("SendCode = %v, want SMSNotSent", err)
	}
}

// TestAttemptLineMasksVendorText: vendors echo the number in their texts
// and errors; the attempt line masks each run of seven or more digits, and
// the error returned keeps the text verbatim for the client.
func TestAttemptLineMasksVendorText(t *testing.T) {
	const text = "号码 15850551102 无效 (ref 20261130123456789, code 160042)"
	refused := &application.SMSError{Vendor: "a", Kind: application.SMSRefused, Code: "160042", Message: text, Err: errors.New("vendor refused")}
	notSent := &application.SMSError{Vendor: "b", Kind: application.SMSNotSent, Err: errors.New(`HTTP 503, body "busy: +8615850551102"`)}
	core, logs := observer.New(zapcore.DebugLevel)
	err := failover.New(zap.New(core), &vendor{name: "b", err: notSent}, &vendor{name: "a", err: refused}).
		SendCode(context.Background(), phone, code, time.Minute)
	var se *application.SMSError
	if !errors.As(err, &se) || se.Message != text {
		t.Fatalf("SendCode = %v, want the refusal with its text verbatim", err)
	}
	lines := logs.FilterMessage("sms attempt").All()
	if len(lines) != 2 {
		t.Fatalf("%d attempt lines, want 2", len(lines))
	}
	if got, want := lines[0].ContextMap()["cause"], `HTTP 503, body "busy: +*************"`; got != want {
		t.Errorf("cause = %v, want %s", got, want)
	}
	if got, want := lines[1].ContextMap()["vendor_message"], "号码 *********** 无效 (ref *****************, code 160042)"; got != want {
		t.Errorf("vendor_message = %v, want %s", got, want)
	}
}
