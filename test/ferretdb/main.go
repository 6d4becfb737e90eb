// Command ferretdb is a MongoDB wire-protocol server for the Mongo adapter's
// integration tests. It embeds FerretDB v1 with its pure-Go SQLite backend
// so that it builds as one static binary and runs in a FROM scratch image:
// the machines that run the tests can build images but cannot pull any.
//
// FerretDB listens on loopback only; clients reach it through a front end
// that lets one command through at a time, because FerretDB v1 does not
// apply a write's filter atomically (see serializer).
//
// It lives in its own module so that FerretDB's large dependency tree never
// enters the service's go.mod.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "0.0.0.0:27017", "TCP address to serve the MongoDB wire protocol on")
	dataDir := flag.String("data", "/data", "directory for the SQLite files (created if missing)")
	serialize := flag.Bool("serialize", true, "run one command at a time, making every single-document write atomic as in MongoDB")
	flag.Parse()

	if err := run(*listen, *dataDir, *serialize); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, dataDir string, serialize bool) error {
	// A scratch image has no /data; the SQLite handler needs an existing
	// directory, named with a trailing slash.
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	// FerretDB logs every failed command at WARN; tests fail commands on
	// purpose (duplicate keys), so only errors are worth seeing.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	ferretAddr := listen
	if serialize {
		ferretAddr = "127.0.0.1:0"
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: ferretAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(abs) + "/",
	})
	if err != nil {
		return err
	}

	// docker stop sends SIGTERM; PID 1 gets no default handler for it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// MongoDBURI blocks until Run has bound the listener.
	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		return fmt.Errorf("ferretdb address: %w", err)
	}

	if serialize {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return err
		}
		s := &serializer{backend: u.Host, log: logger}
		go func() {
			<-ctx.Done()
			ln.Close()
		}()
		go func() {
			if err := s.serve(ln); err != nil {
				done <- err
			}
		}()
		u.Host = ln.Addr().String()
	}

	// The test helper waits for this line.
	fmt.Println("ferretdb listening:", u.String())

	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
