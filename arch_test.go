package phoneauth_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/phoneauth/phoneauth"

// TestImportsPointInward keeps the hexagon: domain ← application ←
// adapters ← the root wiring ← cmd, and keeps each adapter to itself: an
// adapter (adapters/<name> and the folders under it) imports no other
// adapter, so that each can be replaced, tested and wired alone; only the
// root wiring knows them all. The client package, which apps import,
// stands outside the hexagon and uses the standard library alone. It reads the real import graph with
// `go list`, so a new file cannot slip past it. Tests' own imports are
// not checked (.Imports leaves them out): a test may use another
// adapter, or the shared store contract suite, as a helper.
func TestImportsPointInward(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, imp := range imports {
			if why := forbidden(pkg, imp); why != "" {
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
	case rel == "client" || strings.HasPrefix(rel, "client/"):
		return "client"
	}
	return "test"
}

// adapterOf names the adapter a package of the adapters layer belongs
// to: adapters/sms/internal/smshttp belongs to adapters/sms.
func adapterOf(pkg string) string {
	rel := strings.TrimPrefix(pkg, module+"/adapters/")
	name, _, _ := strings.Cut(rel, "/")
	return name
}

// sharedTestHelpers are the packages of the adapters layer that exist for
// other adapters' tests: the store contract suite every store runs.
var sharedTestHelpers = map[string]bool{module + "/adapters/storetest": true}

// forbidden says why pkg may not import imp, or "" if it may.
func forbidden(pkg, imp string) string {
	layer := layerOf(pkg)
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
	case "client":
		if std {
			return ""
		}
		return "the client package is for apps to import: the standard library only, not even this module"
	case "adapters":
		if own && (target == "root" || target == "cmd" || target == "test") {
			return "adapters must not import the wiring, commands or tests"
		}
		if own && target == "adapters" && adapterOf(imp) != adapterOf(pkg) && !sharedTestHelpers[imp] {
			return "an adapter must not import another adapter (only the root wiring joins them): share the type through application or domain"
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
	a := module + "/adapters/"
	bad := [][2]string{
		{module + "/domain", "github.com/gofiber/fiber/v2"},
		{module + "/domain", module + "/application"},
		{module + "/application", "go.etcd.io/bbolt"},
		{module + "/application", "go.mongodb.org/mongo-driver/v2/mongo"},
		{module + "/application", a + "bolt"},
		{module + "/application/apptest", a + "memory"},
		{module + "/application", "go.uber.org/zap"},
		{a + "bolt", module},
		{a + "metrics", a + "http"},
		{a + "metrics", a + "sms/failover"},
		{a + "sms/cloopen", a + "http"},
		{a + "storetest", a + "memory"},
		{a + "mongo", module + "/test/mongotest"},
		{module, module + "/cmd/server"},
		{module + "/client", module + "/domain"},
		{module + "/client", "golang.org/x/term"},
	}
	for _, b := range bad {
		if forbidden(b[0], b[1]) == "" {
			t.Errorf("%s importing %s passes", b[0], b[1])
		}
	}
	good := [][2]string{
		{module + "/domain", "strings"}, {module + "/domain", "github.com/nyaruka/phonenumbers"},
		{module + "/application", module + "/domain"}, {a + "http", "github.com/gofiber/fiber/v2"},
		{a + "http", module + "/application"}, {module + "/cmd/server", module},
		{a + "sms", a + "sms/failover"}, {a + "sms/cloopen", a + "sms/internal/smshttp"},
		{a + "sms/internal/smstest", a + "sms/internal/fakevendor"},
		{a + "bolt", a + "storetest"}, {module, a + "bolt"}, {module + "/test", a + "sms/capture"},
		{module + "/client", "net/http"}, {module + "/cmd/phoneauth-client", module + "/client"},
	}
	for _, g := range good {
		if why := forbidden(g[0], g[1]); why != "" {
			t.Errorf("%s importing %s refused: %s", g[0], g[1], why)
		}
	}
}
