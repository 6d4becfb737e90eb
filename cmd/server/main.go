// Command server runs phoneauth: it loads the configuration, wires the
// service (embedded store, or MongoDB when MONGO_URI is set), serves until
// SIGINT or SIGTERM, then shuts down gracefully and closes the store.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/cmd/internal/process"
)

func main() { os.Exit(run()) }

func run() int {
	cfg, err := phoneauth.LoadConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "phoneauth: configuration: %v\n", err)
		return 2
	}
	log, err := process.NewLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintf(os.Stderr, "phoneauth: logger: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	process.TuneGC(log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	svc, cleanup, err := phoneauth.Initialize(cfg, log, phoneauth.Overrides{})
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	err = svc.Run(ctx)
	cleanup() // after the last request: closes the store
	if err != nil {
		log.Error("server stopped with an error", zap.Error(err))
		return 1
	}
	log.Info("stopped")
	return 0
}
