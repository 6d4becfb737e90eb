package domain

import (
	"errors"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz targets of the two decoders of outside input that live here:
// phone numbers and email addresses. Each seed corpus is in the f.Add
// calls; `go test -fuzz` grows it under testdata/fuzz.

var e164Shape = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func FuzzParsePhoneNumber(f *testing.F) {
	for _, s := range []string{
		"15850551102", "+8615850551102", "+86 158 5055 1102", "158-5055-1102", "(158) 5055 1102",
		"+14155552671", "+1 (415) 555-2671", "+447911123456", "+44 07911 123456", "+8613800138000",
		"+8611012345678", "+8617912345678", "+85291234567", "+8201012345678", "+8613", "10000000000",
		"", " ", "+", "++8615850551102", "1585055110", "158505511022", "+86158505511021234567890123456789",
		"０１５８５０５５１１０２", "15850551102\x00", "+8615850551102\n", "\u200b15850551102", "+861５850551102",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := ParsePhoneNumber(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidPhone) || !p.IsZero() {
				t.Fatalf("ParsePhoneNumber(%q) = %+v, %v: want the zero number and ErrInvalidPhone", raw, p, err)
			}
			return
		}
		e := p.E164()
		// The normal form is canonical: E.164, its parts agree, and it
		// parses to itself.
		if !e164Shape.MatchString(e) {
			t.Fatalf("ParsePhoneNumber(%q).E164() = %q, not E.164", raw, e)
		}
		if e != "+"+strconv.Itoa(p.CountryCode())+p.National() {
			t.Fatalf("%q: E164 %q is not + %d %q", raw, e, p.CountryCode(), p.National())
		}
		again, err := ParsePhoneNumber(e)
		if err != nil || again != p {
			t.Fatalf("%q parsed to %+v, whose E164 %q re-parses to %+v, %v", raw, p, e, again, err)
		}
		// Without '+' only the seed's mainland form is accepted.
		if s := strings.TrimSpace(raw); !strings.HasPrefix(s, "+") && p.CountryCode() != 86 {
			t.Fatalf("%q without + parsed as +%d", raw, p.CountryCode())
		}
		// The fast path and the library agree on every +861 number.
		if got, ok, gotErr := parseMainlandMobile(e); ok {
			want, wantErr := parseE164(e)
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("%q: fast path %+v, %v; library %+v, %v", e, got, gotErr, want, wantErr)
			}
		}
		if m := p.Masked(); strings.Contains(m, p.National()) {
			t.Fatalf("Masked() = %q shows the national number", m)
		}
	})
}

func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{
		"2214102327@qq.com", "Someone@Example.COM", "a.b+tag@sub.example.cn", `"quoted local"@example.com`,
		"user@[127.0.0.1]", "Name <user@example.com>", "a@b", "a@.b.c", "a@b..c", "a@b.c.", "@example.com",
		"a,b@example.com", "user@example.com, other@example.com", " user@example.com ", "user@exämple.com",
		"用户@例子.广告", strings.Repeat("a", 250) + "@b.cn", "a@b.c\x00", "a@b.c\r\nBcc: x@y.z", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		e, err := ParseEmail(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidEmail) || !e.IsZero() {
				t.Fatalf("ParseEmail(%q) = %q, %v: want the zero address and ErrInvalidEmail", raw, e, err)
			}
			return
		}
		s := e.String()
		if s == "" || len(s) > maxEmailBytes || !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00") {
			t.Fatalf("ParseEmail(%q) = %q: empty, too long, or carries control bytes", raw, s)
		}
		// The normal form is canonical: it parses to itself, its domain is
		// lower-case, and only the domain's case differs from the input.
		again, err := ParseEmail(s)
		if err != nil || again != e {
			t.Fatalf("%q parsed to %q, which re-parses to %q, %v", raw, s, again, err)
		}
		at := strings.LastIndexByte(s, '@')
		if dom := s[at+1:]; dom != strings.ToLower(dom) || !strings.Contains(dom, ".") {
			t.Fatalf("%q: domain %q not lower-case or without a dot", raw, dom)
		}
		if in := strings.TrimSpace(raw); !strings.EqualFold(in, s) || in[:strings.LastIndexByte(in, '@')] != s[:at] {
			t.Fatalf("%q normalised to %q: more than the domain's case changed", raw, s)
		}
		// One bare address, as net/mail reads it.
		if a, err := mail.ParseAddress(s); err != nil || a.Name != "" || a.Address != s {
			t.Fatalf("%q: net/mail reads %q as %+v, %v", raw, s, a, err)
		}
	})
}
