package postgres

import (
	"context"
	"testing"
	"time"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
	"jifen/storetest"
)

// TestWrite_RuleReadAfterTheLock: a payment that waited for its member's
// account while an operator replaced the brand's rule is decided on the
// new rule — READ COMMITTED reads what is committed when each statement
// runs, so the rule must be read after the lock is granted.
func TestWrite_RuleReadAfterTheLock(t *testing.T) {
	t.Parallel()
	var s *Store
	e := storetest.NewEnv(t, func(t testing.TB) storetest.Store { s = OpenTest(t); return s })
	ctx := e.Ctx
	brand, err := s.Brand(ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	rule := func(enable bool) points.Tenant {
		return points.Tenant{Brands: []points.TenantBrand{{Brand: brand, Rule: &ledger.Rule{Name: "r",
			Clear:     ledger.ClearRule{Type: ledger.ClearNever},
			Deduction: []ledger.DeductionRule{{LevelID: "L1", DeductedPoint: 100, ConsumeMoney: 100, Enable: enable}}}}}}
	}
	if _, err := e.Svc.Apply(ctx, rule(true)); err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g1", 1000)

	// Another write holds C1's account.
	holder, release := holdAccount(t, s)
	paid := make(chan error, 1)
	go func() {
		_, err := e.Svc.Consume(ctx, e.Caller, e.Order("o1", 10))
		paid <- err
	}()
	// The payment waits for the lock…
	deadline := time.Now().Add(10 * time.Second)
	for waitingFor(t, s, holder) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the payment never waited for the account's lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// …while an operator (another server) turns paying with points off.
	if _, err := points.New(s, e.Clock, nil).Apply(ctx, rule(false)); err != nil {
		t.Fatal(err)
	}
	release()
	storetest.WantCode(t, <-paid, ledger.CodeDeductionDisabled)
}

// TestWrite_CancelledWhileWaitingFreesTheBackend: a request given up while
// its statement waits for a lock (the client went away, a deadline) stops
// waiting in PostgreSQL too, rather than leaving a backend queued for the
// lock — holding whatever it had locked before — until the lock is free.
func TestWrite_CancelledWhileWaitingFreesTheBackend(t *testing.T) {
	t.Parallel()
	var s *Store
	e := storetest.NewEnv(t, func(t testing.TB) storetest.Store { s = OpenTest(t); return s })
	ctx := e.Ctx
	e.MustCharge("C1", "g1", 100)
	holder, release := holdAccount(t, s)
	defer release()
	waitCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := e.Svc.Consume(waitCtx, e.Caller, e.Order("o1", 10))
	if err == nil {
		t.Fatal("a payment waiting for a held account succeeded")
	}
	deadline := time.Now().Add(3 * time.Second)
	for waitingFor(t, s, holder) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the given-up payment still waits for the lock in PostgreSQL")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdAccount locks B1/C1's account in a write of its own until release
// is called (which also waits for that write to end), and returns the
// backend that holds the lock.
func holdAccount(t *testing.T, s *Store) (holder uint32, release func()) {
	t.Helper()
	ctx := context.Background()
	locked, done, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- s.Write(ctx, func(tx points.Tx) error {
			if _, err := tx.(*Tx).Account(ctx, "B1", "C1"); err != nil {
				return err
			}
			holder = tx.(*Tx).conn.Conn().PgConn().PID()
			close(locked)
			<-done
			return nil
		})
	}()
	<-locked
	return holder, func() {
		close(done)
		if err := <-held; err != nil {
			t.Error(err)
		}
	}
}

// waitingFor counts the backends waiting for a lock that holder holds.
func waitingFor(t *testing.T, s *Store, holder uint32) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT COUNT(*) FROM pg_stat_activity
		WHERE $1::int = ANY(pg_blocking_pids(pid))`, int32(holder)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPreview_RefundStoredWhileWaiting: an operator previews a refund
// while another server is storing that very refund (same reverse_order_id,
// order and amount). The preview's Lookup, without locks, does not see it
// yet; its LoadAccount waits for the member's account and then does. The
// preview says what the write would: a replay of the stored refund.
func TestPreview_RefundStoredWhileWaiting(t *testing.T) {
	t.Parallel()
	var s *Store
	e := storetest.NewEnv(t, func(t testing.TB) storetest.Store { s = OpenTest(t); return s })
	ctx := e.Ctx
	e.MustCharge("C1", "g1", 200)
	e.MustConsume("C1", "o1", 100)

	// Another server's refund r-1, held open once applied: it holds C1's
	// account and is not committed yet.
	p := &pausingStore{Store: s, applied: make(chan uint32, 1), resume: make(chan struct{})}
	refunded := make(chan points.Outcome, 1)
	go func() {
		out, err := points.New(p, e.Clock, nil).Reverse(ctx, e.Caller, e.Reverse("o1", "r-1", storetest.P(30)))
		if err != nil {
			t.Error(err)
		}
		refunded <- out
	}()
	holder := <-p.applied
	type answer struct {
		p   backoffice.ReversalPreview
		err error
	}
	previewed := make(chan answer, 1)
	go func() {
		pv, err := e.Admin().PreviewReversal(ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", ShopID: "S1",
			Points: storetest.P(30), ReverseOrderID: "r-1"})
		previewed <- answer{pv, err}
	}()
	// The preview has looked for r-1, found nothing, and waits for the lock…
	deadline := time.Now().Add(10 * time.Second)
	for waitingFor(t, s, holder) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the preview never waited for the account's lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// …while the refund commits.
	close(p.resume)
	out := <-refunded
	got := <-previewed
	if got.err != nil {
		t.Fatalf("preview: %v", got.err)
	}
	if got.p.Replay == nil || got.p.Replay.FlowID != out.FlowID || got.p.Points != 30 || got.p.CustomerID != "C1" {
		t.Fatalf("preview %+v, want a replay of flow %s (30 points of C1)", got.p, out.FlowID)
	}
}

// pausingStore is a Store whose writes, once they have applied their
// changes (the account locked, nothing committed), send their backend on
// applied and wait for resume to be closed before they commit.
type pausingStore struct {
	*Store
	applied chan uint32
	resume  chan struct{}
}

func (p *pausingStore) Write(ctx context.Context, fn func(points.Tx) error) error {
	return p.Store.Write(ctx, func(tx points.Tx) error { return fn(pausingTx{tx, p}) })
}

type pausingTx struct {
	points.Tx
	p *pausingStore
}

func (t pausingTx) Apply(ctx context.Context, c ledger.Changes, rec *ledger.Idempotency) error {
	if err := t.Tx.Apply(ctx, c, rec); err != nil {
		return err
	}
	t.p.applied <- t.Tx.(*Tx).conn.Conn().PgConn().PID()
	<-t.p.resume
	return nil
}
