package sqlite

import (
	"context"
	"fmt"
)

// Ready reports whether the store can serve: the database answers a
// query and its schema is the one this program was built for. It is
// what /readyz asks.
func (s *Store) Ready(ctx context.Context) error {
	if p := s.w.syncErr.Load(); p != nil {
		return fmt.Errorf("sqlite: an fsync of the WAL failed; restart the server: %w", *p)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if want := LatestSchemaVersion(); v != want {
		return fmt.Errorf("sqlite: the database schema is at version %d, this program needs %d", v, want)
	}
	return nil
}
