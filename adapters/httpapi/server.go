package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/phoneauth/phoneauth/application"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// BodyLimit is SPEC §2's largest accepted body.
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
	routes   map[string]string // "METHOD /path" to the route's path
	fiber    *fiber.App
	idPrefix string
	idSeq    atomic.Uint64
	depLog   *zap.Logger
	depSeen  logThrottle
}

// New builds the Fiber app. ready may be nil (always ready).
func New(app *application.App, cfg Config, ready Readiness, log *zap.Logger) *Server {
	var p [4]byte
	_, _ = rand.Read(p[:])
	s := &Server{app: app, log: log, ready: ready, readyFor: cfg.ReadinessTimeout, proxies: cfg.TrustedProxies, obs: cfg.Observer, idPrefix: hex.EncodeToString(p[:])}
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
	s.fiber.Use(s.accessLog, s.recoverPanic, refuseEncoded)
	s.fiber.Get("/healthz", s.healthz)
	s.fiber.Get("/readyz", s.readyz)
	c := s.fiber.Group("/client", noStore)
	c.Post("/register-step-1", s.step1)
	c.Post("/register-step-2", s.step2)
	c.Post("/register-step-3", s.step3)
	c.Post("/register-step-4", s.step4)
	c.Post("/login", s.login)
	s.mountOps(cfg)
	s.indexRoutes()
	return s
}

// App returns the Fiber app, to serve or to test.
func (s *Server) App() *fiber.App { return s.fiber }

// ctxEndpoint is the Locals key under which a handler records its
// endpoint, so the error handler picks that endpoint's wording.
const ctxEndpoint = "endpoint"

// ctxRequestID is the Locals key of the request id.
const ctxRequestID = "request_id"

func (s *Server) step1(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, step1)
	f, err := decodeFields(rawBody(c), []string{"phone_number"}, []fieldKind{stringField})
	if err != nil {
		return err
	}
	if err := s.app.SendCode.Handle(c.UserContext(), application.SendCode{Phone: f[0], ClientNet: s.clientNet(c)}); err != nil {
		return err
	}
	return ok(c, msgSent)
}

func (s *Server) step2(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, step2)
	f, err := decodeFields(rawBody(c), []string{"phone_number", "validate_number"}, []fieldKind{stringField, stringField})
	if err != nil {
		return err
	}
	res, err := s.app.VerifyCode.Handle(c.UserContext(), application.VerifyCode{Phone: f[0], Code: f[1], ClientNet: s.clientNet(c)})
	if err != nil {
		return err
	}
	return c.JSON(response{Code: 1, Message: msgVerified, RegistrationToken: res.RegistrationToken})
}

func (s *Server) step3(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, step3)
	f, err := decodeFields(rawBody(c),
		[]string{"phone_number", "password", "password_confirm", "registration_token"},
		[]fieldKind{stringField, stringField, stringField, optionalStringField})
	if err != nil {
		return err
	}
	in := application.SetPassword{Phone: f[0], Password: f[1], PasswordConfirm: f[2], RegistrationToken: f[3], ClientNet: s.clientNet(c)}
	if err := s.app.SetPassword.Handle(c.UserContext(), in); err != nil {
		return err
	}
	return ok(c, msgPasswordSet)
}

func (s *Server) step4(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, step4)
	f, err := decodeFields(rawBody(c),
		[]string{"phone_number", "email", "registration_token"},
		[]fieldKind{stringField, stringField, optionalStringField})
	if err != nil {
		return err
	}
	in := application.CompleteProfile{Phone: f[0], Email: f[1], RegistrationToken: f[2], ClientNet: s.clientNet(c)}
	if err := s.app.CompleteProfile.Handle(c.UserContext(), in); err != nil {
		return err
	}
	return ok(c, msgRegistered)
}

func (s *Server) login(c *fiber.Ctx) error {
	c.Locals(ctxEndpoint, login)
	f, err := decodeFields(rawBody(c),
		[]string{"phone_number", "encryption_str", "random_str", "time_stamp"},
		[]fieldKind{stringField, stringField, stringField, integerField})
	if err != nil {
		return err
	}
	res, err := s.app.Login.Handle(c.UserContext(), application.Login{Phone: f[0], EncryptionStr: f[1], RandomStr: f[2], TimeStamp: f[3], ClientNet: s.clientNet(c)})
	if err != nil {
		return err
	}
	return c.JSON(response{Code: 1, Message: msgLoggedIn, Email: res.Email, Token: res.Token, ExpiresIn: int64(res.ExpiresIn / time.Second)})
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (s *Server) readyz(c *fiber.Ctx) error {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.UserContext(), s.readyFor)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.log.Warn("not ready", zap.Error(err))
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable"})
		}
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

func ok(c *fiber.Ctx, msg string) error {
	return c.JSON(response{Code: 1, Message: msg})
}

// handleError is Fiber's ErrorHandler: the one place errors become answers.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	ep, _ := c.Locals(ctxEndpoint).(endpoint)
	status, body, known := mapError(ep, err)
	// Error strings here are built by this service and carry no secrets;
	// the vendor's raw text is only in SMS refusals, which are known.
	switch {
	case !known:
		s.log.Error("request failed", zap.Any("request_id", c.Locals(ctxRequestID)),
			zap.String("path", c.Path()), zap.Int("status", status), zap.Error(err))
	case status >= fiber.StatusInternalServerError:
		// A dependency down fails every request that needs it: one line
		// per interval for each endpoint and reason, with a count.
		if write, suppressed := s.depSeen.allow(throttleKey{ep, body.Error}, time.Now()); write {
			s.depLog.Error("dependency failed", zap.Any("request_id", c.Locals(ctxRequestID)),
				zap.String("path", c.Path()), zap.Int("status", status), zap.Error(err),
				zap.Int("suppressed", suppressed), zap.Duration("log_interval", s.depSeen.interval))
		}
	}
	if body.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(body.RetryAfter, 10))
	}
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-store")
	noteError(c, body.Error, err)
	jerr := c.Status(status).JSON(body)
	if c.Locals(ctxRequestID) == nil {
		// Fiber refused the request before any route (a body over the
		// limit): accessLog never saw it, so observe it here.
		s.observe(c, RouteUnmatched, 0)
	}
	return jerr
}

// noStore keeps auth answers out of every cache.
func noStore(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

// recoverPanic turns a panic into a 500 answer instead of a dead process.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", zap.Any("request_id", c.Locals(ctxRequestID)), zap.Any("panic", r), zap.Stack("stack"))
			err = errPanic
		}
	}()
	return c.Next()
}

var errPanic = errors.New("handler panicked")

// accessLog writes one line per request: id, method, path, status,
// latency, client address. It never logs bodies, so no phone number,
// password or code can reach it.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID(id) {
		id = s.idPrefix + "-" + strconv.FormatUint(s.idSeq.Add(1), 36)
	}
	c.Locals(ctxRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// With the access log on, the client is worked out here, once: its
	// address goes to the log line, its network to the handler. With it
	// off, only a handler that needs the network works it out.
	var addr netip.Addr
	var clientNet string
	if s.log.Core().Enabled(zapcore.InfoLevel) {
		addr = s.clientAddr(c)
		clientNet = netKey(addr)
		c.Locals(ctxClientNet, clientNet)
	}
	err := c.Next()
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	elapsed := time.Since(start)
	s.observe(c, s.routeLabel(c), elapsed)
	// Check first: with the access log off (LOG_LEVEL=warn) no field,
	// not even the client address's text, is built.
	if ce := s.log.Check(zapcore.InfoLevel, "request"); ce != nil {
		if !addr.IsValid() { // the level was raised during the request
			addr = s.clientAddr(c)
			clientNet = netKey(addr)
		}
		ce.Write(
			zap.String("request_id", id),
			zap.String("method", c.Method()),
			zap.String("path", c.Path()),
			zap.Int("status", c.Response().StatusCode()),
			zap.Duration("latency", elapsed),
			zap.String("ip", clientIP(addr, clientNet)),
		)
	}
	return nil
}

// validRequestID accepts a caller's X-Request-ID only if it is short and
// plain, so a log line cannot be forged or bloated through it.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
