package process

import (
	"os"
	"runtime/debug"

	"go.uber.org/zap"
)

// Garbage-collector defaults for the service, used unless the operator
// sets the runtime's own GOGC or GOMEMLIMIT. The live heap is small (the
// embedded store is a memory-mapped file, not heap), so Go's default
// GOGC=100 collects many times a second under load: measured, 155 GCs in a
// 10 s login phase and ~20 % of the service's CPU per login (BENCHMARKS.md).
// GOGC=400 trades heap headroom for that CPU; the soft memory limit makes
// the collector work harder before the heap passes 1 GiB, so the larger
// target cannot grow without bound when the in-memory tables are full.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 1 << 30
)

// TuneGC applies the service's garbage-collector defaults where the
// environment leaves them open, and logs what is in force.
func TuneGC(log *zap.Logger) {
	_, setGC := os.LookupEnv("GOGC")
	_, setLimit := os.LookupEnv("GOMEMLIMIT")
	gcPercent := defaultGCPercent
	if setGC {
		// SetGCPercent has no read-only form: read by setting, then restore.
		gcPercent = debug.SetGCPercent(defaultGCPercent)
	}
	debug.SetGCPercent(gcPercent)
	if !setLimit {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	log.Info("garbage collector",
		zap.Int("gc_percent", gcPercent),
		zap.Int64("memory_limit_bytes", debug.SetMemoryLimit(-1)), // negative: read only
		zap.Bool("gogc_from_env", setGC), zap.Bool("gomemlimit_from_env", setLimit))
}
