package application

import (
	"context"
	"fmt"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// Limit kinds: RateLimitedError.Kind, and the metrics' label.
const (
	LimitCooldown         = "cooldown"           // one code per phone per resend interval
	LimitPhoneDaily       = "phone_daily"        // codes per phone per day
	LimitNetHourly        = "ip_hourly"          // codes per client network per hour
	LimitGlobalHourly     = "global_hourly"      // codes per hour for the deployment
	LimitFailuresHourly   = "failures_hourly"    // failures per client network per hour
	LimitCodeGlobalHourly = "code_global_hourly" // wrong codes per hour for the deployment
	LimitLoginHourly      = "login_hourly"       // successful logins per account per hour
)

// LimitKinds lists every kind, for adapters that keep one series per kind.
var LimitKinds = []string{
	LimitCooldown, LimitPhoneDaily, LimitNetHourly, LimitGlobalHourly,
	LimitFailuresHourly, LimitCodeGlobalHourly, LimitLoginHourly,
}

// rule is one limit: at most limit units per window under key. A limit
// or window of zero or less switches it off, and then no store is asked.
type rule struct {
	kind   string
	key    string
	limit  int
	window time.Duration
}

func (r rule) off() bool { return r.limit <= 0 || r.window <= 0 }

// taken is a unit held under a rule; the zero value holds nothing.
type taken struct {
	key    string
	ticket domain.WindowTicket
}

// take counts one unit under r, or refuses with a *RateLimitedError.
func take(ctx context.Context, limits RateLimits, r rule, now time.Time) (taken, error) {
	if r.off() {
		return taken{}, nil
	}
	var (
		ticket domain.WindowTicket
		retry  time.Duration
		ok     bool
	)
	err := limits.Update(ctx, r.key, now, func(w *domain.FixedWindow) error {
		ticket, retry, ok = w.Take(r.limit, r.window, now)
		return nil
	})
	if err != nil {
		return taken{}, fmt.Errorf("rate limit %s: %w", r.kind, err)
	}
	if !ok {
		return taken{}, &RateLimitedError{Kind: r.kind, RetryAfter: retry}
	}
	return taken{key: r.key, ticket: ticket}, nil
}

// giveBack returns a unit that turned out not to count. It runs even if
// the request's context has ended, and a unit that cannot be given back
// (the store failed) simply stays counted: the limit errs toward refusing.
func giveBack(ctx context.Context, limits RateLimits, t taken, now time.Time) {
	if t.key == "" {
		return
	}
	_ = limits.Update(context.WithoutCancel(ctx), t.key, now, func(w *domain.FixedWindow) error {
		w.GiveBack(t.ticket, now)
		return nil
	})
}

// takeAll takes one unit under each rule in order. When one refuses, the
// units already taken are given back, so a refused request uses up
// nothing and concurrent requests never overshoot any of the limits.
func takeAll(ctx context.Context, limits RateLimits, now time.Time, rules ...rule) error {
	held := make([]taken, 0, len(rules))
	for _, r := range rules {
		t, err := take(ctx, limits, r, now)
		if err != nil {
			for i := len(held) - 1; i >= 0; i-- {
				giveBack(ctx, limits, held[i], now)
			}
			return err
		}
		held = append(held, t)
	}
	return nil
}

// failureRule is the client network's budget of failures: failed logins
// and proofs, wrong codes, and answers that tell whether a number is
// registered. Each endpoint that can give one takes a unit before it looks
// anything up and gives it back when its answer was none of those.
func (p Policy) failureRule(clientNet string) rule {
	if p.FailuresHourlyPerNet <= 0 {
		return rule{}
	}
	return rule{kind: LimitFailuresHourly, key: "failures:net:" + clientNet, limit: p.FailuresHourlyPerNet, window: time.Hour}
}

// settle gives back a failure unit unless the answer was a failure.
func settle(ctx context.Context, limits RateLimits, t taken, failed bool, now time.Time) {
	if !failed {
		giveBack(ctx, limits, t, now)
	}
}
