// Package phoneauth is the composition root: the configuration, the Wire
// injectors (wire.go, generated wire_gen.go) and the providers that are
// the one place knowing every concrete type.
package phoneauth

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
	"go.uber.org/zap/zapcore"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/adapters/sms"
	"github.com/phoneauth/phoneauth/domain"
)

// Config is the service's configuration (docs/api.md, Configuration;
// the README's table lists every variable), read from the environment (and
// a .env file if one exists). Secrets are never printed: Config has no String method that
// would show them, and errors name variables, not values of secrets.
type Config struct {
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// HTTPPathPrefix serves every route under it as well as at its own
	// path (/api/v1_1, where the origin backend's clients point).
	HTTPPathPrefix string        `env:"HTTP_PATH_PREFIX"`
	MetricsAddr    string        `env:"METRICS_ADDR"`
	MongoURI       string        `env:"MONGO_URI"`
	MongoDatabase  string        `env:"MONGO_DATABASE" envDefault:"phoneauth"`
	MongoTimeout   time.Duration `env:"MONGO_TIMEOUT" envDefault:"5s"`
	DataDir        string        `env:"DATA_DIR" envDefault:"./data"`
	LogLevel       zapcore.Level `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat      string        `env:"LOG_FORMAT" envDefault:"json"`
	// DemoPage serves the demo page at /demo (make run sets it; off in
	// production unless asked for).
	DemoPage bool `env:"DEMO_PAGE" envDefault:"false"`

	SMS sms.Config

	SMSCodeTTL             time.Duration           `env:"SMS_CODE_TTL" envDefault:"5m"`
	SMSResendInterval      time.Duration           `env:"SMS_RESEND_INTERVAL" envDefault:"60s"`
	SMSDailyLimitPerPhone  int                     `env:"SMS_DAILY_LIMIT_PER_PHONE" envDefault:"10"`
	SMSHourlyLimitPerIP    int                     `env:"SMS_HOURLY_LIMIT_PER_IP" envDefault:"20"`
	SMSHourlyLimitGlobal   int                     `env:"SMS_HOURLY_LIMIT_GLOBAL" envDefault:"1000"`
	SMSAllowedCountryCodes domain.CountryAllowList `env:"SMS_ALLOWED_COUNTRY_CODES" envDefault:"86"`
	CodeMaxAttempts        int                     `env:"CODE_MAX_ATTEMPTS" envDefault:"5"`
	RegistrationTTL        time.Duration           `env:"REGISTRATION_TTL" envDefault:"30m"`
	PasswordMinLength      int                     `env:"PASSWORD_MIN_LENGTH" envDefault:"8"`
	PasswordMaxLength      int                     `env:"PASSWORD_MAX_LENGTH" envDefault:"64"`
	LoginTimeWindow        time.Duration           `env:"LOGIN_TIME_WINDOW" envDefault:"300s"`
	LoginMaxFailures       int                     `env:"LOGIN_MAX_FAILURES" envDefault:"5"`
	LoginLockout           time.Duration           `env:"LOGIN_LOCKOUT" envDefault:"15m"`
	// The failure limits and the cap on successful logins; 0 switches
	// each off (docs/limits.md).
	FailuresHourlyPerIP        int `env:"FAILURES_HOURLY_PER_IP" envDefault:"50"`
	CodeDailyFailuresPerPhone  int `env:"CODE_DAILY_FAILURES_PER_PHONE" envDefault:"10"`
	CodeHourlyFailuresGlobal   int `env:"CODE_HOURLY_FAILURES_GLOBAL" envDefault:"2000"`
	LoginHourlyLimitPerAccount int `env:"LOGIN_HOURLY_LIMIT_PER_ACCOUNT" envDefault:"60"`
	// Keys: PASSWORD_KEY, PASSWORD_OLD_KEYS, TOKEN_KEY, CODE_HMAC_KEY and
	// TOKEN_SIGNING_KEYS, for the cryptography adapter.
	Keys crypto.Config
	// The session tokens' lifetimes (docs/sessions.md): the access token
	// (token), the refresh token, and how long a refresh token already
	// used still answers the pair it got.
	TokenTTL          time.Duration `env:"TOKEN_TTL" envDefault:"168h"`
	RefreshTokenTTL   time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`
	RefreshReuseGrace time.Duration `env:"REFRESH_REUSE_GRACE" envDefault:"10s"`
	TrustedProxies    NetworkList   `env:"TRUSTED_PROXIES"`
	// RegistrationBinding says who may continue a verified registration:
	// network, token or off (docs/registration-binding.md).
	RegistrationBinding domain.RegistrationBinding `env:"REGISTRATION_BINDING" envDefault:"network"`

	HTTPReadTimeout  time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"10s"`
	HTTPWriteTimeout time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"10s"`
	HTTPIdleTimeout  time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"60s"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	SweepInterval    time.Duration `env:"SWEEP_INTERVAL" envDefault:"1m"`
	MemoryMaxEntries int           `env:"MEMORY_MAX_ENTRIES" envDefault:"1000000"`
	// LoginNonceCapacity bounds the embedded mode's login nonces: 20,000
	// logins/s for the 601 s a nonce lives, ~160 MB when full (see
	// memory.DefaultNonceCapacity).
	LoginNonceCapacity int `env:"LOGIN_NONCE_CAPACITY" envDefault:"12020000"`
}

// LoadConfig reads .env (if present, without overriding the real
// environment) and then the environment, and validates the result. Every
// error names the variable at fault.
func LoadConfig() (Config, error) {
	if err := godotenv.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf(".env: %w", err)
	}
	return ParseConfig(env.ToMap(os.Environ()))
}

// ParseConfig builds a Config from the given variables alone; tests use
// it instead of touching the process environment.
func ParseConfig(vars map[string]string) (Config, error) {
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		named, selfCheckedOnly := nameVariables(err, vars)
		if !selfCheckedOnly {
			return Config{}, named
		}
		// Validate reads nothing that failed: let it name the rest too.
		return Config{}, errors.Join(named, cfg.Validate())
	}
	return cfg, cfg.Validate()
}

// Validate checks what the types alone cannot.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, why string) { errs = append(errs, fmt.Errorf("%s: %s", name, why)) }
	positive := map[string]time.Duration{
		"SMS_CODE_TTL": c.SMSCodeTTL, "SMS_RESEND_INTERVAL": c.SMSResendInterval,
		"REGISTRATION_TTL": c.RegistrationTTL, "LOGIN_TIME_WINDOW": c.LoginTimeWindow,
		"LOGIN_LOCKOUT": c.LoginLockout, "TOKEN_TTL": c.TokenTTL, "MONGO_TIMEOUT": c.MongoTimeout,
		"REFRESH_TOKEN_TTL": c.RefreshTokenTTL, "REFRESH_REUSE_GRACE": c.RefreshReuseGrace,
		"HTTP_READ_TIMEOUT": c.HTTPReadTimeout, "HTTP_WRITE_TIMEOUT": c.HTTPWriteTimeout,
		"HTTP_IDLE_TIMEOUT": c.HTTPIdleTimeout, "SHUTDOWN_TIMEOUT": c.ShutdownTimeout,
		"SWEEP_INTERVAL": c.SweepInterval,
	}
	for _, name := range sortedKeys(positive) {
		if positive[name] <= 0 {
			bad(name, "must be a positive duration")
		}
	}
	if c.SMSCodeTTL > 10*time.Minute {
		bad("SMS_CODE_TTL", "must be at most 10m (OWASP ASVS 6.5.5)")
	}
	// Anyone who knows a number can lock its account with five wrong
	// guesses: a lock of days would hand every stranger a way to shut an
	// owner out for days.
	if c.LoginLockout > 24*time.Hour {
		bad("LOGIN_LOCKOUT", "must be at most 24h (anyone can lock an account)")
	}
	if c.RefreshReuseGrace > 0 && c.RefreshTokenTTL > 0 && c.RefreshReuseGrace >= c.RefreshTokenTTL {
		bad("REFRESH_REUSE_GRACE", "must be shorter than REFRESH_TOKEN_TTL")
	}
	nonNegative := map[string]int{
		"SMS_DAILY_LIMIT_PER_PHONE": c.SMSDailyLimitPerPhone, "SMS_HOURLY_LIMIT_PER_IP": c.SMSHourlyLimitPerIP,
		"SMS_HOURLY_LIMIT_GLOBAL": c.SMSHourlyLimitGlobal, "FAILURES_HOURLY_PER_IP": c.FailuresHourlyPerIP,
		"CODE_DAILY_FAILURES_PER_PHONE": c.CodeDailyFailuresPerPhone, "CODE_HOURLY_FAILURES_GLOBAL": c.CodeHourlyFailuresGlobal,
		"LOGIN_HOURLY_LIMIT_PER_ACCOUNT": c.LoginHourlyLimitPerAccount,
	}
	for _, name := range sortedKeys(nonNegative) {
		if nonNegative[name] < 0 {
			bad(name, "must be 0 (off) or more")
		}
	}
	if c.CodeMaxAttempts < 1 {
		bad("CODE_MAX_ATTEMPTS", "must be at least 1")
	}
	if c.LoginMaxFailures < 1 {
		bad("LOGIN_MAX_FAILURES", "must be at least 1")
	}
	if c.PasswordMinLength < 1 {
		bad("PASSWORD_MIN_LENGTH", "must be at least 1")
	}
	if c.PasswordMaxLength < c.PasswordMinLength {
		bad("PASSWORD_MAX_LENGTH", "must not be below PASSWORD_MIN_LENGTH")
	}
	if c.MemoryMaxEntries < 1000 {
		bad("MEMORY_MAX_ENTRIES", "must be at least 1000")
	}
	if c.LoginNonceCapacity < 1000 {
		bad("LOGIN_NONCE_CAPACITY", "must be at least 1000")
	}
	if c.MongoURI != "" {
		// Instances sharing a database must share these keys: a key
		// generated per instance would make one instance's codes,
		// passwords and tokens unreadable by the others.
		for _, k := range []struct{ name, value string }{
			{"PASSWORD_KEY", c.Keys.PasswordKey}, {"TOKEN_KEY", c.Keys.TokenKey}, {"CODE_HMAC_KEY", c.Keys.CodeHMACKey},
			{"TOKEN_SIGNING_KEYS", c.Keys.TokenSigningKeys},
		} {
			if strings.TrimSpace(k.value) == "" {
				bad(k.name, "required with MONGO_URI (every instance must use the same key; generate one with openssl rand -base64 32)")
			}
		}
	}
	// The signing keys are checked here, before anything starts, with
	// the key's place in the list; their bytes never show.
	if strings.TrimSpace(c.Keys.TokenSigningKeys) != "" {
		if _, err := crypto.ParseSigningKeys("TOKEN_SIGNING_KEYS", c.Keys.TokenSigningKeys); err != nil {
			errs = append(errs, err)
		}
	}
	if err := checkPathPrefix(c.HTTPPathPrefix); err != nil {
		bad("HTTP_PATH_PREFIX", err.Error())
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		bad("LOG_FORMAT", "want json or console")
	}
	if c.HTTPAddr == "" {
		bad("HTTP_ADDR", "must not be empty")
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		bad("MONGO_URI", "want a mongodb:// or mongodb+srv:// URI")
	}
	if err := c.SMS.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkPathPrefix accepts HTTP_PATH_PREFIX: empty, or a path that starts
// with a slash and does not end with one (/api/v1_1), made of characters
// a route may hold literally: no white space or control characters, and
// none of the characters the router reads as a parameter or a wildcard
// (':', '*', '+', '?'), nor '#' or '%'.
func checkPathPrefix(p string) error {
	if p == "" {
		return nil
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		return errors.New("must start with / (such as /api/v1_1)")
	case strings.HasSuffix(p, "/"):
		return errors.New("must not end with / (/api/v1_1, not /api/v1_1/; leave it empty for none)")
	case strings.Contains(p, "//"):
		return errors.New("must not hold an empty segment (//)")
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || strings.ContainsRune(":*+?#%", r) {
			return fmt.Errorf("must not hold %q: a path of plain segments, such as /api/v1_1", r)
		}
	}
	return nil
}

// NetworkList is TRUSTED_PROXIES: CIDRs, or single addresses, separated
// by commas, parsed once at load. An IPv4-mapped IPv6 entry
// (::ffff:10.0.0.0/104) is its IPv4 network, as the HTTP edge compares
// IPv4 clients in IPv4 form.
type NetworkList []netip.Prefix

// UnmarshalText reads the list; blank entries are skipped.
func (l *NetworkList) UnmarshalText(text []byte) error {
	var out NetworkList
	for _, s := range strings.Split(string(text), ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("%q is neither a CIDR nor an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	*l = out
	return nil
}

// selfChecked holds the configuration types that check themselves in
// full when parsed, and that Validate therefore never reads: their
// refusals say what is wrong in their own words ("NAME: why", the others'
// "NAME: invalid value: why"), and Validate still runs when only they
// were refused.
var selfChecked = map[reflect.Type]bool{
	reflect.TypeFor[domain.CountryAllowList](): true,
	reflect.TypeFor[NetworkList]():             true,
}

// nameVariables rewrites caarlos0/env's parse errors, which name the Go
// field, so that they name the environment variable the operator set. It
// also reports whether every error came from a selfChecked type.
func nameVariables(err error, vars map[string]string) (named error, selfCheckedOnly bool) {
	keys := map[string][]string{}
	collectKeys(reflect.TypeOf(Config{}), "", keys)
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err, false
	}
	selfCheckedOnly = true
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, e)
			selfCheckedOnly = false
			continue
		}
		name := strings.Join(keys[pe.Name], " or ")
		for _, k := range keys[pe.Name] {
			if _, set := vars[k]; set {
				name = k
				break
			}
		}
		if selfChecked[pe.Type] {
			out = append(out, fmt.Errorf("%s: %w", name, pe.Err))
			continue
		}
		out = append(out, fmt.Errorf("%s: invalid value: %w", name, pe.Err))
		selfCheckedOnly = false
	}
	return errors.Join(out...), selfCheckedOnly
}

func collectKeys(t reflect.Type, prefix string, keys map[string][]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("env"), ",")[0]
		if f.Type.Kind() == reflect.Struct && tag == "" {
			collectKeys(f.Type, prefix+f.Tag.Get("envPrefix"), keys)
			continue
		}
		if tag != "" {
			keys[f.Name] = append(keys[f.Name], prefix+tag)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
