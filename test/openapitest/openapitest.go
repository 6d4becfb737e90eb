// Package openapitest checks answers of the service against its OpenAPI
// document, api/openapi.yaml (embedded as phoneauth.OpenAPIDocument). The
// end-to-end tests check every answer they receive, and the HTTP adapter's
// wire-contract test every message and reason of the contract (docs/api.md,
// Messages and reasons), so the document cannot drift from the service in
// either direction unnoticed.
package openapitest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/phoneauth/phoneauth"
)

var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
	// mu serialises validation: the JSON Schema validator compiles
	// schemas lazily, and tests post from many goroutines.
	mu sync.Mutex
}

// Load parses and validates the document, once per test binary.
func Load() (*openapi3.T, error) {
	_, err := load()
	return contract.doc, err
}

func load() (routers.Router, error) {
	contract.once.Do(func() {
		ctx := context.Background()
		doc, err := openapi3.NewLoader().LoadFromData(phoneauth.OpenAPIDocument)
		if err != nil {
			contract.err = fmt.Errorf("load api/openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(ctx); err != nil {
			contract.err = fmt.Errorf("api/openapi.yaml is not valid OpenAPI: %w", err)
			return
		}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			contract.err = fmt.Errorf("route api/openapi.yaml: %w", err)
			return
		}
		contract.doc, contract.router = doc, router
	})
	return contract.router, contract.err
}

// Check fails t unless the document has an operation for method and path
// that lists status, and the answer's headers and body match what it says
// that operation answers with that status. It is safe to call from
// several goroutines.
func Check(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	router, err := load()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Errorf("%s %s answered %d, but api/openapi.yaml has no such operation: %v", method, path, status, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	// The reason alone: the default message prints the whole schema.
	in.Options.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		return fmt.Sprintf("%s at /%s", err.Reason, strings.Join(err.JSONPointer(), "/"))
	})
	in.SetBodyBytes(body)
	contract.mu.Lock()
	err = openapi3filter.ValidateResponse(context.Background(), in)
	contract.mu.Unlock()
	if err != nil {
		t.Errorf("%s %s: answer %d %s does not match api/openapi.yaml:\n%v", method, path, status, body, err)
	}
}
