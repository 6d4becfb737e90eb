package crypto

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/phoneauth/phoneauth/application"
)

// Tokens issues and checks a session's two tokens (application.Tokens).
//
// The access token is a JWT signed with Ed25519 (alg EdDSA) under the
// first signing key, with that key's thumbprint as "kid"; its claims are
// iss ("phoneauth"), sub (user id), sid (session id), gen (the account's
// session generation), iat and exp. Every signing key verifies, and every
// one is published in the JWKS, so that another service checks tokens
// without any secret and keys can rotate: put a new key first, keep the
// old one listed until the last token it signed has expired.
//
// The refresh token is not a JWT (see refresh.go): it is read only by this
// service, authenticated with HMAC-SHA-256 under a key derived from the
// server's TOKEN_KEY, and its format cannot be mistaken for an access
// token's, nor the reverse.
//
// Issuing is deterministic (Ed25519 signatures and HMACs are, and the JSON
// is always written in the same order), so the same claims give the same
// token again.
type Tokens struct {
	signKey ed25519.PrivateKey
	signKID string
	verify  map[string]ed25519.PublicKey
	jwks    []byte
	macs    sync.Pool // of hash.Hash: HMAC-SHA-256 under the refresh key
	// verified remembers the access tokens ParseAccess accepted, so that
	// a token presented again is not verified again (verified.go).
	verified verifiedTokens
}

var _ application.Tokens = (*Tokens)(nil)

// Issuer is the "iss" claim of every access token.
const Issuer = "phoneauth"

const (
	// maxIDLen bounds a user or session id in a token: ids are made by
	// the service, far shorter, and a bound keeps every token small.
	maxIDLen = 255
	// maxAccessTokenLen is the longest access token ParseAccess reads.
	// The longest it can issue (ids of maxIDLen bytes, each escaped to
	// six in JSON) is under 4,600 characters.
	maxAccessTokenLen = 8 << 10
	// refreshKeyInfo labels the refresh key derived from TOKEN_KEY, so
	// that no MAC made for refresh tokens is ever a MAC for anything else
	// made under TOKEN_KEY (the HS256 tokens of earlier versions were).
	refreshKeyInfo = "phoneauth refresh token v1"
)

// NewTokens builds Tokens over signing keys (at least one: the first
// signs, all verify and are published; see LoadOrCreateSigningKeys) and
// the server secret the refresh tokens are authenticated with (TOKEN_KEY,
// at least 32 bytes).
func NewTokens(signing []ed25519.PrivateKey, refreshSecret []byte) (*Tokens, error) {
	if len(signing) == 0 {
		return nil, errors.New("tokens: no signing key")
	}
	if len(refreshSecret) < KeySize {
		return nil, fmt.Errorf("tokens: refresh secret is %d bytes, need at least %d", len(refreshSecret), KeySize)
	}
	t := &Tokens{verify: make(map[string]ed25519.PublicKey, len(signing))}
	set := jwkSet{Keys: make([]jwk, 0, len(signing))}
	for i, k := range signing {
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("tokens: signing key %d is %d bytes, want %d", i+1, len(k), ed25519.PrivateKeySize)
		}
		if _, err := signingKey(fmt.Sprintf("tokens: signing key %d", i+1), k); err != nil {
			return nil, err
		}
		pub := k.Public().(ed25519.PublicKey)
		kid := KeyID(pub)
		if _, dup := t.verify[kid]; dup {
			return nil, fmt.Errorf("tokens: signing key %d is listed twice", i+1)
		}
		t.verify[kid] = pub
		set.Keys = append(set.Keys, jwk{
			Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
			Kid: kid, Alg: jwt.SigningMethodEdDSA.Alg(), Use: "sig",
		})
		if i == 0 {
			t.signKey = append(ed25519.PrivateKey(nil), k...)
			t.signKID = kid
		}
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("tokens: encode JWKS: %w", err)
	}
	t.jwks = jwks
	rk, err := hkdf.Key(sha256.New, refreshSecret, nil, refreshKeyInfo, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("tokens: derive refresh key: %w", err)
	}
	t.macs.New = func() any { return hmac.New(sha256.New, rk) }
	return t, nil
}

// jwk is a public Ed25519 key as RFC 8037 writes it in a JWK (RFC 7517).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// JWKS returns the JWK set of every signing key, the signing one first,
// ready to serve as application/json at /.well-known/jwks.json. It is
// built once; each call returns a fresh copy.
func (t *Tokens) JWKS() []byte { return append([]byte(nil), t.jwks...) }

// SigningKeyID is the kid of the key that signs new access tokens (for
// the start-up log: it says which key is in use without showing it).
func (t *Tokens) SigningKeyID() string { return t.signKID }

// accessClaims is the JSON of an access token's claims. Generation is a
// pointer so that a token without "gen" is refused rather than read as
// generation 0.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID  string  `json:"sid"`
	Generation *uint64 `json:"gen"`
}

// IssueAccess signs an access token for c. IssuedAt and ExpiresAt are
// written in whole seconds (truncated), as JWT times are.
func (t *Tokens) IssueAccess(c application.AccessClaims) (string, error) {
	if err := checkIDs(c.UserID, c.SessionID); err != nil {
		return "", fmt.Errorf("issue access token: %w", err)
	}
	gen := c.Generation
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   c.UserID,
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
		SessionID:  c.SessionID,
		Generation: &gen,
	})
	tok.Header["kid"] = t.signKID
	s, err := tok.SignedString(t.signKey)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

// ParseAccess verifies an access token at now: alg EdDSA only, a kid of
// one of the signing keys, a valid signature, iss "phoneauth", an exp
// after now, and every claim IssueAccess writes. Anything else is an
// error wrapping application.ErrInvalidToken.
//
// Only the exact strings IssueAccess makes are accepted: characters
// outside base64url and '.' are refused before decoding (Go's base64
// decoder skips line breaks, which would let one token be written many
// ways), padding bits must be zero, and Ed25519 signatures are not
// malleable.
//
// A token accepted once is remembered (verified.go): presented again, it
// is checked for expiry alone, which is all a second verification could
// find changed.
func (t *Tokens) ParseAccess(token string, now time.Time) (application.AccessClaims, error) {
	if len(token) > maxAccessTokenLen {
		return application.AccessClaims{}, invalid("access token longer than %d bytes", maxAccessTokenLen)
	}
	key := tokenKey(token)
	if v, ok := t.verified.get(&key); ok {
		if !now.Before(time.Unix(v.expiresAt, 0)) {
			// What golang-jwt answers for an expired token.
			return application.AccessClaims{}, fmt.Errorf("%w: %w: %w", application.ErrInvalidToken, jwt.ErrTokenInvalidClaims, jwt.ErrTokenExpired)
		}
		return v.claims(), nil
	}
	c, err := t.verifyAccess(token, now)
	if err != nil {
		return application.AccessClaims{}, err
	}
	claims := application.AccessClaims{
		UserID:     c.Subject,
		SessionID:  c.SessionID,
		Generation: *c.Generation,
		IssuedAt:   c.IssuedAt.UTC(),
		ExpiresAt:  c.ExpiresAt.UTC(),
	}
	// A token with nbf would be live only from then on: never remembered,
	// so that expiry stays the one claim a hit checks against now.
	if c.NotBefore == nil {
		t.verified.put(&key, toVerified(claims))
	}
	return claims, nil
}

// verifyAccess is ParseAccess without the memory of accepted tokens: the
// whole check, signature included.
func (t *Tokens) verifyAccess(token string, now time.Time) (*accessClaims, error) {
	if !isBase64URLOrDot(token) {
		return nil, invalid("access token has a character outside base64url")
	}
	var c accessClaims
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	).ParseWithClaims(token, &c, t.accessKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", application.ErrInvalidToken, err)
	}
	if c.Subject == "" || c.SessionID == "" || c.Generation == nil || c.IssuedAt == nil {
		return nil, invalid("access token lacks sub, sid, gen or iat")
	}
	return &c, nil
}

// accessKey is the jwt.Keyfunc: the public key named by the header's kid.
func (t *Tokens) accessKey(tok *jwt.Token) (any, error) {
	kid, ok := tok.Header["kid"].(string)
	if !ok {
		return nil, errors.New("no kid")
	}
	pub, ok := t.verify[kid]
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return pub, nil
}

func isBase64URLOrDot(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '_', b == '.':
		default:
			return false
		}
	}
	return true
}

// checkIDs refuses ids no token should carry: empty, longer than
// maxIDLen, or not UTF-8 (JSON would rewrite them, and the token would
// not give back what it was issued with).
func checkIDs(userID, sessionID string) error {
	for _, id := range []struct{ name, v string }{{"user id", userID}, {"session id", sessionID}} {
		switch {
		case id.v == "":
			return fmt.Errorf("empty %s", id.name)
		case len(id.v) > maxIDLen:
			return fmt.Errorf("%s longer than %d bytes", id.name, maxIDLen)
		case !utf8.ValidString(id.v):
			return fmt.Errorf("%s is not UTF-8", id.name)
		}
	}
	return nil
}

// invalid is a refusal: an error wrapping application.ErrInvalidToken.
// Its text says why, never what the token held.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", application.ErrInvalidToken, fmt.Sprintf(format, args...))
}
