package crypto_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/application"
)

// Example_verifyWithJWKS is how another service checks phoneauth's access
// tokens: it fetches the public keys from /.well-known/jwks.json (no
// secret is shared), picks the key the token's kid names, and lets
// golang-jwt check the signature, the issuer and the expiry. Only the
// first lines stand for phoneauth; verifier below is the other service.
func Example_verifyWithJWKS() {
	// phoneauth: a signing key, its JWKS served over HTTP, a token.
	seed := make([]byte, ed25519.SeedSize)
	tokens, _ := crypto.NewTokens([]ed25519.PrivateKey{ed25519.NewKeyFromSeed(seed)}, make([]byte, 32))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(tokens.JWKS())
	}))
	defer srv.Close()
	now := time.Now()
	token, _ := tokens.IssueAccess(application.AccessClaims{
		UserID: "user-42", SessionID: "session-7", IssuedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	})

	// The other service, at start (and again when it meets an unknown kid).
	v, err := newVerifier(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	// On each request.
	claims, err := v.verify(token)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("user", claims.Subject, "session", claims.SessionID)

	_, err = v.verify(token[:len(token)-4] + "AAAA")
	fmt.Println("tampered token refused:", err != nil)
	// Output:
	// user user-42 session session-7
	// tampered token refused: true
}

type verifier struct{ keys map[string]ed25519.PublicKey }

// newVerifier fetches a JWK set and keeps its Ed25519 keys by kid.
func newVerifier(jwksURL string) (*verifier, error) {
	resp, err := http.Get(jwksURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg string } `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, err
	}
	v := &verifier{keys: map[string]ed25519.PublicKey{}}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || err != nil || len(x) != ed25519.PublicKeySize {
			continue // not a key this verifier uses
		}
		v.keys[k.Kid] = ed25519.PublicKey(x)
	}
	return v, nil
}

type sessionClaims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// verify accepts only EdDSA, a kid from the JWKS, iss "phoneauth" and an
// exp still ahead. It cannot see a logout: phoneauth refuses a revoked
// token at once, a verifier that holds only the JWKS when it expires.
func (v *verifier) verify(token string) (*sessionClaims, error) {
	var c sessionClaims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := v.keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid: fetch the JWKS again")
	},
		jwt.WithValidMethods([]string{"EdDSA"}),
		jwt.WithIssuer("phoneauth"),
		jwt.WithExpirationRequired(),
	)
	if err != nil {
		return nil, err
	}
	return &c, nil
}
