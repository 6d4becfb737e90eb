// Package storetest is the repository contract suite: one set of tests that
// every implementation of the application's storage ports runs, so that the
// embedded store, the in-memory counters and the MongoDB store cannot drift
// apart in behaviour. It is an ordinary package (not a _test file) so that
// each adapter's tests can import it.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// Stores is one set of port implementations under test. A nil field skips
// the subtests of that port, so a package that implements only some ports
// runs the same suite as one that implements them all.
type Stores struct {
	Users    application.Users
	Pending  application.PendingRegistrations
	Limits   application.RateLimits
	Lockouts application.Lockouts
	Nonces   application.Nonces
	Sessions application.Sessions
	Codes    application.PendingCodes
	// Dump lists every record the stores hold, whatever port wrote it,
	// so that a test can check what a deleted account left behind. It
	// also says that the ports above are one store, whose Users.Delete
	// removes the account's records from the others (its sessions,
	// codes, lockout, a registration left under its number). Without
	// Dump (independent fakes), a deletion is checked on Users alone.
	Dump func(ctx context.Context) ([]Record, error)
	// Expirers must between them sweep every expiring record of the
	// non-nil ports above: the expiry subtest counts what they delete in
	// total. With no Expirers the expiry subtests are skipped.
	Expirers []application.Expirer
}

// Record is one record of a store as its Dump shows it: where it lies (a
// bucket, a collection), its key, and its value as text in which strings
// appear as themselves (JSON, extended JSON).
type Record struct {
	Where, Key, Value string
}

// Run runs the contract suite as subtests of t. newStores is called once per
// subtest and must return empty stores, so that no subtest sees another's
// records; it should register its own cleanup with t.Cleanup. Ports whose
// Stores field is nil are skipped.
//
// Every time is passed explicitly as now, counted from a fixed base, so
// that nothing sleeps. Stores judge expiry only by the now they are handed;
// the base lies in the past, so a store that read a clock of its own would
// find every record expired and fail. A server that deletes by its own
// clock (a MongoDB TTL monitor) must be turned off for the suite: it only
// reclaims space, and no answer depends on it.
func Run(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Run("Users", func(t *testing.T) { testUsers(t, newStores) })
	t.Run("PendingRegistrations", func(t *testing.T) { testPending(t, newStores) })
	t.Run("RateLimits", func(t *testing.T) { testRateLimits(t, newStores) })
	t.Run("Lockouts", func(t *testing.T) { testLockouts(t, newStores) })
	t.Run("Nonces", func(t *testing.T) { testNonces(t, newStores) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, newStores) })
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, newStores) })
	t.Run("PendingCodes", func(t *testing.T) { testCodes(t, newStores) })
	t.Run("Expirers", func(t *testing.T) { testExpirers(t, newStores) })
}

// base is the suite's "now". It is whole milliseconds because stores such
// as MongoDB keep no finer precision, and an ordinary date in the past
// (see Run).
var base = time.Date(2024, time.March, 4, 5, 6, 7, 0, time.UTC)

// concurrency is how many goroutines race in the concurrency subtests.
const concurrency = 20

// phone returns the i-th of a family of valid mainland mobile numbers.
func phone(i int) domain.PhoneNumber {
	return domain.MustParsePhoneNumber(fmt.Sprintf("+86138%08d", i))
}

// email parses a test address, failing the test if the domain rejects it.
func email(t *testing.T, s string) domain.Email {
	t.Helper()
	e, err := domain.ParseEmail(s)
	if err != nil {
		t.Fatalf("ParseEmail(%q): %v", s, err)
	}
	return e
}

// sameMillis compares instants to the millisecond, the precision the
// contract promises; zero must stay zero.
func sameMillis(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

// everyByte holds each byte value once, so that a store which passes binary
// through a text encoding badly loses something visible.
func everyByte() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// race runs fn concurrently n times, released together so the calls really
// overlap, and returns each call's error by index.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return errs
}
