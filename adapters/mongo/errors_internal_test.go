package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/domain"
)

// The outage test covers what a dead server really returns; this table
// covers the rest of what the driver can say, which is hard to provoke.
func TestWrapMarksOnlyTransportFailuresUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), true},
		{"server selection", topology.ServerSelectionError{Wrapped: errors.New("no primary")}, true},
		{"client closed", mongodriver.ErrClientDisconnected, true},
		{"stepped down", mongodriver.CommandError{Code: 189, Message: "PrimarySteppedDown"}, true},
		{"shutting down", mongodriver.CommandError{Code: 11600}, true},
		{"retryable label", mongodriver.CommandError{Code: 2, Labels: []string{"RetryableWriteError"}}, true},
		{"network label", mongodriver.CommandError{Message: "connection reset", Labels: []string{"NetworkError"}}, true},
		{"write concern timeout", mongodriver.WriteException{WriteConcernError: &mongodriver.WriteConcernError{Code: 64, Message: "waiting for replication timed out"}}, true},
		{"duplicate key", mongodriver.WriteException{WriteErrors: []mongodriver.WriteError{{Code: 11000}}}, false},
		{"bad query", mongodriver.CommandError{Code: 2, Message: "BadValue"}, false},
		{"no documents", mongodriver.ErrNoDocuments, false},
		{"caller gave up", context.Canceled, false},
	} {
		err := wrap("op", tc.err)
		if got := errors.Is(err, application.ErrUnavailable); got != tc.want {
			t.Errorf("%s: wrap = %v; unavailable %v, want %v", tc.name, err, got, tc.want)
		}
		if !strings.Contains(err.Error(), tc.err.Error()) {
			t.Errorf("%s: wrap = %v lost the driver's error", tc.name, err)
		}
	}
	if err := contended("op"); !errors.Is(err, application.ErrUnavailable) || errors.Is(err, domain.ErrNoPending) {
		t.Errorf("contended = %v", err)
	}
}
