package httpapi

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// DemoPath is where the demo page is served when Config.DemoPage is set
// (DEMO_PAGE=true; make run sets it): a page that walks a person through
// the API in a browser. Its assets are served under DemoPath + "/".
const DemoPath = "/demo"

// DemoContentSecurityPolicy is the page's policy: its own script and
// style files only (no inline script, style or handler attribute runs),
// requests to its own origin only, no plug-ins, frames, forms posted by
// the browser or base URL changes.
const DemoContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// DemoCacheControl lets a browser keep an asset but ask, with its ETag,
// whether it changed before each use: a new binary's page is seen at once.
const DemoCacheControl = "no-cache"

// demoFiles is the page: plain HTML, CSS and JavaScript, no build step.
//
//go:embed demo
var demoFiles embed.FS

// DemoAssets are the demo page's files: the path each is served at (the
// page itself at DemoPath), its name in the embedded folder and its
// content type.
var DemoAssets = []struct{ Path, File, ContentType string }{
	{DemoPath, "demo/index.html", "text/html; charset=utf-8"},
	{DemoPath + "/demo.css", "demo/demo.css", "text/css; charset=utf-8"},
	{DemoPath + "/demo.js", "demo/demo.js", "text/javascript; charset=utf-8"},
	{DemoPath + "/icon.svg", "demo/icon.svg", "image/svg+xml; charset=utf-8"},
}

// DemoFile is the content of one of DemoAssets' files.
func DemoFile(name string) []byte {
	b, err := demoFiles.ReadFile(name)
	if err != nil {
		panic("httpapi: demo asset " + name + " is not embedded")
	}
	return b
}

// mountDemo serves the demo page's files, each through route. The page
// names its assets and the API with relative URLs, so that it works
// under the path prefix as well.
func (s *Server) mountDemo() {
	for _, a := range DemoAssets {
		s.route(fiber.MethodGet, a.Path, anyEndpoint, demoAsset(a.Path, DemoFile(a.File), a.ContentType), public)
	}
}

// demoFromSlash is the page's address relative to the page's own path
// with a trailing slash: up one segment, then the page. Relative, so
// that it holds under the path prefix and behind a proxy that adds one.
const demoFromSlash = ".." + DemoPath

// demoAsset serves body with the page's security headers and an ETag. The
// page's own path asked with a trailing slash (/demo/, which the router
// matches too) is redirected to the path without it, since the page's
// relative URLs resolve against it.
func demoAsset(path string, body []byte, contentType string) fiber.Handler {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return func(c *fiber.Ctx) error {
		h := &c.Response().Header
		h.Set(fiber.HeaderContentSecurityPolicy, DemoContentSecurityPolicy)
		h.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		h.Set(fiber.HeaderXFrameOptions, "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set(fiber.HeaderCrossOriginResourcePolicy, "same-origin")
		h.Set(fiber.HeaderCacheControl, DemoCacheControl)
		if path == DemoPath && strings.HasSuffix(c.Path(), "/") {
			return c.Redirect(demoFromSlash, fiber.StatusPermanentRedirect)
		}
		h.Set(fiber.HeaderETag, etag)
		if c.Fresh() {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, contentType)
		return c.Send(body)
	}
}
