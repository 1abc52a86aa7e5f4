package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"jifen/ledger"
	"jifen/points"
)

func TestRetryable(t *testing.T) {
	t.Parallel()
	pg := func(code, constraint string) error {
		return fmt.Errorf("postgres: insert x: %w", &pgconn.PgError{Code: code, ConstraintName: constraint})
	}
	cases := []struct {
		err  error
		want bool
	}{
		{pg("40001", ""), true},
		{pg("40P01", ""), true},
		{pg("23505", "idempotency_pkey"), true},
		{pg("23505", "reversals_pkey"), true},
		{pg("23505", "accounts_pkey"), true},
		{pg("23505", "flows_pkey"), false}, // ids are never reused: a bug, not a race
		{pg("23514", "lots_remaining"), false},
		{pg("57014", ""), false},
		{fmt.Errorf("postgres: update: %w", points.ErrConflict), true},
		{ledger.Business(ledger.CodePointNotEnough, "", "no"), false},
		{errors.New("other"), false},
	}
	for _, c := range cases {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if !transient(pg("57014", "")) || !transient(pg("08006", "")) || transient(pg("23514", "")) || transient(errors.New("x")) {
		t.Error("transient misclassifies statement timeouts, connection failures or constraint violations")
	}
}

func TestWrite_BusinessErrorUnchanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f := mustFixture(t, s)
	want := ledger.Business(ledger.CodePointNotEnough, "积分不足", "no")
	calls := 0
	err := s.Write(ctx, func(tx points.Tx) error {
		calls++
		if err := chargeIn(ctx, tx, f.brand, "C1", 10, ts(0)); err != nil {
			return err
		}
		return want
	})
	if err != want || calls != 1 {
		t.Fatalf("Write = %v after %d calls; want the business error itself after one", err, calls)
	}
	if _, err := s.Account(ctx, "B1", "C1"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("the failed write's account was stored: %v", err)
	}
}

func TestWrite_Exhausted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	calls := 0
	err := s.Write(ctx, func(tx points.Tx) error {
		calls++
		if _, err := tx.App(ctx, "x"); !errors.Is(err, points.ErrNotFound) {
			return err
		}
		return fmt.Errorf("always: %w", points.ErrConflict)
	})
	e, ok := ledger.AsError(err)
	if !ok || e.Kind != ledger.KindUnavailable || !errors.Is(err, points.ErrConflict) {
		t.Fatalf("Write = %v, want KindUnavailable wrapping the conflict", err)
	}
	if calls != maxAttempts {
		t.Errorf("fn ran %d times, want %d", calls, maxAttempts)
	}
	if n := s.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired", n)
	}
}

// TestWrite_SerializationFailure forces a real 40001: the write's
// transaction reads a row at REPEATABLE READ, another commits a change to
// it, and the write's update of it fails. Write runs fn again and it
// succeeds.
func TestWrite_SerializationFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f := mustFixture(t, s)
	calls := 0
	err := s.Write(ctx, func(tx points.Tx) error {
		calls++
		if err := exec(ctx, tx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			return err
		}
		if _, err := tx.Customer(ctx, "C1"); err != nil { // takes the snapshot
			return err
		}
		if calls == 1 {
			mustExec(t, s, "UPDATE customers SET name = 'changed' WHERE customer_id = 'C1'")
		}
		return exec(ctx, tx, "UPDATE customers SET remark = 'mine' WHERE customer_id = 'C1'")
	})
	if err != nil || calls != 2 {
		t.Fatalf("Write = %v after %d calls; want success on the second", err, calls)
	}
	c, err := s.Customer(ctx, f.customer.ID)
	if err != nil || c.Name != "changed" || c.Remark != "mine" {
		t.Errorf("customer = %+v, %v; want both updates", c, err)
	}
}

// TestWrite_Deadlock: two writes lock two accounts in opposite orders;
// the database breaks the deadlock by failing one, which runs again.
func TestWrite_Deadlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f := mustFixture(t, s)
	for _, c := range []string{"C1", "C2"} {
		mustWrite(t, s, func(tx points.Tx) error { return chargeIn(ctx, tx, f.brand, c, 1, ts(0)) })
	}
	var first sync.WaitGroup
	first.Add(2)
	var calls atomic.Int32
	write := func(a, b string) error {
		once := true
		return s.Write(ctx, func(tx points.Tx) error {
			calls.Add(1)
			if _, err := tx.(*Tx).Account(ctx, "B1", a); err != nil {
				return err
			}
			if once {
				once = false
				first.Done()
				first.Wait() // both hold their first lock
			}
			return chargeIn(ctx, tx, f.brand, b, 1, ts(1))
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- write("C1", "C2") }()
	go func() { errs <- write("C2", "C1") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Write: %v", err)
		}
	}
	if n := calls.Load(); n < 3 {
		t.Errorf("fn ran %d times; a deadlock should have made one run again", n)
	}
	for _, c := range []string{"C1", "C2"} {
		if a, err := s.Account(ctx, "B1", c); err != nil || a.Available != 2 {
			t.Errorf("account %s = %+v, %v; want 2 available", c, a, err)
		}
	}
	mustVerify(t, s)
}

// TestWrite_SameAccountConcurrently: 32 writers charge one account that
// does not exist yet. The first creates it, the others conflict on its
// primary key and run again, then take turns on its row lock.
func TestWrite_SameAccountConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f := mustFixture(t, s)
	const writers, each = 32, 5
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				err := s.Write(ctx, func(tx points.Tx) error {
					return chargeIn(ctx, tx, f.brand, "C1", int64(1+i%3), ts(i*each+j))
				})
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var want int64
	for i := range writers {
		want += int64(1+i%3) * each
	}
	a, err := s.Account(ctx, "B1", "C1")
	if err != nil || a.Available != want || a.Seq != writers*each || a.Version != writers*each {
		t.Errorf("account = %+v, %v; want %d available over %d flows", a, err, want, writers*each)
	}
	mustVerify(t, s)
}

// TestWrite_DuplicateIdempotency: two writes of one request both read its
// key as absent; the second to commit fails on the primary key, runs
// again, and finds the first's record.
func TestWrite_DuplicateIdempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	bothRead := make(chan struct{})
	firstDone := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { readers.Wait(); close(bothRead) }()
	put := func(tx points.Tx, result string) error {
		return tx.(*Tx).PutIdempotency(ctx, ledger.Idempotency{BrandID: "B1", AppKey: "pos", RequestID: "r1", Method: "m", Result: result, CreatedAt: ts(0)})
	}
	errs := make(chan error, 1)
	go func() {
		calls := 0
		errs <- s.Write(ctx, func(tx points.Tx) error {
			calls++
			if _, err := tx.(*Tx).Idempotency(ctx, "B1", "pos", "r1"); !errors.Is(err, points.ErrNotFound) {
				return fmt.Errorf("first writer saw %v", err)
			}
			if calls == 1 {
				readers.Done()
				<-bothRead
			}
			return put(tx, "first")
		})
		close(firstDone)
	}()
	var seen []string
	err := s.Write(ctx, func(tx points.Tx) error {
		rec, err := tx.(*Tx).Idempotency(ctx, "B1", "pos", "r1")
		switch {
		case err == nil:
			seen = append(seen, rec.Result)
			return nil // a replay
		case !errors.Is(err, points.ErrNotFound):
			return err
		}
		seen = append(seen, "absent")
		if len(seen) == 1 {
			readers.Done()
			<-firstDone // commit after the first
		}
		return put(tx, "second")
	})
	if err != nil {
		t.Fatalf("second Write: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("first Write: %v", err)
	}
	if fmt.Sprint(seen) != "[absent first]" {
		t.Errorf("the second write saw %v; want absent, then the first's record", seen)
	}
}

func TestWrite_StatementTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTestWith(t, Options{MaxConns: 2, Migrate: true, StatementTimeout: 100 * time.Millisecond})
	err := s.Write(ctx, func(tx points.Tx) error { return exec(ctx, tx, "SELECT pg_sleep(2)") })
	if e, ok := ledger.AsError(err); !ok || e.Kind != ledger.KindUnavailable {
		t.Fatalf("Write of a statement that times out = %v, want KindUnavailable", err)
	}
	_, _, err = s.Flows(ctx, points.FlowQuery{})
	if err != nil {
		t.Fatalf("the store is unusable after a timeout: %v", err)
	}
}

func TestWrite_TxAfterReturn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	var kept points.Tx
	mustWrite(t, s, func(tx points.Tx) error {
		kept = tx
		_, err := tx.Rule(ctx, "B1")
		if errors.Is(err, points.ErrNotFound) {
			err = nil
		}
		return err
	})
	if _, err := kept.Rule(ctx, "B1"); !errors.Is(err, errTxDone) {
		t.Errorf("Tx used after its write: %v, want errTxDone", err)
	}
	if err := kept.PutApp(ctx, ledger.App{Key: "k"}); !errors.Is(err, errTxDone) {
		t.Errorf("Tx.PutApp after its write: %v, want errTxDone", err)
	}
}

func TestWrite_PanicReleases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f := mustFixture(t, s)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not propagate")
			}
		}()
		_ = s.Write(ctx, func(tx points.Tx) error {
			if err := chargeIn(ctx, tx, f.brand, "C1", 10, ts(0)); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if n := s.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired", n)
	}
	if _, err := s.Account(ctx, "B1", "C1"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("the panicking write's account was stored: %v", err)
	}
}

// TestWrite_CustomerCreationTakesTurns: creations of one outer id with
// different request ids cannot both see it absent.
func TestWrite_CustomerCreationTakesTurns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	mustFixture(t, s)
	svc := points.New(s, nil, nil)
	mustWrite(t, s, func(tx points.Tx) error {
		return tx.PutApp(ctx, ledger.App{Key: "pos", Active: true, Channels: []string{"*"}, Brands: []string{"B1"}})
	})
	app, err := s.App(ctx, "pos")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var created, exists atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.CreateCustomer(ctx, points.Caller{App: app}, points.CreateCustomerRequest{
				Target: points.Target{BrandID: "B1"}, RequestID: fmt.Sprintf("req-%d", i),
				Customer: ledger.Customer{Channel: "KRY", CustomerType: 1, OuterType: "wechat", OuterID: "wx-1", Name: "赵六"}})
			switch {
			case err == nil:
				created.Add(1)
			case ledger.IsCode(err, ledger.CodeCustomerExists):
				exists.Add(1)
			default:
				t.Errorf("create %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || exists.Load() != n-1 {
		t.Errorf("%d created, %d told it exists; want 1 and %d", created.Load(), exists.Load(), n-1)
	}
}
