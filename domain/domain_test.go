package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

func TestParsePhoneNumber(t *testing.T) {
	valid := []struct{ in, e164 string }{
		{"15850551102", "+8615850551102"},
		{"+8615850551102", "+8615850551102"},
		{"+86 158 5055 1102", "+8615850551102"},
		{" 158-5055-1102 ", "+8615850551102"},
		{"+14155552671", "+14155552671"},
		{"+44 7911 123456", "+447911123456"},
	}
	for _, c := range valid {
		p, err := domain.ParsePhoneNumber(c.in)
		if err != nil || p.E164() != c.e164 {
			t.Errorf("ParsePhoneNumber(%q) = %q, %v; want %q", c.in, p.E164(), err, c.e164)
		}
	}
	invalid := []string{
		"", "   ", "1585055110", "158505511021", "25850551102", "+86 10 1234 5678", // landline
		"+8615850551102x", "{\"$ne\": null}", "+", "++8615850551102", "8615850551102",
		"+86158505511021", strings.Repeat("1", 40), "１５８５０５５１１０２", "+44 20 7946 0958",
	}
	for _, in := range invalid {
		if p, err := domain.ParsePhoneNumber(in); !errors.Is(err, domain.ErrInvalidPhone) {
			t.Errorf("ParsePhoneNumber(%q) = %q, %v; want ErrInvalidPhone", in, p.E164(), err)
		}
	}
	p := domain.MustParsePhoneNumber("15850551102")
	if p.CountryCode() != 86 || p.National() != "15850551102" {
		t.Errorf("parts = %d %s", p.CountryCode(), p.National())
	}
}

func TestMaskPhone(t *testing.T) {
	if got := domain.MustParsePhoneNumber("15850551102").Masked(); got != "+86158****1102" {
		t.Errorf("Masked = %q", got)
	}
	for in, want := range map[string]string{"+14155552671": "+141****2671", "12345": "***45", "1": "*"} {
		if got := domain.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCountryAllowList(t *testing.T) {
	cn, us := domain.MustParsePhoneNumber("15850551102"), domain.MustParsePhoneNumber("+14155552671")
	only86, err := domain.NewCountryAllowList([]string{"86"})
	if err != nil || !only86.Allows(cn) || only86.Allows(us) {
		t.Fatalf("86 list: %v", err)
	}
	all, _ := domain.NewCountryAllowList([]string{"*"})
	if !all.Allows(us) {
		t.Fatal("* does not allow +1")
	}
	both, _ := domain.NewCountryAllowList([]string{"+86", " 1"})
	if !both.Allows(us) || !both.Allows(cn) {
		t.Fatal("86,1 list")
	}
	if _, err := domain.NewCountryAllowList([]string{"abc"}); err == nil {
		t.Fatal("accepted abc")
	}
}

func TestParseEmail(t *testing.T) {
	valid := map[string]string{
		"2214102327@qq.com":    "2214102327@qq.com",
		"Alice.B@Example.COM":  "Alice.B@example.com",
		"a+tag@sub.example.cn": "a+tag@sub.example.cn",
	}
	for in, want := range valid {
		e, err := domain.ParseEmail(in)
		if err != nil || e.String() != want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q", in, e, err, want)
		}
	}
	invalid := []string{
		"", "plainaddress", "@qq.com", "a@", "a@b", "a@.com", "a@b..com", "Alice <a@b.com>",
		"a@b.com, c@d.com", "a@[127.0.0.1]", strings.Repeat("a", 250) + "@b.com", "a b@c.com",
	}
	for _, in := range invalid {
		if _, err := domain.ParseEmail(in); !errors.Is(err, domain.ErrInvalidEmail) {
			t.Errorf("ParseEmail(%q) = %v; want ErrInvalidEmail", in, err)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	p := domain.PasswordPolicy{MinLength: 8, MaxLength: 64}
	cases := []struct {
		pw, confirm string
		want        error
	}{
		{"12345678", "12345678", nil},
		{"1234567", "1234567", domain.ErrPasswordLength},
		{"密码密码密码密码", "密码密码密码密码", nil}, // 8 characters, 24 bytes
		{"密码密码密码密", "密码密码密码密", domain.ErrPasswordLength},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), nil},
		{strings.Repeat("a", 65), strings.Repeat("a", 65), domain.ErrPasswordLength},
		{"12345678", "12345679", domain.ErrPasswordMismatch},
		{"1234567", "7654321", domain.ErrPasswordLength}, // length is checked first
		{"abc\xffdefgh", "abc\xffdefgh", domain.ErrPasswordLength},
	}
	for _, c := range cases {
		if err := p.Check(c.pw, c.confirm); !errors.Is(err, c.want) {
			t.Errorf("Check(%q, %q) = %v, want %v", c.pw, c.confirm, err, c.want)
		}
	}
}

// owner is the client that verifies in the registration tests.
var owner = domain.RegistrationClient{Token: "owner-token", Net: "198.51.100.7"}

func TestPendingRegistrationVerify(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	phone := domain.MustParsePhoneNumber("15850551102")
	good, bad := []byte("good-hash"), []byte("bad-hash!")
	fresh := func() *domain.PendingRegistration {
		return domain.NewPendingRegistration(phone, good, now, 5*time.Minute)
	}

	p := fresh()
	for i := 1; i <= 4; i++ {
		if err := p.Verify(bad, now, 5, 30*time.Minute, owner); !errors.Is(err, domain.ErrCodeMismatch) {
			t.Fatalf("wrong try %d: %v", i, err)
		}
	}
	if err := p.Verify(bad, now, 5, 30*time.Minute, owner); !errors.Is(err, domain.ErrTooManyAttempts) {
		t.Fatalf("fifth wrong try: %v", err)
	}
	if err := p.Verify(good, now, 5, 30*time.Minute, owner); !errors.Is(err, domain.ErrTooManyAttempts) {
		t.Fatalf("right code after five wrong: %v", err)
	}

	p = fresh()
	if err := p.Verify(good, now.Add(5*time.Minute), 5, 30*time.Minute, owner); !errors.Is(err, domain.ErrCodeExpired) {
		t.Fatalf("code at expiry: %v", err)
	}

	p = fresh()
	at := now.Add(4 * time.Minute)
	if err := p.Verify(good, at, 5, 30*time.Minute, owner); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if !p.IsVerified(at) || p.ExpiresAt() != at.Add(30*time.Minute) {
		t.Fatalf("verified=%v expires=%v", p.IsVerified(at), p.ExpiresAt())
	}
	if err := p.Verify(good, at, 5, 30*time.Minute, owner); !errors.Is(err, domain.ErrCodeExpired) {
		t.Fatalf("second use of a code: %v", err)
	}
	if !p.IsVerified(at) {
		t.Fatal("a replayed code un-verified the registration")
	}
	if p.IsVerified(at.Add(30 * time.Minute)) {
		t.Fatal("verified past the registration TTL")
	}

	p = fresh()
	p.KillCode()
	if err := p.Verify(good, now, 5, time.Minute, owner); !errors.Is(err, domain.ErrCodeExpired) {
		t.Fatalf("killed code verified: %v", err)
	}
}

func TestPendingRegistrationPassword(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := domain.NewPendingRegistration(domain.MustParsePhoneNumber("15850551102"), []byte("h"), now, time.Minute)
	if err := p.SetPassword([]byte("s"), now, owner, domain.BindingNetwork); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("unverified SetPassword: %v", err)
	}
	if _, err := p.SealedPasswordForProfile(now, owner, domain.BindingNetwork); !errors.Is(err, domain.ErrNotVerified) {
		t.Fatalf("unverified profile: %v", err)
	}
	_ = p.Verify([]byte("h"), now, 5, time.Hour, owner)
	if _, err := p.SealedPasswordForProfile(now, owner, domain.BindingNetwork); !errors.Is(err, domain.ErrPasswordMissing) {
		t.Fatalf("profile without password: %v", err)
	}
	_ = p.SetPassword([]byte("one"), now, owner, domain.BindingNetwork)
	_ = p.SetPassword([]byte("two"), now, owner, domain.BindingNetwork)
	got, err := p.SealedPasswordForProfile(now, owner, domain.BindingNetwork)
	if err != nil || string(got) != "two" {
		t.Fatalf("password = %q, %v; want the replacement", got, err)
	}
	round := domain.UnmarshalPendingRegistrationFromDatabase(p.Snapshot())
	if got, _ := round.SealedPasswordForProfile(now, owner, domain.BindingNetwork); string(got) != "two" {
		t.Fatal("snapshot round trip lost the password")
	}
}

func TestLoginProof(t *testing.T) {
	// sha256("123456" + "abc" + "1700000000"), computed independently with
	// Python's hashlib as the seed's client does.
	const want = "a50a0980900b9e979aa3368e7f1a1660bb41b6e913f89294b0ab3ca6dbba079c"
	got := domain.LoginProof("123456", "abc", "1700000000")
	if got != want {
		t.Fatalf("LoginProof = %q, want %q", got, want)
	}
	if !domain.CheckLoginProof("123456", "abc", "1700000000", strings.ToUpper(got)) {
		t.Fatal("upper-case hex refused")
	}
	if domain.CheckLoginProof("123456", "abc", "1700000001", got) {
		t.Fatal("proof for another time stamp accepted")
	}
	if domain.CheckLoginProof("123456", "abc", "1700000000", got[:63]) {
		t.Fatal("truncated proof accepted")
	}
}

// TestCountryAllowListText: the text form (SMS_ALLOWED_COUNTRY_CODES) is
// read once, with the rules of NewCountryAllowList and the words the
// operator sees at start.
func TestCountryAllowListText(t *testing.T) {
	cn, us := domain.MustParsePhoneNumber("15850551102"), domain.MustParsePhoneNumber("+14155552671")
	for text, want := range map[string]string{"86": "86", "86, +852,": "86,852", " * ": "*", "1,86,*": "*,1,86", "++86": "86"} {
		var l domain.CountryAllowList
		if err := l.UnmarshalText([]byte(text)); err != nil || l.String() != want {
			t.Errorf("%q: %q, %v; want %q", text, l.String(), err, want)
		}
	}
	var l domain.CountryAllowList
	if err := l.UnmarshalText([]byte("1,86")); err != nil || !l.Allows(cn) || !l.Allows(us) {
		t.Fatalf("1,86: %v", err)
	}
	for text, want := range map[string]string{
		",":        "names no calling code: want calling codes such as 86,852, or * for all",
		" , + ":    "names no calling code: want calling codes such as 86,852, or * for all",
		"86,china": "want calling codes such as 86,852 or *",
		"1000":     "want calling codes such as 86,852 or *",
		"86;852":   "want calling codes such as 86,852 or *",
	} {
		kept := l
		if err := kept.UnmarshalText([]byte(text)); err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
		if kept.String() != "1,86" {
			t.Errorf("%q: a refused text changed the list to %q", text, kept.String())
		}
	}
}

func TestCountryAllowListNamingNoCodeIsRefused(t *testing.T) {
	for _, codes := range [][]string{nil, {}, {""}, {" ", " "}, {"+"}} {
		if _, err := domain.NewCountryAllowList(codes); err == nil {
			t.Errorf("NewCountryAllowList(%q) accepted a list naming no code", codes)
		}
	}
}
