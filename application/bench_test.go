package application_test

import (
	"strconv"
	"testing"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/domain"
)

// BenchmarkLogin is the login use case alone on the fakes: the proof
// check (window, failure budget, lockout reservation, vault, proof,
// nonce claim, reset) and the session it opens. The hot path: its
// allocations are what a change to the proof check must not grow.
func BenchmarkLogin(b *testing.B) {
	// One account logging in without end would meet the hourly and
	// per-network limits.
	policy := apptest.DefaultPolicy()
	policy.LoginHourlyLimitPerAccount, policy.FailuresHourlyPerNet = 0, 0
	f := apptest.New(t0, policy)
	p := domain.MustParsePhoneNumber(phone)
	sealed, _ := apptest.Vault{}.Seal(p, "password1")
	email, _ := domain.ParseEmail("2214102327@qq.com")
	if err := f.Users.Create(ctx, domain.NewUser("u1", p, email, sealed, t0)); err != nil {
		b.Fatal(err)
	}
	ts := strconv.FormatInt(t0.Unix(), 10)
	i := 0
	for b.Loop() {
		i++
		random := "r" + strconv.Itoa(i)
		in := application.Login{Phone: phone, EncryptionStr: domain.LoginProof("password1", random, ts), RandomStr: random, TimeStamp: ts}
		if _, err := f.App.Login.Handle(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
