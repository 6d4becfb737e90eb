package httpapi

import (
	"maps"
	"net/http"
	"testing"

	"go.uber.org/zap"
)

// TestRouteIndexesEveryRoute: the index that route keeps is Fiber's own
// table (middleware aside), so that routeLabel can name every request a
// route served, HEAD of a GET route included.
func TestRouteIndexesEveryRoute(t *testing.T) {
	s := New(nil, Config{Metrics: http.NotFoundHandler(), OpenAPI: []byte("openapi: 3.1.0\n")}, nil, zap.NewNop())
	fiberRoutes := map[string]string{}
	for _, r := range s.fiber.GetRoutes(true) {
		fiberRoutes[r.Method+" "+r.Path] = r.Path
	}
	if !maps.Equal(s.routes, fiberRoutes) {
		t.Fatalf("indexed %v\nFiber serves %v", s.routes, fiberRoutes)
	}
	for _, want := range []string{"POST /client/login", "GET /healthz", "HEAD /healthz", "GET /metrics", "HEAD /openapi.yaml"} {
		if _, ok := s.routes[want]; !ok {
			t.Errorf("%s is not indexed", want)
		}
	}
}
