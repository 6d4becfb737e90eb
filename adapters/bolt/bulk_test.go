package bolt_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/phoneauth/phoneauth/adapters/bolt"
	"github.com/phoneauth/phoneauth/domain"
)

func TestBulkCreateUsers(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "phoneauth.db"))
	defer s.Close()
	ctx := t.Context()
	loader := bolt.NewBulkLoader(s)
	users := makeUsers(t, 0, 1200)
	if err := loader.BulkCreateUsers(ctx, users); err != nil {
		t.Fatalf("BulkCreateUsers: %v", err)
	}
	for _, i := range []int{0, 599, 1199} {
		got, err := s.Users().ByPhone(ctx, users[i].Phone())
		if err != nil || got.ID() != users[i].ID() || got.Email() != users[i].Email() {
			t.Errorf("ByPhone(user %d) = %v, %v", i, got, err)
		}
	}
	if err := s.Users().Create(ctx, users[7]); !errors.Is(err, domain.ErrUserExists) {
		t.Errorf("Create of a bulk-loaded phone = %v, want domain.ErrUserExists", err)
	}
	other := domain.NewUser("x", phoneNumber(5000), users[7].Email(), nil, base)
	if err := s.Users().Create(ctx, other); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("Create with a bulk-loaded email = %v, want domain.ErrEmailTaken", err)
	}
	if err := loader.BulkCreateUsers(ctx, []*domain.User{other, users[3]}); !errors.Is(err, domain.ErrUserExists) {
		t.Errorf("BulkCreateUsers with a taken phone = %v, want domain.ErrUserExists", err)
	}
	if ok, _ := s.Users().Exists(ctx, other.Phone()); ok {
		t.Errorf("a refused bulk transaction stored its other users")
	}
}
