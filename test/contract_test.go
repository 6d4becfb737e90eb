package test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/test/openapitest"
)

// checkContract checks one answer against api/openapi.yaml; post calls it
// for every answer of the end-to-end suite.
func checkContract(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	openapitest.Check(t, method, path, status, header, body)
}

// get fetches path and checks the answer against the contract.
func (in *instance) get(t testing.TB, path string) (int, http.Header, string) {
	t.Helper()
	return getFrom(t, in.base, path)
}

func getFrom(t testing.TB, base, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := client.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	checkContract(t, http.MethodGet, path, resp.StatusCode, resp.Header, raw)
	return resp.StatusCode, resp.Header, string(raw)
}

// TestOpenAPIDocument: api/openapi.yaml is valid OpenAPI 3.1, the service
// serves exactly it, and it names every endpoint of docs/api.md, the
// session endpoints with their 401s.
func TestOpenAPIDocument(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi: %q, want 3.1.0", doc.OpenAPI)
	}
	for _, p := range []string{"/client/register-step-1", "/client/register-step-2", "/client/register-step-3", "/client/register-step-4", "/client/login"} {
		item := doc.Paths.Value(p)
		if item == nil || item.Post == nil {
			t.Errorf("no POST %s", p)
			continue
		}
		for _, status := range []int{200, 400, 413, 415, 500, 503} {
			if item.Post.Responses.Status(status) == nil {
				t.Errorf("POST %s: no %d answer", p, status)
			}
		}
	}
	// The session endpoints, with their 401s.
	for _, op := range []struct {
		method, path string
		statuses     []int
	}{
		{http.MethodPost, "/client/token/refresh", []int{200, 400, 401, 413, 415, 500, 503}},
		{http.MethodGet, "/client", []int{200, 401, 500, 503}},
		{http.MethodPost, "/client/logout", []int{200, 400, 401, 413, 415, 500, 503}},
		{http.MethodGet, "/client/logout", []int{200, 401, 500, 503}},
		{http.MethodGet, "/.well-known/jwks.json", []int{200}},
	} {
		item := doc.Paths.Value(op.path)
		if item == nil || item.GetOperation(op.method) == nil {
			t.Errorf("no %s %s", op.method, op.path)
			continue
		}
		for _, status := range op.statuses {
			if item.GetOperation(op.method).Responses.Status(status) == nil {
				t.Errorf("%s %s: no %d answer", op.method, op.path, status)
			}
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml", "/.well-known/jwks.json"} {
		if item := doc.Paths.Value(p); item == nil || item.Get == nil {
			t.Errorf("no GET %s", p)
		}
	}

	in := start(t, options{})
	status, hdr, body := in.get(t, "/openapi.yaml")
	if status != 200 || body != string(phoneauth.OpenAPIDocument) || !strings.HasPrefix(hdr.Get("Content-Type"), "application/yaml") {
		t.Fatalf("GET /openapi.yaml: %d %q, %d bytes (want the embedded document)", status, hdr.Get("Content-Type"), len(body))
	}
}
