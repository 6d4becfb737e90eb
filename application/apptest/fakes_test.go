package apptest_test

import (
	"testing"

	"github.com/phoneauth/phoneauth/adapters/storetest"
	"github.com/phoneauth/phoneauth/application"
	"github.com/phoneauth/phoneauth/application/apptest"
)

// TestContract holds the fakes of the stores of accounts, limits,
// sessions and codes to the contract every real store passes, so that
// tests on the fakes test the rules as the service runs them.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		limits, lockouts, sessions, codes := apptest.NewLimits(), apptest.NewLockouts(), apptest.NewSessions(), apptest.NewCodes()
		return storetest.Stores{
			Users:    apptest.NewUsers(),
			Limits:   limits,
			Lockouts: lockouts,
			Sessions: sessions,
			Codes:    codes,
			Expirers: []application.Expirer{limits, lockouts, sessions, codes},
		}
	})
}
