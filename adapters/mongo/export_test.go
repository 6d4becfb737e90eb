package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/phoneauth/phoneauth/adapters/storetest"
)

// DropTTLIndexes drops the TTL indexes of s's expiring collections, where
// the server has made them, so that only the sweeps a test runs remove
// its records: a TTL monitor deletes by the server's clock, which a test
// cannot hand a now. Reads never depend on the monitor.
func (s *Store) DropTTLIndexes(ctx context.Context) error {
	for _, c := range s.expiring() {
		specs, err := c.Indexes().ListSpecifications(ctx)
		if err != nil {
			return wrap("list indexes of "+c.Name(), err)
		}
		for _, spec := range specs {
			if spec.Name != idxExpiresAt {
				continue
			}
			if err := c.Indexes().DropOne(ctx, idxExpiresAt); err != nil {
				return wrap("drop TTL index of "+c.Name(), err)
			}
		}
	}
	return nil
}

// Dump lists every document of every collection of s's database, for
// tests that check what a deleted account left behind.
func (s *Store) Dump(ctx context.Context) ([]storetest.Record, error) {
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	var out []storetest.Record
	for _, name := range names {
		cur, err := s.db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			return nil, err
		}
		for cur.Next(ctx) {
			id := cur.Current.Lookup("_id")
			key, ok := id.StringValueOK()
			if !ok {
				key = id.String()
			}
			out = append(out, storetest.Record{Where: name, Key: key, Value: cur.Current.String()})
		}
		if err := cur.Err(); err != nil {
			return nil, err
		}
		_ = cur.Close(ctx)
	}
	return out, nil
}

// ErrDeleteStopped is what StopDeleteAfter makes Delete answer.
var ErrDeleteStopped = errors.New("delete stopped by the test")

// DeleteSteps names Delete's steps, in order.
var DeleteSteps = []string{"revoke", "sessions", "codes", "registration", "lockout", "account", "sessions again"}

// StopDeleteAfter makes every Delete stop right after the named step, as
// a crash there would, until the returned undo runs. Not for parallel
// tests.
func StopDeleteAfter(step string) (undo func()) {
	deleteFault = func(s string) error {
		if s == step {
			return fmt.Errorf("%w after %s", ErrDeleteStopped, s)
		}
		return nil
	}
	return func() { deleteFault = nil }
}

// WatchDeleteSteps records the steps every Delete runs, until the
// returned undo runs. Not for parallel tests.
func WatchDeleteSteps() (seen func() []string, undo func()) {
	var steps []string
	deleteFault = func(s string) error {
		steps = append(steps, s)
		return nil
	}
	return func() []string { return steps }, func() { deleteFault = nil }
}
