package domain_test

import (
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

var lt0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestFixedWindow(t *testing.T) {
	var w domain.FixedWindow
	const limit, window = 3, time.Hour
	var tickets []domain.WindowTicket
	for i := range limit {
		tk, _, ok := w.Take(limit, window, lt0.Add(time.Duration(i)*time.Minute))
		if !ok {
			t.Fatalf("unit %d refused", i+1)
		}
		tickets = append(tickets, tk)
	}
	// The window opened at the first unit.
	if _, retry, ok := w.Take(limit, window, lt0.Add(10*time.Minute)); ok || retry != 50*time.Minute {
		t.Fatalf("over the limit: ok %v retry %v; want refused, 50m", ok, retry)
	}
	if retry, full := w.Full(limit, lt0.Add(10*time.Minute)); !full || retry != 50*time.Minute {
		t.Errorf("Full = %v, %v", retry, full)
	}
	if w.Count(lt0.Add(10*time.Minute)) != limit {
		t.Errorf("a refusal was counted: %d", w.Count(lt0))
	}
	w.GiveBack(tickets[0], lt0.Add(11*time.Minute))
	if _, _, ok := w.Take(limit, window, lt0.Add(12*time.Minute)); !ok {
		t.Errorf("a unit given back is not free again")
	}
	// A ticket of an ended window gives nothing back to the next one.
	if _, _, ok := w.Take(limit, window, lt0.Add(window)); !ok {
		t.Fatal("first unit of the next window refused")
	}
	w.GiveBack(tickets[1], lt0.Add(window))
	if n := w.Count(lt0.Add(window)); n != 1 {
		t.Errorf("an old window's ticket changed the new window: count %d", n)
	}
	if !w.End().Equal(lt0.Add(2 * window)) {
		t.Errorf("End = %v", w.End())
	}
	// Zero switches a limit off and counts nothing.
	var off domain.FixedWindow
	for range 5 {
		if _, _, ok := off.Take(0, window, lt0); !ok {
			t.Fatal("limit 0 refused")
		}
	}
	if !off.Empty() {
		t.Error("limit 0 counted")
	}
	if w2 := domain.RestoreFixedWindow(2, lt0.Add(time.Minute)); w2.Count(lt0) != 2 || w2.Count(lt0.Add(time.Minute)) != 0 {
		t.Error("RestoreFixedWindow")
	}
}

func TestLoginFailures(t *testing.T) {
	const max, lockFor = 5, 15 * time.Minute
	var f domain.LoginFailures
	var last domain.AttemptTicket
	for i := range max {
		var ok bool
		last, _, ok = f.Reserve(max, lockFor, lt0.Add(time.Duration(i)*time.Second))
		if !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	at := lt0.Add((max - 1) * time.Second)
	if until := f.Locked(at); !until.Equal(at.Add(lockFor)) {
		t.Fatalf("the max-th attempt did not lock: %v", until)
	}
	if _, retry, ok := f.Reserve(max, lockFor, at.Add(time.Minute)); ok || retry != lockFor-time.Minute {
		t.Errorf("attempt while locked: %v %v", ok, retry)
	}
	// The locking attempt, not judged after all, gives its place back.
	g := f
	g.GiveBack(last, max, at)
	if !g.Locked(at).IsZero() || g.Count(at) != max-1 {
		t.Errorf("after a give-back: locked %v, count %d", g.Locked(at), g.Count(at))
	}
	// The lock's end forgets the failures.
	end := at.Add(lockFor)
	if f.Count(end) != 0 || !f.Locked(end).IsZero() {
		t.Errorf("at the lock's end: %d, %v", f.Count(end), f.Locked(end))
	}
	if _, _, ok := f.Reserve(max, lockFor, end); !ok || f.Count(end) != 1 {
		t.Errorf("first attempt after the lock: %v, count %d", ok, f.Count(end))
	}
	// Failures further apart than lockFor never add up.
	var h domain.LoginFailures
	for i := range 2 * max {
		now := lt0.Add(time.Duration(i) * (lockFor + time.Second))
		if _, _, ok := h.Reserve(max, lockFor, now); !ok || h.Count(now) != 1 {
			t.Fatalf("sparse attempt %d: %v, count %d", i, ok, h.Count(now))
		}
	}
	h.Reset()
	if !h.Empty() {
		t.Error("Reset kept something")
	}
	var off domain.LoginFailures
	if _, _, ok := off.Reserve(0, lockFor, lt0); !ok || !off.Empty() {
		t.Error("max 0 counted")
	}
}
