package bolt

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/domain"
)

// DeleteExpired deletes the pending registrations and the sessions
// expired at now and returns how many went (see sweep).
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	n, err := s.sweep(ctx, bucketPending, "pending registrations", func(k []byte) zap.Field {
		return zap.String("phone", domain.MaskPhone(string(k)))
	}, now)
	if err != nil {
		return n, err
	}
	m, err := s.Sessions().DeleteExpired(ctx, now)
	return n + m, err
}
