package test

import (
	"strconv"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/adapters/sms/capture"
	"github.com/phoneauth/phoneauth/application/apptest"
	"github.com/phoneauth/phoneauth/test/mongotest"
)

// TestScaleOut runs three separately wired service instances on one
// MongoDB database, as a load balancer would spread clients over them, and
// checks that every shared invariant holds across instances.
func TestScaleOut(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	a, b, c := nodes[0], nodes[1], nodes[2]

	t.Run("registration steps on different instances", func(t *testing.T) {
		a.expect(t, "/client/register-step-1", m{"phone_number": "13300000001"}, 200, `{"code":1,"message":"发送成功"}`)
		token := b.verify(t, "13300000001", a.code(t, "+8613300000001"))
		c.expect(t, "/client/register-step-3", m{"phone_number": "13300000001", "password": "scale-out-1", "password_confirm": "scale-out-1", "registration_token": token}, 200, `{"code":1,"message":"提交密码成功"}`)
		a.expect(t, "/client/register-step-4", m{"phone_number": "13300000001", "email": "s1@qq.com"}, 200, `{"code":1,"message":"注册成功"}`)
		for _, n := range nodes {
			n.expect(t, "/client/register-step-1", m{"phone_number": "13300000001"}, 200, `{"code":0,"message":"该用户已经存在,注册失败","error":"user_exists"}`)
		}
	})

	t.Run("one account under concurrent step 4 across instances", func(t *testing.T) {
		const phone = "13300000002"
		a.expect(t, "/client/register-step-1", m{"phone_number": phone}, 200, "")
		b.expect(t, "/client/register-step-2", m{"phone_number": phone, "validate_number": a.code(t, "+86"+phone)}, 200, "")
		c.expect(t, "/client/register-step-3", m{"phone_number": phone, "password": "scale-out-2", "password_confirm": "scale-out-2"}, 200, "")
		const n = 21
		answers := parallel(n, func(i int) answer {
			return nodes[i%3].post(t, "/client/register-step-4", m{"phone_number": phone, "email": "race" + strconv.Itoa(i) + "@qq.com"})
		})
		wins := 0
		winner := ""
		for i, ans := range answers {
			if ans.Code == 1 {
				wins++
				winner = "race" + strconv.Itoa(i) + "@qq.com"
			} else if ans.Error != "user_exists" && ans.Error != "not_verified" {
				t.Fatalf("unexpected answer %s", ans.Raw)
			}
		}
		if wins != 1 {
			t.Fatalf("%d successes across instances, want exactly 1", wins)
		}
		for _, node := range nodes {
			if ans := node.login(t, phone, "scale-out-2"); ans.Code != 1 || ans.Email != winner {
				t.Fatalf("login: %s, want email %s", ans.Raw, winner)
			}
		}
	})

	t.Run("resend cooldown holds across instances", func(t *testing.T) {
		a.expect(t, "/client/register-step-1", m{"phone_number": "13300000003"}, 200, "")
		for _, n := range []*instance{b, c} {
			if ans := n.post(t, "/client/register-step-1", m{"phone_number": "13300000003"}); ans.Status != 429 || ans.Error != "rate_limited" {
				t.Fatalf("resend on another instance: %s", ans.Raw)
			}
		}
	})

	t.Run("replayed login refused by another instance", func(t *testing.T) {
		body := loginBody("13300000001", "scale-out-1", "replay-me", a.clock.Now().Unix())
		if ans := a.post(t, "/client/login", body); ans.Code != 1 {
			t.Fatalf("first login: %s", ans.Raw)
		}
		for _, n := range []*instance{b, c} {
			n.expect(t, "/client/login", body, 200, `{"code":0,"message":"登录请求已失效，请重试","error":"replayed_request"}`)
		}
	})

	t.Run("lockout holds across instances", func(t *testing.T) {
		for i := range 5 {
			ans := nodes[i%3].login(t, "13300000001", "not-my-password")
			if ans.Error != "wrong_password" {
				t.Fatalf("wrong password %d: %s", i, ans.Raw)
			}
		}
		for _, n := range nodes {
			if ans := n.login(t, "13300000001", "scale-out-1"); ans.Status != 429 || ans.Error != "account_locked" {
				t.Fatalf("right password while locked: %s", ans.Raw)
			}
		}
		a.clock.Advance(15 * time.Minute)
		if ans := c.login(t, "13300000001", "scale-out-1"); ans.Code != 1 {
			t.Fatalf("after the lockout: %s", ans.Raw)
		}
	})
}

// startCluster starts n separately wired instances on one fresh MongoDB
// database, sharing one SMS capture and one clock, each with vars set.
func startCluster(t *testing.T, n int, vars map[string]string) []*instance {
	t.Helper()
	uri := mongotest.Start(t)
	db := mongotest.Database(t, uri)
	sms := capture.New()
	clock := apptest.NewClock(time.Now())
	nodes := make([]*instance, 0, n)
	for range n {
		v := map[string]string{"MONGO_URI": uri, "MONGO_DATABASE": db, "MONGO_TIMEOUT": mongoTestTimeout}
		for k, x := range vars {
			v[k] = x
		}
		nodes = append(nodes, start(t, options{sms: sms, clock: clock, vars: v}))
	}
	return nodes
}
