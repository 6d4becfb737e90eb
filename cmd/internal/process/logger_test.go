package process_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/phoneauth/phoneauth/cmd/internal/process"
)

// TestNewLogger runs in a child process, because the logger writes to the
// process's standard error: JSON lines with a time stamp at the level set,
// none dropped by sampling; console lines when asked for.
func TestNewLogger(t *testing.T) {
	if format := os.Getenv("LOGGER_CHILD"); format != "" {
		log, err := process.NewLogger(zapcore.InfoLevel, format)
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error())
			os.Exit(1)
		}
		log.Debug("below the level")
		for range 200 {
			log.Info("same line")
		}
		_ = log.Sync()
		return
	}
	lines := func(format string) []string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNewLogger$")
		cmd.Env = append(os.Environ(), "LOGGER_CHILD="+format)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if out, err := cmd.Output(); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, out)
		}
		return strings.Split(strings.TrimSpace(stderr.String()), "\n")
	}

	got := lines("json")
	if len(got) != 200 {
		t.Fatalf("json: %d lines, want 200 (none sampled away, none below the level)", len(got))
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(got[0]), &line); err != nil {
		t.Fatalf("json: %q: %v", got[0], err)
	}
	if line["level"] != "info" || line["msg"] != "same line" || line["time"] == nil {
		t.Errorf("json: line %v, want level, msg and time", line)
	}

	got = lines("console")
	if len(got) != 200 || json.Valid([]byte(got[0])) || !strings.Contains(got[0], "INFO") || !strings.Contains(got[0], "same line") {
		t.Errorf("console: %d lines, first %q", len(got), got[0])
	}
}
