package crypto_test

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/domain"
)

var (
	benchPhone = domain.MustParsePhoneNumber("15850551102")
	benchKey   = bytes.Repeat([]byte{7}, crypto.KeySize)
	benchNow   = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
)

// BenchmarkLoginVerification is the login's proof check: open the sealed
// password (AES-256-GCM), hash password ‖ random_str ‖ time_stamp
// (SHA-256) and compare in constant time.
func BenchmarkLoginVerification(b *testing.B) {
	v, err := crypto.NewVault(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := v.Seal(benchPhone, "correct-horse")
	if err != nil {
		b.Fatal(err)
	}
	ts := strconv.FormatInt(benchNow.Unix(), 10)
	proof := domain.LoginProof("correct-horse", "k3j4h5", ts)
	for b.Loop() {
		pw, err := v.Open(benchPhone, sealed)
		if err != nil || !domain.CheckLoginProof(pw, "k3j4h5", ts, proof) {
			b.Fatal("proof refused")
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	v, err := crypto.NewVault(benchKey)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := v.Seal(benchPhone, "correct-horse"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashCode is the SMS code's HMAC-SHA-256 (steps 1 and 2).
func BenchmarkHashCode(b *testing.B) {
	h := crypto.NewCodeHasher(benchKey)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if len(h.HashCode(benchPhone, "454078")) != 32 {
				b.Fatal("short hash")
			}
		}
	})
}

// BenchmarkIssueToken is the HS256 session token of every login.
func BenchmarkIssueToken(b *testing.B) {
	t := crypto.NewTokenIssuer(benchKey, 7*24*time.Hour)
	for b.Loop() {
		if _, _, err := t.Issue("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", benchNow); err != nil {
			b.Fatal(err)
		}
	}
}
