package bolt_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/phoneauth/phoneauth/adapters/bolt"
	"github.com/phoneauth/phoneauth/application"
)

// TestProvideStore: the wiring's store is open until its cleanup runs, and
// a store that cannot be opened is an error naming the setting to fix.
func TestProvideStore(t *testing.T) {
	defer bolt.SetTuning(100*time.Millisecond, 10_000)()
	cfg := bolt.Config{Path: filepath.Join(t.TempDir(), "data", "phoneauth.db")}
	s, cleanup, err := bolt.ProvideStore(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("ProvideStore: %v", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping of a provided store: %v", err)
	}

	// The file is locked by the first store.
	_, _, err = bolt.ProvideStore(cfg, zaptest.NewLogger(t))
	if !errors.Is(err, application.ErrUnavailable) || !strings.HasPrefix(err.Error(), "DATA_DIR: open "+cfg.Path+": ") {
		t.Errorf("second ProvideStore = %v, want ErrUnavailable naming DATA_DIR and the file", err)
	}

	cleanup()
	if err := s.Ping(t.Context()); !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("Ping after cleanup = %v, want application.ErrUnavailable", err)
	}
}
