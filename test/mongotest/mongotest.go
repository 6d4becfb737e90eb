// Package mongotest gives integration tests a MongoDB-compatible server.
//
// In order of preference: the server named by MONGO_TEST_URI; a container
// of MONGO_TEST_IMAGE (mongo:7, say, where images can be pulled); or a
// container of FerretDB built on the spot. The last one exists because the
// machines this project is developed and tested on have a Docker engine but
// no registry: the image is FROM scratch around a static binary compiled
// from ../ferretdb, so nothing is ever pulled. The binary is cached on disk
// (keyed by its sources, go.sum included) and the image in the engine, so
// only the first run pays for the build.
//
// Without a Docker engine the tests that need one skip, saying why, unless
// REQUIRE_DOCKER=1 (set in CI), which turns the skip into a failure.
package mongotest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Environment variables this package reads.
const (
	EnvURI           = "MONGO_TEST_URI"
	EnvImage         = "MONGO_TEST_IMAGE"
	EnvRequireDocker = "REQUIRE_DOCKER"
)

const (
	imageRepo  = "phoneauth-ferretdb-test"
	mongoPort  = "27017/tcp"
	readyLine  = "ferretdb listening"
	pingWithin = 30 * time.Second
)

var (
	// mainActive is set while Main runs the tests, which is what makes one
	// shared container safe: Main removes it when every test is done.
	mainActive atomic.Bool

	shared struct {
		once sync.Once
		srv  *server
		err  error
	}

	binary struct {
		once sync.Once
		path string
		err  error
	}

	dbSeq atomic.Int64
)

// server is a running container and how to reach it.
type server struct {
	ctr testcontainers.Container
	uri string
}

// noDockerError means there is no engine to run a container on: a reason
// to skip, not a failure.
type noDockerError struct{ err error }

func (e *noDockerError) Error() string {
	return fmt.Sprintf("no Docker engine reachable (%v)", e.err)
}

// Main runs a package's tests and then removes the container they shared.
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }
//
// Without it, Start gives each test its own container, which is slower but
// leaves nothing behind either.
func Main(m *testing.M) int {
	mainActive.Store(true)
	code := m.Run()
	mainActive.Store(false)
	if shared.srv != nil {
		if err := testcontainers.TerminateContainer(shared.srv.ctr); err != nil {
			fmt.Fprintln(os.Stderr, "mongotest: remove container:", err)
		}
	}
	return code
}

// Start returns a mongodb:// URI for t, starting a server if need be (see
// the package comment). It skips t when no Docker engine is reachable,
// or fails it if REQUIRE_DOCKER=1.
func Start(t testing.TB) string {
	t.Helper()
	if uri := os.Getenv(EnvURI); uri != "" {
		return uri
	}
	if mainActive.Load() {
		shared.once.Do(func() { shared.srv, shared.err = startServer(t.Logf) })
		handle(t, shared.err)
		return shared.srv.uri
	}
	srv, err := startServer(t.Logf)
	if srv != nil {
		testcontainers.CleanupContainer(t, srv.ctr)
	}
	handle(t, err)
	return srv.uri
}

// handle turns a failure to start into a skip or a failure of t.
func handle(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var nd *noDockerError
	if errors.As(err, &nd) {
		if os.Getenv(EnvRequireDocker) == "1" {
			t.Fatalf("mongotest: %v, and %s=1 requires one", nd, EnvRequireDocker)
		}
		t.Skipf("mongotest: %v; skipping (set %s to use an existing server, or %s=1 to fail instead)",
			nd, EnvURI, EnvRequireDocker)
	}
	t.Fatalf("mongotest: %v", err)
}

// Database returns a database name no other test uses, and drops that
// database when t ends (so that a shared or real server does not fill
// up).
func Database(t testing.TB, uri string) string {
	t.Helper()
	name := databaseName(t.Name(), dbSeq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := mongodriver.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			return
		}
		defer c.Disconnect(ctx)
		_ = c.Database(name).Drop(ctx)
	})
	return name
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9_]+`)

// databaseName keeps to the characters and length every server accepts
// (FerretDB is the strictest: letters, digits, _ and -, at most 63).
func databaseName(testName string, seq int64) string {
	suffix := fmt.Sprintf("_%d", seq)
	base := strings.Trim(unsafeChars.ReplaceAllString(testName, "_"), "_")
	if max := 63 - len(suffix) - 1; len(base) > max {
		base = base[:max]
	}
	return "t" + base + suffix
}

// startServer runs a container and waits until it answers a ping.
func startServer(logf func(string, ...any)) (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Ryuk, testcontainers' reaper, is an image to pull; there is none to
	// be had, so cleanup is ours (Main, or CleanupContainer per test).
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	docker, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer docker.Close()

	req := testcontainers.ContainerRequest{ExposedPorts: []string{mongoPort}}
	if img := os.Getenv(EnvImage); img != "" {
		req.Image = img
		// Every mongod since 4.4 logs this once it accepts connections;
		// the ping below is what counts.
		req.WaitingFor = wait.ForLog("Waiting for connections").WithStartupTimeout(2 * time.Minute)
	} else {
		if err := ferretImage(ctx, docker, &req, logf); err != nil {
			return nil, err
		}
		defer func() {
			if req.FromDockerfile.Context != "" {
				os.RemoveAll(req.FromDockerfile.Context)
			}
		}()
		// SQLite on tmpfs: the data die with the container anyway.
		req.Tmpfs = map[string]string{"/data": "rw"}
		req.WaitingFor = wait.ForLog(readyLine).WithStartupTimeout(time.Minute)
	}

	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
	})
	srv := &server{ctr: ctr}
	if err != nil {
		return srv, fmt.Errorf("start container: %w", err)
	}
	endpoint, err := endpoint(ctx, ctr)
	if err != nil {
		return srv, err
	}
	srv.uri = "mongodb://" + endpoint + "/"
	if err := waitPing(ctx, srv.uri); err != nil {
		return srv, err
	}
	return srv, nil
}

// endpoint is host:port for the container's MongoDB port: the port
// Docker published, on loopback when it answers there, never the
// container's own address (not routable from every host). Testcontainers'
// own guess of the host is the fallback only: inside a container with a
// local engine (this project's machines) it guesses the default gateway,
// where nothing listens.
func endpoint(ctx context.Context, ctr testcontainers.Container) (string, error) {
	mapped, err := ctr.MappedPort(ctx, mongoPort)
	if err != nil {
		return "", fmt.Errorf("container port: %w", err)
	}
	port := mapped.Port()
	if host, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); ok {
		return net.JoinHostPort(host, port), nil
	}
	loopback := net.JoinHostPort("127.0.0.1", port)
	if c, err := net.DialTimeout("tcp", loopback, 2*time.Second); err == nil {
		c.Close()
		return loopback, nil
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("container host: %w", err)
	}
	return net.JoinHostPort(host, port), nil
}

// dockerClient connects to the engine testcontainers would use, turning
// every way of not having one (including the library's panics on a
// malformed DOCKER_HOST) into a noDockerError.
func dockerClient(ctx context.Context) (c *testcontainers.DockerClient, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, &noDockerError{err: fmt.Errorf("%v", r)}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// Testcontainers quietly falls back to /var/run/docker.sock when
	// DOCKER_HOST does not answer; an explicit DOCKER_HOST is taken at its
	// word instead, so that pointing it at nothing means "no Docker".
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		if err := pingDockerHost(ctx); err != nil {
			return nil, &noDockerError{err: fmt.Errorf("DOCKER_HOST=%s: %w", host, err)}
		}
	}
	c, err = testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, &noDockerError{err: err}
	}
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		c.Close()
		return nil, &noDockerError{err: err}
	}
	return c, nil
}

func pingDockerHost(ctx context.Context) error {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Ping(ctx, client.PingOptions{})
	return err
}

// ferretImage points req at the FerretDB image for the current sources:
// the existing one if the engine has it, else a build of it (KeepImage,
// so the next run finds it).
func ferretImage(ctx context.Context, docker *testcontainers.DockerClient, req *testcontainers.ContainerRequest, logf func(string, ...any)) error {
	src, err := ferretSource()
	if err != nil {
		return err
	}
	key, err := sourceKey(src)
	if err != nil {
		return err
	}
	tag := key[:16]
	if _, err := docker.ImageInspect(ctx, imageRepo+":"+tag); err == nil {
		req.Image = imageRepo + ":" + tag
		return nil
	}

	bin, err := ferretBinary(src, key, logf)
	if err != nil {
		return err
	}
	// A build context of two files: the Dockerfile and the binary.
	dir, err := os.MkdirTemp("", "ferretdb-image-")
	if err != nil {
		return err
	}
	if err := copyFile(filepath.Join(src, "Dockerfile"), filepath.Join(dir, "Dockerfile")); err != nil {
		os.RemoveAll(dir)
		return err
	}
	if err := os.Link(bin, filepath.Join(dir, "ferretdb")); err != nil {
		if err := copyFile(bin, filepath.Join(dir, "ferretdb")); err != nil {
			os.RemoveAll(dir)
			return err
		}
	}
	logf("mongotest: building image %s:%s", imageRepo, tag)
	req.FromDockerfile = testcontainers.FromDockerfile{
		Context:    dir,
		Dockerfile: "Dockerfile",
		Repo:       imageRepo,
		Tag:        tag,
		KeepImage:  true,
	}
	return nil
}

// ferretSource is the directory of the FerretDB program, found from this
// file's own path so that any package's tests can use it.
func ferretSource() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate mongotest sources")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "ferretdb")
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("FerretDB program not found: %w", err)
	}
	return dir, nil
}

// sourceKey hashes what the binary is built from (go.mod, go.sum, the Go
// files, the Dockerfile), the toolchain and the target, so that a changed
// dependency or Go version builds afresh.
func sourceKey(src string) (string, error) {
	names, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil {
		return "", err
	}
	names = append(names, filepath.Join(src, "go.mod"), filepath.Join(src, "go.sum"), filepath.Join(src, "Dockerfile"))
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version(), "linux", runtime.GOARCH, buildFlags)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(n), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildFlags build the FerretDB binary. Optimisation is off: most of a cold
// build is the compiler optimising modernc's SQLite (C translated to Go),
// off saves about a third of it, and at test sizes the unoptimised server
// is no slower to test against.
var buildFlags = []string{"-trimpath", "-buildvcs=false", "-gcflags=all=-N -l", "-ldflags=-s -w"}

// ferretBinary returns the static FerretDB binary for key, building it
// (once per process, and once per machine thanks to the disk cache) if
// need be.
func ferretBinary(src, key string, logf func(string, ...any)) (string, error) {
	binary.once.Do(func() { binary.path, binary.err = buildBinary(src, key, logf) })
	return binary.path, binary.err
}

func buildBinary(src, key string, logf func(string, ...any)) (string, error) {
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	dir := filepath.Join(root, "phoneauth", "ferretdb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ferretdb-"+key[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	unlock, err := lockFile(filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", fmt.Errorf("lock build cache: %w", err)
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // another test binary built it while we waited
	}

	// go test puts its own GOROOT/bin first on the test binary's PATH.
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("find the go command to build FerretDB: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	logf("mongotest: building the FerretDB test server (a cold build takes a few minutes)")
	start := time.Now()
	cmd := exec.Command(goCmd, append(append([]string{"build"}, buildFlags...), "-o", tmp, ".")...)
	cmd.Dir = src
	// Static, for a scratch image, and for Linux whatever the host:
	// containers run Linux binaries even on Docker Desktop.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build FerretDB (%s): %w\n%s", src, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	// Binaries of older sources only take space (30 MB each).
	if old, err := filepath.Glob(filepath.Join(dir, "ferretdb-*")); err == nil {
		for _, o := range old {
			if o != bin && !strings.Contains(filepath.Base(o), ".tmp") {
				os.Remove(o)
			}
		}
	}
	logf("mongotest: built FerretDB in %s", time.Since(start).Round(time.Second))
	return bin, nil
}

// waitPing waits until the server at uri answers: the container's log line
// says the listener is up, but only a ping says it serves.
func waitPing(ctx context.Context, uri string) error {
	c, err := mongodriver.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	deadline := time.Now().Add(pingWithin)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.Ping(pctx, readpref.Primary())
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server at %s did not answer a ping within %s: %w", uri, pingWithin, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
