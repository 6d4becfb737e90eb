package crypto_test

import (
	gocrypto "crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/phoneauth/phoneauth/application"
)

// TestAccessVerifiesWithGoJOSE is another service's view: it holds only
// the JWKS bytes, and checks tokens with go-jose, a JOSE library that
// shares no code with golang-jwt, which signs them.
func TestAccessVerifiesWithGoJOSE(t *testing.T) {
	prev, next, stranger := edKey(1), edKey(2), edKey(3)
	before := newTokens(t, prev)
	tk := newTokens(t, next, prev) // rotating: next signs, prev still listed
	jwksBytes := tk.JWKS()

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwksBytes, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("go-jose reads %d keys", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() || k.Algorithm != string(jose.EdDSA) || k.Use != "sig" {
			t.Fatalf("go-jose reads key %s as valid=%v public=%v alg=%s use=%s", k.KeyID, k.Valid(), k.IsPublic(), k.Algorithm, k.Use)
		}
		// go-jose's own RFC 7638 thumbprint must be the kid we derive.
		tp, err := k.Thumbprint(gocrypto.SHA256)
		if err != nil || base64.RawURLEncoding.EncodeToString(tp) != k.KeyID {
			t.Fatalf("go-jose's thumbprint of %s: %x, %v", k.KeyID, tp, err)
		}
	}

	verify := func(token string, at time.Time) (josejwt.Claims, error) {
		tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			return josejwt.Claims{}, err
		}
		if len(tok.Headers) != 1 {
			return josejwt.Claims{}, errors.New("not one signature")
		}
		keys := set.Key(tok.Headers[0].KeyID)
		if len(keys) != 1 {
			return josejwt.Claims{}, errors.New("kid not in the JWKS")
		}
		var std josejwt.Claims
		var extra struct {
			SID string `json:"sid"`
		}
		if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
			return josejwt.Claims{}, err
		}
		if std.Expiry == nil {
			return josejwt.Claims{}, errors.New("no exp")
		}
		if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: "phoneauth", Time: at}, 0); err != nil {
			return josejwt.Claims{}, err
		}
		if extra.SID != "sess-1" {
			return josejwt.Claims{}, errors.New("sid lost")
		}
		return std, nil
	}

	c := application.AccessClaims{UserID: "user-1", SessionID: "sess-1", Generation: 4, IssuedAt: tokNow, ExpiresAt: tokNow.Add(15 * time.Minute)}
	current, _ := tk.IssueAccess(c)
	old, _ := before.IssueAccess(c)
	forged, _ := newTokens(t, stranger).IssueAccess(c)
	for _, tc := range []struct {
		name  string
		token string
		at    time.Time
		ok    bool
	}{
		{"current key", current, tokNow.Add(time.Minute), true},
		{"previous key, still listed", old, tokNow.Add(14 * time.Minute), true},
		{"expired", current, tokNow.Add(16 * time.Minute), false},
		{"key not in the JWKS", forged, tokNow, false},
		{"tampered", current[:len(current)-3] + "AAA", tokNow, false},
	} {
		std, err := verify(tc.token, tc.at)
		if (err == nil) != tc.ok {
			t.Errorf("%s: go-jose says %v", tc.name, err)
		}
		if tc.ok && (std.Subject != "user-1" || !std.Expiry.Time().Equal(c.ExpiresAt)) {
			t.Errorf("%s: claims %+v", tc.name, std)
		}
	}
}
