package domain

import "time"

// FixedWindow counts events under a limit in a window that opens at the
// first counted event and lasts the window given then, so a limit of one
// per minute is a true one-minute cooldown rather than one per clock
// minute. A window past its end holds nothing. The zero value is an empty
// window.
//
// A unit is taken before the work it guards and may be given back when
// that work turns out not to count (a later limit refused, the outcome was
// not a failure), so that concurrent takers never overshoot the limit and
// a refused request uses up nothing.
type FixedWindow struct {
	count int
	end   time.Time
}

// WindowTicket names the window a unit was taken from, so that giving it
// back after that window has ended changes nothing.
type WindowTicket struct{ end int64 }

// RestoreFixedWindow rebuilds a window from what a store kept; only
// stores call it.
func RestoreFixedWindow(count int, end time.Time) FixedWindow {
	if count <= 0 {
		return FixedWindow{}
	}
	return FixedWindow{count: count, end: end}
}

// Count is the number of units held at now.
func (w FixedWindow) Count(now time.Time) int {
	if !w.live(now) {
		return 0
	}
	return w.count
}

// End is when the window ends and everything in it is forgotten; zero for
// an empty window. Stores use it as the record's expiry.
func (w FixedWindow) End() time.Time {
	if w.count == 0 {
		return time.Time{}
	}
	return w.end
}

// Empty reports whether the window holds nothing, so that a store can drop
// it.
func (w FixedWindow) Empty() bool { return w.count == 0 }

func (w FixedWindow) live(now time.Time) bool { return w.count > 0 && now.Before(w.end) }

// Full reports whether a unit could not be taken at now under limit, and
// if so how long until the window ends. It changes nothing.
func (w FixedWindow) Full(limit int, now time.Time) (time.Duration, bool) {
	if limit <= 0 || !w.live(now) || w.count < limit {
		return 0, false
	}
	return w.end.Sub(now), true
}

// Take counts one unit if the window has room under limit, opening a new
// window of the given length when none is live. It returns the ticket to
// give the unit back with, or, when the window is full, how long until it
// ends. A limit or window of zero or less is no limit: nothing is counted.
func (w *FixedWindow) Take(limit int, window time.Duration, now time.Time) (WindowTicket, time.Duration, bool) {
	if limit <= 0 || window <= 0 {
		return WindowTicket{}, 0, true
	}
	if !w.live(now) {
		*w = FixedWindow{end: now.Add(window)}
	}
	if w.count >= limit {
		return WindowTicket{}, w.end.Sub(now), false
	}
	w.count++
	return WindowTicket{end: w.end.UnixMilli()}, 0, true
}

// GiveBack returns a unit taken with t, if its window is still the
// current one. Windows are named to the millisecond, the precision every
// store keeps.
func (w *FixedWindow) GiveBack(t WindowTicket, now time.Time) {
	if t.end == 0 || !w.live(now) || w.end.UnixMilli() != t.end {
		return
	}
	w.count--
}

// LoginFailures is one account's wrong-password count and lock. Each
// login attempt reserves its place in the count before its proof is
// judged; a wrong proof leaves it there, a right one resets everything,
// and an attempt that is never judged (a replay, an error) gives its place
// back. So however many attempts are in flight, no more than max wrong
// proofs are judged per lock window.
//
// Failures are counted in a window that opens at the first and lasts
// lockFor; the attempt that brings the count to max locks the account
// until lockFor after it, and the lock's end forgets the count. The zero
// value holds nothing.
type LoginFailures struct {
	count       int
	windowEnd   time.Time
	lockedUntil time.Time
}

// AttemptTicket names the window an attempt was reserved in.
type AttemptTicket struct{ end int64 }

// RestoreLoginFailures rebuilds the state a store kept; only stores call
// it.
func RestoreLoginFailures(count int, windowEnd, lockedUntil time.Time) LoginFailures {
	if count <= 0 {
		return LoginFailures{}
	}
	return LoginFailures{count: count, windowEnd: windowEnd, lockedUntil: lockedUntil}
}

// Count is the number of attempts counted (failures and attempts in
// flight) at now.
func (f LoginFailures) Count(now time.Time) int {
	if !f.live(now) {
		return 0
	}
	return f.count
}

// WindowEnd and LockedUntil are the stored times (zero when unset).
func (f LoginFailures) WindowEnd() time.Time   { return f.windowEnd }
func (f LoginFailures) LockedUntil() time.Time { return f.lockedUntil }

// ExpiresAt is when the state is forgotten whole: the later of the
// window's end and the lock's.
func (f LoginFailures) ExpiresAt() time.Time {
	if f.lockedUntil.After(f.windowEnd) {
		return f.lockedUntil
	}
	return f.windowEnd
}

// Empty reports whether nothing is held, so that a store can drop it.
func (f LoginFailures) Empty() bool { return f.count == 0 }

func (f LoginFailures) live(now time.Time) bool {
	return f.count > 0 && now.Before(f.ExpiresAt())
}

// Locked returns the end of a lock live at now, or the zero time.
func (f LoginFailures) Locked(now time.Time) time.Time {
	if f.live(now) && now.Before(f.lockedUntil) {
		return f.lockedUntil
	}
	return time.Time{}
}

// Reserve takes an attempt's place in the count before its proof is
// judged. It refuses, returning how long the lock has left, while the
// account is locked; the attempt that brings the count to max sets the
// lock. A max or lockFor of zero or less never locks: nothing is counted.
func (f *LoginFailures) Reserve(max int, lockFor time.Duration, now time.Time) (AttemptTicket, time.Duration, bool) {
	if max <= 0 || lockFor <= 0 {
		return AttemptTicket{}, 0, true
	}
	if !f.live(now) {
		*f = LoginFailures{}
	}
	if until := f.Locked(now); !until.IsZero() {
		return AttemptTicket{}, until.Sub(now), false
	}
	if f.count == 0 || !now.Before(f.windowEnd) {
		// A new window: the first attempt, or the first since the last
		// window ended.
		*f = LoginFailures{windowEnd: now.Add(lockFor)}
	}
	f.count++
	if f.count >= max {
		f.lockedUntil = now.Add(lockFor)
	}
	return AttemptTicket{end: f.windowEnd.UnixMilli()}, 0, true
}

// GiveBack returns the place of an attempt that was not judged wrong and
// does not prove the password either (a replay, a refusal by another
// limit, an error), and lifts the lock that attempt set, if it set one.
func (f *LoginFailures) GiveBack(t AttemptTicket, max int, now time.Time) {
	if t.end == 0 || !f.live(now) || f.windowEnd.UnixMilli() != t.end {
		return
	}
	f.count--
	if f.count < max {
		f.lockedUntil = time.Time{}
	}
	if f.count == 0 {
		*f = LoginFailures{}
	}
}

// Reset forgets every failure and the lock: a right password was proven.
func (f *LoginFailures) Reset() { *f = LoginFailures{} }
