package phoneauth

import (
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/bolt"
	"github.com/phoneauth/phoneauth/adapters/clock"
	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/adapters/memory"
	"github.com/phoneauth/phoneauth/adapters/metrics"
	"github.com/phoneauth/phoneauth/adapters/mongo"
	"github.com/phoneauth/phoneauth/adapters/sms"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Overrides replaces adapters that tests and benchmarks must control;
// nil fields mean the configured adapter.
type Overrides struct {
	SMS   application.SMSSender
	Clock application.Clock
}

// provideClock is the one clock of the service: the wall clock, unless
// the caller handed in another.
func provideClock(o Overrides, wall clock.System) application.Clock {
	if o.Clock != nil {
		return o.Clock
	}
	return wall
}

// provideSMSPreset hands the SMS adapter the sender the caller chose, if
// any, to use instead of the vendors SMS_PROVIDER names.
func provideSMSPreset(o Overrides) sms.Preset { return sms.Preset{Sender: o.SMS} }

func providePolicy(cfg Config) application.Policy {
	return application.Policy{
		CodeTTL:            cfg.SMSCodeTTL,
		ResendInterval:     cfg.SMSResendInterval,
		DailyLimitPerPhone: cfg.SMSDailyLimitPerPhone,
		HourlyLimitPerIP:   cfg.SMSHourlyLimitPerIP,
		HourlyLimitGlobal:  cfg.SMSHourlyLimitGlobal,
		AllowedCountries:   cfg.SMSAllowedCountryCodes,
		CodeMaxAttempts:    cfg.CodeMaxAttempts,
		RegistrationTTL:    cfg.RegistrationTTL,
		Password:           domain.PasswordPolicy{MinLength: cfg.PasswordMinLength, MaxLength: cfg.PasswordMaxLength},
		LoginTimeWindow:    cfg.LoginTimeWindow,
		LoginMaxFailures:   cfg.LoginMaxFailures,
		LoginLockout:       cfg.LoginLockout,
		Binding:            cfg.RegistrationBinding,

		FailuresHourlyPerNet:       cfg.FailuresHourlyPerIP,
		CodeDailyFailuresPerPhone:  cfg.CodeDailyFailuresPerPhone,
		CodeHourlyFailuresGlobal:   cfg.CodeHourlyFailuresGlobal,
		LoginHourlyLimitPerAccount: cfg.LoginHourlyLimitPerAccount,

		AccessTTL:         cfg.TokenTTL,
		RefreshTTL:        cfg.RefreshTokenTTL,
		RefreshReuseGrace: cfg.RefreshReuseGrace,
	}
}

// provideAlarms logs what needs an operator at ERROR, once per event.
func provideAlarms(log *zap.Logger) application.Alarms { return logAlarms{log.Named("alarm")} }

type logAlarms struct{ log *zap.Logger }

func (a logAlarms) CodeFailuresBudgetSpent(budget int, until time.Time) {
	a.log.Error("wrong codes reached the deployment's hourly budget: someone is guessing codes across numbers; code checks answer 429 until the window ends",
		zap.Int("budget", budget), zap.Time("until", until))
}

// provideKeyDir keeps the keys the configuration leaves empty in DATA_DIR.
func provideKeyDir(cfg Config) crypto.KeyDir { return crypto.KeyDir(cfg.DataDir) }

// provideHTTPConfig serves /metrics on the main listener unless
// METRICS_ADDR gives metrics their own (Service.Serve runs that one), and
// the public keys of the session tokens, and the demo page when DEMO_PAGE
// asks for it.
func provideHTTPConfig(cfg Config, m *metrics.Metrics, t *crypto.Tokens) httpapi.Config {
	hc := httpapi.Config{
		TrustedProxies: cfg.TrustedProxies,
		ReadTimeout:    cfg.HTTPReadTimeout,
		WriteTimeout:   cfg.HTTPWriteTimeout,
		IdleTimeout:    cfg.HTTPIdleTimeout,
		Observer:       m,
		OpenAPI:        OpenAPIDocument,
		JWKS:           t.JWKS(),
		PathPrefix:     cfg.HTTPPathPrefix,
		DemoPage:       cfg.DemoPage,
	}
	if cfg.MetricsAddr == "" {
		hc.Metrics = m.Handler()
	}
	return hc
}

// provideBoltConfig: the embedded store is one bbolt file under DATA_DIR.
func provideBoltConfig(cfg Config) bolt.Config {
	return bolt.Config{Path: filepath.Join(cfg.DataDir, "phoneauth.db")}
}

// provideMemoryConfig bounds the counters a single node may keep in
// memory (docs/design.md, Durable and ephemeral state): losing them in a
// crash weakens an abuse limit for one window.
func provideMemoryConfig(cfg Config) memory.Config {
	return memory.Config{MaxEntries: cfg.MemoryMaxEntries, NonceCapacity: cfg.LoginNonceCapacity}
}

// The storage ports reach the use cases through the metrics' timing
// decorators, in both injectors.
func provideBoltUsers(s *bolt.Store, m *metrics.Metrics) application.Users {
	return m.Users(s.Users())
}
func provideBoltPending(s *bolt.Store, m *metrics.Metrics) application.PendingRegistrations {
	return m.PendingRegistrations(s.PendingRegistrations())
}
func provideBoltPendingCodes(s *bolt.Store, m *metrics.Metrics) application.PendingCodes {
	return m.PendingCodes(s.PendingCodes())
}
func provideBoltSessions(s *bolt.Store, m *metrics.Metrics) application.Sessions {
	return m.Sessions(s.Sessions())
}
func provideRateLimits(l *memory.RateLimits, m *metrics.Metrics) application.RateLimits {
	return m.RateLimits(l)
}
func provideLockouts(l *memory.Lockouts, m *metrics.Metrics) application.Lockouts {
	return m.Lockouts(l)
}
func provideNonces(n *memory.Nonces, m *metrics.Metrics) application.Nonces {
	return m.Nonces(n)
}

// The sweepers: each store's own DeleteExpired covers every kind of
// record it keeps with an expiry (pending registrations and codes,
// sessions; on MongoDB the counters too).
func provideEmbeddedSweeper(cfg Config, c application.Clock, s *bolt.Store, l *memory.RateLimits, k *memory.Lockouts, n *memory.Nonces, log *zap.Logger) *application.Sweeper {
	return newSweeper(cfg, c, log, s, l, k, n)
}

func provideBoltReadiness(s *bolt.Store) httpapi.Readiness { return s.Ping }

func newSweeper(cfg Config, c application.Clock, log *zap.Logger, expirers ...application.Expirer) *application.Sweeper {
	l := log.Named("sweeper")
	return application.NewSweeper(c, cfg.SweepInterval, func(err error) {
		l.Warn("sweep failed; next tick retries", zap.Error(err))
	}, expirers...)
}

// provideMongoConfig: MONGO_URI; an unreachable server stops the start.
func provideMongoConfig(cfg Config) mongo.Config {
	return mongo.Config{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Timeout: cfg.MongoTimeout}
}

func provideMongoUsers(s *mongo.Store, m *metrics.Metrics) application.Users {
	return m.Users(s.Users())
}
func provideMongoPending(s *mongo.Store, m *metrics.Metrics) application.PendingRegistrations {
	return m.PendingRegistrations(s.PendingRegistrations())
}
func provideMongoPendingCodes(s *mongo.Store, m *metrics.Metrics) application.PendingCodes {
	return m.PendingCodes(s.PendingCodes())
}
func provideMongoSessions(s *mongo.Store, m *metrics.Metrics) application.Sessions {
	return m.Sessions(s.Sessions())
}
func provideMongoRateLimits(s *mongo.Store, m *metrics.Metrics) application.RateLimits {
	return m.RateLimits(s.RateLimits())
}
func provideMongoLockouts(s *mongo.Store, m *metrics.Metrics) application.Lockouts {
	return m.Lockouts(s.Lockouts())
}
func provideMongoNonces(s *mongo.Store, m *metrics.Metrics) application.Nonces {
	return m.Nonces(s.Nonces())
}
func provideMongoReadiness(s *mongo.Store) httpapi.Readiness { return s.Ping }

func provideMongoSweeper(cfg Config, c application.Clock, s *mongo.Store, log *zap.Logger) *application.Sweeper {
	return newSweeper(cfg, c, log, s)
}
