package process_test

import (
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/cmd/internal/process"
)

// TestTuneGC runs in a child process, because the settings are
// process-wide: the defaults apply when the environment is silent, and
// GOGC / GOMEMLIMIT from the environment win.
func TestTuneGC(t *testing.T) {
	if mode := os.Getenv("TUNEGC_CHILD"); mode != "" {
		process.TuneGC(zap.NewNop())
		gc := debug.SetGCPercent(100)
		limit := debug.SetMemoryLimit(-1)
		os.Stdout.WriteString("gc=" + strconv.Itoa(gc) + " limit=" + strconv.FormatInt(limit, 10) + "\n")
		return
	}
	cases := []struct {
		env  []string
		want string
	}{
		{nil, "gc=400 limit=1073741824"},
		{[]string{"GOGC=150"}, "gc=150 limit=1073741824"},
		{[]string{"GOMEMLIMIT=512MiB"}, "gc=400 limit=536870912"},
	}
	for _, c := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTuneGC$")
		cmd.Env = append(withoutGCVars(os.Environ()), append(c.env, "TUNEGC_CHILD=1")...)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), c.want) {
			t.Errorf("env %v: %v\n%s\nwant %s", c.env, err, out, c.want)
		}
	}
}

func withoutGCVars(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			out = append(out, kv)
		}
	}
	return out
}
