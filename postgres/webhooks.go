package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"jifen/points"
	"jifen/webhook"
)

// The webhooks' state (webhook.Store), shared by every server of the
// database.
//
// An endpoint's cursor is leased on its row (LeaseEndpoint, a guarded
// UPDATE), so one server at a time sends its batches. A claim is one
// statement: it picks due deliveries FOR UPDATE SKIP LOCKED and leases
// them, so two servers never lease one delivery, and one server's claim
// does not wait for another's. Every other write of an endpoint's
// deliveries — a batch's commit, recording an attempt, redelivering,
// deleting — first locks the endpoint's row: of two such writes one sees
// the other's effect, so a delivery queued while the one before it in its
// queue ends is never left waiting for a promotion that did not see it.

var _ webhook.Store = (*Store)(nil)

// blocked is next_at of a delivery that waits for an earlier one of its
// queue (see 0008_webhooks.sql).
const blocked = math.MaxInt64

const webhookCols = `webhook_id, url, secret, brands, events, disabled_at, disabled_reason, failing_since, scheduled_pos,
	created_at, updated_at`

func scanEndpoint(r pgx.Rows) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var brands, events []byte
	var disabledAt, failingSince, created, updated int64
	if err := r.Scan(&e.ID, &e.URL, &e.Secret, &brands, &events, &disabledAt, &e.DisabledReason, &failingSince,
		&e.ScheduledPos, &created, &updated); err != nil {
		return e, err
	}
	if err := json.Unmarshal(brands, &e.Brands); err != nil {
		return e, fmt.Errorf("webhook %q brands: %w", e.ID, err)
	}
	if err := json.Unmarshal(events, &e.Events); err != nil {
		return e, fmt.Errorf("webhook %q events: %w", e.ID, err)
	}
	e.DisabledAt, e.FailingSince = fromMicros(disabledAt), fromMicros(failingSince)
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	e.Disabled = disabledAt != 0
	return e, nil
}

func webhookQuery(id string, dst *webhook.Endpoint, found *bool) *pgx.QueuedQuery {
	return one(d("webhook %q", id), dst, found, scanEndpoint, "SELECT "+webhookCols+" FROM webhooks WHERE webhook_id = $1", id)
}

// sqlPutWebhook is PutWebhook's upsert: disabling keeps an earlier
// disablement's time and reason; enabling clears it and, for an endpoint
// that was disabled, its failing streak.
const sqlPutWebhook = `INSERT INTO webhooks (webhook_id, url, secret, brands, events, disabled_at, disabled_reason,
		failing_since, scheduled_pos, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, 0, (SELECT COALESCE(MAX(pos), 0) FROM events), $8, $8)
	ON CONFLICT (webhook_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, brands = excluded.brands,
		events = excluded.events,
		disabled_at = CASE WHEN excluded.disabled_at = 0 THEN 0 WHEN webhooks.disabled_at <> 0 THEN webhooks.disabled_at
			ELSE excluded.disabled_at END,
		disabled_reason = CASE WHEN excluded.disabled_at = 0 THEN '' WHEN webhooks.disabled_at <> 0 THEN webhooks.disabled_reason
			ELSE excluded.disabled_reason END,
		failing_since = CASE WHEN excluded.disabled_at = 0 AND webhooks.disabled_at <> 0 THEN 0 ELSE webhooks.failing_since END,
		updated_at = excluded.updated_at`

// Webhooks lists every endpoint, by id.
func (s *Store) Webhooks(ctx context.Context) ([]webhook.Endpoint, error) {
	var es []webhook.Endpoint
	if err := s.read(ctx, all(d("webhooks"), &es, scanEndpoint, "SELECT "+webhookCols+" FROM webhooks ORDER BY webhook_id")); err != nil {
		return nil, err
	}
	return es, nil
}

// Webhook returns one endpoint; ErrNotFound if none.
func (s *Store) Webhook(ctx context.Context, id string) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var found bool
	if err := s.read(ctx, webhookQuery(id, &e, &found)); err != nil {
		return e, err
	}
	if !found {
		return e, notFound("webhook %q", id)
	}
	return e, nil
}

// webhookTx runs fn in a READ COMMITTED transaction, again (with jittered
// backoff) after a serialization failure or a deadlock.
func (s *Store) webhookTx(ctx context.Context, what string, fn func(pgx.Tx) error) error {
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			s.noteRetry(err)
			t := time.NewTimer(rand.N(min(backoffMax, backoffBase<<(attempt-1))) + time.Microsecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(ctx.Err(), err)
			case <-t.C:
			}
		}
		err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
		if err == nil || !isCode(err, codeSerializationFailure) && !isCode(err, codeDeadlockDetected) {
			break
		}
	}
	if err != nil {
		return s.noteError(failure(err, what))
	}
	return nil
}

// lockWebhook locks the endpoint's row for the rest of tx; false if there
// is none.
func lockWebhook(ctx context.Context, tx pgx.Tx, id string) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM webhooks WHERE webhook_id = $1 FOR NO KEY UPDATE", id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// DeleteWebhook deletes an endpoint; its deliveries and their attempts
// go with it (foreign keys, ON DELETE CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	var n int64
	err := s.webhookTx(ctx, "delete webhook "+id, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM webhooks WHERE webhook_id = $1", id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("webhook %q", id)
	}
	return nil
}

// LeaseEndpoint leases an endpoint's cursor to owner; the guarded UPDATE
// and the read of the endpoint go in one round trip.
func (s *Store) LeaseEndpoint(ctx context.Context, id, owner string, now, until time.Time) (webhook.Endpoint, bool, error) {
	var e webhook.Endpoint
	var ok, found bool
	err := s.read(ctx,
		exists(d("lease webhook %q", id), &ok, `UPDATE webhooks SET lease_owner = $2, lease_until = $3 WHERE webhook_id = $1
			AND disabled_at = 0 AND (lease_owner = $2 OR lease_until <= $4) RETURNING 1`, id, owner, micros(until), micros(now)),
		webhookQuery(id, &e, &found))
	if err != nil {
		return e, false, s.noteError(err)
	}
	return e, ok && found, nil
}

// QueuedMembers says which of qs have a pending delivery to endpoint id.
func (s *Store) QueuedMembers(ctx context.Context, id string, qs []webhook.Queue) ([]webhook.Queue, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	brands, subjects := make([]string, len(qs)), make([]string, len(qs))
	for i, q := range qs {
		brands[i], subjects[i] = q.BrandID, q.Subject
	}
	var got []webhook.Queue
	err := s.read(ctx, all(d("queued members of webhook %q", id), &got, func(r pgx.Rows) (webhook.Queue, error) {
		var q webhook.Queue
		return q, r.Scan(&q.BrandID, &q.Subject)
	}, `SELECT q.b, q.s FROM unnest($2::text[], $3::text[]) AS q (b, s) WHERE EXISTS (SELECT 1 FROM webhook_deliveries d
		WHERE d.webhook_id = $1 AND d.brand_id = q.b AND d.subject = q.s AND d.state = 'pending')`, id, brands, subjects))
	if err != nil {
		return nil, s.noteError(err)
	}
	return got, nil
}

// Statements of CommitBatch; see the SQLite store's for what each does.
const (
	sqlMoveCursor = `UPDATE webhooks SET scheduled_pos = $3, lease_owner = CASE WHEN $5::bigint = 0 THEN '' ELSE $4 END,
		lease_until = $5
		WHERE webhook_id = $1 AND scheduled_pos = $2 AND lease_owner = $4 AND disabled_at = 0`
	sqlInsertBatch = `INSERT INTO webhook_batches (webhook_id, from_pos, to_pos, started_at, at, delivered, items)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	sqlQueueDelivery = `INSERT INTO webhook_deliveries (webhook_id, pos, brand_id, subject, state, attempts, since,
			next_at, lease_owner, lease_until, last_status, last_latency, last_error, done_at)
		SELECT $1, $2, $3, $4, $5, $6, $7,
			CASE WHEN $5 = 'pending' AND EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = $1 AND p.brand_id = $3
				AND p.subject = $4 AND p.state = 'pending') THEN $9::bigint ELSE $8::bigint END,
			'', 0, $10, $11, $12, $13
		ON CONFLICT (webhook_id, pos) DO NOTHING`
	sqlInsertFirstAttempt = `INSERT INTO webhook_attempts (webhook_id, pos, n, at, status, latency, error)
		VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT DO NOTHING`
)

// CommitBatch records a batch and moves the endpoint's cursor, in one
// transaction: the guarded UPDATE locks the endpoint's row first (the
// lock that orders a queue's promotion against the rows queued behind
// it), then the rest goes in one round trip.
func (s *Store) CommitBatch(ctx context.Context, b webhook.Batch) (bool, error) {
	var ok bool
	err := s.webhookTx(ctx, "commit a batch of webhook "+b.WebhookID, func(tx pgx.Tx) error {
		ok = false
		tag, err := tx.Exec(ctx, sqlMoveCursor, b.WebhookID, b.From, b.To, b.Owner, micros(b.LeaseUntil))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		qb := &pgx.Batch{}
		if len(b.Delivered) > 0 {
			qb.Queue(sqlInsertBatch, b.WebhookID, b.From, b.To, micros(b.Start), micros(time.Now()), len(b.Delivered),
				webhook.EncodeItems(b.From, b.Start, b.Delivered))
		}
		for _, q := range b.Queued {
			r := q.Row()
			qb.Queue(sqlQueueDelivery, b.WebhookID, q.Pos, q.BrandID, q.Subject, q.State, r.Attempts, micros(r.Since),
				micros(r.NextAt), int64(blocked), r.Last.Status, r.Last.Latency.Microseconds(), r.Last.Error, micros(r.DoneAt))
			if a := q.Attempt; a != nil {
				qb.Queue(sqlInsertFirstAttempt, b.WebhookID, q.Pos, micros(a.At), a.Status, a.Latency.Microseconds(), a.Error)
			}
		}
		switch {
		case len(b.Delivered) > 0:
			qb.Queue(sqlEndpointSucceeded, b.WebhookID)
		case !b.FailedAt.IsZero():
			qb.Queue(sqlEndpointFailed, b.WebhookID, micros(b.FailedAt), micros(b.DisableBefore), b.DisableReason)
		}
		if qb.Len() > 0 {
			if err := tx.SendBatch(ctx, qb).Close(); err != nil {
				return err
			}
		}
		ok = true
		return nil
	})
	if ok {
		s.analyze.grew(s, len(b.Queued))
	}
	return ok, err
}

// analyzer gathers the deliveries' statistics while the table is young.
// It grows from nothing to a backlog within seconds of a burst of writes,
// long before autovacuum's first ANALYZE (it looks every minute, and
// waits for the table to change by a tenth); without statistics the
// planner took whichever index could serve a lookup — the queue index to
// find one delivery by its key, scanning every pending delivery of the
// endpoint — and a prepared statement's generic plan made then was kept.
// So each server counts the delivery rows its batches write and runs
// ANALYZE at 1,000 and each time that count has grown fourfold, up to a
// million (after that, autovacuum's pace is the table's). An ANALYZE
// invalidates the plans made before it.
type analyzer struct {
	queued atomic.Int64
	next   atomic.Int64 // the count at which to ANALYZE; 0: 1,000
	wg     sync.WaitGroup
}

const (
	analyzeFirst = 1_000
	analyzeLast  = 1_000_000
)

// grew notes n delivery rows written, and runs ANALYZE in the background
// when their count crosses the next mark.
func (a *analyzer) grew(s *Store, n int) {
	total := a.queued.Add(int64(n))
	raw := a.next.Load()
	next := raw
	if next == 0 {
		next = analyzeFirst
	}
	if total < next || next > analyzeLast || !a.next.CompareAndSwap(raw, next*4) {
		return
	}
	a.wg.Go(func() {
		// Statistics only: a failure (the server closing, the statement
		// timeout) leaves them to autovacuum.
		s.pool.Exec(context.Background(), "ANALYZE webhook_deliveries")
	})
}

// sqlClaim leases to $3 until $4 up to $2 deliveries due at $1: pending,
// due and not leased, of an active endpoint, taken per endpoint through
// webhook_deliveries_due in due order (a lateral read per endpoint, so a
// disabled endpoint's backlog is never read), skipping rows another
// server's claim holds; of those, the ones that are the oldest pending
// delivery of their queue. That check runs on the picked rows only: a
// queue's later deliveries wait at the largest next_at (blocked) and are
// never due, except after an operator's redelivery of an older one, whose
// queue then waits for it here. It returns them with their event and
// endpoint.
const sqlClaim = `WITH due AS (
	SELECT d.webhook_id, d.pos, d.brand_id, d.subject, d.next_at FROM webhooks w CROSS JOIN LATERAL (
		SELECT d.webhook_id, d.pos, d.brand_id, d.subject, d.next_at FROM webhook_deliveries d
		WHERE d.webhook_id = w.webhook_id AND d.state = 'pending' AND d.next_at <= $1
			AND d.next_at < 9223372036854775807 AND d.lease_until <= $1
		ORDER BY d.next_at LIMIT $2
		FOR UPDATE SKIP LOCKED
	) d
	WHERE w.disabled_at = 0
	ORDER BY d.next_at LIMIT $2
), picked AS (
	SELECT due.webhook_id, due.pos FROM due
	WHERE due.pos = (SELECT p.pos FROM webhook_deliveries p WHERE p.webhook_id = due.webhook_id AND p.brand_id = due.brand_id
		AND p.subject = due.subject AND p.state = 'pending' ORDER BY p.brand_id, p.subject, p.pos LIMIT 1)
), claimed AS (
	UPDATE webhook_deliveries d SET lease_owner = $3, lease_until = $4 FROM picked
	WHERE (d.webhook_id, d.pos) = (picked.webhook_id, picked.pos)
	RETURNING d.webhook_id, d.pos, d.attempts, d.since, d.lease_owner
)
SELECT c.webhook_id, w.url, w.secret, c.attempts, c.since, c.lease_owner,
	e.pos, e.brand_id, e.event_id, e.type, e.subject, e.time, e.data
FROM claimed c JOIN webhooks w ON w.webhook_id = c.webhook_id JOIN events e ON e.pos = c.pos`

func scanClaimed(r pgx.Rows) (webhook.Claimed, error) {
	var c webhook.Claimed
	var since, t int64
	var data string
	if err := r.Scan(&c.WebhookID, &c.URL, &c.Secret, &c.Attempts, &since, &c.Owner,
		&c.Event.Pos, &c.Event.BrandID, &c.Event.ID, &c.Event.Type, &c.Event.Subject, &t, &data); err != nil {
		return c, err
	}
	c.Since, c.Event.Time, c.Event.Data = fromMicros(since), fromMicros(t), []byte(data)
	return c, nil
}

// ClaimDeliveries leases up to limit due deliveries to owner.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit int) ([]webhook.Claimed, error) {
	var cs []webhook.Claimed
	if err := s.read(ctx, all(d("claim deliveries"), &cs, scanClaimed, sqlClaim, micros(now), limit, owner, micros(until))); err != nil {
		return nil, s.noteError(err)
	}
	return cs, nil
}

// Statements of RecordAttempts; see the SQLite store's for what each does.
const (
	sqlRecordDelivery = `UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_at = $2, lease_owner = '',
		lease_until = 0, last_status = $3, last_latency = $4, last_error = $5, done_at = $6,
		since = CASE WHEN since = 0 THEN $10 ELSE since END
		WHERE webhook_id = $7 AND pos = $8 AND lease_owner = $9 AND state = 'pending'`
	sqlInsertAttempt = `INSERT INTO webhook_attempts (webhook_id, pos, n, at, status, latency, error)
		SELECT webhook_id, pos, attempts, $1, $2, $3, $4 FROM webhook_deliveries WHERE webhook_id = $5 AND pos = $6`
	sqlPromote = `UPDATE webhook_deliveries SET next_at = $4
		WHERE webhook_id = $1 AND state = 'pending' AND next_at = $5 AND pos = (SELECT MIN(pos) FROM webhook_deliveries
			WHERE webhook_id = $1 AND brand_id = $2 AND subject = $3 AND state = 'pending')`
	sqlEndpointSucceeded = "UPDATE webhooks SET failing_since = 0 WHERE webhook_id = $1 AND failing_since <> 0"
	sqlEndpointFailed    = `UPDATE webhooks SET
		disabled_at = CASE WHEN disabled_at = 0 AND failing_since <> 0 AND failing_since <= $3 THEN $2 ELSE disabled_at END,
		disabled_reason = CASE WHEN disabled_at = 0 AND failing_since <> 0 AND failing_since <= $3 THEN $4 ELSE disabled_reason END,
		failing_since = CASE WHEN failing_since = 0 THEN $2 ELSE failing_since END
		WHERE webhook_id = $1`
)

// RecordAttempts records attempts made under their leases, in one
// transaction: the endpoints' rows locked first, in order (the lock that
// orders a queue's promotion against a batch queueing its next
// delivery), then each delivery's outcome, then, for those whose lease
// still held, their attempts, promotions and the endpoints' state.
func (s *Store) RecordAttempts(ctx context.Context, os []webhook.Outcome) ([]bool, error) {
	oks := make([]bool, len(os))
	if len(os) == 0 {
		return oks, nil
	}
	ids := make([]string, 0, 1)
	for _, o := range os {
		if !slices.Contains(ids, o.WebhookID) {
			ids = append(ids, o.WebhookID)
		}
	}
	slices.Sort(ids)
	err := s.webhookTx(ctx, fmt.Sprintf("record %d attempts", len(os)), func(tx pgx.Tx) error {
		clear(oks)
		if _, err := tx.Exec(ctx, `SELECT 1 FROM webhooks WHERE webhook_id = ANY($1) ORDER BY webhook_id FOR NO KEY UPDATE`,
			ids); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for i, o := range os {
			nextAt, doneAt := o.Ends()
			a := o.Attempt
			b.Queue(sqlRecordDelivery, o.State, micros(nextAt), a.Status, a.Latency.Microseconds(), a.Error, micros(doneAt),
				o.WebhookID, o.Pos, o.Owner, micros(a.At)).Exec(func(tag pgconn.CommandTag) error {
				oks[i] = tag.RowsAffected() == 1
				return nil
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		b = &pgx.Batch{}
		for i, o := range os {
			if !oks[i] {
				continue
			}
			a := o.Attempt
			b.Queue(sqlInsertAttempt, micros(a.At), a.Status, a.Latency.Microseconds(), a.Error, o.WebhookID, o.Pos)
			if o.State != webhook.Pending {
				b.Queue(sqlPromote, o.WebhookID, o.BrandID, o.Subject, micros(a.At), int64(blocked))
			}
			if o.State == webhook.Delivered {
				b.Queue(sqlEndpointSucceeded, o.WebhookID)
			} else {
				b.Queue(sqlEndpointFailed, o.WebhookID, micros(a.At), micros(o.DisableBefore), o.DisableReason)
			}
		}
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, err
	}
	return oks, nil
}

// CountDeliveries counts an endpoint's pending and failed deliveries,
// each up to limit+1.
func (s *Store) CountDeliveries(ctx context.Context, id string, limit int) (pending, failed int, err error) {
	var found bool
	var n [2]int
	err = s.read(ctx, one(d("count deliveries of webhook %q", id), &n, &found, func(r pgx.Rows) ([2]int, error) {
		var v [2]int
		return v, r.Scan(&v[0], &v[1])
	}, `SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE webhook_id = $1 AND state = 'pending' LIMIT $2) p),
		(SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE webhook_id = $1 AND state = 'failed' LIMIT $2) f)`,
		id, limit+1))
	return n[0], n[1], err
}

const deliveryCols = `d.webhook_id, d.pos, d.brand_id, d.subject, COALESCE(e.event_id, ''), COALESCE(e.type, ''), d.state,
	d.attempts, d.since, d.next_at, d.lease_until, d.done_at, d.last_status, d.last_latency, d.last_error`

func scanDelivery(r pgx.Rows) (webhook.Delivery, error) {
	var dl webhook.Delivery
	var since, next, lease, done, latency int64
	if err := r.Scan(&dl.WebhookID, &dl.Pos, &dl.BrandID, &dl.Subject, &dl.EventID, &dl.EventType, &dl.State, &dl.Attempts,
		&since, &next, &lease, &done, &dl.LastStatus, &latency, &dl.LastError); err != nil {
		return dl, err
	}
	dl.Since, dl.LeaseUntil, dl.DoneAt = fromMicros(since), fromMicros(lease), fromMicros(done)
	if dl.State == webhook.Pending && next != blocked {
		dl.NextAt = fromMicros(next)
	}
	dl.LastLatency = time.Duration(latency) * time.Microsecond
	return dl, nil
}

type attemptRow struct {
	pos int64
	a   webhook.Attempt
}

func scanAttempt(r pgx.Rows) (attemptRow, error) {
	var ar attemptRow
	var at, latency int64
	if err := r.Scan(&ar.pos, &ar.a.N, &at, &ar.a.Status, &latency, &ar.a.Error); err != nil {
		return ar, err
	}
	ar.a.At, ar.a.Latency = fromMicros(at), time.Duration(latency)*time.Microsecond
	return ar, nil
}

// Deliveries lists an endpoint's deliveries with their attempts, newest
// first: the page, then the attempts of its deliveries, in one snapshot.
func (s *Store) Deliveries(ctx context.Context, q webhook.DeliveryQuery) ([]webhook.Delivery, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = math.MaxInt32
	}
	where, args := "d.webhook_id = $1", []any{q.WebhookID}
	switch q.State {
	case "":
	case webhook.Pending, webhook.Delivered, webhook.Failed:
		// A literal: the index of delivered and failed ones
		// (webhook_deliveries_state) holds no pending one, and a plan
		// can use it only for a state it knows.
		where += " AND d.state = '" + q.State + "'"
	default:
		return nil, fmt.Errorf("postgres: deliveries of webhook %q: no state %q", q.WebhookID, q.State)
	}
	if q.Before > 0 {
		args = append(args, q.Before)
		where += fmt.Sprintf(" AND d.pos < $%d", len(args))
	}
	args = append(args, limit)
	page := fmt.Sprintf("SELECT d.pos FROM webhook_deliveries d WHERE %s ORDER BY d.pos DESC LIMIT $%d", where, len(args))
	var ds []webhook.Delivery
	var as []attemptRow
	var rs []webhook.BatchRecord
	below := q.Before
	if below <= 0 {
		below = math.MaxInt64
	}
	err := s.readSnapshot(ctx,
		all(d("batches of webhook %q", q.WebhookID), &rs, scanBatch, sqlBatches, q.WebhookID, below, limit),
		all(d("deliveries of webhook %q", q.WebhookID), &ds, scanDelivery, "SELECT "+deliveryCols+
			" FROM webhook_deliveries d LEFT JOIN events e ON e.pos = d.pos WHERE d.webhook_id = $1 AND d.pos IN ("+page+
			") ORDER BY d.pos DESC", args...),
		all(d("attempts of webhook %q", q.WebhookID), &as, scanAttempt, "SELECT pos, n, at, status, latency, error"+
			" FROM webhook_attempts WHERE webhook_id = $1 AND pos IN ("+page+") ORDER BY pos, n", args...))
	if err != nil {
		return nil, err
	}
	byPos := make(map[int64]*webhook.Delivery, len(ds))
	for i := range ds {
		byPos[ds[i].Pos] = &ds[i]
	}
	for _, r := range as {
		if dl := byPos[r.pos]; dl != nil {
			dl.Log = append(dl.Log, r.a)
		}
	}
	if q.State != "" && q.State != webhook.Delivered {
		return ds, nil
	}
	bs, err := webhook.Batched(rs, q.Before)
	if err != nil {
		return nil, fmt.Errorf("postgres: deliveries of webhook %q: %w", q.WebhookID, err)
	}
	if len(bs) > limit {
		bs = bs[:limit]
	}
	if err := s.withEvents(ctx, bs); err != nil {
		return nil, err
	}
	return webhook.Newest(ds, bs, limit), nil
}

// sqlBatches reads endpoint $1's batch records newest first, from below
// position $2, enough of them for $3 events: those after the first (which
// may hold events at or after $2) up to $3 events' worth.
const sqlBatches = `SELECT webhook_id, from_pos, to_pos, started_at, items FROM (
	SELECT b.*, SUM(b.delivered) OVER w - b.delivered - FIRST_VALUE(b.delivered) OVER w AS ahead
	FROM (SELECT webhook_id, from_pos, to_pos, started_at, items, delivered FROM webhook_batches
		WHERE webhook_id = $1 AND from_pos < $2 ORDER BY from_pos DESC LIMIT $3::bigint + 1) b
	WINDOW w AS (ORDER BY b.from_pos DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) x
WHERE ahead < $3 ORDER BY from_pos DESC`

const batchCols = "webhook_id, from_pos, to_pos, started_at, items"

func scanBatch(r pgx.Rows) (webhook.BatchRecord, error) {
	var br webhook.BatchRecord
	var start int64
	err := r.Scan(&br.WebhookID, &br.From, &br.To, &start, &br.Items)
	br.Start = fromMicros(start)
	return br, err
}

// withEvents fills in the events' ids, types and queues of batch-delivered
// ds (events do not change: no snapshot is needed).
func (s *Store) withEvents(ctx context.Context, ds []webhook.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	byPos := make(map[int64]*webhook.Delivery, len(ds))
	ps := make([]int64, len(ds))
	for i := range ds {
		byPos[ds[i].Pos], ps[i] = &ds[i], ds[i].Pos
	}
	return s.read(ctx, rowsQuery(d("events of %d deliveries", len(ds)), func(r pgx.Rows) error {
		var pos int64
		var brand, subject, id, typ string
		if err := r.Scan(&pos, &brand, &subject, &id, &typ); err != nil {
			return err
		}
		if dl := byPos[pos]; dl != nil {
			dl.BrandID, dl.Subject, dl.EventID, dl.EventType = brand, subject, id, typ
		}
		return nil
	}, "SELECT pos, brand_id, subject, event_id, type FROM events WHERE pos = ANY($1)", ps))
}

// sqlBatchHolding reads each endpoint's batch record that holds position
// $1.
const sqlBatchHolding = `SELECT b.webhook_id, b.from_pos, b.to_pos, b.started_at, b.items FROM webhooks w CROSS JOIN LATERAL (
		SELECT * FROM webhook_batches b WHERE b.webhook_id = w.webhook_id AND b.from_pos < $1 ORDER BY b.from_pos DESC LIMIT 1) b
	WHERE b.to_pos >= $1`

// batchDelivery picks the delivery of the event at pos from the batch
// records rs of one endpoint, if one of them made it.
func batchDelivery(rs []webhook.BatchRecord, pos int64) (webhook.Delivery, bool, error) {
	ds, err := webhook.Batched(rs, pos+1)
	if err != nil || len(ds) == 0 || ds[0].Pos != pos {
		return webhook.Delivery{}, false, err
	}
	return ds[0], true, nil
}

// sqlRedeliver makes delivery ($1, $2) pending with a retry window from
// $3, due then unless an earlier one of its queue is pending ($4,
// blocked).
const sqlRedeliver = `UPDATE webhook_deliveries d SET state = 'pending', since = 0, done_at = 0, lease_owner = '', lease_until = 0,
	next_at = CASE WHEN EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = $1 AND p.brand_id = d.brand_id
		AND p.subject = d.subject AND p.state = 'pending' AND p.pos < $2) THEN $4::bigint ELSE $3::bigint END
	WHERE d.webhook_id = $1 AND d.pos = $2 AND d.state <> 'pending'`

// Redeliver makes one delivery pending again.
func (s *Store) Redeliver(ctx context.Context, id string, pos int64, now time.Time) error {
	var found bool
	err := s.webhookTx(ctx, fmt.Sprintf("redeliver %s/%d", id, pos), func(tx pgx.Tx) error {
		found = false
		if ok, err := lockWebhook(ctx, tx, id); err != nil || !ok {
			return err
		}
		// The horizon, shared: a removal of events (which takes it for
		// update) waits for this one, or this one sees what it removed.
		var horizon int64
		if err := tx.QueryRow(ctx, "SELECT pos FROM event_horizon WHERE id = 1 FOR SHARE").Scan(&horizon); err != nil {
			return err
		}
		if pos <= horizon {
			return nil // its event was removed: not found
		}
		var state string
		err := tx.QueryRow(ctx, "SELECT state FROM webhook_deliveries WHERE webhook_id = $1 AND pos = $2", id, pos).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			// Delivered in a batch: it gets a row, with that attempt.
			rows, err := tx.Query(ctx, "SELECT "+batchCols+` FROM webhook_batches
				WHERE webhook_id = $1 AND from_pos < $2 ORDER BY from_pos DESC LIMIT 1`, id, pos)
			if err != nil {
				return err
			}
			var rs []webhook.BatchRecord
			for rows.Next() {
				r, err := scanBatch(rows)
				if err != nil {
					rows.Close()
					return err
				}
				rs = append(rs, r)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			dl, ok, err := batchDelivery(rs, pos)
			if err != nil || !ok {
				return err
			}
			// It leaves the batch's record.
			items, left, err := webhook.Without(rs[0], pos)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			if left == 0 {
				b.Queue("DELETE FROM webhook_batches WHERE webhook_id = $1 AND from_pos = $2", id, rs[0].From)
			} else {
				b.Queue("UPDATE webhook_batches SET items = $3, delivered = $4 WHERE webhook_id = $1 AND from_pos = $2",
					id, rs[0].From, items, left)
			}
			b.Queue(`INSERT INTO webhook_deliveries (webhook_id, pos, brand_id, subject, state, attempts,
					since, next_at, lease_owner, lease_until, last_status, last_latency, last_error, done_at)
				SELECT $1, pos, brand_id, subject, 'delivered', 1, $2, 0, '', 0, $3, $4, '', $5 FROM events WHERE pos = $6`,
				id, micros(dl.Since), dl.LastStatus, dl.LastLatency.Microseconds(), micros(dl.DoneAt), pos)
			b.Queue(sqlInsertFirstAttempt, id, pos, micros(dl.Since), dl.LastStatus, dl.LastLatency.Microseconds(), "")
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			state = webhook.Delivered
		} else if err != nil {
			return err
		}
		found = true
		if state == webhook.Pending {
			// Due now, unless it waits for its queue or is being attempted.
			_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET next_at = $3 WHERE webhook_id = $1 AND pos = $2
				AND next_at <> $4 AND next_at > $3 AND lease_until <= $3`, id, pos, micros(now), int64(blocked))
			return err
		}
		_, err = tx.Exec(ctx, sqlRedeliver, id, pos, micros(now), int64(blocked))
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return notFound("delivery %s/%d", id, pos)
	}
	return nil
}

// Statements of RedeliverFailed: every failed delivery of endpoint $1
// waits ($2, blocked), its window to start at its next attempt; then the
// oldest pending of each queue is made due at $2 ($3, blocked).
const (
	sqlRedeliverFailed = `UPDATE webhook_deliveries SET state = 'pending', since = 0, done_at = 0, lease_owner = '',
		lease_until = 0, next_at = $2 WHERE webhook_id = $1 AND state = 'failed'`
	sqlUnblockHeads = `UPDATE webhook_deliveries d SET next_at = $2
		WHERE d.webhook_id = $1 AND d.state = 'pending' AND d.next_at = $3 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
			WHERE p.webhook_id = $1 AND p.brand_id = d.brand_id AND p.subject = d.subject AND p.state = 'pending' AND p.pos < d.pos)`
)

// RedeliverFailed makes every failed delivery of an endpoint pending.
func (s *Store) RedeliverFailed(ctx context.Context, id string, now time.Time) (int, error) {
	var n int64
	err := s.webhookTx(ctx, "redeliver failed deliveries of webhook "+id, func(tx pgx.Tx) error {
		n = 0
		if ok, err := lockWebhook(ctx, tx, id); err != nil || !ok {
			return err
		}
		tag, err := tx.Exec(ctx, sqlRedeliverFailed, id, int64(blocked))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, sqlUnblockHeads, id, micros(now), int64(blocked))
		return err
	})
	return int(n), err
}

// EventDeliveries returns one event and its deliveries, by endpoint, in
// one snapshot. An event not yet placed has no deliveries.
func (s *Store) EventDeliveries(ctx context.Context, brandID, eventID string) (points.Event, []webhook.Delivery, error) {
	var ev points.Event
	var found bool
	var ds []webhook.Delivery
	var rs []webhook.BatchRecord
	err := s.readSnapshot(ctx,
		one(d("event %s/%s", brandID, eventID), &ev, &found, scanEvent,
			"SELECT COALESCE(pos, 0), brand_id, event_id, type, subject, time, data FROM events WHERE brand_id = $1 AND event_id = $2",
			brandID, eventID),
		all(d("deliveries of event %s/%s", brandID, eventID), &ds, scanDelivery, "SELECT "+deliveryCols+
			` FROM events e JOIN webhook_deliveries d ON d.pos = e.pos
			WHERE e.brand_id = $1 AND e.event_id = $2 ORDER BY d.webhook_id`, brandID, eventID),
		all(d("batch deliveries of event %s/%s", brandID, eventID), &rs, scanBatch,
			strings.ReplaceAll(sqlBatchHolding, "$1", "(SELECT pos FROM events WHERE brand_id = $1 AND event_id = $2)"),
			brandID, eventID))
	if err != nil {
		return ev, nil, err
	}
	if !found {
		return ev, nil, notFound("event %s/%s", brandID, eventID)
	}
	// The endpoints without a row for it may have delivered it in a batch.
	if ds, err = webhook.EventBatched(ev, ds, rs); err != nil {
		return ev, nil, fmt.Errorf("postgres: batch deliveries of event %s/%s: %w", brandID, eventID, err)
	}
	return ev, ds, nil
}
