package postgres

import "context"

// Autovacuum reports whether PostgreSQL reclaims dead rows by itself:
// autovacuum on, with the statistics it works from (track_counts). Every
// write leaves dead rows behind — a lot spent, an order and an account
// updated, an event numbered — and so does the removal of old events:
// without autovacuum their space is never used again, and the database
// only grows.
func (s *Store) Autovacuum(ctx context.Context) (bool, error) {
	var av, counts string
	err := s.pool.QueryRow(ctx, "SELECT current_setting('autovacuum'), current_setting('track_counts')").Scan(&av, &counts)
	if err != nil {
		return false, failure(err, "read the autovacuum setting")
	}
	return av == "on" && counts == "on", nil
}
