package phoneauth_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/phoneauth/phoneauth"

// TestImportsPointInward keeps the hexagon: domain ← application ←
// adapters ← the root wiring ← cmd. It reads the real import graph with
// `go list`, so a new file cannot slip past it.
func TestImportsPointInward(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		layer := layerOf(pkg)
		for _, imp := range imports {
			if why := forbidden(layer, imp); why != "" {
				t.Errorf("%s imports %s: %s", pkg, imp, why)
			}
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("only %d packages listed", checked)
	}
}

func layerOf(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	switch {
	case rel == "":
		return "root"
	case strings.HasPrefix(rel, "domain"):
		return "domain"
	case strings.HasPrefix(rel, "application"):
		return "application"
	case strings.HasPrefix(rel, "adapters"):
		return "adapters"
	case strings.HasPrefix(rel, "cmd"):
		return "cmd"
	}
	return "test"
}

// forbidden says why layer may not import imp, or "" if it may.
func forbidden(layer, imp string) string {
	std := !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
	own := strings.HasPrefix(imp, module)
	target := layerOf(imp)
	switch layer {
	case "domain":
		if std || imp == "github.com/nyaruka/phonenumbers" || (own && target == "domain") {
			return ""
		}
		return "domain may use only the standard library and the phone-number library"
	case "application":
		if std || (own && (target == "domain" || target == "application")) {
			return ""
		}
		return "application may use only the standard library, domain and itself"
	case "adapters":
		if own && (target == "root" || target == "cmd" || target == "test") {
			return "adapters must not import the wiring, commands or tests"
		}
	case "root":
		if own && target == "cmd" {
			return "the wiring must not import a command"
		}
	}
	return ""
}

// TestForbiddenRuleBites proves the checker rejects what it should, so a
// silent pass above means something.
func TestForbiddenRuleBites(t *testing.T) {
	bad := [][2]string{
		{"domain", "github.com/gofiber/fiber/v2"},
		{"domain", module + "/application"},
		{"application", "go.etcd.io/bbolt"},
		{"application", "go.mongodb.org/mongo-driver/v2/mongo"},
		{"application", module + "/adapters/bolt"},
		{"application", "go.uber.org/zap"},
		{"adapters", module},
		{"root", module + "/cmd/server"},
	}
	for _, b := range bad {
		if forbidden(b[0], b[1]) == "" {
			t.Errorf("%s importing %s passes", b[0], b[1])
		}
	}
	good := [][2]string{
		{"domain", "strings"}, {"domain", "github.com/nyaruka/phonenumbers"},
		{"application", module + "/domain"}, {"adapters", "github.com/gofiber/fiber/v2"},
		{"adapters", module + "/application"}, {"cmd", module},
	}
	for _, g := range good {
		if why := forbidden(g[0], g[1]); why != "" {
			t.Errorf("%s importing %s refused: %s", g[0], g[1], why)
		}
	}
}
