package phoneauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/adapters/crypto"
	"github.com/phoneauth/phoneauth/adapters/httpapi"
	"github.com/phoneauth/phoneauth/adapters/metrics"
	"github.com/phoneauth/phoneauth/application"
)

// Service is the wired service: the HTTP server and its background work.
type Service struct {
	HTTP    *httpapi.Server
	Sweeper *application.Sweeper
	Metrics *metrics.Metrics
	cfg     Config
	log     *zap.Logger
	// signingKID is the kid of the key that signs access tokens, for the
	// start-up log: an operator rotating keys sees which one signs,
	// never the key.
	signingKID string
}

// NewService assembles the service; Wire calls it.
func NewService(h *httpapi.Server, sw *application.Sweeper, m *metrics.Metrics, t *crypto.Tokens, cfg Config, log *zap.Logger) *Service {
	return &Service{HTTP: h, Sweeper: sw, Metrics: m, cfg: cfg, log: log, signingKID: t.SigningKeyID()}
}

// Run listens on HTTP_ADDR and serves until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s: %w", s.cfg.HTTPAddr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then stops accepting, lets requests
// in flight finish within SHUTDOWN_TIMEOUT, and returns. The caller then
// runs Wire's cleanup, which closes the store after the last request.
// When METRICS_ADDR is set, Serve also serves metrics there, and stops
// that listener too.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.MetricsAddr != "" {
		stopMetrics, err := s.serveMetrics()
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		s.Sweeper.Run(sweepCtx)
	}()
	defer func() {
		stopSweep()
		<-swept
	}()

	served := make(chan error, 1)
	go func() { served <- s.HTTP.App().Listener(ln) }()
	s.log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("token_signing_kid", s.signingKID))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", zap.Duration("timeout", s.cfg.ShutdownTimeout))
	err := s.HTTP.App().ShutdownWithTimeout(s.cfg.ShutdownTimeout)
	if serveErr := <-served; serveErr != nil && !errors.Is(serveErr, net.ErrClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// serveMetrics serves GET /metrics on METRICS_ADDR, for a scraper that
// should not share the public listener; stop shuts it down gracefully.
func (s *Service) serveMetrics() (stop func(), err error) {
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR %s: %w", s.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+httpapi.MetricsPath, s.Metrics.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.cfg.HTTPReadTimeout,
		ReadTimeout:       s.cfg.HTTPReadTimeout,
		WriteTimeout:      s.cfg.HTTPWriteTimeout,
		IdleTimeout:       s.cfg.HTTPIdleTimeout,
		ErrorLog:          zap.NewStdLog(s.log.Named("metrics")),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("metrics listening", zap.String("addr", ln.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			s.log.Warn("metrics listener shutdown", zap.Error(err))
		}
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("metrics listener stopped", zap.Error(err))
		}
	}, nil
}

// Initialize wires the service on the store the configuration names:
// MongoDB when MONGO_URI is set, the embedded store otherwise.
func Initialize(cfg Config, log *zap.Logger, o Overrides) (*Service, func(), error) {
	if cfg.MongoURI != "" {
		return InitializeMongo(cfg, log, o)
	}
	return InitializeEmbedded(cfg, log, o)
}
