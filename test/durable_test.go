package test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestLoginWritesNothingDurable: logins, and GET /client with the tokens
// they answer, only read the durable stores (accounts, pending
// registrations, sessions): the session a login opens lives in its
// tokens until something happens to it. Counted by the service's own
// metrics, which time every store operation through the ports: across
// the logins and calls, every operation on those stores is a read, and
// the reads are there (the count sees the work). One refresh then shows
// the count sees a durable write when there is one. On the embedded
// store the other stores a login touches (replay memory, lockouts, rate
// limits) live in memory, so a login there writes nothing to disk.
func TestLoginWritesNothingDurable(t *testing.T) {
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			in := start(t, storeOptions(t, store))
			in.register(t, sessPhone, sessPassword, sessEmail)
			const logins, calls = 25, 3
			before := in.storeOps(t)
			var last answer
			for range logins {
				last = in.loginOK(t)
				for range calls {
					wantAccount(t, in.me(t, last.Token))
				}
			}
			after := in.storeOps(t)
			reads := map[string]bool{"by_phone": true, "by_id": true, "exists": true, "get": true}
			for key, n := range after {
				st, op := key[0], key[1]
				if d := n - before[key]; d > 0 && (st == "users" || st == "pending_registrations" || st == "sessions") && !reads[op] {
					t.Errorf("%d logins made %v %s.%s operations", logins, d, st, op)
				}
			}
			for _, c := range []struct {
				store, op string
				want      float64
			}{{"users", "by_phone", logins}, {"users", "by_id", logins * calls}, {"sessions", "get", logins * calls}} {
				key := [3]string{c.store, c.op, "ok"}
				if d := after[key] - before[key]; d != c.want {
					t.Errorf("%s.%s counted %v times, want %v: the count does not see the work", c.store, c.op, d, c.want)
				}
			}

			if a := in.refresh(t, last.RefreshToken); a.Status != http.StatusOK || a.Code != 1 {
				t.Fatalf("refresh: %d %s", a.Status, a.Raw)
			}
			update := [3]string{"sessions", "update", "ok"}
			if d := in.storeOps(t)[update] - after[update]; d != 1 {
				t.Fatalf("a refresh counted %v durable session updates, want 1", d)
			}
		})
	}
}

// storeOps reads the count of every store operation from GET /metrics,
// by store, operation and result.
func (in *instance) storeOps(t testing.TB) map[[3]string]float64 {
	t.Helper()
	status, _, body := in.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	const name = "phoneauth_store_operation_duration_seconds_count{"
	ops := map[[3]string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		labels, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(labels, "} ")
		if !ok {
			t.Fatalf("metrics line %q", sc.Text())
		}
		var key [3]string
		for _, l := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(l, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "store":
				key[0] = v
			case "operation":
				key[1] = v
			case "result":
				key[2] = v
			}
		}
		if key[0] == "" || key[1] == "" || key[2] == "" {
			t.Fatalf("metrics line %q lacks store, operation or result", sc.Text())
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		ops[key] = n
	}
	if len(ops) == 0 {
		t.Fatal("GET /metrics shows no store operation")
	}
	return ops
}
