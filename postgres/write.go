package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"jifen/ledger"
	"jifen/points"
)

// Transactions.
//
// A write is a READ COMMITTED transaction. That is enough because every
// write that changes an account first locks the account's row (LoadAccount:
// SELECT … FOR UPDATE) and only then reads its lots, order and
// allocations; in READ COMMITTED each of those later statements sees
// everything committed before the lock was granted, so two writes of one
// account run one after the other on fresh data, never on a stale
// snapshot. (Under REPEATABLE READ the second would instead fail with a
// serialization error and run again.) Rows read before the lock — the
// idempotency record, a reversal, the order's customers — are guarded by
// primary keys: a concurrent duplicate inserts the same key, fails with a
// unique violation, and the write runs again, finding what the first one
// stored. A missing account cannot be locked; there the primary key of
// accounts serializes: of two writes creating one account, the second
// fails on it and runs again against the account the first created.
//
// Round trips: a ledger write's Lookup goes alone, before the transaction;
// LoadAccount sends BEGIN, the lock and every read in one batch; Apply and
// the Put… methods are queued and travel with COMMIT (see ledgertx.go).

// maxAttempts bounds how often Write runs fn for one call.
const maxAttempts = 10

// Backoff between attempts: full jitter over an exponential ceiling.
const (
	backoffBase = 2 * time.Millisecond
	backoffMax  = 250 * time.Millisecond
)

// Write runs fn in a transaction and commits it. fn runs again, in a
// fresh transaction, after a serialization failure, a deadlock, a unique
// violation of a row fn read as absent, or points.ErrConflict — up to 10
// times with jittered exponential backoff, after which the error is
// KindUnavailable. An error of fn's own (a business outcome, bad input)
// rolls back and is returned unchanged. A failure to reach the database or
// a timeout is KindUnavailable.
//
// With Options.Timeout, the write as a whole — every attempt, connecting
// and waiting for a pooled connection included — ends after it with a
// KindUnavailable error. An error of the connection or a timeout at
// COMMIT leaves the outcome unknown: it is KindUnavailable as well, and
// the caller's retry replays or executes (see the package documentation).
func (s *Store) Write(ctx context.Context, fn func(points.Tx) error) error {
	ctx, deadline, cancel := bounded(ctx, s.timeout)
	defer cancel()
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			s.noteRetry(err)
			ceiling := min(backoffMax, backoffBase<<(attempt-1))
			t := time.NewTimer(rand.N(ceiling) + time.Microsecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return timedOut(s.timeout, deadline, errors.Join(ctx.Err(), err))
			case <-t.C:
			}
		}
		err = s.writeOnce(ctx, deadline, fn)
		if err == nil {
			return nil
		}
		if _, ok := ledger.AsError(err); ok {
			return s.noteError(err)
		}
		if !retryable(err) {
			return s.noteError(timedOut(s.timeout, deadline, unavailable(err)))
		}
	}
	return s.noteError(fmt.Errorf("%w: %w", ledger.Unavailable("the write met concurrent writes %d times; retry", maxAttempts), err))
}

// errTimedOut is the cause of a write's or a read's context ending at
// Options.Timeout.
var errTimedOut = errors.New("postgres: the time to wait for the database ran out")

// bounded is ctx ending after d (if positive), with that deadline.
func bounded(ctx context.Context, d time.Duration) (context.Context, time.Time, context.CancelFunc) {
	if d <= 0 {
		return ctx, time.Time{}, func() {}
	}
	deadline := time.Now().Add(d)
	ctx, cancel := context.WithDeadlineCause(ctx, deadline, errTimedOut)
	return ctx, deadline, cancel
}

// timedOut makes err, which ended a write or a read bounded by d, a
// KindUnavailable error naming d when its deadline has passed.
func timedOut(d time.Duration, deadline time.Time, err error) error {
	if _, ok := ledger.AsError(err); ok || deadline.IsZero() || time.Now().Before(deadline) {
		return err
	}
	return fmt.Errorf("%w: %w", ledger.Unavailable("the database did not answer within %s; retry", d), err)
}

// retryableKeys are the unique constraints of rows a write reads as absent
// and then inserts: violating one means a concurrent write inserted the
// row first, and running the write again finds it.
var retryableKeys = map[string]bool{
	"idempotency_pkey": true,
	"reversals_pkey":   true,
	"accounts_pkey":    true,
	"orders_pkey":      true,
	"holds_pkey":       true,
	"rules_pkey":       true,
}

// retryable reports whether running the whole write again may succeed.
func retryable(err error) bool {
	if errors.Is(err, points.ErrConflict) {
		return true
	}
	pe := pgError(err)
	if pe == nil {
		return false
	}
	switch pe.Code {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	case codeUniqueViolation:
		return retryableKeys[pe.ConstraintName]
	}
	return false
}

// writeOnce runs fn in one transaction.
func (s *Store) writeOnce(ctx context.Context, deadline time.Time, fn func(points.Tx) error) (err error) {
	t := &Tx{s: s, deadline: deadline}
	defer t.end(ctx)
	if err := fn(t); err != nil {
		return err
	}
	return t.commit(ctx)
}

// Tx is one attempt of a write. It holds a pooled connection from its
// first statement to its end. A Tx is valid only during the fn it was
// given to, on fn's goroutine.
type Tx struct {
	s    *Store
	conn *pgxpool.Conn
	// deadline, if set, bounds every wait of the write (Options.Timeout),
	// whatever context fn passes its calls.
	deadline time.Time
	begun    bool // BEGIN has been sent
	done     bool
	// failed is the first statement error of the write: a write that
	// carries on past one (fn ignored it) cannot commit.
	failed error

	// pending are writes not yet sent: they go with the next statement
	// that needs an answer, or with COMMIT.
	pending []*pgx.QueuedQuery
	// absent is the idempotency key this write read as absent, checked
	// again once the write holds a lock it may have waited for.
	absent *[3]string
}

var errTxDone = errors.New("postgres: Tx used after its write returned")

const beginSQL = "BEGIN ISOLATION LEVEL READ COMMITTED"

// send runs qs after whatever is pending, beginning the transaction with
// them if need be, in one round trip.
func (t *Tx) send(ctx context.Context, qs ...*pgx.QueuedQuery) error {
	if t.done {
		return errTxDone
	}
	if err := t.acquire(ctx); err != nil {
		return err
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, 1+len(t.pending)+len(qs))}
	if !t.begun {
		b.Queue(beginSQL)
		t.begun = true
	}
	b.QueuedQueries = append(b.QueuedQueries, t.pending...)
	b.QueuedQueries = append(b.QueuedQueries, qs...)
	t.pending = nil
	ctx, cancel := t.bound(ctx)
	defer cancel()
	err := t.conn.SendBatch(ctx, b).Close()
	if err != nil && t.failed == nil {
		t.failed = err
	}
	return err
}

// acquire takes the write's connection from the pool, once.
func (t *Tx) acquire(ctx context.Context) error {
	if t.conn != nil {
		return nil
	}
	ctx, cancel := t.bound(ctx)
	defer cancel()
	c, err := t.s.pool.Acquire(ctx)
	if err != nil {
		t.failed = fmt.Errorf("postgres: acquire a connection: %w", err)
		return t.failed
	}
	t.conn = c
	return nil
}

// bound is ctx ending at the write's deadline too, if it has one.
func (t *Tx) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.deadline.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadlineCause(ctx, t.deadline, errTimedOut)
}

// sendAlone runs qs in one round trip outside the transaction if none has
// begun and nothing is pending; else as send does.
func (t *Tx) sendAlone(ctx context.Context, qs ...*pgx.QueuedQuery) error {
	if t.begun || len(t.pending) > 0 {
		return t.send(ctx, qs...)
	}
	if t.done {
		return errTxDone
	}
	if err := t.acquire(ctx); err != nil {
		return err
	}
	ctx, cancel := t.bound(ctx)
	defer cancel()
	err := t.conn.SendBatch(ctx, &pgx.Batch{QueuedQueries: qs}).Close()
	if err != nil && t.failed == nil {
		t.failed = err
	}
	return err
}

// queue defers a write to the next round trip.
func (t *Tx) queue(qq *pgx.QueuedQuery) error {
	if t.done {
		return errTxDone
	}
	t.pending = append(t.pending, qq)
	return nil
}

var errRolledBack = errors.New("postgres: the transaction was rolled back at commit (an earlier statement failed)")

func (t *Tx) commit(ctx context.Context) error {
	if t.failed != nil {
		t.done = true
		return fmt.Errorf("postgres: not committing after a failed statement: %w", t.failed)
	}
	if !t.begun && len(t.pending) == 0 {
		t.done = true
		return nil // fn wrote nothing and read nothing
	}
	err := t.send(ctx, execQuery(failedTo("commit"), func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return errRolledBack
		}
		return nil
	}, "COMMIT"))
	t.done = true
	return err
}

// end rolls back what was not committed and returns the connection to
// the pool. A connection left in a transaction (the rollback failed) is
// closed by the pool rather than reused.
func (t *Tx) end(ctx context.Context) {
	t.done = true
	if t.conn == nil {
		return
	}
	if t.conn.Conn().PgConn().TxStatus() != 'I' && !t.conn.Conn().IsClosed() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = t.conn.Exec(rctx, "ROLLBACK") // on failure the pool discards the connection
		cancel()
	}
	t.conn.Release()
	t.conn = nil
}
