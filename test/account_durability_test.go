package test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// codeBook sorts the codes the console SMS provider logs by the (masked)
// number they went to, so that concurrent flows each wait for their own.
type codeBook struct {
	mu    sync.Mutex
	boxes map[string]chan string
}

// newCodeBook reads p's codes until p exits.
func newCodeBook(p *process) *codeBook {
	b := &codeBook{boxes: map[string]chan string{}}
	go func() {
		for {
			select {
			case l := <-p.codes:
				b.box(l.Phone) <- l.Code
			case <-p.exited:
				return
			}
		}
	}()
	return b
}

func (b *codeBook) box(masked string) chan string {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.boxes[masked]
	if !ok {
		c = make(chan string, 256)
		b.boxes[masked] = c
	}
	return c
}

// next is the next code sent to phone, or "" if none comes within 10 s.
func (b *codeBook) next(phone string) string {
	select {
	case c := <-b.box(domain.MustParsePhoneNumber(phone).Masked()):
		return c
	case <-time.After(10 * time.Second):
		return ""
	}
}

// driven is one account of the kill -9 drill, as the test knows it:
// what the service last answered, and what was in flight at the kill.
type driven struct {
	kind     string // "reset", "password", "phone", "delete"
	phones   [2]string
	email    string
	id       string
	at       int // index in phones of the number answered last
	password string
	token    string
	ops      int
	deleteAt int // for "delete": the op count at which it deletes itself

	// In flight at the kill: a request sent but not answered.
	inflight  bool
	nextPass  string // reset or change-password in flight to this password
	nextPhone int    // change-phone-step-2 in flight to this index
	deleted   bool   // answered 账号已注销
}

// burstClient is an HTTP client for a burst of concurrent requests.
func burstClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 20 * time.Second}
}

// decodeAnswer reads a raw answer.
func decodeAnswer(status int, raw string) answer {
	var a answer
	_ = json.Unmarshal([]byte(raw), &a)
	a.Status, a.Raw = status, raw
	return a
}

// step is one change of d, sent over c to the server at url with codes
// from book. It returns false when the server stopped answering (the
// kill); a wrong answer fails t.
func (d *driven) step(t *testing.T, c *http.Client, url string, book *codeBook) bool {
	post := func(path string, body m, authed bool) (answer, bool) {
		var hdr []string
		if authed {
			hdr = []string{"Authorization", "Bearer " + d.token}
		}
		status, raw, err := rawPost(c, url+path, body, hdr...)
		if err != nil {
			return answer{}, false
		}
		return decodeAnswer(status, raw), true
	}
	proof := func() m { return proofAt(d.password, nextRandom(), time.Now().Unix()) }
	phone := d.phones[d.at]
	fail := func(what string, a answer) bool {
		t.Errorf("%s account %s: %s: %d %s", d.kind, phone, what, a.Status, a.Raw)
		return false
	}
	d.ops++
	switch d.kind {
	case "reset":
		a, ok := post(pathResetStep1, m{"phone_number": phone}, false)
		if !ok {
			return false
		}
		if a.Raw != sent {
			return fail("reset step 1", a)
		}
		code := book.next(phone)
		if code == "" {
			return fail("no code logged for reset", a)
		}
		next := fmt.Sprintf("reset-%s-%d", phone, d.ops)
		d.inflight, d.nextPass = true, next
		if a, ok = post(pathResetStep2, m{"phone_number": phone, "validate_number": code, "password": next, "password_confirm": next}, false); !ok {
			return false
		}
		if a.Raw != resetDoneAnswer {
			return fail("reset step 2", a)
		}
		d.inflight, d.password = false, next
	case "password":
		next := fmt.Sprintf("change-%s-%d", phone, d.ops)
		d.inflight, d.nextPass = true, next
		a, ok := post(pathChangePassword, with(proof(), "password", next, "password_confirm", next), true)
		if !ok {
			return false
		}
		if a.Code != 1 || a.Token == "" {
			return fail("change-password", a)
		}
		d.inflight, d.password, d.token = false, next, a.Token
	case "phone":
		other := 1 - d.at
		a, ok := post(pathChangePhone1, with(proof(), "new_phone_number", d.phones[other]), true)
		if !ok {
			return false
		}
		if a.Raw != sent {
			return fail("change-phone-step-1", a)
		}
		code := book.next(d.phones[other])
		if code == "" {
			return fail("no code logged for the phone change", a)
		}
		d.inflight, d.nextPhone = true, other
		if a, ok = post(pathChangePhone2, m{"new_phone_number": d.phones[other], "validate_number": code}, true); !ok {
			return false
		}
		if a.Code != 1 || a.Token == "" {
			return fail("change-phone-step-2", a)
		}
		d.inflight, d.at, d.token = false, other, a.Token
	case "delete":
		if d.deleted || d.ops < d.deleteAt {
			return true
		}
		d.inflight = true
		a, ok := post(pathDeleteAccount, proof(), true)
		if !ok {
			return false
		}
		if a.Raw != deletedAnswer {
			return fail("delete-account", a)
		}
		d.inflight, d.deleted = false, true
	}
	return true
}

// settle checks d against the restarted server and brings d up to the
// state found: every answered change holds, a change in flight either
// happened or did not, and the account is one account, under one number,
// with its email and id.
func (d *driven) settle(t *testing.T, in *instance, book *codeBook) {
	t.Helper()
	loginAt := func(phone, password string) answer {
		return in.post(t, "/client/login", loginBody(phone, password, nextRandom(), time.Now().Unix()))
	}
	name := fmt.Sprintf("%s account %s", d.kind, d.phones[0])
	switch d.kind {
	case "reset", "password":
		now := loginAt(d.phones[0], d.password)
		switch {
		case now.Code == 1:
			if d.inflight {
				if l := loginAt(d.phones[0], d.nextPass); l.Code == 1 {
					t.Errorf("%s: both the answered and the in-flight password log in", name)
				}
			}
		case d.inflight:
			l := loginAt(d.phones[0], d.nextPass)
			if l.Code != 1 {
				t.Errorf("%s: neither the answered password (%s) nor the in-flight one (%s) logs in", name, now.Raw, l.Raw)
				return
			}
			d.password, now = d.nextPass, l
		default:
			t.Errorf("%s: the password answered before the kill does not log in: %s", name, now.Raw)
			return
		}
		d.check(t, in, name, now)
	case "phone":
		cur, other := loginAt(d.phones[d.at], d.password), loginAt(d.phones[1-d.at], d.password)
		var l answer
		switch {
		case cur.Code == 1 && other.Code == 1:
			t.Errorf("%s: the account logs in under both its numbers", name)
			return
		case cur.Code == 1 && other.Raw == noSuchUserAnswer:
			l = cur
		case other.Code == 1 && cur.Raw == noSuchUserAnswer && d.inflight && d.nextPhone == 1-d.at:
			d.at, l = 1-d.at, other
		default:
			t.Errorf("%s: at the number answered before the kill: %s; at the other: %s (a move in flight: %v)", name, cur.Raw, other.Raw, d.inflight)
			return
		}
		d.check(t, in, name, l)
		// The other number is free, the current one is not.
		in.expect(t, "/client/register-step-1", m{"phone_number": d.phones[d.at]}, 200, userExistsAnswer)
		in.expect(t, "/client/register-step-1", m{"phone_number": d.phones[1-d.at]}, 200, sent)
		book.next(d.phones[1-d.at]) // that code is not one the drill waits for
	case "delete":
		l := loginAt(d.phones[0], d.password)
		switch {
		case l.Raw == noSuchUserAnswer && (d.deleted || d.inflight):
			d.deleted = true
			in.expect(t, "/client/register-step-1", m{"phone_number": d.phones[0]}, 200, sent)
			book.next(d.phones[0])
		case l.Code == 1 && !d.deleted:
			d.check(t, in, name, l)
		default:
			t.Errorf("%s: deleted %v, in flight %v; login after the restart: %s", name, d.deleted, d.inflight, l.Raw)
		}
	}
	d.inflight = false
}

// check: login l is the account's, with its email and id; its token
// becomes the one d drives on.
func (d *driven) check(t *testing.T, in *instance, name string, l answer) {
	t.Helper()
	if l.Email != d.email || subOf(t, l.Token) != d.id {
		t.Errorf("%s: logs in as %s (id %s), want %s (id %s)", name, l.Email, subOf(t, l.Token), d.email, d.id)
	}
	if a := in.me(t, l.Token); a.PhoneNumber != e164(d.phones[d.at]) || a.Email != d.email {
		t.Errorf("%s: GET /client %s", name, a.Raw)
	}
	d.token = l.Token
}

// TestAccountChangesSurviveKill9 runs the server binary on the embedded
// store, drives password resets, password changes, phone changes and
// deletions of many accounts from eight clients at once, and kills it
// with SIGKILL at a random point, twice. After each restart on the same
// DATA_DIR every change that was answered holds; a change in flight at
// the kill either happened or did not; every account that moved logs in
// under exactly one of its two numbers, with its email and id, and the
// other number is free.
func TestAccountChangesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	env := []string{"SMS_RESEND_INTERVAL=1ms", "FAILURES_HOURLY_PER_IP=0", "LOGIN_HOURLY_LIMIT_PER_ACCOUNT=0", "LOGIN_MAX_FAILURES=1000"}
	srv := startServer(t, bin, dir, env...)
	book := newCodeBook(srv)
	in := &instance{base: "http://" + srv.addr}

	kinds := []struct {
		kind string
		n    int
	}{{"reset", 4}, {"password", 4}, {"phone", 8}, {"delete", 8}}
	var accounts []*driven
	for _, k := range kinds {
		for range k.n {
			i := len(accounts)
			d := &driven{kind: k.kind, phones: [2]string{fmt.Sprintf("1370%03d%04d", i, 1000+i), fmt.Sprintf("1371%03d%04d", i, 2000+i)},
				email: fmt.Sprintf("kill%d@qq.com", i), password: "kill-pass-" + fmt.Sprint(i), deleteAt: 1 + i%8*2}
			in.expect(t, "/client/register-step-1", m{"phone_number": d.phones[0]}, 200, sent)
			code := book.next(d.phones[0])
			if code == "" {
				t.Fatalf("no console SMS line for %s", d.phones[0])
			}
			in.verify(t, d.phones[0], code)
			in.expect(t, "/client/register-step-3", m{"phone_number": d.phones[0], "password": d.password, "password_confirm": d.password}, 200, `{"code":1,"message":"提交密码成功"}`)
			in.expect(t, "/client/register-step-4", m{"phone_number": d.phones[0], "email": d.email}, 200, `{"code":1,"message":"注册成功"}`)
			l := in.post(t, "/client/login", loginBody(d.phones[0], d.password, nextRandom(), time.Now().Unix()))
			if l.Code != 1 {
				t.Fatalf("login %d: %s", i, l.Raw)
			}
			d.id, d.token = subOf(t, l.Token), l.Token
			accounts = append(accounts, d)
		}
	}

	const workers = 8
	for round := range 2 {
		c := burstClient(workers)
		url := "http://" + srv.addr
		var answered atomic.Int32
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					for i := w; i < len(accounts); i += workers {
						if !accounts[i].step(t, c, url, book) {
							return
						}
						answered.Add(1)
					}
				}
			}()
		}
		killAt := int32(60 + rand.IntN(120))
		for deadline := time.Now().Add(2 * time.Minute); answered.Load() < killAt; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) || t.Failed() {
				t.Fatalf("only %d of %d steps answered", answered.Load(), killAt)
			}
		}
		if err := srv.cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		wg.Wait()
		srv.wait(t, 10*time.Second)
		c.CloseIdleConnections()
		inflight, deleted := 0, 0
		for _, d := range accounts {
			if d.inflight {
				inflight++
			}
			if d.deleted {
				deleted++
			}
		}
		t.Logf("round %d: killed after %d answered steps; %d changes in flight, %d deletions answered", round, answered.Load(), inflight, deleted)

		srv = startServer(t, bin, dir, env...)
		book = newCodeBook(srv)
		in = &instance{base: "http://" + srv.addr}
		for _, d := range accounts {
			d.settle(t, in, book)
		}
		if t.Failed() {
			return
		}
	}
}

// TestAccountChangesAcrossInstances runs three instances on one MongoDB
// database: every account change made on one holds on the others at
// their next request (each has just served the old token), and the
// flows' steps may land on different instances.
func TestAccountChangesAcrossInstances(t *testing.T) {
	nodes := startCluster(t, 3, map[string]string{"SMS_HOURLY_LIMIT_PER_IP": "0", "SMS_RESEND_INTERVAL": "1s"})
	t.Cleanup(client.CloseIdleConnections)
	a, b, c := nodes[0], nodes[1], nodes[2]
	warm := func(tok string, acc account) {
		t.Helper()
		for _, n := range nodes {
			n.wantAccountIs(t, tok, acc)
		}
	}
	ended := func(what string, s answer) {
		t.Helper()
		for _, n := range nodes {
			n.wantSessionEnded(t, what, s)
		}
	}

	t.Run("change-password on A", func(t *testing.T) {
		acc := account{"13895000001", "cluster-pass-1", "cluster1@qq.com"}
		a.register(t, acc.phone, acc.password, acc.email)
		old, other := b.loginAs(t, acc), c.loginAs(t, acc)
		other = a.refresh(t, other.RefreshToken)
		warm(old.Token, acc)
		warm(other.Token, acc)
		fresh := a.changePassword(t, old.Token, acc.password, "cluster-pass-2")
		ended("a session from before the change", old)
		ended("another device's session", other)
		acc.password = "cluster-pass-2"
		warm(fresh.Token, acc)
		c.loginAs(t, acc)
		if l := b.login(t, acc.phone, "cluster-pass-1"); l.Raw != wrongPasswordAnswer {
			t.Fatalf("the old password on B: %s", l.Raw)
		}
	})

	t.Run("reset over three instances", func(t *testing.T) {
		acc := account{"13895000002", "cluster-pass-1", "cluster2@qq.com"}
		a.register(t, acc.phone, acc.password, acc.email)
		old := a.loginAs(t, acc)
		warm(old.Token, acc)
		a.clock.Advance(61 * time.Second)
		b.expect(t, pathResetStep1, m{"phone_number": acc.phone}, 200, sent)
		c.expect(t, pathResetStep2, m{"phone_number": acc.phone, "validate_number": b.code(t, e164(acc.phone)), "password": "cluster-reset-1", "password_confirm": "cluster-reset-1"}, 200, resetDoneAnswer)
		ended("a session from before the reset", old)
		acc.password = "cluster-reset-1"
		a.loginAs(t, acc)
	})

	t.Run("change-phone over three instances", func(t *testing.T) {
		acc := account{"13895000003", "cluster-pass-1", "cluster3@qq.com"}
		const next = "13895000013"
		a.register(t, acc.phone, acc.password, acc.email)
		old := a.loginAs(t, acc)
		warm(old.Token, acc)
		b.expectAuthed(t, pathChangePhone1, old.Token, with(b.proof(acc.password), "new_phone_number", next), 200, sent)
		fresh := c.authed(t, pathChangePhone2, old.Token, m{"new_phone_number": next, "validate_number": c.code(t, e164(next))})
		wantPair(t, "change-phone-step-2 on C", fresh, phoneChangedMessage)
		ended("a session from before the move", old)
		moved := account{next, acc.password, acc.email}
		warm(fresh.Token, moved)
		a.loginAs(t, moved)
		b.expect(t, "/client/login", loginBody(acc.phone, acc.password, nextRandom(), a.clock.Now().Unix()), 200, noSuchUserAnswer)
		a.clock.Advance(61 * time.Second)
		c.register(t, acc.phone, "cluster-newcomer-1", "newcomer3@qq.com")
	})

	t.Run("delete on A", func(t *testing.T) {
		acc := account{"13895000004", "cluster-pass-1", "cluster4@qq.com"}
		a.register(t, acc.phone, acc.password, acc.email)
		old, other := a.loginAs(t, acc), b.loginAs(t, acc)
		other = c.refresh(t, other.RefreshToken)
		warm(old.Token, acc)
		warm(other.Token, acc)
		a.deleteAccount(t, old.Token, acc.password)
		ended("the deleting session", old)
		ended("another device's session", other)
		c.expect(t, "/client/login", loginBody(acc.phone, acc.password, nextRandom(), a.clock.Now().Unix()), 200, noSuchUserAnswer)
		a.clock.Advance(61 * time.Second)
		b.register(t, acc.phone, "cluster-again-1", acc.email)
	})

	t.Run("six accounts on three instances race for one number", func(t *testing.T) {
		const x, n = "13895000100", 6
		accounts := make([]account, n)
		sessions := make([]answer, n)
		codes := make([]string, n)
		for i := range accounts {
			node := nodes[i%3]
			accounts[i] = account{fmt.Sprintf("138950001%02d", i+1), "cluster-race-1", fmt.Sprintf("cluster-race%d@qq.com", i)}
			node.register(t, accounts[i].phone, accounts[i].password, accounts[i].email)
			sessions[i] = node.loginAs(t, accounts[i])
			a.clock.Advance(2 * time.Second)
			node.expectAuthed(t, pathChangePhone1, sessions[i].Token, with(node.proof(accounts[i].password), "new_phone_number", x), 200, sent)
			codes[i] = node.code(t, e164(x))
		}
		stop := ticking(a.clock)
		answers := parallel(n, func(i int) answer {
			return nodes[(i+1)%3].authed(t, pathChangePhone2, sessions[i].Token, m{"new_phone_number": x, "validate_number": codes[i]})
		})
		stop()
		winner := -1
		for i, got := range answers {
			switch {
			case got.Code == 1 && winner < 0:
				winner = i
			case got.Raw == phoneTakenAnswer:
			default:
				t.Fatalf("racer %d: %d %s (winner so far %d)", i, got.Status, got.Raw, winner)
			}
		}
		if winner < 0 {
			t.Fatal("no account moved")
		}
		for _, node := range nodes {
			node.loginAs(t, account{x, accounts[winner].password, accounts[winner].email})
		}
		for i, acc := range accounts {
			if i != winner {
				nodes[i%3].wantAccountIs(t, sessions[i].Token, acc)
			}
		}
	})
}
