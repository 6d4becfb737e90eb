package httpapi

import (
	"sync"
	"time"
)

// throttleKey is one kind of logged failure: the endpoint and the wire
// reason, both from fixed sets, so that clients cannot grow the table.
type throttleKey struct {
	ep     endpoint
	reason string
}

// logThrottle lets the first line of each kind through at once and then
// at most one per interval, counting the lines it held back.
type logThrottle struct {
	interval time.Duration
	mu       sync.Mutex
	kinds    map[throttleKey]*throttled
}

type throttled struct {
	last       time.Time // when the last line of this kind went out
	suppressed int       // lines held back since
}

// allow reports whether a line of kind k may be written at now, and if so
// how many lines of that kind were held back since the last one.
func (t *logThrottle) allow(k throttleKey, now time.Time) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.kinds[k]
	if st == nil {
		if t.kinds == nil {
			t.kinds = map[throttleKey]*throttled{}
		}
		t.kinds[k] = &throttled{last: now}
		return true, 0
	}
	if now.Sub(st.last) < t.interval {
		st.suppressed++
		return false, 0
	}
	n := st.suppressed
	st.last, st.suppressed = now, 0
	return true, n
}
