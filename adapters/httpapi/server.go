package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/wire"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/phoneauth/phoneauth/application"
)

// BodyLimit is the largest body accepted, counted as sent (docs/api.md,
// "Conventions").
const BodyLimit = 16 << 10

// Config holds the HTTP settings.
type Config struct {
	TrustedProxies []netip.Prefix
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	// ReadinessTimeout bounds the store's answer to /readyz; zero means
	// DefaultReadinessTimeout.
	ReadinessTimeout time.Duration
	// Observer, if set, is told how every request ended (metrics).
	Observer Observer
	// Metrics, if set, is served at GET /metrics.
	Metrics http.Handler
	// OpenAPI, if set, is served at GET /openapi.yaml.
	OpenAPI []byte
	// JWKS, if set, is the JWK set of the token signing keys, served at
	// GET /.well-known/jwks.json.
	JWKS []byte
	// PathPrefix, if set (HTTP_PATH_PREFIX, such as /api/v1_1), serves
	// every route under it as well as at its own path. It starts with a
	// slash and does not end with one.
	PathPrefix string
	// DemoPage serves the demo page at DemoPath (DEMO_PAGE); off, its
	// paths answer 404 as any unknown path does.
	DemoPage bool
	// DependencyLogInterval is the least time between two log lines for
	// one kind of dependency failure (a 503) on one endpoint; zero means
	// DefaultDependencyLogInterval.
	DependencyLogInterval time.Duration
}

// DefaultDependencyLogInterval is how often a dependency failing request
// after request is logged: the first failure at once, then one line per
// interval with the number of failures not logged.
const DefaultDependencyLogInterval = 10 * time.Second

// DefaultReadinessTimeout is how long /readyz waits for the store.
const DefaultReadinessTimeout = 2 * time.Second

// Readiness reports whether the service can serve: the store answers.
type Readiness func(ctx context.Context) error

// Server is the Fiber app with the service's routes.
type Server struct {
	app      *application.App
	log      *zap.Logger
	ready    Readiness
	readyFor time.Duration
	proxies  []netip.Prefix
	obs      Observer
	prefix   string            // Config.PathPrefix
	routes   map[string]string // "METHOD /path" to the route's path, kept by route
	fiber    *fiber.App
	idPrefix string
	idSeq    atomic.Uint64
	depLog   *zap.Logger
	depSeen  logThrottle
}

// ProviderSet is this adapter for Wire: New, fed the use cases, this
// package's Config, a readiness check and the process's logger.
var ProviderSet = wire.NewSet(New)

// New builds the Fiber app, logging under the name "http". ready may be
// nil (always ready).
func New(app *application.App, cfg Config, ready Readiness, log *zap.Logger) *Server {
	log = log.Named("http")
	var p [4]byte
	_, _ = rand.Read(p[:])
	s := &Server{app: app, log: log, ready: ready, readyFor: cfg.ReadinessTimeout, proxies: cfg.TrustedProxies, obs: cfg.Observer, prefix: cfg.PathPrefix, routes: map[string]string{}, idPrefix: hex.EncodeToString(p[:])}
	if s.readyFor <= 0 {
		s.readyFor = DefaultReadinessTimeout
	}
	s.depSeen.interval = cfg.DependencyLogInterval
	if s.depSeen.interval <= 0 {
		s.depSeen.interval = DefaultDependencyLogInterval
	}
	// A stack trace of the error handler tells nothing about a database
	// that is down.
	s.depLog = log.WithOptions(zap.AddStacktrace(zapcore.FatalLevel))
	s.fiber = fiber.New(fiber.Config{
		BodyLimit:             BodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
	})
	s.mount(cfg)
	return s
}

// App returns the Fiber app, to serve or to test.
func (s *Server) App() *fiber.App { return s.fiber }
