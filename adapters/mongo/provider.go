package mongo

import (
	"context"
	"fmt"
	"time"

	"github.com/google/wire"
	"go.uber.org/zap"
)

// ProviderSet gives the wiring the Store connected from a Config,
// disconnected by the injector's cleanup. Its repositories are reached
// through it.
var ProviderSet = wire.NewSet(ProvideStore)

// ProvideStore connects to cfg.URI, giving up after the per-call timeout
// and five seconds more; an unreachable server is an error that names
// MONGO_URI, the setting to look at. The cleanup closes the pool within
// the per-call timeout and logs a failure to. log is the caller's; the
// store logs under "mongo".
func ProvideStore(cfg Config, log *zap.Logger) (*Store, func(), error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg, log.Named("mongo"))
	if err != nil {
		return nil, nil, fmt.Errorf("MONGO_URI: %w", err)
	}
	return s, func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			log.Error("close mongo", zap.Error(err))
		}
	}, nil
}
