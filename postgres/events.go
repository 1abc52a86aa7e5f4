package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/ledger"
	"jifen/points"
)

// Emit queues evs to travel with COMMIT, in one statement. They are
// inserted without a position; see place.
func (t *Tx) Emit(ctx context.Context, evs ...points.Event) error {
	if len(evs) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO events (brand_id, event_id, n, type, subject, time, data) VALUES ")
	args := make([]any, 0, 7*len(evs))
	for i, e := range evs {
		if i > 0 {
			sb.WriteString(", ")
		}
		k := len(args)
		fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", k+1, k+2, k+3, k+4, k+5, k+6, k+7)
		args = append(args, e.BrandID, e.ID, i, e.Type, e.Subject, micros(e.Time), string(e.Data))
	}
	sb.WriteString(" ON CONFLICT (brand_id, event_id) DO NOTHING")
	return t.queue(execQuery(failedTo("insert %d events", len(evs)), nil, sb.String(), args...))
}

// placeBatch bounds how many events one placing transaction numbers.
const placeBatch = 5000

// placeSQL numbers the committed events not yet placed, after the last
// position given, in the order they were inserted, and records the new
// last position. It runs after the statement that locked
// event_positions' row, so (READ COMMITTED) it sees every event committed
// before that lock was granted and the last position as it is now.
var placeSQL = fmt.Sprintf(`WITH todo AS (
	SELECT brand_id, event_id, row_number() OVER (ORDER BY ord, n) AS rn
	FROM (SELECT brand_id, event_id, ord, n FROM events WHERE pos IS NULL ORDER BY ord, n LIMIT %d) u
), placed AS (
	UPDATE events e SET pos = p.last + todo.rn FROM todo, event_positions p
	WHERE p.id = 1 AND e.brand_id = todo.brand_id AND e.event_id = todo.event_id
	RETURNING e.pos
)
UPDATE event_positions SET last = (SELECT MAX(pos) FROM placed) WHERE id = 1 AND EXISTS (SELECT 1 FROM placed)`, placeBatch)

// Events places the events committed so far (one placing transaction at a
// time across every server, by the lock on event_positions' row: a later
// one numbers after an earlier one's rows), then lists those after
// q.After, in one round trip.
func (s *Store) Events(ctx context.Context, q points.EventQuery) ([]points.Event, error) {
	where, args := eventFilter(q)
	var evs []points.Event
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	b.Queue("SELECT last FROM event_positions WHERE id = 1 FOR UPDATE")
	b.Queue(placeSQL)
	b.Queue("COMMIT")
	b.QueuedQueries = append(b.QueuedQueries, all(d("events after %d", q.After), &evs, scanEvent,
		"SELECT "+eventCols+" FROM events WHERE "+where+
			fmt.Sprintf(" ORDER BY pos LIMIT %d", q.Capped()), args...))
	if err := unavailable(s.pool.SendBatch(ctx, b).Close()); err != nil {
		return nil, fmt.Errorf("postgres: events after %d: %w", q.After, err)
	}
	return evs, nil
}

// placeAll places the events committed so far, a placing transaction
// (up to placeBatch events) at a time: as many transactions as the events
// unplaced when it begins take, not more — under writes there is always
// more, and a loop until none is left would not end. (A few may be left:
// one inserted before the count and committed after it can take the
// place of an older one; the next placing numbers it.)
func (s *Store) placeAll(ctx context.Context) error {
	var unplaced int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM events WHERE pos IS NULL").Scan(&unplaced); err != nil {
		return failure(err, "count the events not yet placed")
	}
	for range (unplaced + placeBatch - 1) / placeBatch {
		var placed int64
		err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT last FROM event_positions WHERE id = 1 FOR UPDATE"); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, placeSQL)
			placed = tag.RowsAffected()
			return err
		})
		if err != nil {
			return failure(err, "place the events committed")
		}
		if placed == 0 {
			return nil
		}
	}
	return nil
}

// ExpiringLots lists the brand's live lots expiring in [from, to).
func (s *Store) ExpiringLots(ctx context.Context, brandID string, from, to, afterExp time.Time, afterID string, limit int) ([]ledger.Lot, error) {
	var lots []ledger.Lot
	err := s.read(ctx, all(d("lots of %s expiring from %v", brandID, from), &lots, scanLot, "SELECT "+lotCols+` FROM lots
		WHERE remaining > 0 AND expires_at > 0 AND expires_at >= $1 AND expires_at < $2 AND brand_id = $3
		AND (expires_at, lot_id) > ($4, $5) ORDER BY expires_at, lot_id LIMIT $6`,
		micros(from), micros(to), brandID, micros(afterExp), afterID, limitOrAll(limit)))
	return lots, err
}

// eventCols are scanEvent's columns.
const eventCols = "pos, brand_id, event_id, type, subject, time, data"

func scanEvent(r pgx.Rows) (points.Event, error) {
	var e points.Event
	var t int64
	var data string
	if err := r.Scan(&e.Pos, &e.BrandID, &e.ID, &e.Type, &e.Subject, &t, &data); err != nil {
		return e, err
	}
	e.Time = fromMicros(t)
	e.Data = []byte(data)
	return e, nil
}

// eventFilter is the WHERE clause of q and its arguments.
func eventFilter(q points.EventQuery) (string, []any) {
	where := []string{"pos > $1"}
	args := []any{q.After}
	if q.BrandID != "" {
		args = append(args, q.BrandID)
		where = append(where, fmt.Sprintf("brand_id = $%d", len(args)))
	}
	if len(q.Types) > 0 {
		args = append(args, q.Types)
		where = append(where, fmt.Sprintf("type = ANY($%d)", len(args)))
	}
	return strings.Join(where, " AND "), args
}
