package mongo

import "context"

// DropTTLIndexes drops the TTL indexes of s's expiring collections, where
// the server has made them, so that only the sweeps a test runs remove
// its records: a TTL monitor deletes by the server's clock, which a test
// cannot hand a now. Reads never depend on the monitor.
func (s *Store) DropTTLIndexes(ctx context.Context) error {
	for _, c := range s.expiring() {
		specs, err := c.Indexes().ListSpecifications(ctx)
		if err != nil {
			return wrap("list indexes of "+c.Name(), err)
		}
		for _, spec := range specs {
			if spec.Name != idxExpiresAt {
				continue
			}
			if err := c.Indexes().DropOne(ctx, idxExpiresAt); err != nil {
				return wrap("drop TTL index of "+c.Name(), err)
			}
		}
	}
	return nil
}
