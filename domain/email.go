package domain

import (
	"net/mail"
	"strings"
)

// maxEmailBytes is RFC 5321's limit on a forward path, as OWASP repeats it.
const maxEmailBytes = 254

// Email is one syntactically valid address with its domain lower-cased.
type Email struct{ addr string }

// ParseEmail accepts a bare address (no display name, no angle brackets,
// no list) of at most 254 bytes and lower-cases its domain; the local part
// is kept as given, as RFC 5321 leaves its case to the receiving host.
func ParseEmail(raw string) (Email, error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > maxEmailBytes {
		return Email{}, ErrInvalidEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return Email{}, ErrInvalidEmail
	}
	at := strings.LastIndexByte(s, '@')
	local, dom := s[:at], strings.ToLower(s[at+1:])
	if local == "" || !strings.Contains(dom, ".") || strings.HasPrefix(dom, ".") ||
		strings.HasSuffix(dom, ".") || strings.Contains(dom, "..") || strings.HasPrefix(dom, "[") {
		return Email{}, ErrInvalidEmail
	}
	return Email{addr: local + "@" + dom}, nil
}

// String returns the normalised address.
func (e Email) String() string { return e.addr }

// IsZero reports whether e was never parsed.
func (e Email) IsZero() bool { return e.addr == "" }
