package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	"go.uber.org/zap"
)

// DefaultTimeout bounds every call to the database when Config.Timeout is
// zero: long enough for a replica-set election, short enough that a client
// hears 503 before it gives up itself.
const DefaultTimeout = 5 * time.Second

// DefaultDatabase is the database used when Config.Database is empty.
const DefaultDatabase = "phoneauth"

// Collection names. Each holds one kind of record keyed by _id, which is
// also the natural shard key.
const (
	collAccounts = "accounts"
	collPending  = "pending_registrations"
	collCodes    = "codes"
	collLimits   = "rate_limits"
	collLockouts = "login_lockouts"
	collNonces   = "login_nonces"
	collSessions = "sessions"
	// collLegacyUsers held the accounts, keyed by phone, before they were
	// keyed by id; Open moves what it still holds (migrateUsers).
	collLegacyUsers = "users"
)

// Config says where the database is.
type Config struct {
	// URI is a MongoDB connection string. Options it sets (w, retryWrites,
	// timeouts) win over this package's defaults.
	URI string
	// Database defaults to DefaultDatabase.
	Database string
	// Timeout bounds each call (and Open's first ping); DefaultTimeout if zero.
	Timeout time.Duration
}

// Store is one connection pool to MongoDB and the repositories that share
// it. It is safe for concurrent use. Store itself sweeps expired records
// of every collection (application.Expirer).
type Store struct {
	client  *mongodriver.Client
	db      *mongodriver.Database
	timeout time.Duration
	log     *zap.Logger

	users    *Users
	pending  *PendingRegistrations
	codes    *PendingCodes
	limits   *RateLimits
	lockouts *Lockouts
	nonces   *Nonces
	sessions *Sessions

	ttlOnce sync.Once
}

// Open connects, checks that the server answers within cfg.Timeout,
// creates the indexes it needs and moves accounts of the layout before
// accounts were keyed by id (idempotently: every instance does both at
// start). It fails, wrapping application.ErrUnavailable, when the server
// cannot be reached. log is used as given (the caller names it).
func Open(ctx context.Context, cfg Config, log *zap.Logger) (*Store, error) {
	if cfg.URI == "" {
		return nil, errors.New("mongo: empty URI")
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if log == nil {
		log = zap.NewNop()
	}

	cs, err := connstring.ParseAndValidate(cfg.URI)
	if err != nil {
		// The parser's message can quote the URI, password included.
		return nil, errors.New("mongo: invalid URI (check MONGO_URI)")
	}
	if err := checkGuarantees(cs); err != nil {
		return nil, err
	}
	hosts := strings.Join(cs.Hosts, ",")

	// Defaults first; ApplyURI then overrides only what the URI states.
	// Majority writes survive a primary's failover; retryable writes make a
	// failover invisible to callers of single-document writes.
	opts := options.Client().
		SetWriteConcern(writeconcern.Majority()).
		SetRetryWrites(true).
		SetRetryReads(true).
		SetServerSelectionTimeout(cfg.Timeout).
		SetConnectTimeout(cfg.Timeout).
		SetAppName("phoneauth").
		ApplyURI(cfg.URI)
	client, err := mongodriver.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: connect to %s: %w", hosts, err)
	}

	s := &Store{
		client:  client,
		db:      client.Database(cfg.Database),
		timeout: cfg.Timeout,
		log:     log,
	}
	s.users = &Users{s: s, coll: s.db.Collection(collAccounts)}
	s.pending = &PendingRegistrations{s: s, coll: s.db.Collection(collPending)}
	s.codes = &PendingCodes{s: s, coll: s.db.Collection(collCodes)}
	s.limits = &RateLimits{s: s, coll: s.db.Collection(collLimits)}
	s.lockouts = &Lockouts{s: s, coll: s.db.Collection(collLockouts)}
	s.nonces = &Nonces{s: s, coll: s.db.Collection(collNonces)}
	s.sessions = &Sessions{s: s, coll: s.db.Collection(collSessions)}

	if err := s.Ping(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		// The cause follows: a timeout, a refused connection, a failed login.
		return nil, fmt.Errorf("mongo: cannot use %s (timeout %s): %w", hosts, cfg.Timeout, err)
	}
	if err := s.ensureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.migrateUsers(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	log.Info("connected", zap.String("hosts", hosts), zap.String("database", cfg.Database))
	return s, nil
}

// checkGuarantees refuses a URI whose options would break what the
// service promises: that a success is durable (a write acknowledged by
// one node, or by none, is lost in a failover: w=0, w=1, journal=false)
// and that a revocation or a refresh holds at once on every instance (a
// read from a secondary may not see it yet: any readPreference other than
// primary). The driver lets the URI override this package's defaults, so
// without this check one option would weaken every guarantee silently.
// The message names the option, never the URI (it may hold a password).
func checkGuarantees(cs *connstring.ConnString) error {
	if cs.WNumberSet && cs.WNumber < 2 {
		return fmt.Errorf("mongo: MONGO_URI sets w=%d: acknowledged writes could be lost in a failover; remove it (the default is w=majority)", cs.WNumber)
	}
	if cs.JSet && !cs.J {
		return errors.New("mongo: MONGO_URI sets journal=false: acknowledged writes could be lost in a crash; remove it")
	}
	if rp := cs.ReadPreference; rp != "" && !strings.EqualFold(rp, "primary") {
		return fmt.Errorf("mongo: MONGO_URI sets readPreference=%s: a read from a secondary may miss a revocation or a refresh just made; remove it (the default is primary)", rp)
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}

// Ping checks that the primary answers (for readiness probes).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Users returns the accounts repository.
func (s *Store) Users() *Users { return s.users }

// PendingRegistrations returns the registrations-in-progress repository.
func (s *Store) PendingRegistrations() *PendingRegistrations { return s.pending }

// PendingCodes returns the codes sent for the purposes other than
// registration.
func (s *Store) PendingCodes() *PendingCodes { return s.codes }

// RateLimits returns the shared fixed windows.
func (s *Store) RateLimits() *RateLimits { return s.limits }

// Lockouts returns the shared wrong-password counters.
func (s *Store) Lockouts() *Lockouts { return s.lockouts }

// Nonces returns the shared login-replay guard.
func (s *Store) Nonces() *Nonces { return s.nonces }

// Sessions returns the sessions that were refreshed or revoked.
func (s *Store) Sessions() *Sessions { return s.sessions }

// op bounds one call, so that a dead server costs a request cfg.Timeout
// and not the driver's own (30 s) server selection wait.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}
