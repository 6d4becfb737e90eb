package memory

import (
	"github.com/google/wire"
	"go.uber.org/zap"
)

// Config is the in-memory tables' slice of the configuration.
type Config struct {
	// MaxEntries bounds the rate-limit and the lockout table each
	// (MEMORY_MAX_ENTRIES; DefaultMaxEntries if <= 0).
	MaxEntries int
	// NonceCapacity bounds the login nonces (LOGIN_NONCE_CAPACITY;
	// DefaultNonceCapacity if <= 0).
	NonceCapacity int
}

// ProviderSet gives the wiring the three tables, each bounded by its part
// of a Config.
var ProviderSet = wire.NewSet(ProvideRateLimits, ProvideLockouts, ProvideNonces)

// ProvideRateLimits is NewRateLimits bounded by cfg.MaxEntries.
func ProvideRateLimits(cfg Config, log *zap.Logger) *RateLimits {
	return NewRateLimits(cfg.MaxEntries, log)
}

// ProvideLockouts is NewLockouts bounded by cfg.MaxEntries.
func ProvideLockouts(cfg Config, log *zap.Logger) *Lockouts {
	return NewLockouts(cfg.MaxEntries, log)
}

// ProvideNonces is NewNonces bounded by cfg.NonceCapacity.
func ProvideNonces(cfg Config, log *zap.Logger) *Nonces {
	return NewNonces(cfg.NonceCapacity, log)
}
