// Package capture is an SMS sender for tests and benchmarks: it sends
// nothing and remembers the last code per phone, so that a test can read
// the code a user would have received and continue the registration.
package capture

import (
	"context"
	"sync"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Name is the name the sender reports.
const Name = "capture"

// Sender records codes. It is safe for concurrent use.
type Sender struct {
	mu    sync.Mutex
	codes map[string]string
	sends int
	fail  error
	hook  func(phone domain.PhoneNumber, code string)
}

var _ application.SMSSender = (*Sender)(nil)

// New returns an empty Sender.
func New() *Sender {
	return &Sender{codes: map[string]string{}}
}

// Name returns "capture".
func (s *Sender) Name() string { return Name }

// SendCode records code as the phone's last code, calls the hook if one is
// set, and returns nil, unless Fail set an error: then nothing is recorded
// and that error is returned.
func (s *Sender) SendCode(_ context.Context, phone domain.PhoneNumber, code string, _ time.Duration) error {
	s.mu.Lock()
	if s.fail != nil {
		err := s.fail
		s.mu.Unlock()
		return err
	}
	s.codes[phone.E164()] = code
	s.sends++
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(phone, code)
	}
	return nil
}

// Code returns the last code sent to phoneE164 (+8615850551102).
func (s *Sender) Code(phoneE164 string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[phoneE164]
	return c, ok
}

// Sends is how many codes were recorded.
func (s *Sender) Sends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sends
}

// OnSend sets a function called after each recorded send (nil removes it);
// it runs on the sender's goroutine, outside the Sender's lock.
func (s *Sender) OnSend(fn func(phone domain.PhoneNumber, code string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// Fail makes the following sends return err (use an *application.SMSError
// to play a vendor's refusal or outage); Fail(nil) restores success.
func (s *Sender) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}
