package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/phoneauth/phoneauth/application"
)

// errContended is returned when a compare-and-swap lost to concurrent
// writers every time it tried. It wraps application.ErrUnavailable: the
// client hears 503 and may simply retry.
var errContended = errors.New("too many concurrent writers on one record")

// maxAttempts bounds the retry loops of compare-and-swap updates and of
// inserts that race a concurrent insert. Every lost round means another
// writer won, so the loop only runs out under a storm on one record.
const maxAttempts = 32

// transientCodes are server errors that mean "not now" rather than "no":
// the primary is stepping down or shutting down, or a time limit ran out.
// Retryable writes already retry them once; if that fails too the service
// answers 503.
var transientCodes = []int{
	6,     // HostUnreachable
	7,     // HostNotFound
	50,    // MaxTimeMSExpired
	64,    // WriteConcernFailed (wtimeout)
	89,    // NetworkTimeout
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	262,   // ExceededTimeLimit
	9001,  // SocketException
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
}

// isUnavailable reports whether err means the database could not be
// reached or did not answer in time, as opposed to refusing the request.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if mongodriver.IsTimeout(err) || mongodriver.IsNetworkError(err) ||
		errors.Is(err, mongodriver.ErrClientDisconnected) {
		return true
	}
	if errors.As(err, new(topology.ServerSelectionError)) || errors.As(err, new(topology.ConnectionError)) {
		return true
	}
	// An operation that was waiting for a connection when another one on
	// the same pool hit a network error fails with "pool cleared", a type
	// the driver does not export but marks retryable.
	var pe driver.RetryablePoolError
	if errors.As(err, &pe) && pe.Retryable() {
		return true
	}
	var le mongodriver.LabeledError
	if errors.As(err, &le) && (le.HasErrorLabel("RetryableWriteError") || le.HasErrorLabel("TransientTransactionError")) {
		return true
	}
	var se mongodriver.ServerError
	if errors.As(err, &se) {
		for _, c := range transientCodes {
			if se.HasErrorCode(c) {
				return true
			}
		}
	}
	return false
}

// wrap names the operation and marks transport failures with
// application.ErrUnavailable so that the HTTP layer answers 503.
func wrap(op string, err error) error {
	if isUnavailable(err) {
		return fmt.Errorf("mongo %s: %w: %w", op, application.ErrUnavailable, err)
	}
	return fmt.Errorf("mongo %s: %w", op, err)
}

// contended is the error after maxAttempts lost races.
func contended(op string) error {
	return fmt.Errorf("mongo %s: %w: %w", op, application.ErrUnavailable, errContended)
}

// isDuplicateKey reports a unique-index violation. FerretDB reports one
// hit by an update as InternalError (code 1) rather than E11000, so the
// one update that can hit one (a phone change, Users.Update) does not rely
// on it alone.
func isDuplicateKey(err error) bool {
	return mongodriver.IsDuplicateKeyError(err)
}

// backoff sleeps a little before a compare-and-swap retries, with jitter
// so that the writers that just collided do not collide again.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(attempt+1) * time.Millisecond
	t := time.NewTimer(rand.N(d) + d/2)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
