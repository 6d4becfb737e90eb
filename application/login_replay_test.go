package application_test

import (
	"errors"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
)

// TestLoginStaleWhenReplayMemoryForgot: a nonce store that forgot the
// oldest triples under pressure answers stale for them, and the login is
// refused as stale (the client retries with a fresh time stamp), not
// accepted and not failed as unavailable; newer requests go through.
func TestLoginStaleWhenReplayMemoryForgot(t *testing.T) {
	f := newFakes(t)
	register(t, f, phone, "password1", "a@qq.com")
	window := f.Policy.LoginTimeWindow
	// The store forgot every triple stamped up to t0-100 s.
	f.Nonces.Floor = t0.Add(-100 * time.Second).Add(window + time.Second)
	for _, age := range []int64{100, 250} {
		res, err := f.App.Login.Handle(ctx, loginReq("password1", "old", t0.Unix()-age))
		if !errors.Is(err, application.ErrStaleRequest) || res.Token != "" {
			t.Errorf("login stamped %d s ago = %+v, %v; want application.ErrStaleRequest", age, res, err)
		}
	}
	if _, err := f.App.Login.Handle(ctx, loginReq("password1", "new", t0.Unix()-99)); err != nil {
		t.Errorf("login stamped after the forgotten ones: %v", err)
	}
}
