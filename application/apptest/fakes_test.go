package apptest_test

import (
	"testing"

	"github.com/phoneauth/phoneauth/adapters/storetest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// TestContract holds the fakes of the stores of limits to the contract
// every real store passes, so that tests on the fakes test the rules as
// the service runs them.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		limits, lockouts := apptest.NewLimits(), apptest.NewLockouts()
		return storetest.Stores{
			Limits:   limits,
			Lockouts: lockouts,
			Expirers: []application.Expirer{limits, lockouts},
		}
	})
}
