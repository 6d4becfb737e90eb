package test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/adapters/sms/capture"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// kidOf is the kid in an access token's header.
func kidOf(t testing.TB, token string) string {
	t.Helper()
	h, _ := jwtOf(t, token)
	kid, _ := h["kid"].(string)
	return kid
}

func keyIDs(set jose.JSONWebKeySet) []string {
	ids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		ids[i] = k.KeyID
	}
	return ids
}

// TestSessionKeyRotationOverRestarts rotates TOKEN_SIGNING_KEYS as an
// operator would, restarting on one DATA_DIR: k1; then k2,k1 (k2 signs,
// k1 still verifies and is published); then k2 alone.
func TestSessionKeyRotationOverRestarts(t *testing.T) {
	dir := t.TempDir()
	clock := apptest.NewClock(time.Now())
	sms := capture.New()
	k1, k2 := bytes.Repeat([]byte{0x11}, ed25519.SeedSize), bytes.Repeat([]byte{0x22}, ed25519.SeedSize)
	kid1 := crypto.KeyID(ed25519.NewKeyFromSeed(k1).Public().(ed25519.PublicKey))
	kid2 := crypto.KeyID(ed25519.NewKeyFromSeed(k2).Public().(ed25519.PublicKey))
	run := func(keys string) *instance {
		return start(t, options{dataDir: dir, clock: clock, sms: sms, vars: map[string]string{"TOKEN_SIGNING_KEYS": keys}})
	}

	first := run(b64(k1))
	login := first.loggedIn(t) // T1, R1
	if set, _ := first.jwksOf(t); len(set.Keys) != 1 || set.Keys[0].KeyID != kid1 || kidOf(t, login.Token) != kid1 {
		t.Fatalf("under k1: JWKS %v, token kid %s, want %s", keyIDs(set), kidOf(t, login.Token), kid1)
	}
	first.stop()

	clock.Advance(time.Minute)
	second := run(b64(k2) + "," + b64(k1))
	set, _ := second.jwksOf(t)
	if ids := keyIDs(set); len(ids) != 2 || ids[0] != kid2 || ids[1] != kid1 {
		t.Fatalf("under k2,k1 the JWKS lists %v, want [%s %s]", ids, kid2, kid1)
	}
	wantAccount(t, second.me(t, login.Token))
	if _, err := verifyWithJWKS(set, login.Token, clock.Now()); err != nil {
		t.Fatalf("T1 against the rotated JWKS: %v", err)
	}
	next := second.refresh(t, login.RefreshToken)
	if next.Status != 200 || next.Code != 1 || kidOf(t, next.Token) != kid2 {
		t.Fatalf("R1 under k2,k1: %d %s (kid %s, want %s)", next.Status, next.Raw, kidOf(t, next.Token), kid2)
	}
	fresh := second.loginOK(t)
	if kidOf(t, fresh.Token) != kid2 {
		t.Fatalf("a new login under k2,k1 is signed by %s, want %s", kidOf(t, fresh.Token), kid2)
	}
	for _, tok := range []string{next.Token, fresh.Token} {
		if _, err := verifyWithJWKS(set, tok, clock.Now()); err != nil {
			t.Fatalf("a k2 token against the JWKS: %v", err)
		}
	}
	second.stop()

	third := run(b64(k2))
	set, _ = third.jwksOf(t)
	if ids := keyIDs(set); len(ids) != 1 || ids[0] != kid2 {
		t.Fatalf("under k2 the JWKS lists %v, want [%s]", ids, kid2)
	}
	third.wantUnauthorized(t, "T1 once k1 is gone", login.Token)
	if _, err := verifyWithJWKS(set, login.Token, clock.Now()); err == nil {
		t.Fatal("T1 verifies with a JWKS that no longer lists k1")
	}
	wantAccount(t, third.me(t, next.Token))
	wantAccount(t, third.me(t, fresh.Token))
	if a := third.refresh(t, next.RefreshToken); a.Status != 200 || a.Code != 1 {
		t.Fatalf("refresh under k2 alone: %d %s", a.Status, a.Raw)
	}
}

// rawPost posts body as JSON with c and returns what came back, or the
// transport's error (the process may be dying).
func rawPost(c *http.Client, url string, body any, hdr ...string) (int, string, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), err
}

// TestSessionRefreshSurvivesKill9 runs the server binary on the embedded
// store, refreshes (and logs out) sessions from eight clients, and kills
// it with SIGKILL in the middle. After a restart on the same DATA_DIR
// every refresh that was answered is the session's current one (or,
// with a refresh in flight at the kill, the one before it): its token
// refreshes, and the token before it counts as reuse; every logout that
// was answered holds.
func TestSessionRefreshSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	// A grace long enough that a refresh in flight at the kill, written
	// but not answered, is answered again after the restart.
	env := []string{"REFRESH_REUSE_GRACE=5m"}
	srv := startServer(t, bin, dir, env...)
	srv.prepare(t, sessPhone, sessPassword)
	base := &instance{base: "http://" + srv.addr}
	base.expect(t, "/client/register-step-4", m{"phone_number": sessPhone, "email": sessEmail}, 200, `{"code":1,"message":"注册成功"}`)

	// Each session has been refreshed once before the burst, so that it
	// has a predecessor.
	const sessions, workers = 24, 8
	type chain struct {
		prev, cur  answer // the last two answered pairs
		logoutSent bool   // a logout of it was sent
		loggedOut  bool   // and answered
		refreshes  int
		logoutWhen int // log out after this many refreshes in the burst; 0: never
	}
	chains := make([]*chain, sessions)
	for i := range chains {
		login := srv.login(t, sessPhone, sessPassword)
		if login.Code != 1 {
			t.Fatalf("login %d: %s", i, login.Raw)
		}
		next := base.refresh(t, login.RefreshToken)
		if next.Code != 1 {
			t.Fatalf("refresh %d: %s", i, next.Raw)
		}
		chains[i] = &chain{prev: login, cur: next}
		if i%6 == 0 {
			chains[i].logoutWhen = 2 + i/6
		}
	}

	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	burst := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	url := "http://" + srv.addr
	var answered atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				progressed := false
				for i := w; i < sessions; i += workers {
					c := chains[i]
					if c.logoutSent {
						continue
					}
					if c.logoutWhen > 0 && c.refreshes == c.logoutWhen {
						c.logoutSent = true
						status, raw, err := rawPost(burst, url+"/client/logout", m{}, "token", c.cur.Token)
						if err != nil {
							return
						}
						if status != 200 || raw != loggedOutAnswer {
							t.Errorf("logout of session %d: %d %s", i, status, raw)
							return
						}
						c.loggedOut = true
						answered.Add(1)
						progressed = true
						continue
					}
					status, raw, err := rawPost(burst, url+"/client/token/refresh", m{"refresh_token": c.cur.RefreshToken})
					if err != nil {
						return // killed
					}
					var a answer
					if err := json.Unmarshal([]byte(raw), &a); err != nil || status != 200 || a.Code != 1 {
						t.Errorf("refresh of session %d: %d %s", i, status, raw)
						return
					}
					a.Status, a.Raw = status, raw
					c.prev, c.cur = c.cur, a
					c.refreshes++
					answered.Add(1)
					progressed = true
				}
				if !progressed {
					return
				}
			}
		}()
	}
	for deadline := time.Now().Add(time.Minute); answered.Load() < 150; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d answers in a minute", answered.Load())
		}
	}
	if err := srv.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	wg.Wait()
	srv.wait(t, 10*time.Second)
	t.Logf("killed after %d answered refreshes and logouts", answered.Load())

	again := startServer(t, bin, dir, env...)
	in := &instance{base: "http://" + again.addr}
	loggedOut := 0
	for i, c := range chains {
		switch {
		case c.logoutSent && !c.loggedOut:
			continue // in flight at the kill: either outcome is allowed
		case c.loggedOut:
			loggedOut++
			in.wantUnauthorized(t, fmt.Sprintf("session %d, logged out before the kill", i), c.cur.Token)
			in.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": c.cur.RefreshToken}, 401, invalidRefreshAnswer)
			continue
		}
		a := in.refresh(t, c.cur.RefreshToken)
		if a.Status != 200 || a.Code != 1 {
			t.Errorf("session %d: the refresh token answered before the kill (after %d refreshes) does not refresh after it: %d %s", i, c.refreshes, a.Status, a.Raw)
			continue
		}
		wantAccount(t, in.me(t, a.Token))
		if r := in.refresh(t, c.prev.RefreshToken); r.Status != 401 || r.Raw != reusedAnswer {
			t.Errorf("session %d: the token before the one answered at the kill: %d %s, want reuse", i, r.Status, r.Raw)
		}
		in.wantUnauthorized(t, fmt.Sprintf("session %d after its reuse", i), a.Token)
	}
	if loggedOut == 0 {
		t.Error("no logout was answered before the kill: the drill proved nothing of revocation")
	}
}

// TestSessionRevocationAcrossInstances runs three instances on one
// MongoDB database: refresh races spread over them make one successor,
// and every revocation made on one holds on the others at their next
// request.
func TestSessionRevocationAcrossInstances(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	t.Cleanup(client.CloseIdleConnections) // before the instances stop (see testParallelRefreshes)
	a, b, c := nodes[0], nodes[1], nodes[2]
	a.register(t, sessPhone, sessPassword, sessEmail)
	// warm has every instance serve the token first: a cache, if there
	// were one, would hold it now.
	warm := func(tok string) {
		t.Helper()
		for _, n := range nodes {
			wantAccount(t, n.me(t, tok))
		}
	}

	t.Run("parallel refreshes over three instances make one successor", func(t *testing.T) {
		cur := a.loginOK(t)
		first := cur
		for round := range 3 {
			stop := ticking(a.clock)
			answers := parallel(21, func(i int) answer { return nodes[i%3].refresh(t, cur.RefreshToken) })
			stop()
			for i, ans := range answers {
				if ans.Status != 200 || ans.Code != 1 || ans.Raw != answers[0].Raw {
					t.Fatalf("round %d: answer %d (instance %d) is %d %s, answer 0 %s", round, i, i%3, ans.Status, ans.Raw, answers[0].Raw)
				}
			}
			if answers[0].RefreshToken == cur.RefreshToken {
				t.Fatalf("round %d: no successor", round)
			}
			cur = answers[0]
			warm(cur.Token)
		}
		// Reuse on one instance ends the session on the others.
		a.clock.Advance(defaultGrace + time.Millisecond)
		b.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": first.RefreshToken}, 401, reusedAnswer)
		c.wantUnauthorized(t, "the newest token after a reuse on another instance", cur.Token)
		a.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": cur.RefreshToken}, 401, invalidRefreshAnswer)
	})

	t.Run("logout on A is refused on B and C at the next request", func(t *testing.T) {
		// One session refreshed (recorded), one never refreshed.
		s := a.loginOK(t)
		next := b.refresh(t, s.RefreshToken)
		never := c.loginOK(t)
		warm(next.Token)
		warm(never.Token)
		a.expectCall(t, http.MethodPost, "/client/logout", m{}, 200, loggedOutAnswer, "Authorization", "Bearer "+next.Token)
		a.expectCall(t, http.MethodGet, "/client/logout", nil, 200, loggedOutAnswer, "token", never.Token)
		for _, n := range []*instance{b, c} {
			for name, tok := range map[string]string{"refreshed": next.Token, "its login's": s.Token, "never refreshed": never.Token} {
				if got := n.me(t, tok); got.Status != 401 || got.Raw != unauthorizedAnswer {
					t.Errorf("%s session's token right after logout on A: %d %s", name, got.Status, got.Raw)
				}
			}
			// Within the grace, the used token gets no pair.
			for _, r := range []string{s.RefreshToken, next.RefreshToken, never.RefreshToken} {
				n.expectCall(t, http.MethodPost, "/client/token/refresh", m{"refresh_token": r}, 401, invalidRefreshAnswer)
			}
		}
	})

	t.Run("logout all on A ends every session on B; a login after it works on C", func(t *testing.T) {
		x := a.loginOK(t)
		y := b.loginOK(t)
		yNext := c.refresh(t, y.RefreshToken)
		z := c.loginOK(t)
		for _, tok := range []string{x.Token, yNext.Token, z.Token} {
			warm(tok)
		}
		a.expectCall(t, http.MethodPost, "/client/logout", m{"all": true}, 200, loggedOutAnswer, "token", x.Token)
		for name, s := range map[string]answer{"x": x, "y": y, "y refreshed": yNext, "z": z} {
			if got := b.me(t, s.Token); got.Status != 401 || got.Raw != unauthorizedAnswer {
				t.Errorf("session %s on B after logout all on A: %d %s", name, got.Status, got.Raw)
			}
			if got := b.refresh(t, s.RefreshToken); got.Status != 401 || got.Raw != invalidRefreshAnswer {
				t.Errorf("refresh of session %s on B after logout all on A: %d %s", name, got.Status, got.Raw)
			}
		}
		after := c.loginOK(t)
		warm(after.Token)
		next := b.refresh(t, after.RefreshToken)
		if next.Status != 200 || next.Code != 1 {
			t.Fatalf("refresh of a session opened after logout all: %d %s", next.Status, next.Raw)
		}
		warm(next.Token)
	})
}
