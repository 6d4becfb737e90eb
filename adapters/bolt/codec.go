package bolt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/phoneauth/phoneauth/domain"
)

// userDoc is a user as stored in the users bucket, under its E.164 number.
// A session generation of 0, every account's first, is left out, so that
// records written before accounts had one read as they were written.
type userDoc struct {
	ID                string    `json:"id"`
	Phone             string    `json:"phone"`
	Email             string    `json:"email"`
	SealedPassword    []byte    `json:"sealed_password"`
	CreatedAt         time.Time `json:"created_at"`
	SessionGeneration uint64    `json:"session_generation,omitempty"`
}

// decodeUserDoc decodes a stored user, as json.Unmarshal would. It runs
// on every login; records this package wrote all have the one shape
// json.Marshal gives a userDoc, and that shape is read directly, in a
// fraction of encoding/json's time (TestDecodeUserDocMatchesEncodingJSON).
// Anything else, escapes included, goes through encoding/json.
func decodeUserDoc(b []byte, d *userDoc) error { return decodeDoc(b, d, decodeCanonicalUser) }

// decodeDoc decodes a stored record as json.Unmarshal would: the one
// shape this package writes is read by canonical, directly; anything
// else (escapes, records written in another shape) goes through
// encoding/json. d is zeroed first either way.
func decodeDoc[T any](b []byte, d *T, canonical func([]byte, *T) bool) error {
	var zero T
	*d = zero
	if canonical(b, d) {
		return nil
	}
	*d = zero
	return json.Unmarshal(b, d)
}

// decodeCanonicalUser reads {"id":"…","phone":"…","email":"…",
// "sealed_password":"<base64>"|null,"created_at":"<RFC 3339>"
// [,"session_generation":<digits>]} with no space and no escape, and
// reports false on anything else.
func decodeCanonicalUser(b []byte, d *userDoc) bool {
	var ok bool
	var sealed, created []byte
	if b, ok = bytes.CutPrefix(b, []byte(`{"id":`)); !ok {
		return false
	}
	if d.ID, b, ok = plainString(b); !ok {
		return false
	}
	if b, ok = bytes.CutPrefix(b, []byte(`,"phone":`)); !ok {
		return false
	}
	if d.Phone, b, ok = plainString(b); !ok {
		return false
	}
	if b, ok = bytes.CutPrefix(b, []byte(`,"email":`)); !ok {
		return false
	}
	if d.Email, b, ok = plainString(b); !ok {
		return false
	}
	if b, ok = bytes.CutPrefix(b, []byte(`,"sealed_password":`)); !ok {
		return false
	}
	if rest, isNull := bytes.CutPrefix(b, []byte("null")); isNull {
		d.SealedPassword, b = nil, rest
	} else {
		var s string
		if s, b, ok = plainString(b); !ok {
			return false
		}
		var err error
		if sealed, err = base64.StdEncoding.DecodeString(s); err != nil {
			return false
		}
		d.SealedPassword = sealed
	}
	if b, ok = bytes.CutPrefix(b, []byte(`,"created_at":`)); !ok {
		return false
	}
	if len(b) < 2 || b[0] != '"' {
		return false
	}
	end := bytes.IndexByte(b[1:], '"') + 2
	if end < 2 {
		return false
	}
	created, b = b[:end], b[end:]
	if bytes.IndexByte(created, '\\') >= 0 || d.CreatedAt.UnmarshalJSON(created) != nil {
		return false
	}
	if rest, has := bytes.CutPrefix(b, []byte(`,"session_generation":`)); has {
		if d.SessionGeneration, b, ok = plainUint(rest); !ok {
			return false
		}
	}
	return string(b) == "}"
}

// plainUint reads a JSON integer at the start of b that fits a uint64,
// with no sign, fraction, exponent or leading zero.
func plainUint(b []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	switch {
	case i == 0, b[0] == '0' && i > 1:
		return 0, nil, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return 0, nil, false
	}
	n, err := strconv.ParseUint(string(b[:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return n, b[i:], true
}

// plainString reads a JSON string literal at the start of b that holds
// no escape, no control character and only valid UTF-8: the literals
// whose bytes are their value.
func plainString(b []byte) (string, []byte, bool) {
	s, rest, ok := plainLiteral(b)
	if !ok {
		return "", nil, false
	}
	return string(s), rest, true
}

// plainLiteral is plainString giving the literal's bytes, which alias b.
func plainLiteral(b []byte) ([]byte, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(b[1:], '"') + 1
	if end < 1 {
		return nil, nil, false
	}
	s := b[1:end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, nil, false
		}
	}
	if !utf8.Valid(s) {
		return nil, nil, false
	}
	return s, b[end+1:], true
}

// toUserDoc is u as stored.
func toUserDoc(u *domain.User) userDoc {
	return userDoc{
		ID:                u.ID(),
		Phone:             u.Phone().E164(),
		Email:             u.Email().String(),
		SealedPassword:    u.SealedPassword(),
		CreatedAt:         u.CreatedAt().UTC(),
		SessionGeneration: u.SessionGeneration(),
	}
}

// toDomain rebuilds the user found under phone. Re-parsing the stored
// number would cost phone-number metadata work on every login, and the
// caller's phone is the very number the record is keyed by, so the user
// is built from it; the stored email was normalised when it was written.
func (d userDoc) toDomain(phone domain.PhoneNumber) (*domain.User, error) {
	if d.Phone != phone.E164() {
		return nil, fmt.Errorf("user record under %s holds number %s", phone.Masked(), domain.MaskPhone(d.Phone))
	}
	return domain.RestoreUser(d.ID, phone, d.Email, d.SealedPassword, d.CreatedAt, d.SessionGeneration), nil
}

// pendingDoc is a pending registration as stored in the pending bucket,
// under its E.164 number. Absent code hash and zero times are left out.
type pendingDoc struct {
	Phone          string    `json:"phone"`
	CodeHash       []byte    `json:"code_hash,omitempty"`
	CodeExpiresAt  time.Time `json:"code_expires_at,omitzero"`
	Attempts       int       `json:"attempts,omitempty"`
	VerifiedAt     time.Time `json:"verified_at,omitzero"`
	VerifiedUntil  time.Time `json:"verified_until,omitzero"`
	TokenHash      []byte    `json:"token_hash,omitempty"`
	ClientNet      string    `json:"client_net,omitempty"`
	SealedPassword []byte    `json:"sealed_password,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// toPendingDoc is p as stored.
func toPendingDoc(p *domain.PendingRegistration) pendingDoc {
	s := p.Snapshot()
	return pendingDoc{
		Phone:          s.Phone.E164(),
		CodeHash:       s.CodeHash,
		CodeExpiresAt:  s.CodeExpiresAt.UTC(),
		Attempts:       s.Attempts,
		VerifiedAt:     s.VerifiedAt.UTC(),
		VerifiedUntil:  s.VerifiedUntil.UTC(),
		TokenHash:      s.TokenHash,
		ClientNet:      s.ClientNet,
		SealedPassword: s.SealedPassword,
		CreatedAt:      s.CreatedAt.UTC(),
		ExpiresAt:      s.ExpiresAt.UTC(),
	}
}

// toDomain rebuilds the registration found under phone. An empty code
// hash must come back nil: the domain reads nil as "no live code", while an
// empty one would count the next try as a wrong guess.
func (d pendingDoc) toDomain(phone domain.PhoneNumber) (*domain.PendingRegistration, error) {
	if d.Phone != phone.E164() {
		return nil, fmt.Errorf("pending record under %s holds number %s", phone.Masked(), domain.MaskPhone(d.Phone))
	}
	codeHash := d.CodeHash
	if len(codeHash) == 0 {
		codeHash = nil
	}
	return domain.UnmarshalPendingRegistrationFromDatabase(domain.PendingRegistrationSnapshot{
		Phone:          phone,
		CodeHash:       codeHash,
		CodeExpiresAt:  d.CodeExpiresAt,
		Attempts:       d.Attempts,
		VerifiedAt:     d.VerifiedAt,
		VerifiedUntil:  d.VerifiedUntil,
		TokenHash:      d.TokenHash,
		ClientNet:      d.ClientNet,
		SealedPassword: d.SealedPassword,
		CreatedAt:      d.CreatedAt,
		ExpiresAt:      d.ExpiresAt,
	}), nil
}

// encodePendingDoc encodes a pending registration for storage, giving
// exactly the bytes json.Marshal gives (TestPendingDocMatchesEncodingJSON):
// every registration step writes one, so the common shape, plain strings
// and times json can encode, is written directly; anything else goes
// through encoding/json.
func encodePendingDoc(d pendingDoc) ([]byte, error) {
	if b, ok := appendCanonicalPending(make([]byte, 0, 512), &d); ok {
		return b, nil
	}
	return json.Marshal(d)
}

// appendCanonicalPending appends d as json.Marshal writes it, and reports
// false if a string would need an escape or a time cannot be written.
func appendCanonicalPending(b []byte, d *pendingDoc) ([]byte, bool) {
	ok := true
	str := func(name, s string) {
		if ok = ok && plainForJSON(s); ok {
			b = append(b, name...)
			b = append(b, '"')
			b = append(b, s...)
			b = append(b, '"')
		}
	}
	bin := func(name string, v []byte) {
		b = append(b, name...)
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v)
		b = append(b, '"')
	}
	tm := func(name string, t time.Time) {
		if ok {
			b, ok = appendJSONTime(b, name, t)
		}
	}
	str(`{"phone":`, d.Phone)
	if len(d.CodeHash) > 0 {
		bin(`,"code_hash":`, d.CodeHash)
	}
	if !d.CodeExpiresAt.IsZero() {
		tm(`,"code_expires_at":`, d.CodeExpiresAt)
	}
	if d.Attempts != 0 {
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(d.Attempts), 10)
	}
	if !d.VerifiedAt.IsZero() {
		tm(`,"verified_at":`, d.VerifiedAt)
	}
	if !d.VerifiedUntil.IsZero() {
		tm(`,"verified_until":`, d.VerifiedUntil)
	}
	if len(d.TokenHash) > 0 {
		bin(`,"token_hash":`, d.TokenHash)
	}
	if d.ClientNet != "" {
		str(`,"client_net":`, d.ClientNet)
	}
	if len(d.SealedPassword) > 0 {
		bin(`,"sealed_password":`, d.SealedPassword)
	}
	tm(`,"created_at":`, d.CreatedAt)
	tm(`,"expires_at":`, d.ExpiresAt)
	b = append(b, '}')
	return b, ok
}

// appendJSONTime appends the member name (its leading comma and key,
// written by the caller as `,"key":`) and t as json.Marshal writes a
// time, and reports false if t cannot be written (a year outside
// 0–9999).
func appendJSONTime(b []byte, name string, t time.Time) ([]byte, bool) {
	b = append(b, name...)
	b = append(b, '"')
	b, err := t.AppendText(b)
	return append(b, '"'), err == nil
}

// plainForJSON reports whether json.Marshal writes s as its own bytes
// between quotes: valid UTF-8 with no control character, no quote or
// backslash, none of the characters it escapes for HTML (<, >, &) and no
// line or paragraph separator (U+2028, U+2029).
func plainForJSON(s string) bool {
	wide := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c >= utf8.RuneSelf:
			wide = true
		}
	}
	return !wide || utf8.ValidString(s) && !strings.Contains(s, "\u2028") && !strings.Contains(s, "\u2029")
}

// decodePendingDoc decodes a stored pending registration, as json.Unmarshal
// would. The records this package writes have the shape encodePendingDoc
// gives, read directly (TestPendingDocMatchesEncodingJSON,
// FuzzDecodePendingDoc); anything else, records written by earlier
// versions in another shape included, goes through encoding/json.
func decodePendingDoc(b []byte, d *pendingDoc) error { return decodeDoc(b, d, decodeCanonicalPending) }

// decodeCanonicalPending reads the fields of a pendingDoc in their
// declared order, with no space, no escape and no null, the optional ones
// present or not, and reports false on anything else. d must be zero.
func decodeCanonicalPending(b []byte, d *pendingDoc) bool {
	var ok bool
	field := func(name string) bool {
		var found bool
		if ok {
			b, found = bytes.CutPrefix(b, []byte(name))
		}
		return found
	}
	str := func(v *string) {
		*v, b, ok = plainString(b)
	}
	bin := func(v *[]byte) {
		var lit []byte
		if lit, b, ok = plainLiteral(b); ok {
			// as encoding/json decodes it: "" gives an empty, not nil, slice
			dec := make([]byte, base64.StdEncoding.DecodedLen(len(lit)))
			n, err := base64.StdEncoding.Decode(dec, lit)
			*v, ok = dec[:n], err == nil
		}
	}
	tm := func(v *time.Time) {
		*v, b, ok = plainTime(b)
	}
	ok = true
	if !field(`{"phone":`) {
		return false
	}
	str(&d.Phone)
	if field(`,"code_hash":`) {
		bin(&d.CodeHash)
	}
	if field(`,"code_expires_at":`) {
		tm(&d.CodeExpiresAt)
	}
	if field(`,"attempts":`) {
		d.Attempts, b, ok = plainInt(b)
	}
	if field(`,"verified_at":`) {
		tm(&d.VerifiedAt)
	}
	if field(`,"verified_until":`) {
		tm(&d.VerifiedUntil)
	}
	if field(`,"token_hash":`) {
		bin(&d.TokenHash)
	}
	if field(`,"client_net":`) {
		str(&d.ClientNet)
	}
	if field(`,"sealed_password":`) {
		bin(&d.SealedPassword)
	}
	if !field(`,"created_at":`) {
		return false
	}
	tm(&d.CreatedAt)
	if !field(`,"expires_at":`) {
		return false
	}
	tm(&d.ExpiresAt)
	return ok && string(b) == "}"
}

// plainTime reads a JSON string literal at the start of b that holds no
// escape and is a time in RFC 3339, as time.Time's UnmarshalJSON reads it.
func plainTime(b []byte) (time.Time, []byte, bool) {
	var t time.Time
	if len(b) < 2 || b[0] != '"' {
		return t, nil, false
	}
	end := bytes.IndexByte(b[1:], '"') + 2
	if end < 2 {
		return t, nil, false
	}
	lit := b[:end]
	if bytes.IndexByte(lit, '\\') >= 0 || t.UnmarshalJSON(lit) != nil {
		return time.Time{}, nil, false
	}
	return t, b[end:], true
}

// plainInt reads a JSON integer at the start of b, with no fraction or
// exponent, that fits an int.
func plainInt(b []byte) (int, []byte, bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := i
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	switch {
	case i == digits, b[digits] == '0' && i > digits+1:
		return 0, nil, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return 0, nil, false
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 0)
	if err != nil {
		return 0, nil, false
	}
	return int(n), b[i:], true
}

// encodeSessionDoc encodes a session for storage, giving exactly the
// bytes json.Marshal gives (TestSessionDocMatchesEncodingJSON): every
// refresh writes one, so the common shape is written directly; anything
// else goes through encoding/json.
func encodeSessionDoc(d *sessionDoc) ([]byte, error) {
	if b, ok := appendCanonicalSession(make([]byte, 0, 320), d); ok {
		return b, nil
	}
	return json.Marshal(d)
}

// appendCanonicalSession appends d as json.Marshal writes it, and reports
// false if a string would need an escape or a time cannot be written.
func appendCanonicalSession(b []byte, d *sessionDoc) ([]byte, bool) {
	if !plainForJSON(d.ID) || !plainForJSON(d.UserID) {
		return nil, false
	}
	ok := true
	tm := func(name string, t time.Time) {
		if ok {
			b, ok = appendJSONTime(b, name, t)
		}
	}
	b = append(b, `{"id":"`...)
	b = append(b, d.ID...)
	b = append(b, `","user_id":"`...)
	b = append(b, d.UserID...)
	b = append(b, `","generation":`...)
	b = strconv.AppendUint(b, d.Generation, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, d.Seq, 10)
	tm(`,"issued_at":`, d.IssuedAt)
	tm(`,"access_expires_at":`, d.AccessExpiresAt)
	tm(`,"refresh_expires_at":`, d.RefreshExpiresAt)
	if d.Revoked {
		b = append(b, `,"revoked":true`...)
	}
	tm(`,"expires_at":`, d.ExpiresAt)
	b = append(b, '}')
	return b, ok
}

// decodeSessionDoc decodes a stored session, as json.Unmarshal would. The
// records this package writes have the shape encodeSessionDoc gives, read
// directly (TestSessionDocMatchesEncodingJSON, FuzzDecodeSessionDoc);
// anything else goes through encoding/json.
func decodeSessionDoc(b []byte, d *sessionDoc) error { return decodeDoc(b, d, decodeCanonicalSession) }

// decodeCanonicalSession reads the fields of a sessionDoc in their
// declared order, with no space, no escape and no null, "revoked" present
// (as true) or not, and reports false on anything else. d must be zero.
func decodeCanonicalSession(b []byte, d *sessionDoc) bool {
	ok := true
	field := func(name string) bool {
		var found bool
		if ok {
			b, found = bytes.CutPrefix(b, []byte(name))
		}
		return found
	}
	need := func(name string) {
		ok = field(name)
	}
	tm := func(v *time.Time) {
		if ok {
			*v, b, ok = plainTime(b)
		}
	}
	need(`{"id":`)
	if ok {
		d.ID, b, ok = plainString(b)
	}
	need(`,"user_id":`)
	if ok {
		d.UserID, b, ok = plainString(b)
	}
	need(`,"generation":`)
	if ok {
		d.Generation, b, ok = plainUint(b)
	}
	need(`,"seq":`)
	if ok {
		d.Seq, b, ok = plainUint(b)
	}
	need(`,"issued_at":`)
	tm(&d.IssuedAt)
	need(`,"access_expires_at":`)
	tm(&d.AccessExpiresAt)
	need(`,"refresh_expires_at":`)
	tm(&d.RefreshExpiresAt)
	if field(`,"revoked":true`) {
		d.Revoked = true
	}
	need(`,"expires_at":`)
	tm(&d.ExpiresAt)
	return ok && string(b) == "}"
}
