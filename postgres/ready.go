package postgres

import (
	"context"
	"fmt"
)

// Ready reports whether the store can serve: the database answers a
// query and its schema is the one this program was built for (another
// server may have migrated it further, or not yet). It is what /readyz
// asks.
func (s *Store) Ready(ctx context.Context) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if want := LatestSchemaVersion(); v != want {
		return fmt.Errorf("postgres: the database schema is at version %d, this program needs %d", v, want)
	}
	return nil
}
