package bolt

import "time"

// SetTuning shrinks the store's limits for a test and returns the undo.
func SetTuning(lock time.Duration, scan int) (undo func()) {
	oldLock, oldScan := lockTimeout, sweepScan
	lockTimeout, sweepScan = lock, scan
	return func() { lockTimeout, sweepScan = oldLock, oldScan }
}
