package application

import (
	"context"
	"time"
)

// Sweeper deletes expired records from every store that keeps them, so
// the stores do not grow without bound. Reads check expiry themselves:
// the sweeper is housekeeping, never what makes expiry correct.
type Sweeper struct {
	expirers []Expirer
	clock    Clock
	interval time.Duration
	onError  func(error)
}

// NewSweeper builds a sweeper that runs every interval; onError hears
// failed sweeps (the next tick tries again).
func NewSweeper(clock Clock, interval time.Duration, onError func(error), expirers ...Expirer) *Sweeper {
	return &Sweeper{expirers: expirers, clock: clock, interval: interval, onError: onError}
}

// SweepOnce deletes what has expired now and returns how many records went.
func (s *Sweeper) SweepOnce(ctx context.Context) (int, error) {
	total := 0
	now := s.clock.Now()
	for _, e := range s.expirers {
		n, err := e.DeleteExpired(ctx, now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Run sweeps until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.SweepOnce(ctx); err != nil && s.onError != nil && ctx.Err() == nil {
				s.onError(err)
			}
		}
	}
}
