package phoneauth_test

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth/domain"
	"github.com/phoneauth/phoneauth/test/openapitest"
)

// The inputs of the login proof that docs/api.md computes by hand.
const (
	docPassword  = "correct-horse"
	docRandomStr = "8273645"
	docTimeStamp = "1796000000"
)

// TestDocumentedLoginProof holds docs/api.md's worked login proof to what
// the service computes: the value the page prints is domain.LoginProof of
// the inputs it names; every login request the page and the OpenAPI
// document show carries the proof of the password the page uses; and the
// page's shell, Python and JavaScript programs print that value, where
// their interpreters are installed.
func TestDocumentedLoginProof(t *testing.T) {
	api := readRepoFile(t, "docs/api.md")
	section := markdownSection(t, api, "### Computing `encryption_str`")
	want := domain.LoginProof(docPassword, docRandomStr, docTimeStamp)
	for _, s := range []string{docPassword, docRandomStr, docTimeStamp, want} {
		if !strings.Contains(section, s) {
			t.Errorf("docs/api.md, Computing encryption_str: %q is not there (the proof of %q, %q, %q is %s)", s, docPassword, docRandomStr, docTimeStamp, want)
		}
	}

	// Every request of the page that carries a proof.
	requests := 0
	for _, line := range strings.Split(api, "\n") {
		var req map[string]any
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"encryption_str"`) || json.Unmarshal([]byte(line), &req) != nil {
			continue
		}
		checkProof(t, "docs/api.md", req)
		requests++
	}
	if requests == 0 {
		t.Error("docs/api.md shows no login request")
	}
	// The OpenAPI document's example login.
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	example, ok := doc.Paths.Value("/client/login").Post.RequestBody.Value.Content.Get("application/json").Example.(map[string]any)
	if !ok {
		t.Fatal("api/openapi.yaml: the login request has no example")
	}
	checkProof(t, "api/openapi.yaml", example)

	programs := map[string]struct {
		interpreter string
		args        []string
		needs       []string
	}{
		"sh":         {"sh", []string{"-c"}, []string{"sha256sum", "cut"}},
		"python":     {"python3", []string{"-c"}, nil},
		"javascript": {"node", []string{"-e"}, nil},
	}
	blocks := fencedBlocks(section)
	if got := slices.Sorted(maps.Keys(blocks)); !slices.Equal(got, []string{"javascript", "python", "sh"}) {
		t.Fatalf("docs/api.md, Computing encryption_str: programs in %v, want sh, python, javascript", got)
	}
	for lang, code := range blocks {
		p := programs[lang]
		t.Run(lang, func(t *testing.T) {
			for _, tool := range append([]string{p.interpreter}, p.needs...) {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("%s is not installed: the %s program of docs/api.md is not run", tool, lang)
				}
			}
			if lang == "javascript" {
				// Web Crypto is a global from Node.js 19 on.
				if err := exec.Command("node", "-e", "process.exit(globalThis.crypto && crypto.subtle ? 0 : 1)").Run(); err != nil {
					t.Skip("this Node.js has no global Web Crypto (Node.js 19 or later has): the JavaScript program of docs/api.md is not run")
				}
			}
			out, err := exec.Command(p.interpreter, append(p.args, code)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", p.interpreter, err, out)
			}
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("the %s program of docs/api.md prints %q, want %q", lang, got, want)
			}
		})
	}
}

// checkProof fails t unless req's encryption_str is the proof of the
// documented password for its random_str and time_stamp.
func checkProof(t *testing.T, where string, req map[string]any) {
	t.Helper()
	str := func(k string) string {
		switch v := req[k].(type) {
		case string:
			return v
		case float64: // a time_stamp sent as a JSON integer
			return strconv.FormatInt(int64(v), 10)
		}
		return ""
	}
	random, ts, proof := str("random_str"), str("time_stamp"), str("encryption_str")
	if want := domain.LoginProof(docPassword, random, ts); proof != want {
		t.Errorf("%s: a login with random_str %q and time_stamp %q carries encryption_str %q; the proof of %q is %s", where, random, ts, proof, docPassword, want)
	}
}

// TestDocsNameEveryMessage: docs/api.md lists every message and every
// error reason that api/openapi.yaml (which the tests hold the service
// to) defines, byte for byte.
func TestDocsNameEveryMessage(t *testing.T) {
	api := readRepoFile(t, "docs/api.md")
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	var messages, reasons []string
	for _, ref := range doc.Components.Schemas {
		props := ref.Value.Properties
		if m := props["message"]; m != nil {
			if s, ok := m.Value.Const.(string); ok {
				messages = append(messages, s)
			}
		}
		if e := props["error"]; e != nil {
			if s, ok := e.Value.Const.(string); ok {
				reasons = append(reasons, s)
			}
			for _, v := range e.Value.Enum {
				if s, ok := v.(string); ok {
					reasons = append(reasons, s)
				}
			}
		}
	}
	if len(messages) < 20 || len(reasons) < 25 {
		t.Fatalf("api/openapi.yaml yields only %d messages and %d reasons", len(messages), len(reasons))
	}
	for _, m := range messages {
		if !strings.Contains(api, "`"+m+"`") {
			t.Errorf("docs/api.md does not name the message %q", m)
		}
	}
	for _, r := range reasons {
		if !strings.Contains(api, "`"+r+"`") {
			t.Errorf("docs/api.md does not name the error reason %q", r)
		}
	}
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// markdownSection returns the lines of md from the heading line given to
// the next heading of the same or a higher level.
func markdownSection(t *testing.T, md, heading string) string {
	t.Helper()
	level := strings.IndexByte(heading, ' ')
	lines := strings.Split(md, "\n")
	start := slices.Index(lines, heading)
	if start < 0 {
		t.Fatalf("no heading %q", heading)
	}
	end := len(lines)
	fenced := false
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "```") {
			fenced = !fenced
		}
		if !fenced && strings.HasPrefix(lines[i], "#") {
			if n := strings.IndexByte(lines[i], ' '); n > 0 && n <= level && strings.Trim(lines[i][:n], "#") == "" {
				end = i
				break
			}
		}
	}
	return strings.Join(lines[start:end], "\n")
}

var fence = regexp.MustCompile("(?ms)^```([a-z]+)\n(.*?)^```$")

// fencedBlocks returns the fenced code blocks of md by their language.
func fencedBlocks(md string) map[string]string {
	blocks := map[string]string{}
	for _, m := range fence.FindAllStringSubmatch(md, -1) {
		blocks[m[1]] = m[2]
	}
	return blocks
}
