package crypto

import (
	"time"

	"github.com/google/wire"

	"github.com/phoneauth/phoneauth/application"
)

// Config is this package's slice of the configuration: the keys and the
// session tokens' lifetime. A key left empty is read from its file in the
// KeyDir, or generated there on first run (LoadOrCreateKey).
type Config struct {
	PasswordKey string `env:"PASSWORD_KEY"`
	// PasswordOldKeys are earlier password keys, still opening what they
	// sealed after a rotation.
	PasswordOldKeys []string      `env:"PASSWORD_OLD_KEYS" envSeparator:","`
	TokenKey        string        `env:"TOKEN_KEY"`
	CodeHMACKey     string        `env:"CODE_HMAC_KEY"`
	TokenTTL        time.Duration `env:"TOKEN_TTL" envDefault:"168h"`
}

// KeyDir is the directory holding the keys the configuration leaves
// empty (DATA_DIR).
type KeyDir string

// ProviderSet offers Wire the password vault, the code hasher and the
// token issuer, built from Config and KeyDir, as the application's ports.
var ProviderSet = wire.NewSet(
	LoadVault, wire.Bind(new(application.PasswordVault), new(*Vault)),
	LoadCodeHasher, wire.Bind(new(application.CodeHasher), new(*CodeHasher)),
	LoadTokenIssuer, wire.Bind(new(application.TokenIssuer), new(*TokenIssuer)),
)

// LoadVault builds the vault over PASSWORD_KEY (or its file), opening
// with PASSWORD_OLD_KEYS too.
func LoadVault(cfg Config, dir KeyDir) (*Vault, error) {
	current, err := LoadOrCreateKey("PASSWORD_KEY", cfg.PasswordKey, string(dir), "password.key")
	if err != nil {
		return nil, err
	}
	var old [][]byte
	for _, k := range cfg.PasswordOldKeys {
		key, err := DecodeKey("PASSWORD_OLD_KEYS", k, KeySize)
		if err != nil {
			return nil, err
		}
		old = append(old, key)
	}
	return NewVault(current, old...)
}

// LoadCodeHasher builds the code hasher over CODE_HMAC_KEY (or its file).
func LoadCodeHasher(cfg Config, dir KeyDir) (*CodeHasher, error) {
	key, err := LoadOrCreateKey("CODE_HMAC_KEY", cfg.CodeHMACKey, string(dir), "code_hmac.key")
	if err != nil {
		return nil, err
	}
	return NewCodeHasher(key), nil
}

// LoadTokenIssuer builds the token issuer over TOKEN_KEY (or its file),
// issuing tokens that live TOKEN_TTL.
func LoadTokenIssuer(cfg Config, dir KeyDir) (*TokenIssuer, error) {
	key, err := LoadOrCreateKey("TOKEN_KEY", cfg.TokenKey, string(dir), "token.key")
	if err != nil {
		return nil, err
	}
	return NewTokenIssuer(key, cfg.TokenTTL), nil
}
