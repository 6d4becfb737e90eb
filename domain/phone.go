package domain

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// PhoneNumber is a mobile number normalised to E.164 (+8615850551102). The
// zero value is not a valid number; build one with ParsePhoneNumber.
type PhoneNumber struct {
	e164        string
	countryCode int
	national    string
}

// maxPhoneInput bounds what is handed to the parser: no real number, with
// spaces and punctuation, comes near it.
const maxPhoneInput = 32

// ParsePhoneNumber accepts a mainland Chinese mobile number without a prefix
// (15850551102) or any E.164 number with a leading '+', with spaces, dashes
// or parentheses between digits, and returns it normalised. Only numbers the
// numbering plan knows as mobile are accepted: an SMS code cannot reach others.
func ParsePhoneNumber(raw string) (PhoneNumber, error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > maxPhoneInput {
		return PhoneNumber{}, ErrInvalidPhone
	}
	var digits strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
			digits.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return PhoneNumber{}, ErrInvalidPhone
		}
	}
	d := digits.String()
	if !strings.HasPrefix(d, "+") {
		// Without '+', only the seed's own form: 11 digits starting with 1.
		if len(d) != 11 || d[0] != '1' {
			return PhoneNumber{}, ErrInvalidPhone
		}
		d = "+86" + d
	}
	num, err := phonenumbers.Parse(d, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return PhoneNumber{}, ErrInvalidPhone
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return PhoneNumber{}, ErrInvalidPhone
	}
	return PhoneNumber{
		e164:        phonenumbers.Format(num, phonenumbers.E164),
		countryCode: int(num.GetCountryCode()),
		national:    phonenumbers.GetNationalSignificantNumber(num),
	}, nil
}

// MustParsePhoneNumber is ParsePhoneNumber for tests and constants; it panics
// on an invalid number.
func MustParsePhoneNumber(raw string) PhoneNumber {
	p, err := ParsePhoneNumber(raw)
	if err != nil {
		panic("domain: invalid phone number " + strconv.Quote(raw))
	}
	return p
}

// String returns the E.164 form. It is the number itself: log Masked instead.
func (p PhoneNumber) String() string { return p.e164 }

// E164 returns the normalised number, the key it is stored under.
func (p PhoneNumber) E164() string { return p.e164 }

// CountryCode returns the calling code (86 for mainland China).
func (p PhoneNumber) CountryCode() int { return p.countryCode }

// National returns the national significant number (15850551102).
func (p PhoneNumber) National() string { return p.national }

// IsZero reports whether p was never parsed.
func (p PhoneNumber) IsZero() bool { return p.e164 == "" }

// Masked hides the four digits before the last four (+86158****1102), the
// form in which a number may appear in logs.
func (p PhoneNumber) Masked() string { return MaskPhone(p.e164) }

// MaskPhone masks any phone-like string the same way as PhoneNumber.Masked;
// strings too short to mask keep only their last two characters.
func MaskPhone(s string) string {
	if len(s) < 10 {
		if len(s) <= 2 {
			return strings.Repeat("*", len(s))
		}
		return strings.Repeat("*", len(s)-2) + s[len(s)-2:]
	}
	return s[:len(s)-8] + "****" + s[len(s)-4:]
}

// CountryAllowList is the set of calling codes that may receive SMS codes.
// An empty list (or one holding "*") allows every country.
type CountryAllowList struct {
	all   bool
	codes map[int]bool
}

// NewCountryAllowList builds the list from calling codes as strings ("86");
// "*" allows all. It fails on anything that is not a calling code.
func NewCountryAllowList(codes []string) (CountryAllowList, error) {
	l := CountryAllowList{codes: map[int]bool{}}
	for _, c := range codes {
		c = strings.TrimPrefix(strings.TrimSpace(c), "+")
		if c == "" {
			continue
		}
		if c == "*" {
			l.all = true
			continue
		}
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > 999 {
			return CountryAllowList{}, ErrCountryNotAllowed
		}
		l.codes[n] = true
	}
	if len(l.codes) == 0 {
		l.all = true
	}
	return l, nil
}

// Allows reports whether p may receive a code.
func (l CountryAllowList) Allows(p PhoneNumber) bool {
	return l.all || l.codes[p.countryCode]
}
