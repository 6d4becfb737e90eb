package bolt

import (
	"errors"
	"fmt"
	"sync"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// maxGroup bounds how many writes one commit carries, as bbolt's
// MaxBatchSize does.
const maxGroup = 1000

// groupCommit shares one fsynced commit among all the writes that queued
// while the previous commit was running. bbolt's own Batch closes a batch
// on a timer instead: when a commit takes longer than the timer (fsync
// under load), every batch holds a write or two and they queue behind the
// single writer, one fsync each. Measured through HTTP with 256 clients
// (cmd/bench): Batch with a 1 ms delay finished ~290 registrations/s at
// p50 ~150 ms a step; with 10 ms, ~1,480/s; grouping what queued, see
// BENCHMARKS.md. A lone write waits for no timer.
//
// As with Batch, a write's function may run more than once, and one that
// fails (or panics) is run again alone, in its caller's goroutine, so that
// its error is its own and the others still commit together.
type groupCommit struct {
	db     *bbolt.DB
	mu     sync.RWMutex // held for reading while sending; Close takes it to close writes
	closed bool
	writes chan write
	done   chan struct{}
}

type write struct {
	fn     func(*bbolt.Tx) error
	result chan error
}

// errAlone tells a caller that its function failed inside a group and must
// run alone.
var errAlone = errors.New("bolt: run write alone")

func newGroupCommit(db *bbolt.DB) *groupCommit {
	g := &groupCommit{db: db, writes: make(chan write, maxGroup), done: make(chan struct{})}
	go g.loop()
	return g
}

// update runs fn in a write transaction shared with concurrent writes and
// returns once that transaction is durable (or failed).
func (g *groupCommit) update(fn func(*bbolt.Tx) error) error {
	w := write{fn: fn, result: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return berrors.ErrDatabaseNotOpen
	}
	g.writes <- w
	g.mu.RUnlock()
	if err := <-w.result; err != errAlone {
		return err
	}
	return g.db.Update(fn)
}

// close commits what is queued and stops the loop; later writes fail.
func (g *groupCommit) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.writes)
	}
	g.mu.Unlock()
	<-g.done
}

func (g *groupCommit) loop() {
	defer close(g.done)
	group := make([]write, 0, maxGroup)
	for first := range g.writes {
		group = append(group[:0], first)
	drain:
		for len(group) < maxGroup {
			select {
			case w, ok := <-g.writes:
				if !ok {
					break drain
				}
				group = append(group, w)
			default:
				break drain
			}
		}
		g.commit(group)
	}
}

// commit runs the group in one transaction. A function that fails is sent
// back to run alone and the rest are tried again without it.
func (g *groupCommit) commit(group []write) {
	for len(group) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bbolt.Tx) error {
			for i, w := range group {
				if err := call(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, w := range group {
				w.result <- err // nil, or a commit that failed for all
			}
			return
		}
		group[failed].result <- errAlone
		group = append(group[:failed], group[failed+1:]...)
	}
}

// call runs fn, turning a panic into an error so that the loop survives;
// the function then runs alone in its caller's goroutine, where the panic
// happens again and reaches the caller.
func call(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	return fn(tx)
}
