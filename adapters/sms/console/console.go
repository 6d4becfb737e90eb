// Package console is the development SMS provider: it sends nothing and
// logs the code, so that a developer can register without a vendor
// account. It is the only place in the service where a code may be logged
// (docs/api.md, Configuration: SMS_PROVIDER), which is why it warns loudly
// when it is built.
package console

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Name is the provider name in SMS_PROVIDER.
const Name = "console"

// Sender logs codes instead of sending them.
type Sender struct {
	log *zap.Logger
}

var _ application.SMSSender = (*Sender)(nil)

// New returns a console Sender and logs, once, that no SMS will leave the
// machine.
func New(log *zap.Logger) *Sender {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named(Name)
	log.Warn("console SMS provider: no SMS leaves this machine; codes are written to this log (development only, set SMS_PROVIDER for production)")
	return &Sender{log: log}
}

// Name returns "console".
func (s *Sender) Name() string { return Name }

// SendCode logs the masked phone and the code, and always succeeds.
func (s *Sender) SendCode(_ context.Context, phone domain.PhoneNumber, code string, ttl time.Duration) error {
	s.log.Info("console SMS: verification code (not sent)",
		zap.String("phone", phone.Masked()),
		zap.String("code", code),
		zap.Duration("ttl", ttl))
	return nil
}
