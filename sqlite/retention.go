package sqlite

import (
	"context"
	"fmt"
	"time"

	"jifen/points"
	"jifen/webhook"
)

// EventHorizon is the highest position whose event was removed.
func (s *Store) EventHorizon(ctx context.Context) (int64, error) {
	h, _, err := one(ctx, s.rdb, scanInt, "SELECT pos FROM event_horizon WHERE id = +?", 1)
	if err != nil {
		return 0, fmt.Errorf("sqlite: the events' horizon: %w", err)
	}
	return h, nil
}

// NewestEvent is the highest event position on disk: what Events reads
// up to.
func (s *Store) NewestEvent(ctx context.Context) (int64, error) { return s.durable(ctx) }

// RecordOutput notes how far output name has published.
func (s *Store) RecordOutput(ctx context.Context, name string, pos int64, at time.Time) error {
	err := s.writeTx(ctx, func(t *Tx) error {
		_, err := t.w.exec(`INSERT INTO event_outputs (name, pos, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET pos = excluded.pos, updated_at = excluded.updated_at`, name, pos, micros(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: record output %s at %d: %w", name, pos, err)
	}
	return nil
}

// PruneEvents removes up to q.Limit events from the start of the log (see
// points.EventLog): the floor is the newest event less one, each active
// endpoint's cursor, just before its oldest pending delivery, and each
// output recorded since q.OutputsSince; the events after the horizon up to
// it go while their time is before q.Before.
func (s *Store) PruneEvents(ctx context.Context, q points.PruneQuery) (points.Pruned, error) {
	var p points.Pruned
	err := s.writeTx(ctx, func(t *Tx) error {
		p = points.Pruned{}
		horizon, _, err := one(ctx, t.w, scanInt, "SELECT pos FROM event_horizon WHERE id = +?", 1)
		if err != nil {
			return err
		}
		p.Horizon = horizon
		newest, _, err := one(ctx, t.w, scanInt, "SELECT COALESCE(MAX(pos), 0) FROM events")
		if err != nil {
			return err
		}
		floor := newest - 1
		hooks, err := all(ctx, t.w, func(sc scanner) (webhook.Endpoint, error) {
			var e webhook.Endpoint
			return e, sc.Scan(&e.ID, &e.ScheduledPos)
		}, "SELECT webhook_id, scheduled_pos FROM webhooks WHERE disabled_at = +? ORDER BY webhook_id", 0)
		if err != nil {
			return err
		}
		for _, e := range hooks {
			floor = min(floor, e.ScheduledPos)
			oldest, _, err := one(ctx, t.w, scanInt, `SELECT COALESCE(MIN(pos), 0) FROM webhook_deliveries
				WHERE webhook_id = +? AND state = +? AND pos > +?`, e.ID, webhook.Pending, horizon)
			if err != nil {
				return err
			}
			if oldest > 0 {
				floor = min(floor, oldest-1)
			}
		}
		outputs, err := all(ctx, t.w, scanInt, "SELECT pos FROM event_outputs WHERE updated_at >= +? /* a few rows */",
			micros(q.OutputsSince))
		if err != nil {
			return err
		}
		for _, pos := range outputs {
			floor = min(floor, pos)
		}
		p.Floor = floor
		to := horizon // the last event to go
		if floor > horizon {
			times, err := all(ctx, t.w, func(sc scanner) ([2]int64, error) {
				var v [2]int64
				return v, sc.Scan(&v[0], &v[1])
			}, "SELECT pos, time FROM events WHERE pos > +? AND pos <= +? ORDER BY pos LIMIT +?", horizon, floor, q.Limit)
			if err != nil {
				return err
			}
			for _, v := range times {
				if v[1] >= micros(q.Before) {
					break
				}
				to = v[0]
			}
		}
		// Delivery rows through the horizon go every time: one a batch wrote
		// while its event went is removed, not waited for.
		if _, err := t.w.exec("DELETE FROM webhook_deliveries WHERE pos <= ?", to); err != nil || to == horizon {
			return err
		}
		n, err := t.w.exec("DELETE FROM events WHERE pos > ? AND pos <= ?", horizon, to)
		if err != nil {
			return err
		}
		p.Removed, p.Horizon = n, to
		ids, err := all(ctx, t.w, scanString, "SELECT webhook_id FROM webhooks ORDER BY webhook_id")
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := t.w.exec("DELETE FROM webhook_batches WHERE webhook_id = ? AND from_pos < ? AND to_pos <= ?", id, to, to); err != nil {
				return err
			}
		}
		_, err = t.w.exec("UPDATE event_horizon SET pos = ? WHERE id = 1", to)
		return err
	})
	if err != nil {
		return points.Pruned{}, fmt.Errorf("sqlite: remove events: %w", err)
	}
	return p, nil
}
