package bolt

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/phoneauth/phoneauth/domain"
)

// DeleteExpired deletes the pending registrations, the sessions and the
// pending codes expired at now and returns how many went (see sweep).
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	n, err := s.sweep(ctx, bucketPending, nil, "pending registrations", func(k []byte) zap.Field {
		return zap.String("phone", domain.MaskPhone(string(k)))
	}, now)
	if err != nil {
		return n, err
	}
	m, err := s.Sessions().DeleteExpired(ctx, now)
	n += m
	if err != nil {
		return n, err
	}
	m, err = s.PendingCodes().DeleteExpired(ctx, now)
	return n + m, err
}
