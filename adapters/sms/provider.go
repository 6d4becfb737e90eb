// Package sms chooses the SMS vendors from configuration. Each vendor is one
// package under adapters/sms implementing application.SMSSender; New is the
// one place that maps a provider name to its constructor, and it wraps the
// chosen vendors in a failover chain (package failover), which also logs
// one line per attempt.
package sms

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/wire"
	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/sms/aliyun"
	"github.com/phoneauth/phoneauth/adapters/sms/cloopen"
	"github.com/phoneauth/phoneauth/adapters/sms/console"
	"github.com/phoneauth/phoneauth/adapters/sms/failover"
	"github.com/phoneauth/phoneauth/adapters/sms/twilio"
	"github.com/phoneauth/phoneauth/application"
)

// Config selects and configures the vendors. SMS_PROVIDER is a
// comma-separated list tried in order ("cloopen,aliyun"); only the listed
// vendors' variables are needed.
type Config struct {
	Providers []string `env:"SMS_PROVIDER" envSeparator:"," envDefault:"console"`
	Cloopen   cloopen.Config
	Aliyun    aliyun.Config
	Twilio    twilio.Config
}

// provider builds one vendor's sender from the configuration.
type provider struct {
	validate func(Config) error
	build    func(Config, *zap.Logger) (failover.NamedSender, error)
}

// providers is the registry of vendors: adding one is a package and a line
// here.
var providers = map[string]provider{
	console.Name: {
		validate: func(Config) error { return nil },
		build: func(_ Config, log *zap.Logger) (failover.NamedSender, error) {
			return console.New(log), nil
		},
	},
	cloopen.Name: {
		validate: func(c Config) error { return c.Cloopen.Validate() },
		build: func(c Config, log *zap.Logger) (failover.NamedSender, error) {
			return cloopen.New(c.Cloopen, log, nil)
		},
	},
	aliyun.Name: {
		validate: func(c Config) error { return c.Aliyun.Validate() },
		build: func(c Config, log *zap.Logger) (failover.NamedSender, error) {
			return aliyun.New(c.Aliyun, log)
		},
	},
	twilio.Name: {
		validate: func(c Config) error { return c.Twilio.Validate() },
		build: func(c Config, log *zap.Logger) (failover.NamedSender, error) {
			return twilio.New(c.Twilio, log, nil)
		},
	},
}

// Names returns SMS_PROVIDER's entries trimmed and lower-cased, without
// empty ones.
func (c Config) Names() []string {
	var names []string
	for _, n := range c.Providers {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// Validate checks SMS_PROVIDER and the variables of every vendor it lists,
// naming the first variable at fault.
func (c Config) Validate() error {
	names := c.Names()
	if len(names) == 0 {
		return fmt.Errorf("SMS_PROVIDER is empty: set console for development or vendors in order, such as cloopen,aliyun")
	}
	seen := map[string]bool{}
	for _, n := range names {
		p, ok := providers[n]
		if !ok {
			return fmt.Errorf("SMS_PROVIDER: unknown provider %q (known: %s)", n, strings.Join(known(), ", "))
		}
		if seen[n] {
			return fmt.Errorf("SMS_PROVIDER: %q is listed twice", n)
		}
		seen[n] = true
		if n == console.Name && len(names) > 1 {
			// A console fallback would quietly log codes instead of
			// sending them whenever a real vendor is down.
			return fmt.Errorf("SMS_PROVIDER: console cannot be combined with other providers")
		}
		if err := p.validate(c); err != nil {
			return err
		}
	}
	return nil
}

// New builds the sender that SMS_PROVIDER asks for: the listed vendors
// behind a failover chain, in order. An unknown name or a missing variable
// is an error naming the variable. log is used as given (name it "sms");
// each vendor logs under its own name beneath it.
func New(cfg Config, log *zap.Logger) (application.SMSSender, error) {
	return NewWithObserver(cfg, log, nil)
}

// NewWithObserver is New with every attempt also reported to obs (for
// metrics); nil means none.
func NewWithObserver(cfg Config, log *zap.Logger, obs failover.AttemptObserver) (application.SMSSender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	var senders []failover.NamedSender
	for _, n := range cfg.Names() {
		s, err := providers[n].build(cfg, log)
		if err != nil {
			return nil, fmt.Errorf("SMS_PROVIDER %s: %w", n, err)
		}
		senders = append(senders, s)
	}
	log.Info("SMS providers", zap.Strings("providers", cfg.Names()))
	return failover.New(log, senders...).WithObserver(obs), nil
}

// ProviderSet offers Wire the SMS sender (Provide), fed this package's
// Config; the injector supplies the Preset and the attempt observer.
var ProviderSet = wire.NewSet(Provide)

// Preset is a sender handed to the injector to use instead of the vendors
// (tests and the benchmark capture codes with one); the zero Preset means
// the vendors SMS_PROVIDER names.
type Preset struct{ Sender application.SMSSender }

// Provide is the sender of the service: the preset one if there is one,
// without building any vendor; otherwise the vendors SMS_PROVIDER names
// (NewWithObserver), logging under "sms" and reporting every attempt to obs.
func Provide(cfg Config, preset Preset, log *zap.Logger, obs failover.AttemptObserver) (application.SMSSender, error) {
	if preset.Sender != nil {
		return preset.Sender, nil
	}
	return NewWithObserver(cfg, log.Named("sms"), obs)
}

func known() []string {
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
