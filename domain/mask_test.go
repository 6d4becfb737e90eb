package domain_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth/domain"
)

func TestMaskDigitRuns(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"no digits":           "no digits",
		"code 160038 refused": "code 160038 refused",
		"Invalid 'To' Phone Number: +8615850551102": "Invalid 'To' Phone Number: +*************",
		"号码15850551102无效":                           "号码***********无效",
		"1234567":                                   "*******",
		"123456 1234567 12345678":                   "123456 ******* ********",
		"+86 158 5055 1102":                         "+86 158 5055 1102",
		"biz 900619746936498440^0":                  "biz ******************^0",
		"２０２６１１３０１２３":                               "２０２６１１３０１２３", // only ASCII digits
	} {
		if got := domain.MaskDigitRuns(in); got != want {
			t.Errorf("MaskDigitRuns(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzMaskDigitRuns(f *testing.F) {
	for _, s := range []string{"", "1234567", "a12345678b", "123456", "+8615850551102 and 20261130"} {
		f.Add(s)
	}
	long := regexp.MustCompile(`[0-9]{7,}`)
	f.Fuzz(func(t *testing.T, s string) {
		got := domain.MaskDigitRuns(s)
		if len(got) != len(s) {
			t.Fatalf("length changed: %q -> %q", s, got)
		}
		if long.MatchString(got) {
			t.Fatalf("a long run survived: %q -> %q", s, got)
		}
		want := long.ReplaceAllStringFunc(s, func(r string) string { return strings.Repeat("*", len(r)) })
		if got != want {
			t.Fatalf("MaskDigitRuns(%q) = %q, want %q", s, got, want)
		}
	})
}
