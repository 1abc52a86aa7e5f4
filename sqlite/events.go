package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"jifen/ledger"
	"jifen/points"
)

const sqlInsertEvent = `INSERT INTO events (brand_id, event_id, type, subject, time, data) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (brand_id, event_id) DO NOTHING`

// Emit records evs in the write's transaction. The single writer gives
// each its row id, which is commit order.
func (t *Tx) Emit(ctx context.Context, evs ...points.Event) error {
	if err := t.check(); err != nil {
		return err
	}
	for _, e := range evs {
		pos, err := t.w.insert(sqlInsertEvent, e.BrandID, e.ID, e.Type, e.Subject, micros(e.Time), string(e.Data))
		if err != nil {
			return fmt.Errorf("sqlite: insert event %s/%s: %w", e.BrandID, e.ID, err)
		}
		t.w.evMax = max(t.w.evMax, pos)
	}
	return nil
}

// ExpiringLots lists the brand's live lots expiring in [from, to).
func (s *Store) ExpiringLots(ctx context.Context, brandID string, from, to, afterExp time.Time, afterID string, limit int) ([]ledger.Lot, error) {
	lots, err := all(ctx, s.rdb, scanLot, "SELECT "+lotCols+` FROM lots
		WHERE remaining > 0 AND expires_at > 0 AND expires_at >= ? AND expires_at < ? AND brand_id = ?
		AND (expires_at, lot_id) > (?, ?) ORDER BY expires_at, lot_id LIMIT ?`,
		micros(from), micros(to), brandID, micros(afterExp), afterID, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: lots of %s expiring from %v: %w", brandID, from, err)
	}
	return lots, nil
}

const eventCols = "pos, brand_id, event_id, type, subject, time, data"

func scanEvent(r scanner) (points.Event, error) {
	var e points.Event
	var t int64
	var data string
	if err := r.Scan(&e.Pos, &e.BrandID, &e.ID, &e.Type, &e.Subject, &t, &data); err != nil {
		return e, err
	}
	e.Time = time.UnixMicro(t).UTC()
	e.Data = []byte(data)
	return e, nil
}

// Events lists committed events after q.After in commit order, up to the
// last one on disk: the writer's commit is visible to readers before the
// syncer's fsync has made it durable, and an event must not be seen whose
// write a power failure could still take back.
func (s *Store) Events(ctx context.Context, q points.EventQuery) ([]points.Event, error) {
	upTo, err := s.durable(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events after %d: %w", q.After, err)
	}
	where, args := eventFilter(q)
	evs, err := all(ctx, s.rdb, scanEvent, "SELECT "+eventCols+" FROM events WHERE "+where+" AND pos <= +? ORDER BY pos LIMIT +?",
		append(args, upTo, q.Capped())...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events after %d: %w", q.After, err)
	}
	return evs, nil
}

// durable is the highest event position on disk, for a read. The writer
// moves it as its fsyncs end; a process that has written nothing (jifen
// events tail --db beside a running server) cannot know of another
// process's fsyncs, and would never read past what was on disk when it
// opened the database. It makes the events committed since durable
// itself — one fsync of the WAL makes every frame in it durable, whoever
// wrote them — and reads up to them. (A process that writes does not:
// its own next batch covers what others committed before it, and an
// fsync per read would take from its group commit.)
func (s *Store) durable(ctx context.Context) (int64, error) {
	d := s.w.durableEvents.Load()
	if s.w.batches.Load() > 0 || s.w.wal == nil {
		return d, nil
	}
	newest, _, err := one(ctx, s.rdb, scanInt, "SELECT COALESCE(MAX(pos), 0) FROM events")
	if err != nil || newest <= d {
		return d, err
	}
	if err := s.w.wal.Sync(); err != nil {
		return d, fmt.Errorf("sync the WAL to read the events other processes committed: %w", err)
	}
	s.w.eventsDurable(newest)
	return newest, nil
}

// eventFilter is the WHERE clause of q; its parameters are written +?, as
// every SELECT writes them (see queryer).
func eventFilter(q points.EventQuery) (string, []any) {
	const ph = "+?"
	where := []string{"pos > " + ph}
	args := []any{q.After}
	if q.BrandID != "" {
		where = append(where, "brand_id = "+ph)
		args = append(args, q.BrandID)
	}
	if len(q.Types) > 0 {
		where = append(where, "type IN ("+strings.TrimSuffix(strings.Repeat(ph+", ", len(q.Types)), ", ")+")")
		for _, t := range q.Types {
			args = append(args, t)
		}
	}
	return strings.Join(where, " AND "), args
}
