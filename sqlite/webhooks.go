package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"jifen/points"
	"jifen/webhook"
)

// The webhooks' state (webhook.Store). Writes go through the writer like
// every other write: it is the only one, so a lease, a batch's commit, a
// claim or a record never races another; reads that find nothing to do
// (no due delivery, no member queued) stay on the read pool and cost no
// commit.

var _ webhook.Store = (*Store)(nil)

// blocked is next_at of a delivery that waits for an earlier one of its
// queue (see 0008_webhooks.sql).
const blocked = math.MaxInt64

const webhookCols = `webhook_id, url, secret, brands, events, disabled_at, disabled_reason, failing_since, scheduled_pos,
	created_at, updated_at`

func scanEndpoint(sc scanner) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var brands, events string
	var disabledAt, failingSince, created, updated int64
	if err := sc.Scan(&e.ID, &e.URL, &e.Secret, &brands, &events, &disabledAt, &e.DisabledReason, &failingSince,
		&e.ScheduledPos, &created, &updated); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(brands), &e.Brands); err != nil {
		return e, fmt.Errorf("webhook %q brands: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(events), &e.Events); err != nil {
		return e, fmt.Errorf("webhook %q events: %w", e.ID, err)
	}
	e.DisabledAt, e.FailingSince = fromMicros(disabledAt), fromMicros(failingSince)
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	e.Disabled = disabledAt != 0
	return e, nil
}

func loadEndpoint(ctx context.Context, q queryer, id string) (webhook.Endpoint, error) {
	e, ok, err := one(ctx, q, scanEndpoint, "SELECT "+webhookCols+" FROM webhooks WHERE webhook_id = +?", id)
	if err != nil {
		return e, fmt.Errorf("sqlite: webhook %q: %w", id, err)
	}
	if !ok {
		return e, notFound("webhook %q", id)
	}
	return e, nil
}

func loadWebhook(ctx context.Context, q queryer, id string) (points.Webhook, error) {
	e, err := loadEndpoint(ctx, q, id)
	return e.Webhook, err
}

// Webhooks lists every endpoint, by id.
func (s *Store) Webhooks(ctx context.Context) ([]webhook.Endpoint, error) {
	es, err := all(ctx, s.rdb, scanEndpoint, "SELECT "+webhookCols+" FROM webhooks ORDER BY webhook_id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", err)
	}
	return es, nil
}

// Webhook returns one endpoint; ErrNotFound if none.
func (s *Store) Webhook(ctx context.Context, id string) (webhook.Endpoint, error) {
	return loadEndpoint(ctx, s.rdb, id)
}

// DeleteWebhook deletes an endpoint; its deliveries and their attempts
// go with it (foreign keys, ON DELETE CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	var n int
	err := s.writeTx(ctx, func(t *Tx) (err error) {
		n, err = t.w.exec("DELETE FROM webhooks WHERE webhook_id = ?", id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook %q: %w", id, err)
	}
	if n == 0 {
		return notFound("webhook %q", id)
	}
	return nil
}

// writeTx runs fn as a write, on the writer's Tx.
func (s *Store) writeTx(ctx context.Context, fn func(t *Tx) error) error {
	return s.Write(ctx, func(tx points.Tx) error {
		t := tx.(*Tx)
		if err := t.check(); err != nil {
			return err
		}
		return fn(t)
	})
}

// LeaseEndpoint leases an endpoint's cursor to owner.
func (s *Store) LeaseEndpoint(ctx context.Context, id, owner string, now, until time.Time) (webhook.Endpoint, bool, error) {
	var e webhook.Endpoint
	var ok bool
	err := s.writeTx(ctx, func(t *Tx) error {
		n, err := t.w.exec(`UPDATE webhooks SET lease_owner = ?, lease_until = ? WHERE webhook_id = ? AND disabled_at = 0
			AND (lease_owner = ? OR lease_until <= ?)`, owner, micros(until), id, owner, micros(now))
		if err != nil {
			return err
		}
		ok = n == 1
		e, err = loadEndpoint(ctx, t.w, id)
		return err
	})
	if err != nil && !errors.Is(err, points.ErrNotFound) {
		return e, false, fmt.Errorf("sqlite: lease webhook %q: %w", id, err)
	}
	return e, ok, nil
}

// QueuedMembers says which of qs have a pending delivery to endpoint id.
func (s *Store) QueuedMembers(ctx context.Context, id string, qs []webhook.Queue) ([]webhook.Queue, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	pairs := make([][2]string, len(qs))
	for i, q := range qs {
		pairs[i] = [2]string{q.BrandID, q.Subject}
	}
	js, err := json.Marshal(pairs)
	if err != nil {
		return nil, err
	}
	got, err := all(ctx, s.rdb, func(sc scanner) (webhook.Queue, error) {
		var q webhook.Queue
		return q, sc.Scan(&q.BrandID, &q.Subject)
	}, `SELECT j.value ->> 0, j.value ->> 1 FROM json_each(+?2) j WHERE EXISTS (SELECT 1 FROM webhook_deliveries d
		WHERE d.webhook_id = +?1 AND d.brand_id = j.value ->> 0 AND d.subject = j.value ->> 1 AND d.state = 'pending')`,
		id, string(js))
	if err != nil {
		return nil, fmt.Errorf("sqlite: queued members of webhook %q: %w", id, err)
	}
	return got, nil
}

// Statements of CommitBatch.
const (
	// sqlMoveCursor moves endpoint ?1's cursor from ?2 to ?3 under ?4's
	// lease, which it renews until ?5 (or ends, at 0).
	sqlMoveCursor = `UPDATE webhooks SET scheduled_pos = ?3, lease_owner = CASE WHEN ?5 = 0 THEN '' ELSE ?4 END,
		lease_until = ?5
		WHERE webhook_id = ?1 AND scheduled_pos = ?2 AND lease_owner = ?4 AND disabled_at = 0`
	sqlInsertBatch = `INSERT INTO webhook_batches (webhook_id, from_pos, to_pos, started_at, at, delivered, items)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	// sqlQueueDelivery inserts a delivery (?1 webhook, ?2 position, ?3
	// brand, ?4 subject) in state ?5 after ?6 attempts (the retry window
	// from ?7), due at ?8 — unless it is pending and its queue has a
	// pending delivery already: then it waits (?9, blocked). "WHERE true"
	// keeps SQLite from reading ON CONFLICT as a join's ON.
	sqlQueueDelivery = `INSERT INTO webhook_deliveries (webhook_id, pos, brand_id, subject, state, attempts, since,
			next_at, lease_owner, lease_until, last_status, last_latency, last_error, done_at)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7,
			CASE WHEN ?5 = 'pending' AND EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = ?1 AND p.brand_id = ?3
				AND p.subject = ?4 AND p.state = 'pending') THEN ?9 ELSE ?8 END,
			'', 0, ?10, ?11, ?12, ?13
		WHERE true
		ON CONFLICT (webhook_id, pos) DO NOTHING`
	sqlInsertFirstAttempt = `INSERT INTO webhook_attempts (webhook_id, pos, n, at, status, latency, error)
		VALUES (?, ?, 1, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
)

// CommitBatch records a batch and moves the endpoint's cursor, in one
// write.
func (s *Store) CommitBatch(ctx context.Context, b webhook.Batch) (bool, error) {
	var ok bool
	err := s.writeTx(ctx, func(t *Tx) error {
		ok = false
		n, err := t.w.exec(sqlMoveCursor, b.WebhookID, b.From, b.To, b.Owner, micros(b.LeaseUntil))
		if err != nil || n == 0 {
			return err
		}
		if len(b.Delivered) > 0 {
			if _, err := t.w.exec(sqlInsertBatch, b.WebhookID, b.From, b.To, micros(b.Start), micros(time.Now()),
				len(b.Delivered), webhook.EncodeItems(b.From, b.Start, b.Delivered)); err != nil {
				return err
			}
		}
		for _, q := range b.Queued {
			r := q.Row()
			if _, err := t.w.exec(sqlQueueDelivery, b.WebhookID, q.Pos, q.BrandID, q.Subject, q.State, r.Attempts, micros(r.Since),
				micros(r.NextAt), int64(blocked), r.Last.Status, r.Last.Latency.Microseconds(), r.Last.Error, micros(r.DoneAt)); err != nil {
				return err
			}
			if a := q.Attempt; a != nil {
				if _, err := t.w.exec(sqlInsertFirstAttempt, b.WebhookID, q.Pos, micros(a.At), a.Status,
					a.Latency.Microseconds(), a.Error); err != nil {
					return err
				}
			}
		}
		switch {
		case len(b.Delivered) > 0:
			_, err = t.w.exec(sqlEndpointSucceeded, b.WebhookID)
		case !b.FailedAt.IsZero():
			_, err = t.w.exec(sqlEndpointFailed, b.WebhookID, micros(b.FailedAt), micros(b.DisableBefore), b.DisableReason)
		}
		ok = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: commit a batch of webhook %q: %w", b.WebhookID, err)
	}
	return ok, nil
}

// dueDeliveries selects the deliveries of one endpoint (?1) a claim at
// now (?2) may take, up to a limit (?3), in due order through
// webhook_deliveries_due: pending, due, not leased, and the oldest pending
// one of their queue (a queue's later deliveries wait at the largest
// next_at and are not due, except after an operator's redelivery of an
// older one, which then goes first).
const dueDeliveries = `SELECT d.webhook_id, d.pos, d.next_at FROM webhook_deliveries d
	WHERE d.webhook_id = +?1 AND d.state = 'pending' AND d.next_at <= +?2 AND d.lease_until <= +?2
		AND d.pos = (SELECT MIN(p.pos) FROM webhook_deliveries p WHERE p.webhook_id = +?1 AND p.brand_id = d.brand_id
			AND p.subject = d.subject AND p.state = 'pending')
	ORDER BY d.next_at LIMIT +?3`

type deliveryKey struct {
	webhookID string
	pos       int64
	nextAt    int64
}

func scanDeliveryKey(sc scanner) (deliveryKey, error) {
	var k deliveryKey
	return k, sc.Scan(&k.webhookID, &k.pos, &k.nextAt)
}

// due lists up to limit deliveries a claim at now may take, of every
// active endpoint, in due order: each endpoint's read through its own
// keys, so a disabled endpoint's backlog is never read.
func due(ctx context.Context, q queryer, now time.Time, limit int) ([]deliveryKey, error) {
	type endpoint struct {
		id     string
		active bool
	}
	eps, err := all(ctx, q, func(sc scanner) (endpoint, error) {
		var e endpoint
		return e, sc.Scan(&e.id, &e.active)
	}, "SELECT webhook_id, disabled_at = 0 FROM webhooks")
	if err != nil {
		return nil, err
	}
	var ks []deliveryKey
	for _, e := range eps {
		if !e.active {
			continue
		}
		id := e.id
		got, err := all(ctx, q, scanDeliveryKey, dueDeliveries, id, micros(now), limit)
		if err != nil {
			return nil, err
		}
		ks = append(ks, got...)
	}
	slices.SortFunc(ks, func(a, b deliveryKey) int { return cmp.Compare(a.nextAt, b.nextAt) })
	return ks[:min(len(ks), limit)], nil
}

const claimedCols = `d.webhook_id, w.url, w.secret, d.attempts, d.since, d.lease_owner,
	e.pos, e.brand_id, e.event_id, e.type, e.subject, e.time, e.data`

func scanClaimed(sc scanner) (webhook.Claimed, error) {
	var c webhook.Claimed
	var since, t int64
	var data string
	if err := sc.Scan(&c.WebhookID, &c.URL, &c.Secret, &c.Attempts, &since, &c.Owner,
		&c.Event.Pos, &c.Event.BrandID, &c.Event.ID, &c.Event.Type, &c.Event.Subject, &t, &data); err != nil {
		return c, err
	}
	c.Since, c.Event.Time, c.Event.Data = fromMicros(since), time.UnixMicro(t).UTC(), []byte(data)
	return c, nil
}

// ClaimDeliveries leases up to limit due deliveries to owner.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit int) ([]webhook.Claimed, error) {
	// Most polls find nothing due: ask the read pool first, so they
	// cost no write.
	ks, err := due(ctx, s.rdb, now, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due deliveries: %w", err)
	}
	if len(ks) == 0 {
		return nil, nil
	}
	var claimed []webhook.Claimed
	err = s.writeTx(ctx, func(t *Tx) error {
		claimed = claimed[:0]
		ks, err := due(ctx, t.w, now, limit)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if _, err := t.w.exec(`UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?
				WHERE webhook_id = ? AND pos = ?`, owner, micros(until), k.webhookID, k.pos); err != nil {
				return err
			}
			c, ok, err := one(ctx, t.w, scanClaimed, "SELECT "+claimedCols+` FROM webhook_deliveries d
				JOIN webhooks w ON w.webhook_id = d.webhook_id JOIN events e ON e.pos = d.pos
				WHERE d.webhook_id = +? AND d.pos = +?`, k.webhookID, k.pos)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("delivery %s/%d names no event", k.webhookID, k.pos)
			}
			claimed = append(claimed, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	return claimed, nil
}

// Statements of RecordAttempts.
const (
	// The first attempt of a retry window starts it (since).
	sqlRecordDelivery = `UPDATE webhook_deliveries SET state = ?1, attempts = attempts + 1, next_at = ?2, lease_owner = '',
		lease_until = 0, last_status = ?3, last_latency = ?4, last_error = ?5, done_at = ?6,
		since = CASE WHEN since = 0 THEN ?10 ELSE since END
		WHERE webhook_id = ?7 AND pos = ?8 AND lease_owner = ?9 AND state = 'pending'`
	// The attempt's number is the delivery's count of attempts, as just
	// recorded.
	sqlInsertAttempt = `INSERT INTO webhook_attempts (webhook_id, pos, n, at, status, latency, error)
		SELECT webhook_id, pos, attempts, ?, ?, ?, ? FROM webhook_deliveries WHERE webhook_id = ? AND pos = ?`
	// sqlPromote makes the oldest pending delivery of a queue due at ?4,
	// if it was waiting (?5, blocked).
	sqlPromote = `UPDATE webhook_deliveries SET next_at = ?4
		WHERE webhook_id = ?1 AND state = 'pending' AND next_at = ?5 AND pos = (SELECT MIN(pos) FROM webhook_deliveries
			WHERE webhook_id = ?1 AND brand_id = ?2 AND subject = ?3 AND state = 'pending')`
	sqlEndpointSucceeded = "UPDATE webhooks SET failing_since = 0 WHERE webhook_id = ? AND failing_since <> 0"
	// sqlEndpointFailed notes a failed attempt at ?2 and disables the
	// endpoint, for reason ?4, if it has been failing since before ?3.
	sqlEndpointFailed = `UPDATE webhooks SET
		disabled_at = CASE WHEN disabled_at = 0 AND failing_since <> 0 AND failing_since <= ?3 THEN ?2 ELSE disabled_at END,
		disabled_reason = CASE WHEN disabled_at = 0 AND failing_since <> 0 AND failing_since <= ?3 THEN ?4 ELSE disabled_reason END,
		failing_since = CASE WHEN failing_since = 0 THEN ?2 ELSE failing_since END
		WHERE webhook_id = ?1`
)

// RecordAttempts records attempts made under their leases, in one write.
func (s *Store) RecordAttempts(ctx context.Context, os []webhook.Outcome) ([]bool, error) {
	oks := make([]bool, len(os))
	if len(os) == 0 {
		return oks, nil
	}
	err := s.writeTx(ctx, func(t *Tx) error {
		clear(oks)
		for i, o := range os {
			ok, err := recordAttempt(t, o)
			if err != nil {
				return fmt.Errorf("%s/%d: %w", o.WebhookID, o.Pos, err)
			}
			oks[i] = ok
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: record %d attempts: %w", len(os), err)
	}
	return oks, nil
}

// recordAttempt records o in t; false where its lease no longer holds.
func recordAttempt(t *Tx, o webhook.Outcome) (bool, error) {
	nextAt, doneAt := o.Ends()
	a := o.Attempt
	n, err := t.w.exec(sqlRecordDelivery, o.State, micros(nextAt), a.Status, a.Latency.Microseconds(), a.Error, micros(doneAt),
		o.WebhookID, o.Pos, o.Owner, micros(a.At))
	if err != nil || n == 0 {
		return false, err
	}
	if _, err := t.w.exec(sqlInsertAttempt, micros(a.At), a.Status, a.Latency.Microseconds(), a.Error, o.WebhookID, o.Pos); err != nil {
		return false, err
	}
	if o.State != webhook.Pending {
		if _, err := t.w.exec(sqlPromote, o.WebhookID, o.BrandID, o.Subject, micros(a.At), int64(blocked)); err != nil {
			return false, err
		}
	}
	if o.State == webhook.Delivered {
		_, err = t.w.exec(sqlEndpointSucceeded, o.WebhookID)
	} else {
		_, err = t.w.exec(sqlEndpointFailed, o.WebhookID, micros(a.At), micros(o.DisableBefore), o.DisableReason)
	}
	return err == nil, err
}

// CountDeliveries counts an endpoint's pending and failed deliveries,
// each up to limit+1.
func (s *Store) CountDeliveries(ctx context.Context, id string, limit int) (pending, failed int, err error) {
	err = s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE webhook_id = +?1 AND state = 'pending' LIMIT +?2)),
		(SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE webhook_id = +?1 AND state = 'failed' LIMIT +?2))`,
		id, limit+1).Scan(&pending, &failed)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: count deliveries of webhook %q: %w", id, err)
	}
	return pending, failed, nil
}

const deliveryCols = `d.webhook_id, d.pos, d.brand_id, d.subject, COALESCE(e.event_id, ''), COALESCE(e.type, ''), d.state,
	d.attempts, d.since, d.next_at, d.lease_until, d.done_at, d.last_status, d.last_latency, d.last_error`

func scanDelivery(sc scanner) (webhook.Delivery, error) {
	var d webhook.Delivery
	var since, next, lease, done, latency int64
	if err := sc.Scan(&d.WebhookID, &d.Pos, &d.BrandID, &d.Subject, &d.EventID, &d.EventType, &d.State, &d.Attempts,
		&since, &next, &lease, &done, &d.LastStatus, &latency, &d.LastError); err != nil {
		return d, err
	}
	d.Since, d.LeaseUntil, d.DoneAt = fromMicros(since), fromMicros(lease), fromMicros(done)
	if d.State == webhook.Pending && next != blocked {
		d.NextAt = fromMicros(next)
	}
	d.LastLatency = time.Duration(latency) * time.Microsecond
	return d, nil
}

type attemptRow struct {
	pos int64
	a   webhook.Attempt
}

func scanAttempt(sc scanner) (attemptRow, error) {
	var r attemptRow
	var at, latency int64
	if err := sc.Scan(&r.pos, &r.a.N, &at, &r.a.Status, &latency, &r.a.Error); err != nil {
		return r, err
	}
	r.a.At, r.a.Latency = fromMicros(at), time.Duration(latency)*time.Microsecond
	return r, nil
}

// Deliveries lists an endpoint's deliveries with their attempts, newest
// first, in one read transaction.
func (s *Store) Deliveries(ctx context.Context, q webhook.DeliveryQuery) ([]webhook.Delivery, error) {
	tx, err := s.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	from, where, args := "webhook_deliveries d", "d.webhook_id = +?", []any{q.WebhookID}
	if q.State != "" {
		// Named, or the planner may prefer the primary key, which serves
		// the ORDER BY, and read every delivery of the endpoint.
		from = "webhook_deliveries d INDEXED BY webhook_deliveries_state"
		where += " AND d.state = +?"
		args = append(args, q.State)
	}
	if q.Before > 0 {
		where += " AND d.pos < +?"
		args = append(args, q.Before)
	}
	ds, err := all(ctx, tx, scanDelivery, "SELECT "+deliveryCols+" FROM "+from+" LEFT JOIN events e ON e.pos = d.pos WHERE "+
		where+" ORDER BY d.pos DESC LIMIT +?", append(args, limitOrAll(q.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deliveries of webhook %q: %w", q.WebhookID, err)
	}
	if err := attempts(ctx, tx, q.WebhookID, ds); err != nil {
		return nil, err
	}
	if q.State != "" && q.State != webhook.Delivered {
		return ds, nil
	}
	bs, err := batched(ctx, tx, q.WebhookID, q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: batch deliveries of webhook %q: %w", q.WebhookID, err)
	}
	return webhook.Newest(ds, bs, q.Limit), nil
}

// attempts reads the attempts of ds, endpoint id's deliveries.
func attempts(ctx context.Context, tx queryer, id string, ds []webhook.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	byPos := make(map[int64]*webhook.Delivery, len(ds))
	args := []any{id}
	for i := range ds {
		byPos[ds[i].Pos] = &ds[i]
		args = append(args, ds[i].Pos)
	}
	as, err := all(ctx, tx, scanAttempt, "SELECT pos, n, at, status, latency, error FROM webhook_attempts WHERE webhook_id = +? AND pos IN ("+
		strings.TrimSuffix(strings.Repeat("+?, ", len(ds)), ", ")+") ORDER BY pos, n", args...)
	if err != nil {
		return fmt.Errorf("sqlite: attempts of webhook %q: %w", id, err)
	}
	for _, r := range as {
		d := byPos[r.pos]
		d.Log = append(d.Log, r.a)
	}
	return nil
}

// batchCols are a webhook.BatchRecord's.
const batchCols = "webhook_id, from_pos, to_pos, started_at, items"

func scanBatch(sc scanner) (webhook.BatchRecord, error) {
	var r webhook.BatchRecord
	var start int64
	err := sc.Scan(&r.WebhookID, &r.From, &r.To, &start, &r.Items)
	r.Start = fromMicros(start)
	return r, err
}

// batchesPerRead is how many batch records a listing reads at a time.
const batchesPerRead = 16

// batched lists up to limit (0: all) of the events endpoint id's batches
// delivered below before (0: no bound), newest first, with their events'
// ids, types and queues.
func batched(ctx context.Context, q queryer, id string, before int64, limit int) ([]webhook.Delivery, error) {
	var ds []webhook.Delivery
	below := before
	if below <= 0 {
		below = math.MaxInt64
	}
	for limit <= 0 || len(ds) < limit {
		rs, err := all(ctx, q, scanBatch, "SELECT "+batchCols+` FROM webhook_batches
			WHERE webhook_id = +? AND from_pos < +? ORDER BY from_pos DESC LIMIT +?`, id, below, batchesPerRead)
		if err != nil {
			return nil, err
		}
		got, err := webhook.Batched(rs, before)
		if err != nil {
			return nil, err
		}
		ds = append(ds, got...)
		if len(rs) < batchesPerRead {
			break
		}
		below = rs[len(rs)-1].From
	}
	if limit > 0 && len(ds) > limit {
		ds = ds[:limit]
	}
	return ds, withEvents(ctx, q, ds)
}

// withEvents fills in the events' ids, types and queues of batch-delivered
// ds.
func withEvents(ctx context.Context, q queryer, ds []webhook.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	byPos := make(map[int64]*webhook.Delivery, len(ds))
	args := make([]any, len(ds))
	for i := range ds {
		byPos[ds[i].Pos] = &ds[i]
		args[i] = ds[i].Pos
	}
	type ev struct {
		pos                         int64
		brand, subject, id, evtType string
	}
	evs, err := all(ctx, q, func(sc scanner) (ev, error) {
		var e ev
		return e, sc.Scan(&e.pos, &e.brand, &e.subject, &e.id, &e.evtType)
	}, "SELECT pos, brand_id, subject, event_id, type FROM events WHERE pos IN ("+
		strings.TrimSuffix(strings.Repeat("+?, ", len(ds)), ", ")+")", args...)
	if err != nil {
		return err
	}
	for _, e := range evs {
		d := byPos[e.pos]
		d.BrandID, d.Subject, d.EventID, d.EventType = e.brand, e.subject, e.id, e.evtType
	}
	return nil
}

// batchHolding returns endpoint id's batch that holds pos, if there is
// one.
func batchHolding(ctx context.Context, q queryer, id string, pos int64) (webhook.BatchRecord, bool, error) {
	r, ok, err := one(ctx, q, scanBatch, "SELECT "+batchCols+` FROM webhook_batches
		WHERE webhook_id = +? AND from_pos < +? ORDER BY from_pos DESC LIMIT 1`, id, pos)
	if err != nil || !ok || r.To < pos {
		return r, false, err
	}
	return r, true, nil
}

// batchDelivery is endpoint id's delivery of the event at pos in a batch,
// if it made one.
func batchDelivery(ctx context.Context, q queryer, id string, pos int64) (webhook.Delivery, bool, error) {
	r, ok, err := batchHolding(ctx, q, id, pos)
	if err != nil || !ok {
		return webhook.Delivery{}, false, err
	}
	ds, err := webhook.Batched([]webhook.BatchRecord{r}, pos+1)
	if err != nil || len(ds) == 0 || ds[0].Pos != pos {
		return webhook.Delivery{}, false, err
	}
	return ds[0], true, nil
}

// Redeliver makes one delivery pending again.
func (s *Store) Redeliver(ctx context.Context, id string, pos int64, now time.Time) error {
	var found bool
	err := s.writeTx(ctx, func(t *Tx) error {
		found = false
		state, ok, err := one(ctx, t.w, func(sc scanner) (string, error) {
			var st string
			return st, sc.Scan(&st)
		}, "SELECT state FROM webhook_deliveries WHERE webhook_id = +? AND pos = +?", id, pos)
		if err != nil {
			return err
		}
		if !ok {
			// Delivered in a batch: it gets a row, with that attempt, and
			// leaves the batch's record.
			r, ok, err := batchHolding(ctx, t.w, id, pos)
			if err != nil || !ok {
				return err
			}
			d, ok, err := batchDelivery(ctx, t.w, id, pos)
			if err != nil || !ok {
				return err
			}
			items, left, err := webhook.Without(r, pos)
			if err != nil {
				return err
			}
			if left == 0 {
				_, err = t.w.exec("DELETE FROM webhook_batches WHERE webhook_id = ? AND from_pos = ?", id, r.From)
			} else {
				_, err = t.w.exec("UPDATE webhook_batches SET items = ?, delivered = ? WHERE webhook_id = ? AND from_pos = ?",
					items, left, id, r.From)
			}
			if err != nil {
				return err
			}
			found = true
			if _, err := t.w.exec(`INSERT INTO webhook_deliveries (webhook_id, pos, brand_id, subject, state, attempts,
					since, next_at, lease_owner, lease_until, last_status, last_latency, last_error, done_at)
				SELECT ?, pos, brand_id, subject, 'delivered', 1, ?, 0, '', 0, ?, ?, '', ? FROM events WHERE pos = ?`,
				id, micros(d.Since), d.LastStatus, d.LastLatency.Microseconds(), micros(d.DoneAt), pos); err != nil {
				return err
			}
			if _, err := t.w.exec(sqlInsertFirstAttempt, id, pos, micros(d.Since), d.LastStatus, d.LastLatency.Microseconds(), ""); err != nil {
				return err
			}
			state = webhook.Delivered
		}
		found = true
		if state == webhook.Pending {
			// Due now, unless it waits for its queue or is being attempted.
			_, err := t.w.exec(`UPDATE webhook_deliveries SET next_at = ?3 WHERE webhook_id = ?1 AND pos = ?2
				AND next_at <> ?4 AND next_at > ?3 AND lease_until <= ?3`, id, pos, micros(now), int64(blocked))
			return err
		}
		_, err = t.w.exec(sqlRedeliver, id, pos, micros(now), int64(blocked))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: redeliver %s/%d: %w", id, pos, err)
	}
	if !found {
		return notFound("delivery %s/%d", id, pos)
	}
	return nil
}

// sqlRedeliver makes delivery (?1, ?2) pending with a retry window from
// ?3 (the window starts at its next attempt), due then unless an earlier one of its queue is pending (?4,
// blocked).
const sqlRedeliver = `UPDATE webhook_deliveries SET state = 'pending', since = 0, done_at = 0, lease_owner = '', lease_until = 0,
	next_at = CASE WHEN EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = ?1
		AND p.brand_id = webhook_deliveries.brand_id AND p.subject = webhook_deliveries.subject AND p.state = 'pending'
		AND p.pos < ?2) THEN ?4 ELSE ?3 END
	WHERE webhook_id = ?1 AND pos = ?2 AND state <> 'pending'`

// Statements of RedeliverFailed: every failed delivery of endpoint ?1
// waits (?2, blocked), its window to start at its next attempt; then the
// oldest pending of each queue is made due at ?2 (?3, blocked).
const (
	sqlRedeliverFailed = `UPDATE webhook_deliveries SET state = 'pending', since = 0, done_at = 0, lease_owner = '',
		lease_until = 0, next_at = ?2 WHERE webhook_id = ?1 AND state = 'failed'`
	sqlUnblockHeads = `UPDATE webhook_deliveries SET next_at = ?2
		WHERE webhook_id = ?1 AND state = 'pending' AND next_at = ?3 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
			WHERE p.webhook_id = ?1 AND p.brand_id = webhook_deliveries.brand_id AND p.subject = webhook_deliveries.subject
			AND p.state = 'pending' AND p.pos < webhook_deliveries.pos)`
)

// RedeliverFailed makes every failed delivery of an endpoint pending.
func (s *Store) RedeliverFailed(ctx context.Context, id string, now time.Time) (int, error) {
	var n int
	err := s.writeTx(ctx, func(t *Tx) (err error) {
		if n, err = t.w.exec(sqlRedeliverFailed, id, int64(blocked)); err != nil || n == 0 {
			return err
		}
		_, err = t.w.exec(sqlUnblockHeads, id, micros(now), int64(blocked))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: redeliver failed deliveries of webhook %q: %w", id, err)
	}
	return n, nil
}

// EventDeliveries returns one event and its deliveries, by endpoint, in
// one read transaction.
func (s *Store) EventDeliveries(ctx context.Context, brandID, eventID string) (points.Event, []webhook.Delivery, error) {
	tx, err := s.readTx(ctx)
	if err != nil {
		return points.Event{}, nil, err
	}
	defer tx.Rollback()
	ev, ok, err := one(ctx, tx, scanEvent, "SELECT "+eventCols+" FROM events WHERE brand_id = +? AND event_id = +?", brandID, eventID)
	if err != nil {
		return ev, nil, fmt.Errorf("sqlite: event %s/%s: %w", brandID, eventID, err)
	}
	if !ok {
		return ev, nil, notFound("event %s/%s", brandID, eventID)
	}
	ds, err := all(ctx, tx, scanDelivery, "SELECT "+deliveryCols+` FROM webhook_deliveries d JOIN events e ON e.pos = d.pos
		WHERE d.pos = +? ORDER BY d.webhook_id`, ev.Pos)
	if err != nil {
		return ev, nil, fmt.Errorf("sqlite: deliveries of event %s/%s: %w", brandID, eventID, err)
	}
	// The endpoints without a row for it may have delivered it in a batch.
	ids, err := all(ctx, tx, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, "SELECT webhook_id FROM webhooks ORDER BY webhook_id")
	if err != nil {
		return ev, nil, fmt.Errorf("sqlite: deliveries of event %s/%s: %w", brandID, eventID, err)
	}
	var rs []webhook.BatchRecord
	for _, id := range ids {
		r, ok, err := batchHolding(ctx, tx, id, ev.Pos)
		if err != nil {
			return ev, nil, fmt.Errorf("sqlite: batch deliveries of event %s/%s: %w", brandID, eventID, err)
		}
		if ok {
			rs = append(rs, r)
		}
	}
	if ds, err = webhook.EventBatched(ev, ds, rs); err != nil {
		return ev, nil, fmt.Errorf("sqlite: batch deliveries of event %s/%s: %w", brandID, eventID, err)
	}
	return ev, ds, nil
}
