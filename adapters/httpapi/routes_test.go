package httpapi

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/application"
)

// indexApp is an App enough to register every route: the authenticated
// ones need an Authenticate use case, which no request here reaches.
func indexApp() *application.App {
	return &application.App{Authenticate: application.NewAuthenticateHandler(nil, nil, nil, nil, application.Policy{})}
}

// TestRouteIndexesEveryRoute: the index that route keeps is Fiber's own
// table (middleware aside), so that routeLabel can name every request a
// route served, HEAD of a GET route included.
func TestRouteIndexesEveryRoute(t *testing.T) {
	s := New(indexApp(), Config{Metrics: http.NotFoundHandler(), OpenAPI: []byte("openapi: 3.1.0\n"), JWKS: []byte(`{"keys":[]}`)}, nil, zap.NewNop())
	fiberRoutes := map[string]string{}
	for _, r := range s.fiber.GetRoutes(true) {
		fiberRoutes[r.Method+" "+r.Path] = r.Path
	}
	if !maps.Equal(s.routes, fiberRoutes) {
		t.Fatalf("indexed %v\nFiber serves %v", s.routes, fiberRoutes)
	}
	for _, want := range []string{"POST /client/login", "GET /healthz", "HEAD /healthz", "GET /metrics", "HEAD /openapi.yaml",
		"POST /client/token/refresh", "GET /client", "HEAD /client", "POST /client/logout", "GET /client/logout", "GET " + JWKSPath} {
		if _, ok := s.routes[want]; !ok {
			t.Errorf("%s is not indexed", want)
		}
	}
}

// TestRouteIndexUnderAPrefix: with a path prefix every route is served,
// and indexed, twice: at its path and under the prefix, both labelled
// with its own path.
func TestRouteIndexUnderAPrefix(t *testing.T) {
	const prefix = "/api/v1_1"
	s := New(indexApp(), Config{PathPrefix: prefix, JWKS: []byte(`{"keys":[]}`)}, nil, zap.NewNop())
	var fiberRoutes []string
	for _, r := range s.fiber.GetRoutes(true) {
		fiberRoutes = append(fiberRoutes, r.Method+" "+r.Path)
	}
	if got := slices.Sorted(maps.Keys(s.routes)); !slices.Equal(got, slices.Sorted(slices.Values(fiberRoutes))) {
		t.Fatalf("indexed %v\nFiber serves %v", got, fiberRoutes)
	}
	atRoot := 0
	for key, label := range s.routes {
		method, path, _ := strings.Cut(key, " ")
		if label != strings.TrimPrefix(path, prefix) {
			t.Errorf("%s is labelled %s", key, label)
		}
		if label == path {
			atRoot++
			if _, ok := s.routes[method+" "+prefix+path]; !ok {
				t.Errorf("%s is not served under %s", key, prefix)
			}
		}
	}
	if atRoot < 10 || atRoot*2 != len(s.routes) {
		t.Fatalf("%d routes at the root of %d", atRoot, len(s.routes))
	}
}
