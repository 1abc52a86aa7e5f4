package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/points"
	"jifen/webhook"
)

// EventHorizon is the highest position whose event was removed.
func (s *Store) EventHorizon(ctx context.Context) (int64, error) {
	var h int64
	var found bool
	err := s.lookup(ctx, one(d("the events' horizon"), &h, &found, scanInt64, "SELECT pos FROM event_horizon WHERE id = 1"))
	return h, err
}

// NewestEvent is the last position given: every event up to it is
// committed and placed (see Events), and the next placing numbers after
// it.
func (s *Store) NewestEvent(ctx context.Context) (int64, error) {
	var n int64
	var found bool
	err := s.lookup(ctx, one(d("the last event position"), &n, &found, scanInt64, "SELECT last FROM event_positions WHERE id = 1"))
	return n, err
}

// RecordOutput notes how far output name has published.
func (s *Store) RecordOutput(ctx context.Context, name string, pos int64, at time.Time) error {
	return s.webhookTx(ctx, "record output "+name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO event_outputs (name, pos, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET pos = excluded.pos, updated_at = excluded.updated_at`,
			name, pos, micros(at))
		return err
	})
}

// PruneEvents removes up to q.Limit events from the start of the log (see
// points.EventLog), one removal at a time across every server (the lock
// on event_horizon's row): the floor is the newest placed event less
// one, each active endpoint's cursor, just before its oldest pending
// delivery, and each output recorded since q.OutputsSince; the events
// after the horizon up to it go while their time is before q.Before.
// Cursors and outputs only move on, so a floor read while they move is
// one they have passed.
//
// Events are numbered by their readers (see Events); with none, none
// would be, and none could go: the committed ones are placed first.
func (s *Store) PruneEvents(ctx context.Context, q points.PruneQuery) (points.Pruned, error) {
	if err := s.placeAll(ctx); err != nil {
		return points.Pruned{}, err
	}
	var p points.Pruned
	err := s.webhookTx(ctx, "remove events", func(tx pgx.Tx) error {
		p = points.Pruned{}
		var horizon, newest int64
		if err := tx.QueryRow(ctx, "SELECT pos FROM event_horizon WHERE id = 1 FOR UPDATE").Scan(&horizon); err != nil {
			return err
		}
		p.Horizon = horizon
		if err := tx.QueryRow(ctx, "SELECT last FROM event_positions WHERE id = 1").Scan(&newest); err != nil {
			return err
		}
		floor := newest - 1
		rows, _ := tx.Query(ctx, "SELECT webhook_id, scheduled_pos FROM webhooks WHERE disabled_at = 0")
		hooks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Endpoint, error) {
			var e webhook.Endpoint
			return e, r.Scan(&e.ID, &e.ScheduledPos)
		})
		if err != nil {
			return err
		}
		for _, e := range hooks {
			floor = min(floor, e.ScheduledPos)
			var oldest int64
			// A row at or below the horizon (one a redelivery or a batch
			// wrote while its event went) is removed below, not waited for.
			if err := tx.QueryRow(ctx, `SELECT COALESCE(MIN(pos), 0) FROM webhook_deliveries
				WHERE webhook_id = $1 AND state = $2 AND pos > $3`, e.ID, webhook.Pending, horizon).Scan(&oldest); err != nil {
				return err
			}
			if oldest > 0 {
				floor = min(floor, oldest-1)
			}
		}
		var outputs *int64
		if err := tx.QueryRow(ctx, "SELECT MIN(pos) FROM event_outputs WHERE updated_at >= $1", micros(q.OutputsSince)).Scan(&outputs); err != nil {
			return err
		}
		if outputs != nil {
			floor = min(floor, *outputs)
		}
		p.Floor = floor
		// The last of the first q.Limit events after the horizon (up to the
		// floor) before whose time every one of them is older than Before;
		// the horizon if there is none.
		var to int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(pos), $1) FROM (
				SELECT pos, bool_and(time < $4) OVER (ORDER BY pos) AS old
				FROM (SELECT pos, time FROM events WHERE pos > $1 AND pos <= $2 ORDER BY pos LIMIT $3) e
			) w WHERE old`, horizon, floor, q.Limit, micros(q.Before)).Scan(&to); err != nil {
			return err
		}
		// Delivery rows through the horizon go every time: one a
		// redelivery or a batch wrote while its event went is removed, not
		// waited for.
		if _, err := tx.Exec(ctx, "DELETE FROM webhook_deliveries WHERE pos <= $1", to); err != nil || to == horizon {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM events WHERE pos > $1 AND pos <= $2", horizon, to)
		if err != nil {
			return err
		}
		p.Removed, p.Horizon = int(tag.RowsAffected()), to
		b := &pgx.Batch{}
		// Each endpoint's batches by its key (webhook_id, from_pos).
		b.Queue(`DELETE FROM webhook_batches b USING webhooks w
			WHERE b.webhook_id = w.webhook_id AND b.from_pos < $1 AND b.to_pos <= $1`, to)
		b.Queue("UPDATE event_horizon SET pos = $1 WHERE id = 1", to)
		return tx.SendBatch(ctx, b).Close()
	})
	return p, err
}
