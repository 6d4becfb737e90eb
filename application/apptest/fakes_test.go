package apptest_test

import (
	"testing"

	"github.com/phoneauth/phoneauth/adapters/storetest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// TestContract holds the fakes of the stores of accounts, limits and
// sessions to the contract every real store passes, so that tests on the
// fakes test the rules as the service runs them.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		limits, lockouts, sessions := apptest.NewLimits(), apptest.NewLockouts(), apptest.NewSessions()
		return storetest.Stores{
			Users:    apptest.NewUsers(),
			Limits:   limits,
			Lockouts: lockouts,
			Sessions: sessions,
			Expirers: []application.Expirer{limits, lockouts, sessions},
		}
	})
}
