package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth/application"
)

// A refresh token is
//
//	"pa_rt1_" ‖ base64url(body ‖ tag)
//	body = gen ‖ seq ‖ iat ‖ exp ‖ len(user id) ‖ user id ‖ len(session id) ‖ session id
//	tag  = HMAC-SHA-256(refresh key, "pa_rt1_" ‖ body)
//
// with gen and seq unsigned and iat and exp signed milliseconds since the
// Unix epoch, each 8 bytes big-endian, and each length one byte. The
// prefix names the kind and the version of the format; it has no '.', so
// no JWT parser reads a refresh token, and an access token (which starts
// "eyJ") never has the prefix. Only the server reads a refresh token, so
// its format is its own business: binary keeps it short and its parsing
// exact (the MAC is checked before any field is read).
const (
	refreshPrefix  = "pa_rt1_"
	refreshFixed   = 4 * 8 // gen, seq, iat, exp
	refreshMinBody = refreshFixed + 1 + 1 + 1 + 1 + sha256.Size
	refreshMaxBody = refreshFixed + 1 + maxIDLen + 1 + maxIDLen + sha256.Size
)

var (
	refreshEncoding = base64.RawURLEncoding.Strict()
	// maxRefreshTokenLen is the longest refresh token there can be; a
	// longer string is refused before it is decoded.
	maxRefreshTokenLen = len(refreshPrefix) + refreshEncoding.EncodedLen(refreshMaxBody)
)

// IssueRefresh makes the refresh token of c. IssuedAt and ExpiresAt are
// kept to the millisecond (truncated).
func (t *Tokens) IssueRefresh(c application.RefreshClaims) (string, error) {
	if err := checkIDs(c.UserID, c.SessionID); err != nil {
		return "", fmt.Errorf("issue refresh token: %w", err)
	}
	body := make([]byte, 0, refreshFixed+2+len(c.UserID)+len(c.SessionID)+sha256.Size)
	body = binary.BigEndian.AppendUint64(body, c.Generation)
	body = binary.BigEndian.AppendUint64(body, c.Seq)
	body = binary.BigEndian.AppendUint64(body, uint64(c.IssuedAt.UnixMilli()))
	body = binary.BigEndian.AppendUint64(body, uint64(c.ExpiresAt.UnixMilli()))
	body = append(body, byte(len(c.UserID)))
	body = append(body, c.UserID...)
	body = append(body, byte(len(c.SessionID)))
	body = append(body, c.SessionID...)
	body = t.refreshTag(body, body)
	return refreshPrefix + refreshEncoding.EncodeToString(body), nil
}

// ParseRefresh checks a refresh token at now: its length, prefix and
// encoding, then its MAC (in constant time), then its fields, and that it
// has not expired. Anything else is an error wrapping
// application.ErrInvalidToken.
func (t *Tokens) ParseRefresh(token string, now time.Time) (application.RefreshClaims, error) {
	if len(token) > maxRefreshTokenLen {
		return application.RefreshClaims{}, invalid("refresh token longer than %d bytes", maxRefreshTokenLen)
	}
	enc, ok := strings.CutPrefix(token, refreshPrefix)
	if !ok {
		return application.RefreshClaims{}, invalid("not a refresh token")
	}
	raw, err := refreshEncoding.DecodeString(enc)
	// The length check refuses line breaks, which the decoder skips: one
	// token has one spelling.
	if err != nil || refreshEncoding.EncodedLen(len(raw)) != len(enc) {
		return application.RefreshClaims{}, invalid("refresh token is not base64url")
	}
	if len(raw) < refreshMinBody {
		return application.RefreshClaims{}, invalid("refresh token too short")
	}
	body, tag := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	var want [sha256.Size]byte
	if !hmac.Equal(t.refreshTag(want[:0], body), tag) {
		return application.RefreshClaims{}, invalid("refresh token not authenticated")
	}

	c := application.RefreshClaims{
		Generation: binary.BigEndian.Uint64(body[0:]),
		Seq:        binary.BigEndian.Uint64(body[8:]),
		IssuedAt:   time.UnixMilli(int64(binary.BigEndian.Uint64(body[16:]))).UTC(),
		ExpiresAt:  time.UnixMilli(int64(binary.BigEndian.Uint64(body[24:]))).UTC(),
	}
	rest := body[refreshFixed:]
	var ok1, ok2 bool
	c.UserID, rest, ok1 = cutID(rest)
	c.SessionID, rest, ok2 = cutID(rest)
	// Authenticated, so only a format this code never writes fails here;
	// still, no field is trusted to be where it should.
	if !ok1 || !ok2 || len(rest) != 0 || c.UserID == "" || c.SessionID == "" {
		return application.RefreshClaims{}, invalid("refresh token malformed")
	}
	if !now.Before(c.ExpiresAt) {
		return application.RefreshClaims{}, invalid("refresh token expired")
	}
	return c, nil
}

// cutID reads a one-byte length and that many bytes.
func cutID(b []byte) (id string, rest []byte, ok bool) {
	if len(b) < 1 || len(b)-1 < int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}

// refreshTag appends HMAC(refresh key, prefix ‖ body) to dst.
func (t *Tokens) refreshTag(dst, body []byte) []byte {
	m := t.macs.Get().(hash.Hash)
	defer t.macs.Put(m)
	m.Reset()
	m.Write([]byte(refreshPrefix))
	m.Write(body)
	return m.Sum(dst)
}
