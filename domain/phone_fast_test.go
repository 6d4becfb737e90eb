package domain

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestMainlandFastPathMatchesLibrary proves the fast path answers what
// the library answers: for every five-digit prefix 10000-19999 (the CN
// mobile, fixed-line, shared-cost and carrier-prefix patterns all decide
// within five digits for 11-digit numbers starting with 1) with an
// extreme and a random suffix each, plus random numbers, both forms agree on the error, the
// E.164 form, the calling code and the national number.
func TestMainlandFastPathMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs []string
	for prefix := 10000; prefix <= 19999; prefix++ {
		for _, suffix := range []int{999999 * (prefix % 2), rng.IntN(1_000_000)} {
			inputs = append(inputs, fmt.Sprintf("+86%05d%06d", prefix, suffix))
		}
	}
	for range 3000 {
		inputs = append(inputs, fmt.Sprintf("+861%010d", rng.Int64N(10_000_000_000)))
	}
	fast, valid := 0, 0
	for _, d := range inputs {
		got, ok, gotErr := parseMainlandMobile(d)
		want, wantErr := parseE164(d)
		if !ok {
			continue // the general path answers it: nothing to compare
		}
		fast++
		if gotErr != wantErr || got != want {
			t.Fatalf("%s: fast path %+v, %v; library %+v, %v", d, got, gotErr, want, wantErr)
		}
		if gotErr == nil {
			valid++
		}
	}
	// The fast path must actually serve the common case, or this test
	// proves nothing about the numbers that matter.
	if fast < len(inputs)*3/4 || valid < fast/2 {
		t.Fatalf("fast path took %d of %d inputs, %d valid", fast, len(inputs), valid)
	}
	t.Logf("compared %d numbers on the fast path (%d valid mobile), %d left to the library", fast, valid, len(inputs)-fast)
}

// TestParsePhoneNumberFormsAgree checks that the forms docs/api.md (Phone
// numbers) names for one account give the same number through
// ParsePhoneNumber, and that the fast path declines the numbers the
// library would strip a prefix from.
func TestParsePhoneNumberFormsAgree(t *testing.T) {
	for _, raw := range []string{"15850551102", "+8615850551102", "+86 158 5055 1102", "+86-158-5055-1102", "158 5055 1102"} {
		p, err := ParsePhoneNumber(raw)
		if err != nil || p.E164() != "+8615850551102" || p.National() != "15850551102" || p.CountryCode() != 86 {
			t.Errorf("ParsePhoneNumber(%q) = %+v, %v", raw, p, err)
		}
	}
	for _, d := range []string{"+8611234567890", "+8612345678901", "+8617951234567"} {
		if _, ok, _ := parseMainlandMobile(d); ok {
			t.Errorf("fast path took %s, which carries a carrier prefix the library strips", d)
		}
	}
}

// TestRestorePhoneNumberMatchesParse: what a store reads back is the
// number ParsePhoneNumber gave, field for field: for random mainland
// mobiles and, for every region the library knows, its example mobile
// and fixed-or-mobile numbers that ParsePhoneNumber accepts. Anything
// that is not a stored E.164 number is refused.
func TestRestorePhoneNumberMatchesParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var inputs []string
	for range 2000 {
		inputs = append(inputs, fmt.Sprintf("+861%010d", rng.Int64N(10_000_000_000)))
	}
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE} {
			if n := phonenumbers.GetExampleNumberForType(region, typ); n != nil {
				inputs = append(inputs, phonenumbers.Format(n, phonenumbers.E164))
			}
		}
	}
	parsed, countries := 0, map[int]bool{}
	for _, in := range inputs {
		want, err := ParsePhoneNumber(in)
		if err != nil {
			continue
		}
		parsed++
		countries[want.CountryCode()] = true
		got, err := RestorePhoneNumber(want.E164())
		if err != nil || got != want {
			t.Fatalf("%s: restored %+v, %v; parsed %+v", in, got, err, want)
		}
	}
	if parsed < 1000 || len(countries) < 150 {
		t.Fatalf("compared only %d numbers of %d calling codes", parsed, len(countries))
	}
	for _, bad := range []string{"", "+", "+8", "8615850551102", "+86", "+0123456789", "+86 15850551102", "+86158505511021234",
		"+8615850551102\n", "+99912345678", "+١٥٨٥٠٥٥١١٠٢", "15850551102"} {
		if p, err := RestorePhoneNumber(bad); err != ErrInvalidPhone {
			t.Errorf("RestorePhoneNumber(%q) = %+v, %v", bad, p, err)
		}
	}
}
