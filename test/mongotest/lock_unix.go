//go:build unix

package mongotest

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on path, so that test binaries running
// in parallel (go test ./a/... ./b/...) build the FerretDB binary once
// instead of racing each other for the two cores.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
