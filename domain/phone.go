package domain

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

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
	if p, ok, err := parseMainlandMobile(d); ok {
		return p, err
	}
	return parseE164(d)
}

// parseE164 is the general path: d is '+' and digits. It costs ~40 µs of
// phone-number metadata work, most of it in regular expressions built and
// looked up on every call.
func parseE164(d string) (PhoneNumber, error) {
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

// parseMainlandMobile is the fast path for the form nearly every request
// carries, +86 and 11 digits starting with 1: it answers exactly what
// parseE164 answers (TestMainlandFastPathMatchesLibrary compares them over
// every five-digit prefix) with the library's own CN patterns, compiled
// once, in a few microseconds. ok is false when d is not that form, or
// when the library would strip a national or carrier prefix from it
// (numbers starting 11, 12 or 179): those take the general path.
func parseMainlandMobile(d string) (p PhoneNumber, ok bool, err error) {
	if len(d) != 14 || !strings.HasPrefix(d, "+861") {
		return PhoneNumber{}, false, nil
	}
	cn := mainland()
	national := d[3:]
	if cn == nil || cn.nationalPrefix.MatchString(national) {
		return PhoneNumber{}, false, nil
	}
	if !cn.isMobile(national) {
		return PhoneNumber{}, true, ErrInvalidPhone
	}
	return PhoneNumber{e164: d, countryCode: 86, national: national}, true, nil
}

// numberDesc is one of the library's number descriptions: possible
// lengths and an anchored pattern, matched as the library matches them.
type numberDesc struct {
	lengths []int32
	re      *regexp.Regexp
}

func newNumberDesc(d *phonenumbers.PhoneNumberDesc) numberDesc {
	return numberDesc{lengths: d.GetPossibleLength(), re: regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$")}
}

func (d numberDesc) matches(nsn string) bool {
	if len(d.lengths) > 0 {
		found := false
		for _, l := range d.lengths {
			found = found || int(l) == len(nsn)
		}
		if !found {
			return false
		}
	}
	return d.re.MatchString(nsn)
}

// cnMetadata is the library's metadata for mainland China, compiled.
type cnMetadata struct {
	nationalPrefix     *regexp.Regexp // the library's national prefix for parsing, anchored at the start
	general            numberDesc
	other              []numberDesc // premium rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail
	fixedLine          numberDesc
	mobile             numberDesc
	sameFixedAndMobile bool
}

// isMobile is the library's number-type decision (getNumberTypeHelper)
// for a CN national number, answering whether the type is MOBILE or
// FIXED_LINE_OR_MOBILE; every other type, and UNKNOWN (invalid), is false.
func (m *cnMetadata) isMobile(nsn string) bool {
	if !m.general.matches(nsn) {
		return false
	}
	for _, d := range m.other {
		if d.matches(nsn) {
			return false
		}
	}
	if m.fixedLine.matches(nsn) {
		return m.sameFixedAndMobile || m.mobile.matches(nsn)
	}
	return !m.sameFixedAndMobile && m.mobile.matches(nsn)
}

// mainland loads the CN metadata once; nil (no fast path) if the library
// has none, which would be a broken build of it.
var mainland = sync.OnceValue(func() *cnMetadata {
	col, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil
	}
	for _, md := range col.GetMetadata() {
		if md.GetId() != "CN" || md.GetCountryCode() != 86 {
			continue
		}
		prefix := md.GetNationalPrefixForParsing()
		if prefix == "" {
			prefix = "$^" // never matches
		}
		m := &cnMetadata{
			nationalPrefix:     regexp.MustCompile("^(?:" + prefix + ")"),
			general:            newNumberDesc(md.GetGeneralDesc()),
			fixedLine:          newNumberDesc(md.GetFixedLine()),
			mobile:             newNumberDesc(md.GetMobile()),
			sameFixedAndMobile: md.GetSameMobileAndFixedLinePattern(),
		}
		for _, d := range []*phonenumbers.PhoneNumberDesc{md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(),
			md.GetVoip(), md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail()} {
			m.other = append(m.other, newNumberDesc(d))
		}
		return m
	}
	return nil
})

// maxE164 is the longest E.164 number: '+' and at most 15 digits.
const maxE164 = 16

// RestorePhoneNumber rebuilds a number from the E.164 form a store kept it
// in (PhoneNumber.E164 of a number ParsePhoneNumber accepted), without the
// numbering plan's checks, which the number passed when it was stored: it
// only splits off the calling code, which E.164 makes unambiguous (no code
// is a prefix of another). It is what a store reads back on every
// authenticated request, where ParsePhoneNumber would cost a few
// microseconds on the mainland fast path and ~40 on the general one.
// Anything not '+' and 2 to 15 digits behind a known calling code is
// ErrInvalidPhone. Numbers from outside go through ParsePhoneNumber.
func RestorePhoneNumber(e164 string) (PhoneNumber, error) {
	if len(e164) < 3 || len(e164) > maxE164 || e164[0] != '+' {
		return PhoneNumber{}, ErrInvalidPhone
	}
	for i := 1; i < len(e164); i++ {
		if e164[i] < '0' || e164[i] > '9' {
			return PhoneNumber{}, ErrInvalidPhone
		}
	}
	if e164[1] == '0' {
		return PhoneNumber{}, ErrInvalidPhone
	}
	for n := 1; n <= 3 && 1+n < len(e164); n++ {
		cc, _ := strconv.Atoi(e164[1 : 1+n])
		if cc == 86 || phonenumbers.GetRegionCodeForCountryCode(cc) != phonenumbers.UNKNOWN_REGION {
			return PhoneNumber{e164: e164, countryCode: cc, national: e164[1+n:]}, nil
		}
	}
	return PhoneNumber{}, ErrInvalidPhone
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
// A list holding "*" allows every country. Its text form, in which
// SMS_ALLOWED_COUNTRY_CODES is written, is the codes separated by commas
// ("86,852", "+1", "*").
type CountryAllowList struct {
	all   bool
	codes map[int]bool
}

// The refusals of a list, worded for the operator who wrote it.
var (
	errNoCallingCode  = errors.New("names no calling code: want calling codes such as 86,852, or * for all")
	errNotCallingCode = errors.New("want calling codes such as 86,852 or *")
)

// NewCountryAllowList builds the list from calling codes as strings ("86");
// "*" allows all. It fails on anything that is not a calling code, and on
// a list that names none (blank entries only): an empty list must never
// quietly mean "every country".
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
			return CountryAllowList{}, errNotCallingCode
		}
		l.codes[n] = true
	}
	if len(l.codes) == 0 && !l.all {
		return CountryAllowList{}, errNoCallingCode
	}
	return l, nil
}

// UnmarshalText reads the text form, with the rules of NewCountryAllowList.
func (l *CountryAllowList) UnmarshalText(text []byte) error {
	parsed, err := NewCountryAllowList(strings.Split(string(text), ","))
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}

// String returns the text form: "*" if present, then the codes in
// ascending order ("*,86").
func (l CountryAllowList) String() string {
	var parts []string
	if l.all {
		parts = append(parts, "*")
	}
	for _, c := range slices.Sorted(maps.Keys(l.codes)) {
		parts = append(parts, strconv.Itoa(c))
	}
	return strings.Join(parts, ",")
}

// Allows reports whether p may receive a code.
func (l CountryAllowList) Allows(p PhoneNumber) bool {
	return l.all || l.codes[p.countryCode]
}
