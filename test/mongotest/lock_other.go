//go:build !unix

package mongotest

// lockFile does nothing where flock is missing: parallel test binaries may
// then both build the binary, and the rename into place keeps that safe.
func lockFile(string) (func(), error) { return func() {}, nil }
