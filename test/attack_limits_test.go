package test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/phoneauth/phoneauth/adapters/sms/capture"
)

// The attacks on the limits, end to end. Client networks are told apart
// by X-Forwarded-For from a trusted loopback proxy.

// limitOptions is store's options with the loopback peer trusted as a
// proxy, plus vars.
func limitOptions(store options, vars map[string]string) options {
	o := store
	o.vars = map[string]string{"TRUSTED_PROXIES": "127.0.0.0/8"}
	for k, v := range store.vars {
		o.vars[k] = v
	}
	for k, v := range vars {
		o.vars[k] = v
	}
	return o
}

// from posts body to path as a client of network ip.
func (in *instance) from(t testing.TB, ip, path string, body any) answer {
	t.Helper()
	return in.postWith(t, path, body, "X-Forwarded-For", ip)
}

func bothStores(t *testing.T, run func(t *testing.T, store options)) {
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) { run(t, storeOptions(t, store)) })
	}
}

// parallel runs fn(i) for i in [0,n) released together and returns the
// answers by index.
func parallel(n int, fn func(i int) answer) []answer {
	out := make([]answer, n)
	var wg sync.WaitGroup
	gun := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gun
			out[i] = fn(i)
		}()
	}
	close(gun)
	wg.Wait()
	return out
}

const sent = `{"code":1,"message":"发送成功"}`

// TestAttackOverLimitClientSpendsNothing: a client network past its own
// hourly limit keeps sending step 1 for strangers' numbers. Its refused
// requests must start no stranger's cooldown and spend no stranger's
// daily quota: the strangers, from their own networks, then get a code.
func TestAttackOverLimitClientSpendsNothing(t *testing.T) {
	bothStores(t, func(t *testing.T, store options) {
		in := start(t, limitOptions(store, map[string]string{"SMS_HOURLY_LIMIT_PER_IP": "3", "SMS_DAILY_LIMIT_PER_PHONE": "2"}))
		const attacker = "203.0.113.66"
		for i := range 3 {
			if a := in.from(t, attacker, "/client/register-step-1", m{"phone_number": "1370000000" + strconv.Itoa(i)}); a.Code != 1 {
				t.Fatalf("attacker's own send %d: %s", i, a.Raw)
			}
		}
		// Past its limit, for twenty strangers' numbers at once.
		for i := range 20 {
			if a := in.from(t, attacker, "/client/register-step-1", m{"phone_number": "137100000" + fmt.Sprintf("%02d", i)}); a.Status != 429 || a.Error != "rate_limited" {
				t.Fatalf("over-limit send %d: %d %s", i, a.Status, a.Raw)
			}
		}
		// And for one stranger, again and again as each cooldown would end.
		const victim = "13720000000"
		for range 4 {
			if a := in.from(t, attacker, "/client/register-step-1", m{"phone_number": victim}); a.Status != 429 {
				t.Fatalf("over-limit send for the victim: %d %s", a.Status, a.Raw)
			}
			in.clock.Advance(61 * time.Second)
		}
		for i := range 20 {
			in.expectFrom(t, "198.51.100."+strconv.Itoa(i), "/client/register-step-1", m{"phone_number": "137100000" + fmt.Sprintf("%02d", i)}, 200, sent)
		}
		in.expectFrom(t, "198.51.100.200", "/client/register-step-1", m{"phone_number": victim}, 200, sent)
		in.clock.Advance(61 * time.Second)
		in.expectFrom(t, "198.51.100.201", "/client/register-step-1", m{"phone_number": victim}, 200, sent)
	})
}

func (in *instance) expectFrom(t testing.TB, ip, path string, body any, status int, raw string) answer {
	t.Helper()
	a := in.from(t, ip, path, body)
	if a.Status != status || (raw != "" && a.Raw != raw) {
		t.Fatalf("POST %s %v from %s\n got  %d %s\n want %d %s", path, body, ip, a.Status, a.Raw, status, raw)
	}
	return a
}

// TestAttackFullMemoryTableRefusesNobody: in embedded mode the limit
// tables are bounded (MEMORY_MAX_ENTRIES). Filling them, here with many
// networks' allowed sends, must not turn new clients away: the tables
// forget their oldest entries instead.
func TestAttackFullMemoryTableRefusesNobody(t *testing.T) {
	in := start(t, limitOptions(options{}, map[string]string{"MEMORY_MAX_ENTRIES": "1000", "SMS_HOURLY_LIMIT_GLOBAL": "0"}))
	// Each send holds a cooldown, a daily count and its network's count:
	// 400 sends from 400 networks hold 1,200 entries.
	const n = 400
	answers := parallel(n, func(i int) answer {
		return in.from(t, fmt.Sprintf("10.1.%d.%d", i/200, i%200), "/client/register-step-1", m{"phone_number": fmt.Sprintf("1390%07d", i)})
	})
	for i, a := range answers {
		if a.Code != 1 {
			t.Fatalf("filling send %d: %d %s", i, a.Status, a.Raw)
		}
	}
	for i := range 5 {
		in.expectFrom(t, "192.0.2."+strconv.Itoa(i), "/client/register-step-1", m{"phone_number": "1391000000" + strconv.Itoa(i)}, 200, sent)
	}
	// A full lockout table does not refuse a new account's failures either.
	in.register(t, "13910000009", "fill-the-table", "fill@qq.com")
	if a := in.login(t, "13910000009", "wrong-password"); a.Error != "wrong_password" {
		t.Fatalf("wrong password with the tables full: %d %s", a.Status, a.Raw)
	}
}

// TestAttackParallelSendsStayWithinBudget: many step-1 requests at once
// against a small global budget send no more than the budget, and the
// ones refused spend nothing: once the hour has passed, their numbers
// (whose daily cap is one) get a code.
func TestAttackParallelSendsStayWithinBudget(t *testing.T) {
	bothStores(t, func(t *testing.T, store options) {
		sms := capture.New()
		store.sms = sms
		in := start(t, limitOptions(store, map[string]string{"SMS_HOURLY_LIMIT_GLOBAL": "5", "SMS_DAILY_LIMIT_PER_PHONE": "1"}))
		const n = 30
		phoneOf := func(i int) string { return fmt.Sprintf("1385%07d", i) }
		answers := parallel(n, func(i int) answer {
			return in.from(t, "10.2.0."+strconv.Itoa(i), "/client/register-step-1", m{"phone_number": phoneOf(i)})
		})
		var refused []int
		for i, a := range answers {
			switch {
			case a.Code == 1:
			case a.Status == 429 && a.Error == "rate_limited":
				refused = append(refused, i)
			default:
				t.Fatalf("send %d: %d %s", i, a.Status, a.Raw)
			}
		}
		if got := sms.Sends(); got > 5 || n-len(refused) != got {
			t.Fatalf("%d codes sent and %d answers 发送成功 under a global budget of 5", got, n-len(refused))
		}
		in.clock.Advance(time.Hour)
		for _, i := range refused[:5] {
			in.expectFrom(t, "10.3.0."+strconv.Itoa(i), "/client/register-step-1", m{"phone_number": phoneOf(i)}, 200, sent)
		}
	})
}

// TestAttackParallelGuessesAgainstTheLock: 100 wrong logins at once
// against one account are judged at most LOGIN_MAX_FAILURES times; the
// rest hear account_locked. The lock is about the account, so the
// per-network failure limit is switched off here.
func TestAttackParallelGuessesAgainstTheLock(t *testing.T) {
	vars := map[string]string{"FAILURES_HOURLY_PER_IP": "0"}
	check := func(t *testing.T, nodes []*instance) {
		const phone, password = "13600000077", "the-right-one"
		nodes[0].register(t, phone, password, "lock77@qq.com")
		now := nodes[0].clock.Now().Unix()
		answers := parallel(100, func(i int) answer {
			return nodes[i%len(nodes)].post(t, "/client/login", loginBody(phone, "guess-"+strconv.Itoa(i), fmt.Sprintf("par-%d-%d", now, i), now))
		})
		judged := 0
		for _, a := range answers {
			switch {
			case a.Status == 200 && a.Error == "wrong_password":
				judged++
			case a.Status == 429 && a.Error == "account_locked" && a.RetryAfter > 0:
			default:
				t.Fatalf("answer %d %s", a.Status, a.Raw)
			}
		}
		if judged > 5 || judged == 0 {
			t.Fatalf("%d of 100 parallel guesses judged, want 1 to 5", judged)
		}
		if a := nodes[len(nodes)-1].login(t, phone, password); a.Status != 429 || a.Error != "account_locked" {
			t.Fatalf("right password while locked: %s", a.Raw)
		}
		nodes[0].clock.Advance(15 * time.Minute)
		// A right password after failures works and forgets them.
		for round := range 2 {
			for i := range 4 {
				if a := nodes[i%len(nodes)].login(t, phone, "wrong-again"); a.Error != "wrong_password" {
					t.Fatalf("round %d, wrong %d: %s", round, i, a.Raw)
				}
			}
			if a := nodes[round%len(nodes)].login(t, phone, password); a.Code != 1 {
				t.Fatalf("round %d: right password after 4 failures: %s", round, a.Raw)
			}
		}
	}
	t.Run("embedded", func(t *testing.T) {
		check(t, []*instance{start(t, options{vars: vars})})
	})
	t.Run("mongo, three instances", func(t *testing.T) {
		check(t, startCluster(t, 3, vars))
	})
}

// TestAttackPasswordSpray: one network trying one password against many
// numbers (and so learning which exist) is stopped at
// FAILURES_HOURLY_PER_IP, on every endpoint that could tell; another
// network is not.
func TestAttackPasswordSpray(t *testing.T) {
	bothStores(t, func(t *testing.T, store options) {
		in := start(t, limitOptions(store, map[string]string{"FAILURES_HOURLY_PER_IP": "10"}))
		in.register(t, "13500000010", "owner-password", "owner10@qq.com")
		const sprayer = "203.0.113.99"
		for i := range 10 {
			phone := fmt.Sprintf("135000001%02d", i)
			if i == 5 {
				phone = "13500000010"
			}
			a := in.from(t, sprayer, "/client/login", loginBody(phone, "123456789", nextRandom(), in.clock.Now().Unix()))
			if a.Error != "no_such_user" && a.Error != "wrong_password" {
				t.Fatalf("spray %d: %s", i, a.Raw)
			}
		}
		// Past the limit the network hears 429 wherever an answer could
		// tell whether a number is registered, before any lookup.
		for _, req := range []struct {
			path string
			body m
		}{
			{"/client/login", loginBody("13500000199", "123456789", nextRandom(), in.clock.Now().Unix())},
			{"/client/login", loginBody("13500000010", "owner-password", nextRandom(), in.clock.Now().Unix())},
			{"/client/register-step-1", m{"phone_number": "13500000010"}},
			{"/client/register-step-1", m{"phone_number": "13500000198"}},
			{"/client/register-step-2", m{"phone_number": "13500000010", "validate_number": "000000"}},
		} {
			a := in.from(t, sprayer, req.path, req.body)
			if a.Status != 429 || a.Error != "rate_limited" || a.RetryAfter < 1 || a.RetryAfter > 3600 {
				t.Fatalf("%s from the sprayer past the limit: %d %s", req.path, a.Status, a.Raw)
			}
		}
		other := "198.51.100.42"
		if a := in.from(t, other, "/client/login", loginBody("13500000010", "owner-password", nextRandom(), in.clock.Now().Unix())); a.Code != 1 {
			t.Fatalf("the owner from another network: %s", a.Raw)
		}
		in.expectFrom(t, other, "/client/register-step-1", m{"phone_number": "13500000010"}, 200, `{"code":0,"message":"该用户已经存在,注册失败","error":"user_exists"}`)
		in.clock.Advance(time.Hour)
		if a := in.from(t, sprayer, "/client/login", loginBody("13500000198", "123456789", nextRandom(), in.clock.Now().Unix())); a.Error != "no_such_user" {
			t.Fatalf("the sprayer after the hour: %s", a.Raw)
		}
	})
}

// TestAttackCodeGuessingAcrossNetworks: wrong codes for one number from
// rotating networks kill every code of that number for a day once
// CODE_DAILY_FAILURES_PER_PHONE is reached, even a right one.
func TestAttackCodeGuessingAcrossNetworks(t *testing.T) {
	bothStores(t, func(t *testing.T, store options) {
		in := start(t, limitOptions(store, map[string]string{"CODE_DAILY_FAILURES_PER_PHONE": "3"}))
		const phone, e164 = "13400000001", "+8613400000001"
		in.expectFrom(t, "192.0.2.1", "/client/register-step-1", m{"phone_number": phone}, 200, sent)
		code := in.code(t, e164)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for i := range 3 {
			if a := in.from(t, "198.18.0."+strconv.Itoa(i), "/client/register-step-2", m{"phone_number": phone, "validate_number": wrong}); a.Error != "code_mismatch" && a.Error != "too_many_attempts" {
				t.Fatalf("wrong code %d: %s", i, a.Raw)
			}
		}
		in.expectFrom(t, "192.0.2.1", "/client/register-step-2", m{"phone_number": phone, "validate_number": code}, 200, `{"code":0,"message":"验证没有通过","error":"too_many_attempts"}`)
		// A new code for the number is dead as well, until the day is over.
		in.clock.Advance(2 * time.Minute)
		in.expectFrom(t, "192.0.2.1", "/client/register-step-1", m{"phone_number": phone}, 200, sent)
		in.expectFrom(t, "192.0.2.1", "/client/register-step-2", m{"phone_number": phone, "validate_number": in.code(t, e164)}, 200, `{"code":0,"message":"验证没有通过","error":"too_many_attempts"}`)
		in.clock.Advance(24 * time.Hour)
		in.expectFrom(t, "192.0.2.1", "/client/register-step-1", m{"phone_number": phone}, 200, sent)
		if a := in.from(t, "192.0.2.1", "/client/register-step-2", m{"phone_number": phone, "validate_number": in.code(t, e164)}); a.Code != 1 {
			t.Fatalf("a right code after the day: %s", a.Raw)
		}
	})
}

// TestAttackCodeGuessingGlobalBudget: past CODE_HOURLY_FAILURES_GLOBAL
// wrong codes in an hour, code checks answer 429; the operator hears of
// it once in the log and in the metrics.
func TestAttackCodeGuessingGlobalBudget(t *testing.T) {
	in := start(t, limitOptions(options{}, map[string]string{"CODE_HOURLY_FAILURES_GLOBAL": "4"}))
	for i := range 4 {
		phone := "1340000010" + strconv.Itoa(i)
		in.expectFrom(t, "192.0.2."+strconv.Itoa(i), "/client/register-step-1", m{"phone_number": phone}, 200, sent)
		wrong := "000000"
		if in.code(t, "+86"+phone) == wrong {
			wrong = "111111"
		}
		in.expectFrom(t, "198.18.1."+strconv.Itoa(i), "/client/register-step-2", m{"phone_number": phone, "validate_number": wrong}, 200, `{"code":0,"message":"验证没有通过","error":"code_mismatch"}`)
	}
	for i := range 3 {
		phone := "1340000010" + strconv.Itoa(i)
		a := in.from(t, "198.18.2."+strconv.Itoa(i), "/client/register-step-2", m{"phone_number": phone, "validate_number": in.code(t, "+86"+phone)})
		if a.Status != 429 || a.Error != "rate_limited" || a.RetryAfter < 1 {
			t.Fatalf("code check past the global budget: %d %s", a.Status, a.Raw)
		}
	}
	if n := in.logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("wrong codes").Len(); n != 1 {
		t.Errorf("%d error log lines about the global budget, want 1", n)
	}
	if _, _, out := in.get(t, "/metrics"); !strings.Contains(out, `phoneauth_rate_limited_total{kind="code_global_hourly"} 3`+"\n") {
		t.Errorf("the refusals are not counted as code_global_hourly")
	}
}

// TestAttackLoginFloodOneAccount: successful logins of one account are
// capped per hour, exactly, even when they arrive together.
func TestAttackLoginFloodOneAccount(t *testing.T) {
	bothStores(t, func(t *testing.T, store options) {
		// Every login in flight holds a place in the account's failure
		// count until its proof is judged, so twelve at once would meet the
		// lock (LOGIN_MAX_FAILURES, 5) before the hourly cap: raise it, the
		// cap is what this attack is about.
		in := start(t, limitOptions(store, map[string]string{"LOGIN_HOURLY_LIMIT_PER_ACCOUNT": "3", "LOGIN_MAX_FAILURES": "100"}))
		const phone, password = "13300000088", "flood-me-please"
		in.register(t, phone, password, "flood@qq.com")
		answers := parallel(12, func(i int) answer { return in.login(t, phone, password) })
		ok := 0
		for _, a := range answers {
			switch {
			case a.Code == 1:
				ok++
			case a.Status == 429 && a.Error == "rate_limited" && a.RetryAfter > 0:
			default:
				t.Fatalf("login: %d %s", a.Status, a.Raw)
			}
		}
		if ok != 3 {
			t.Fatalf("%d of 12 logins succeeded, want 3", ok)
		}
		in.clock.Advance(time.Hour)
		if a := in.login(t, phone, password); a.Code != 1 {
			t.Fatalf("after the hour: %s", a.Raw)
		}
	})
}
