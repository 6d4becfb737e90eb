package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

func testUsers(t *testing.T, newStores func(*testing.T) Stores) {
	open := func(t *testing.T) application.Users {
		t.Helper()
		s := newStores(t)
		if s.Users == nil {
			t.Skip("Users not implemented by these stores")
		}
		return s.Users
	}

	t.Run("ByPhoneRoundTripsEveryField", func(t *testing.T) {
		users, ctx := open(t), t.Context()
		// A sub-millisecond part shows the store keeps at least milliseconds.
		created := base.Add(1234567 * time.Microsecond)
		want := domain.NewUser("user-1", phone(1), email(t, "Alice.Smith@Example.COM"), everyByte(), created)
		if err := users.Create(ctx, want); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := users.ByPhone(ctx, domain.MustParsePhoneNumber("13800000001"))
		if err != nil {
			t.Fatalf("ByPhone: %v", err)
		}
		if got.ID() != want.ID() {
			t.Errorf("ID = %q, want %q", got.ID(), want.ID())
		}
		if got.Phone() != want.Phone() {
			t.Errorf("Phone = %+v, want %+v", got.Phone(), want.Phone())
		}
		if got.Email() != want.Email() {
			t.Errorf("Email = %q, want %q", got.Email(), want.Email())
		}
		if !bytes.Equal(got.SealedPassword(), want.SealedPassword()) {
			t.Errorf("SealedPassword = %x, want %x", got.SealedPassword(), want.SealedPassword())
		}
		if !sameMillis(got.CreatedAt(), created) {
			t.Errorf("CreatedAt = %v, want %v to the millisecond", got.CreatedAt(), created)
		}
	})

	t.Run("UnknownPhone", func(t *testing.T) {
		users, ctx := open(t), t.Context()
		if err := users.Create(ctx, domain.NewUser("u1", phone(1), email(t, "a@example.com"), []byte{1}, base)); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if _, err := users.ByPhone(ctx, phone(2)); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("ByPhone(unknown) error = %v, want domain.ErrUserNotFound", err)
		}
		for p, want := range map[domain.PhoneNumber]bool{phone(1): true, phone(2): false} {
			got, err := users.Exists(ctx, p)
			if err != nil || got != want {
				t.Errorf("Exists(%s) = %v, %v; want %v, nil", p.Masked(), got, err, want)
			}
		}
	})

	t.Run("ByIDAndSessionGeneration", func(t *testing.T) {
		users, ctx := open(t), t.Context()
		created := base.Add(1234567 * time.Microsecond)
		want := domain.NewUser("user-1", phone(1), email(t, "Alice.Smith@Example.COM"), everyByte(), created)
		for i, u := range []*domain.User{want, domain.NewUser("user-2", phone(2), email(t, "b@example.com"), []byte{2}, base)} {
			if err := users.Create(ctx, u); err != nil {
				t.Fatalf("Create %d: %v", i, err)
			}
		}
		got, err := users.ByID(ctx, "user-1")
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		if got.ID() != want.ID() || got.Phone() != want.Phone() || got.Email() != want.Email() ||
			!bytes.Equal(got.SealedPassword(), want.SealedPassword()) || !sameMillis(got.CreatedAt(), created) ||
			got.SessionGeneration() != 0 {
			t.Errorf("ByID = %q %s %q %v gen %d; want %q %s %q %v gen 0", got.ID(), got.Phone().Masked(), got.Email(),
				got.CreatedAt(), got.SessionGeneration(), want.ID(), want.Phone().Masked(), want.Email(), created)
		}
		for i := uint64(1); i <= 3; i++ {
			gen, err := users.RevokeSessions(ctx, "user-1")
			if err != nil || gen != i {
				t.Fatalf("RevokeSessions #%d = %d, %v; want %d", i, gen, err, i)
			}
		}
		for name, read := range map[string]func() (*domain.User, error){
			"ByID":    func() (*domain.User, error) { return users.ByID(ctx, "user-1") },
			"ByPhone": func() (*domain.User, error) { return users.ByPhone(ctx, phone(1)) },
		} {
			u, err := read()
			if err != nil {
				t.Errorf("%s after three revocations: %v", name, err)
			} else if u.SessionGeneration() != 3 || u.Email() != want.Email() || !bytes.Equal(u.SealedPassword(), want.SealedPassword()) {
				t.Errorf("%s after three revocations: generation %d, email %q; want generation 3, the rest unchanged", name, u.SessionGeneration(), u.Email())
			}
		}
		if u, err := users.ByID(ctx, "user-2"); err != nil || u.SessionGeneration() != 0 || u.Phone() != phone(2) {
			t.Errorf("the other account: %v; want it found, at generation 0", err)
		}
		if _, err := users.ByID(ctx, "user-3"); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("ByID(unknown) error = %v, want domain.ErrUserNotFound", err)
		}
		if _, err := users.RevokeSessions(ctx, "user-3"); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("RevokeSessions(unknown) error = %v, want domain.ErrUserNotFound", err)
		}
	})

	t.Run("ConcurrentRevokeSessionsCountsEach", func(t *testing.T) {
		users, ctx := open(t), t.Context()
		if err := users.Create(ctx, domain.NewUser("u1", phone(1), email(t, "a@example.com"), []byte{1}, base)); err != nil {
			t.Fatalf("Create: %v", err)
		}
		gens := make([]uint64, concurrency)
		errs := race(concurrency, func(i int) error {
			var err error
			gens[i], err = users.RevokeSessions(ctx, "u1")
			return err
		})
		seen := map[uint64]bool{}
		for i, err := range errs {
			if err != nil || gens[i] < 1 || gens[i] > concurrency || seen[gens[i]] {
				t.Errorf("RevokeSessions %d = %d, %v; want a generation of its own in 1..%d", i, gens[i], err, concurrency)
			}
			seen[gens[i]] = true
		}
		if u, err := users.ByID(ctx, "u1"); err != nil || u.SessionGeneration() != concurrency {
			t.Errorf("after %d revocations: %v, want generation %d", concurrency, err, concurrency)
		}
	})

	t.Run("CreateRefusesTakenPhone", func(t *testing.T) {
		users, ctx := open(t), t.Context()
		if err := users.Create(ctx, domain.NewUser("u1", phone(1), email(t, "a@example.com"), []byte{1}, base)); err != nil {
			t.Fatalf("Create: %v", err)
		}
		err := users.Create(ctx, domain.NewUser("u2", phone(1), email(t, "b@example.com"), []byte{2}, base))
		if !errors.Is(err, domain.ErrUserExists) {
			t.Fatalf("second Create for the phone error = %v, want domain.ErrUserExists", err)
		}
		got, err := users.ByPhone(ctx, phone(1))
		if err != nil || got.ID() != "u1" || got.Email().String() != "a@example.com" {
			t.Errorf("after refused Create, ByPhone = %v, %v; want the first user unchanged", got, err)
		}
		// The refused Create must not have reserved its email.
		if err := users.Create(ctx, domain.NewUser("u3", phone(2), email(t, "b@example.com"), []byte{3}, base)); err != nil {
			t.Errorf("Create with the refused user's email: %v, want nil", err)
		}
	})

	t.Run("CreateRefusesTakenEmail", func(t *testing.T) {
		users, ctx := open(t), t.Context()
		if err := users.Create(ctx, domain.NewUser("u1", phone(1), email(t, "a@example.com"), []byte{1}, base)); err != nil {
			t.Fatalf("Create: %v", err)
		}
		// The domain lower-cases the domain part: this is the same address.
		err := users.Create(ctx, domain.NewUser("u2", phone(2), email(t, "a@EXAMPLE.com"), []byte{2}, base))
		if !errors.Is(err, domain.ErrEmailTaken) {
			t.Fatalf("Create with a taken email error = %v, want domain.ErrEmailTaken", err)
		}
		if ok, err := users.Exists(ctx, phone(2)); err != nil || ok {
			t.Errorf("Exists(refused phone) = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("ConcurrentCreateOnePhone", func(t *testing.T) {
		users, ctx := open(t), t.Context()
		contenders := make([]*domain.User, concurrency)
		for i := range contenders {
			contenders[i] = domain.NewUser(fmt.Sprintf("u%d", i), phone(1), email(t, fmt.Sprintf("u%d@example.com", i)), []byte{byte(i)}, base)
		}
		errs := race(concurrency, func(i int) error { return users.Create(ctx, contenders[i]) })
		winner := checkOneWinner(t, errs, domain.ErrUserExists)
		if winner < 0 {
			return
		}
		got, err := users.ByPhone(ctx, phone(1))
		if err != nil || got.ID() != fmt.Sprintf("u%d", winner) {
			t.Errorf("ByPhone = %v, %v; want the winner u%d", got, err, winner)
		}
		for i := range concurrency {
			if i == winner {
				continue
			}
			u := domain.NewUser(fmt.Sprintf("v%d", i), phone(100+i), email(t, fmt.Sprintf("u%d@example.com", i)), nil, base)
			if err := users.Create(ctx, u); err != nil {
				t.Errorf("loser %d's email stayed reserved: %v", i, err)
			}
		}
	})

	t.Run("ConcurrentCreateOneEmail", func(t *testing.T) {
		users, ctx := open(t), t.Context()
		same := email(t, "same@example.com")
		contenders := make([]*domain.User, concurrency)
		for i := range contenders {
			contenders[i] = domain.NewUser(fmt.Sprintf("u%d", i), phone(i), same, []byte{byte(i)}, base)
		}
		errs := race(concurrency, func(i int) error { return users.Create(ctx, contenders[i]) })
		winner := checkOneWinner(t, errs, domain.ErrEmailTaken)
		for i := range concurrency {
			ok, err := users.Exists(ctx, phone(i))
			if err != nil || ok != (i == winner) {
				t.Errorf("Exists(phone %d) = %v, %v; want %v (winner %d)", i, ok, err, i == winner, winner)
			}
		}
	})
}

// checkOneWinner requires exactly one nil among errs and loss for all
// others, and returns the winner's index (-1 if there was none).
func checkOneWinner(t *testing.T, errs []error, loss error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("calls %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loss):
			t.Errorf("call %d error = %v, want nil or %v", i, err, loss)
		}
	}
	if winner < 0 {
		t.Errorf("no call succeeded")
	}
	return winner
}
