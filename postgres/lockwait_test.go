package postgres

import (
	"context"
	"testing"
	"time"

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
