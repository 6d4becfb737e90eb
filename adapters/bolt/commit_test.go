package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

func openGroup(t *testing.T) (*bbolt.DB, *groupCommit) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := newGroupCommit(db)
	t.Cleanup(func() { g.close(); _ = db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return db, g
}

// TestGroupCommitIsolatesFailures: concurrent writes commit together, a
// write that fails gets its own error and leaves nothing behind, and a
// panicking write panics in its caller's goroutine, not in the loop.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db, g := openGroup(t)
	refused := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, 200)
	panics := make([]any, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = g.update(func(tx *bbolt.Tx) error {
				if err := tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "k%03d", i), []byte("v")); err != nil {
					return err
				}
				switch i % 50 {
				case 7:
					return refused
				case 9:
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	err := db.View(func(tx *bbolt.Tx) error {
		for i := range errs {
			stored := tx.Bucket([]byte("b")).Get(fmt.Appendf(nil, "k%03d", i)) != nil
			switch i % 50 {
			case 7:
				if !errors.Is(errs[i], refused) || stored {
					t.Errorf("write %d: err %v, stored %v; want its own error and nothing stored", i, errs[i], stored)
				}
			case 9:
				if panics[i] != "boom" || stored {
					t.Errorf("write %d: panic %v, stored %v; want the panic in the caller", i, panics[i], stored)
				}
			default:
				if errs[i] != nil || panics[i] != nil || !stored {
					t.Errorf("write %d: err %v, panic %v, stored %v", i, errs[i], panics[i], stored)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGroupCommitAfterClose(t *testing.T) {
	_, g := openGroup(t)
	g.close()
	if err := g.update(func(*bbolt.Tx) error { return nil }); !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		t.Fatalf("write after close = %v", err)
	}
}
