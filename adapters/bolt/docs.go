package bolt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/phoneauth/phoneauth/domain"
)

// userDoc is a user as stored in the users bucket, under its E.164 number.
type userDoc struct {
	ID             string    `json:"id"`
	Phone          string    `json:"phone"`
	Email          string    `json:"email"`
	SealedPassword []byte    `json:"sealed_password"`
	CreatedAt      time.Time `json:"created_at"`
}

// decodeUserDoc decodes a stored user, as json.Unmarshal would. It runs
// on every login; records this package wrote all have the one shape
// json.Marshal gives a userDoc, and that shape is read directly, in a
// fraction of encoding/json's time (TestDecodeUserDocMatchesEncodingJSON).
// Anything else, escapes included, goes through encoding/json.
func decodeUserDoc(b []byte, d *userDoc) error {
	if decodeCanonicalUser(b, d) {
		return nil
	}
	*d = userDoc{}
	return json.Unmarshal(b, d)
}

// decodeCanonicalUser reads {"id":"…","phone":"…","email":"…",
// "sealed_password":"<base64>"|null,"created_at":"<RFC 3339>"} with no
// space and no escape, and reports false on anything else.
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
	if end < 2 || string(b[end:]) != "}" {
		return false
	}
	created = b[:end]
	if bytes.IndexByte(created, '\\') >= 0 || d.CreatedAt.UnmarshalJSON(created) != nil {
		return false
	}
	return true
}

// plainString reads a JSON string literal at the start of b that holds
// no escape, no control character and only valid UTF-8: the literals
// whose bytes are their value.
func plainString(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, false
	}
	end := bytes.IndexByte(b[1:], '"') + 1
	if end < 1 {
		return "", nil, false
	}
	s := b[1:end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return "", nil, false
		}
	}
	if !utf8.Valid(s) {
		return "", nil, false
	}
	return string(s), b[end+1:], true
}

func toDBUser(u *domain.User) userDoc {
	return userDoc{
		ID:             u.ID(),
		Phone:          u.Phone().E164(),
		Email:          u.Email().String(),
		SealedPassword: u.SealedPassword(),
		CreatedAt:      u.CreatedAt().UTC(),
	}
}

// fromDBUser rebuilds a user found under phone. Re-parsing the stored
// number would cost phone-number metadata work on every login, and the
// caller's phone is the very number the record is keyed by, so the user
// is built from it; the stored email was normalised when it was written.
func fromDBUser(phone domain.PhoneNumber, d userDoc) (*domain.User, error) {
	if d.Phone != phone.E164() {
		return nil, fmt.Errorf("user record under %s holds number %s", phone.Masked(), domain.MaskPhone(d.Phone))
	}
	return domain.RestoreUser(d.ID, phone, d.Email, d.SealedPassword, d.CreatedAt), nil
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

// expiryDoc is the part of a pendingDoc the sweeper needs.
type expiryDoc struct {
	ExpiresAt time.Time `json:"expires_at"`
}

func toDBPending(s domain.PendingRegistrationSnapshot) pendingDoc {
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

// fromDBPending rebuilds a registration found under phone. An empty code
// hash must come back nil: the domain reads nil as "no live code", while an
// empty one would count the next try as a wrong guess.
func fromDBPending(phone domain.PhoneNumber, d pendingDoc) (*domain.PendingRegistration, error) {
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

// encodePendingDoc encodes a pending registration for storage.
func encodePendingDoc(d pendingDoc) ([]byte, error) {
	return json.Marshal(d)
}

// decodePendingDoc decodes a stored pending registration.
func decodePendingDoc(b []byte, d *pendingDoc) error {
	*d = pendingDoc{}
	return json.Unmarshal(b, d)
}
