package postgres

import (
	"context"
	"errors"
	"fmt"
)

// Ready reports whether the store can serve: the database answers a
// query, accepts writes (a standby, or a primary set read-only, does
// not: behind a multi-host DSN that means no primary is reachable now),
// and its schema is the one this program was built for (another server
// may have migrated it further, or not yet). It is what /readyz asks.
func (s *Store) Ready(ctx context.Context) error {
	var readOnly string
	if err := s.pool.QueryRow(ctx, "SHOW transaction_read_only").Scan(&readOnly); err != nil {
		return failure(err, "reach a primary")
	}
	if readOnly != "off" {
		return errors.New("postgres: the database accepts no writes (a standby, or read-only)")
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if want := LatestSchemaVersion(); v != want {
		return fmt.Errorf("postgres: the database schema is at version %d, this program needs %d", v, want)
	}
	return nil
}
