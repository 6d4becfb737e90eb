package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/phoneauth/phoneauth/adapters/httpapi"
)

// demoPolicy is the demo page's Content-Security-Policy, written out here
// so that a looser policy fails this test: scripts, styles, images and
// requests from its own origin only, nothing else loaded, no inline
// script or style, no base URL, no form posted by the browser, no frame.
const demoPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// TestDemoPageOff: without DemoPage, the page and its assets are unknown
// paths: 404 with the API's not_found answer, at the root and under the
// prefix.
func TestDemoPageOff(t *testing.T) {
	x := newFixture(t, httpapi.Config{PathPrefix: "/api/v1_1"})
	for _, a := range httpapi.DemoAssets {
		for _, path := range []string{a.Path, "/api/v1_1" + a.Path} {
			status, body, h := x.do(t, http.MethodGet, path, "")
			if status != http.StatusNotFound || body != `{"code":0,"message":"接口不存在","error":"not_found"}` {
				t.Errorf("GET %s with the demo page off: %d %s", path, status, body)
			}
			if h.Get("Content-Security-Policy") != "" {
				t.Errorf("GET %s with the demo page off carries the page's policy", path)
			}
		}
	}
}

// TestDemoPageOn: with DemoPage, each asset is served, at the root and
// under the prefix, with its content type and the page's security and
// cache headers; an unchanged asset answers 304 to its ETag.
func TestDemoPageOn(t *testing.T) {
	x := newFixture(t, httpapi.Config{DemoPage: true, PathPrefix: "/api/v1_1"})
	for _, a := range httpapi.DemoAssets {
		for _, path := range []string{a.Path, "/api/v1_1" + a.Path} {
			status, body, h := x.do(t, http.MethodGet, path, "")
			if status != http.StatusOK || body != string(httpapi.DemoFile(a.File)) {
				t.Errorf("GET %s: %d, %d bytes, want 200 and %s", path, status, len(body), a.File)
				continue
			}
			want := map[string]string{
				"Content-Type":                 a.ContentType,
				"Content-Security-Policy":      demoPolicy,
				"X-Content-Type-Options":       "nosniff",
				"Referrer-Policy":              "no-referrer",
				"X-Frame-Options":              "DENY",
				"Cross-Origin-Opener-Policy":   "same-origin",
				"Cross-Origin-Resource-Policy": "same-origin",
				"Cache-Control":                "no-cache",
			}
			for name, v := range want {
				if got := h.Get(name); got != v {
					t.Errorf("GET %s: %s = %q, want %q", path, name, got, v)
				}
			}
			if !strings.HasSuffix(a.ContentType, "; charset=utf-8") {
				t.Errorf("%s is served as %q, without its charset", a.File, a.ContentType)
			}
			etag := h.Get("ETag")
			if etag == "" {
				t.Errorf("GET %s: no ETag", path)
				continue
			}
			status, body, _ = x.do(t, http.MethodGet, path, "", "If-None-Match", etag)
			if status != http.StatusNotModified || body != "" {
				t.Errorf("GET %s, If-None-Match its ETag: %d %q, want 304", path, status, body)
			}
		}
	}
	// The page's URLs are relative to /demo: asked as /demo/, it sends
	// the browser to the page's own path.
	for _, path := range []string{"/demo/", "/api/v1_1/demo/"} {
		req, _ := http.NewRequest(http.MethodGet, x.base+path, nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// From /demo/ (or /api/v1_1/demo/), up one segment is the page.
		if want := ".." + httpapi.DemoPath; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d Location %q, want 308 %s", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	// Pages of the API keep their own headers.
	_, _, h := x.do(t, http.MethodGet, "/healthz", "")
	if h.Get("Content-Security-Policy") != "" {
		t.Error("/healthz carries the demo page's policy")
	}
}

// TestDemoAssetsListEveryFile: each file of the page's folder is served,
// so a file added there is not silently missing from the page.
func TestDemoAssetsListEveryFile(t *testing.T) {
	entries, err := os.ReadDir("demo")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, a := range httpapi.DemoAssets {
		listed[a.File] = true
	}
	for _, e := range entries {
		if !listed["demo/"+e.Name()] {
			t.Errorf("demo/%s is embedded but not served: list it in DemoAssets", e.Name())
		}
	}
	if len(entries) != len(httpapi.DemoAssets) {
		t.Errorf("%d files in demo/, %d assets served", len(entries), len(httpapi.DemoAssets))
	}
}

// TestDemoAssetsRunNothingInline: the policy refuses inline script and
// style, so the page holds none (it would be broken, not merely unsafe):
// no <script> body, no <style> element, no style= or on…= attribute, no
// javascript: URL. Every URL it names is relative, so that it loads from
// its own origin and works under a path prefix.
func TestDemoAssetsRunNothingInline(t *testing.T) {
	for _, a := range httpapi.DemoAssets {
		if !strings.HasSuffix(a.File, ".html") && !strings.HasSuffix(a.File, ".svg") {
			continue
		}
		z := html.NewTokenizer(bytes.NewReader(httpapi.DemoFile(a.File)))
		inScript := false
		scripts := 0
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				if z.Err() != io.EOF {
					t.Fatalf("%s: %v", a.File, z.Err())
				}
				break
			}
			tok := z.Token()
			switch tt {
			case html.StartTagToken, html.SelfClosingTagToken:
				switch tok.Data {
				case "style":
					t.Errorf("%s: a <style> element", a.File)
				case "script":
					scripts++
					inScript = tt == html.StartTagToken
					if attr(tok, "src") == "" {
						t.Errorf("%s: a <script> without src", a.File)
					}
				}
				for _, at := range tok.Attr {
					key := strings.ToLower(at.Key)
					if key == "style" || strings.HasPrefix(key, "on") {
						t.Errorf("%s: <%s %s=%q>: inline style or handler", a.File, tok.Data, at.Key, at.Val)
					}
					if key == "src" || key == "href" || key == "action" || key == "formaction" {
						if !relativeURL(at.Val) {
							t.Errorf("%s: <%s %s=%q>: not a relative URL", a.File, tok.Data, at.Key, at.Val)
						}
					}
				}
			case html.TextToken:
				if inScript && strings.TrimSpace(tok.Data) != "" {
					t.Errorf("%s: an inline script: %.60q", a.File, tok.Data)
				}
			case html.EndTagToken:
				if tok.Data == "script" {
					inScript = false
				}
			}
		}
		if strings.HasSuffix(a.File, ".html") && scripts != 1 {
			t.Errorf("%s: %d scripts, want the one file", a.File, scripts)
		}
	}
}

// TestDemoScriptStaysInItsOrigin: the script writes no HTML from text
// (every value goes through textContent), keeps nothing in localStorage,
// names no other origin, and calls the API by relative paths only.
func TestDemoScriptStaysInItsOrigin(t *testing.T) {
	js := string(httpapi.DemoFile("demo/demo.js"))
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage", "http://", "https://", "//cdn", "setAttribute(\"style\"", ".style."} {
		if strings.Contains(js, banned) {
			t.Errorf("demo.js holds %q", banned)
		}
	}
	calls := regexp.MustCompile(`api\("(GET|POST)", "([^"]*)"`).FindAllStringSubmatch(js, -1)
	if len(calls) < 10 {
		t.Fatalf("demo.js: %d API calls found, want the registration, login, account, refresh, logout and reset calls", len(calls))
	}
	for _, c := range calls {
		if !relativeURL(c[2]) || !strings.HasPrefix(c[2], "client") {
			t.Errorf("demo.js calls %s %q: not a relative path of the API", c[1], c[2])
		}
	}
	css := string(httpapi.DemoFile("demo/demo.css"))
	for _, banned := range []string{"@import", "url(", "http://", "https://"} {
		if strings.Contains(css, banned) {
			t.Errorf("demo.css holds %q: it loads nothing", banned)
		}
	}
}

func attr(tok html.Token, key string) string {
	for _, a := range tok.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// relativeURL is a URL without a scheme, a host or a leading slash: it
// resolves against the page, under whatever prefix serves it.
func relativeURL(u string) bool {
	return u != "" && !strings.HasPrefix(u, "/") && !strings.Contains(u, ":") && !strings.Contains(u, `\`)
}
