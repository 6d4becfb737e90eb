package crypto

import (
	"github.com/google/wire"

	"github.com/phoneauth/phoneauth/application"
)

// Config is this package's slice of the configuration: the keys. A key
// left empty is read from its file in the KeyDir, or generated there on
// first run (LoadOrCreateKey, LoadOrCreateSigningKeys).
type Config struct {
	PasswordKey string `env:"PASSWORD_KEY"`
	// PasswordOldKeys are earlier password keys, still opening what they
	// sealed after a rotation.
	PasswordOldKeys []string `env:"PASSWORD_OLD_KEYS" envSeparator:","`
	// TokenKey is the server secret the refresh tokens are authenticated
	// under (through a key derived from it).
	TokenKey    string `env:"TOKEN_KEY"`
	CodeHMACKey string `env:"CODE_HMAC_KEY"`
	// TokenSigningKeys is the comma-separated list of base64 Ed25519
	// private keys of the access tokens, as ParseSigningKeys reads it: the
	// first signs, all verify and are published in the JWKS.
	TokenSigningKeys string `env:"TOKEN_SIGNING_KEYS"`
}

// KeyDir is the directory holding the keys the configuration leaves
// empty (DATA_DIR).
type KeyDir string

// ProviderSet offers Wire the password vault, the code hasher and the
// session tokens, built from Config and KeyDir, as the application's
// ports.
var ProviderSet = wire.NewSet(
	LoadVault, wire.Bind(new(application.PasswordVault), new(*Vault)),
	LoadCodeHasher, wire.Bind(new(application.CodeHasher), new(*CodeHasher)),
	LoadTokens, wire.Bind(new(application.Tokens), new(*Tokens)),
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

// LoadTokens builds the session tokens: access tokens signed under
// TOKEN_SIGNING_KEYS (or the one key of its file, token_signing.key),
// refresh tokens authenticated under TOKEN_KEY (or its file, token.key).
func LoadTokens(cfg Config, dir KeyDir) (*Tokens, error) {
	signing, err := LoadOrCreateSigningKeys("TOKEN_SIGNING_KEYS", cfg.TokenSigningKeys, string(dir), "token_signing.key")
	if err != nil {
		return nil, err
	}
	secret, err := LoadOrCreateKey("TOKEN_KEY", cfg.TokenKey, string(dir), "token.key")
	if err != nil {
		return nil, err
	}
	return NewTokens(signing, secret)
}
