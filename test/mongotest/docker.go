package mongotest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Docker returns a client of the Docker engine testcontainers uses, for
// tests that run other containers than MongoDB (the service's own image),
// so that every test agrees on what "no Docker" means: without an engine t
// is skipped, saying why, or fails under REQUIRE_DOCKER=1. It also turns
// Ryuk off, as Start does (it is an image to pull); the caller cleans up
// with testcontainers.CleanupContainer. The client is closed when t ends.
func Docker(t testing.TB) *testcontainers.DockerClient {
	t.Helper()
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := dockerClient(ctx)
	if err != nil {
		if os.Getenv(EnvRequireDocker) == "1" {
			t.Fatalf("%v, and %s=1 requires one", err, EnvRequireDocker)
		}
		t.Skipf("%v; skipping (set %s=1 to fail instead)", err, EnvRequireDocker)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
