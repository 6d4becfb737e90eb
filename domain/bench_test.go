package domain_test

import (
	"testing"

	"github.com/phoneauth/phoneauth/domain"
)

func BenchmarkParsePhoneNumber(b *testing.B) {
	for _, in := range []string{"15850551102", "+8615850551102", "+86 158 5055 1102", "+447911123456"} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				if _, err := domain.ParsePhoneNumber(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRestorePhoneNumber is what a store pays to rebuild a stored
// number (Users.ByID, every authenticated request), against
// BenchmarkParsePhoneNumber of the same number.
func BenchmarkRestorePhoneNumber(b *testing.B) {
	for _, in := range []string{"+8615850551102", "+447911123456"} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				if _, err := domain.RestorePhoneNumber(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckLoginProof is the seed's proof: SHA-256 of password ‖
// random_str ‖ time_stamp, compared in constant time.
func BenchmarkCheckLoginProof(b *testing.B) {
	proof := domain.LoginProof("correct-horse", "k3j4h5", "1764000000")
	for b.Loop() {
		if !domain.CheckLoginProof("correct-horse", "k3j4h5", "1764000000", proof) {
			b.Fatal("refused")
		}
	}
}
