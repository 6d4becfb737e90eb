// Package failover sends through a list of SMS vendors in order, moving to
// the next one only when the previous one certainly did not send: the
// request never left, or the vendor answered HTTP 503 or 429, which its
// adapter reports as application.SMSNotSent. A definite refusal stops
// the chain (the vendor's text is for the client, and another vendor would
// likely refuse too or bypass the first one's limits), and so does an
// uncertain outcome (a timeout after the request went out, any other HTTP
// 5xx, an unreadable answer): the SMS may be on its way, and a second vendor could deliver the
// code twice.
package failover

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// NamedSender is an SMS vendor adapter that can say which vendor it is.
type NamedSender interface {
	application.SMSSender
	Name() string
}

// AttemptObserver is told about every attempt, for metrics (a Prometheus
// counter labelled by vendor and outcome, say). It must be cheap and safe
// for concurrent use.
type AttemptObserver interface {
	SMSAttempt(vendor, outcome string)
}

// Outcomes passed to AttemptObserver and logged.
const (
	OutcomeSent      = "sent"
	OutcomeRefused   = "refused"
	OutcomeNotSent   = "not_sent"
	OutcomeUncertain = "uncertain"
)

// Sender implements application.SMSSender over an ordered list of vendors.
type Sender struct {
	log     *zap.Logger
	senders []NamedSender
	obs     AttemptObserver
}

var _ application.SMSSender = (*Sender)(nil)

// New returns a Sender trying senders in the given order and logging each
// attempt to log (named by the caller, "sms" say). Attempts are not counted
// anywhere until WithObserver sets an observer.
func New(log *zap.Logger, senders ...NamedSender) *Sender {
	if log == nil {
		log = zap.NewNop()
	}
	return &Sender{log: log, senders: senders, obs: nopObserver{}}
}

// WithObserver returns a copy of s that reports each attempt to obs (nil
// means none).
func (s *Sender) WithObserver(obs AttemptObserver) *Sender {
	c := *s
	c.obs = obs
	if obs == nil {
		c.obs = nopObserver{}
	}
	return &c
}

// Name lists the vendors in order, "cloopen,aliyun".
func (s *Sender) Name() string {
	names := make([]string, len(s.senders))
	for i, v := range s.senders {
		names[i] = v.Name()
	}
	return strings.Join(names, ",")
}

// SendCode tries each vendor in turn until one accepts, and moves on only
// after an SMSNotSent. It returns nil or the last vendor's *SMSError; an
// error that is not an *SMSError counts as SMSUncertain, since nothing is
// known about it.
func (s *Sender) SendCode(ctx context.Context, phone domain.PhoneNumber, code string, ttl time.Duration) error {
	if len(s.senders) == 0 {
		return &application.SMSError{Vendor: "none", Kind: application.SMSNotSent, Err: errors.New("no SMS vendor configured")}
	}
	var last *application.SMSError
	for i, v := range s.senders {
		if i > 0 && ctx.Err() != nil {
			// The caller gave up; its deadline has passed for the
			// next vendor too.
			s.log.Warn("sms failover stopped: request context done",
				zap.String("phone", phone.Masked()), zap.String("next_vendor", v.Name()), zap.Error(ctx.Err()))
			break
		}
		start := time.Now()
		err := v.SendCode(ctx, phone, code, ttl)
		fields := []zap.Field{
			zap.String("vendor", v.Name()),
			zap.Int("attempt", i+1),
			zap.String("phone", phone.Masked()),
			zap.Duration("took", time.Since(start)),
		}
		if err == nil {
			s.obs.SMSAttempt(v.Name(), OutcomeSent)
			s.log.Info("sms attempt", append(fields, zap.String("outcome", OutcomeSent))...)
			return nil
		}
		last = asSMSError(v.Name(), err)
		outcome := outcomeOf(last.Kind)
		s.obs.SMSAttempt(v.Name(), outcome)
		fields = append(fields, zap.String("outcome", outcome))
		if last.Code != "" {
			fields = append(fields, zap.String("vendor_code", last.Code))
		}
		// Vendors echo the number in their texts: long digit runs are
		// masked here, the one line per attempt that reaches the log.
		if last.Message != "" {
			fields = append(fields, zap.String("vendor_message", domain.MaskDigitRuns(last.Message)))
		}
		if last.Err != nil {
			fields = append(fields, zap.String("cause", domain.MaskDigitRuns(last.Err.Error())))
		}
		next := last.Kind == application.SMSNotSent && i+1 < len(s.senders)
		if next {
			fields = append(fields, zap.String("next_vendor", s.senders[i+1].Name()))
		}
		s.log.Warn("sms attempt", fields...)
		if last.Kind != application.SMSNotSent {
			return last
		}
	}
	return last
}

func asSMSError(vendor string, err error) *application.SMSError {
	var se *application.SMSError
	if errors.As(err, &se) {
		return se
	}
	return &application.SMSError{Vendor: vendor, Kind: application.SMSUncertain, Err: err}
}

func outcomeOf(k application.SMSErrorKind) string {
	switch k {
	case application.SMSRefused:
		return OutcomeRefused
	case application.SMSNotSent:
		return OutcomeNotSent
	default:
		return OutcomeUncertain
	}
}

type nopObserver struct{}

func (nopObserver) SMSAttempt(string, string) {}
