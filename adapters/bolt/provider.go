package bolt

import (
	"fmt"

	"github.com/google/wire"
	"go.uber.org/zap"
)

// Config is the embedded store's slice of the configuration.
type Config struct {
	// Path is the store file, under DATA_DIR; Open makes its directory.
	Path string
}

// ProviderSet gives the wiring the Store opened from a Config, closed by
// the injector's cleanup. Its repositories are reached through it.
var ProviderSet = wire.NewSet(ProvideStore)

// ProvideStore opens the store at cfg.Path; the cleanup closes it and logs
// a failure to. An error names DATA_DIR, the setting to look at.
func ProvideStore(cfg Config, log *zap.Logger) (*Store, func(), error) {
	s, err := Open(cfg.Path, log)
	if err != nil {
		return nil, nil, fmt.Errorf("DATA_DIR: open %s: %w", cfg.Path, err)
	}
	return s, func() {
		if err := s.Close(); err != nil {
			log.Error("close embedded store", zap.Error(err))
		}
	}, nil
}
