package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// batches records the size of every committed batch.
type batches struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batches) onCommit(n int, _, _ time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, n)
}

func (b *batches) last() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sizes) == 0 {
		return 0
	}
	return b.sizes[len(b.sizes)-1]
}

// openRecording opens a store whose batch sizes are recorded.
func openRecording(t *testing.T) (*Store, *batches) {
	t.Helper()
	b := &batches{}
	s := MustOpenAt(t, filepath.Join(t.TempDir(), "jifen.db"), Options{OnCommit: b.onCommit})
	mustFixture(t, s)
	return s, b
}

// block occupies the writer with a write that waits for release, so that
// the writes queued meanwhile form the next batch together.
func block(t *testing.T, s *Store) (release func(), done <-chan error) {
	t.Helper()
	started, rel, out := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var once sync.Once
	go func() {
		out <- s.Write(context.Background(), func(points.Tx) error {
			once.Do(func() { close(started) })
			<-rel
			return nil
		})
	}()
	<-started
	return sync.OnceFunc(func() { close(rel) }), out
}

// waitQueued waits until n writes are queued behind the running one.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.w.mu.Lock()
		q := len(s.w.queue)
		s.w.mu.Unlock()
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// goWrite starts a write and returns where its answer arrives.
func goWrite(s *Store, fn func(points.Tx) error) <-chan error {
	out := make(chan error, 1)
	go func() { out <- s.Write(context.Background(), fn) }()
	return out
}

func putCustomer(id string) func(points.Tx) error {
	return func(tx points.Tx) error {
		return tx.PutCustomer(context.Background(), ledger.Customer{ID: id, BrandID: "B1", CreatedAt: ts(0)})
	}
}

func customerExists(t *testing.T, s *Store, id string) bool {
	t.Helper()
	_, err := s.Customer(context.Background(), id)
	if err != nil && !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("Customer(%s): %v", id, err)
	}
	return err == nil
}

func TestWrite_Concurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jifen.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	mustFixture(t, s)
	const n = 200
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs <- s.Write(ctx, putCustomer(fmt.Sprintf("G%03d", i))) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Write: %v", err)
		}
	}
	st := s.Stats()
	t.Logf("%d writes in %d commits", st.Requests, st.Batches)
	if st.Requests != n+1 || st.FnErrors != 0 || st.CommitErrors != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = MustOpenAt(t, path, Options{})
	var count int
	if err := s.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM customers WHERE customer_id LIKE 'G%'").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Errorf("%d customers after reopen, want %d", count, n)
	}
}

func TestWrite_Batch(t *testing.T) {
	errBusiness := ledger.Business(ledger.CodePointNotEnough, "积分不足", "not enough")
	for _, tc := range []struct {
		name  string
		fail  func(points.Tx) error
		check func(t *testing.T, err error)
		aRuns int32 // how often the batch-mate before the failure runs
	}{
		{"fn error before writing", func(tx points.Tx) error {
			if _, err := tx.Customer(context.Background(), "A"); err != nil {
				return err
			}
			return errBusiness
		}, func(t *testing.T, err error) {
			if err != errBusiness {
				t.Errorf("failing Write: %v, want fn's error", err)
			}
		}, 1},
		{"fn error after writing", func(tx points.Tx) error {
			if err := putCustomer("BAD")(tx); err != nil {
				return err
			}
			return errBusiness
		}, func(t *testing.T, err error) {
			if err != errBusiness {
				t.Errorf("failing Write: %v, want fn's error", err)
			}
		}, 2},
		{"fn panic after writing", func(tx points.Tx) error {
			if err := putCustomer("BAD")(tx); err != nil {
				return err
			}
			panic("boom")
		}, func(t *testing.T, err error) {
			var pe *PanicError
			if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
				t.Errorf("panicking Write: %v, want a PanicError", err)
			}
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := openRecording(t)
			release, blocked := block(t, s)
			var aRuns atomic.Int32
			a := goWrite(s, func(tx points.Tx) error { aRuns.Add(1); return putCustomer("A")(tx) })
			waitQueued(t, s, 1)
			var bRuns, cRuns atomic.Int32
			b := goWrite(s, func(tx points.Tx) error { bRuns.Add(1); return tc.fail(tx) })
			waitQueued(t, s, 2)
			c := goWrite(s, func(tx points.Tx) error {
				cRuns.Add(1)
				// A batch-mate's writes are visible.
				if _, err := tx.Customer(context.Background(), "A"); err != nil {
					return fmt.Errorf("batch-mate's customer: %w", err)
				}
				if _, err := tx.Customer(context.Background(), "BAD"); !errors.Is(err, points.ErrNotFound) {
					return fmt.Errorf("failed batch-mate's customer: %v", err)
				}
				return putCustomer("C")(tx)
			})
			waitQueued(t, s, 3)
			release()
			if err := <-blocked; err != nil {
				t.Fatal(err)
			}
			if err := <-a; err != nil {
				t.Errorf("Write A: %v", err)
			}
			tc.check(t, <-b)
			if err := <-c; err != nil {
				t.Errorf("Write C: %v", err)
			}
			if got := rec.last(); got != 3 {
				t.Errorf("last batch ran %d writes, want 3", got)
			}
			if !customerExists(t, s, "A") || !customerExists(t, s, "C") || customerExists(t, s, "BAD") {
				t.Error("want A and C stored, BAD not")
			}
			// A failure before any write undoes nothing; one after a
			// write rolls the batch back and runs it again in savepoints.
			if got := aRuns.Load(); got != tc.aRuns {
				t.Errorf("batch-mate A ran %d times, want %d", got, tc.aRuns)
			}
			if got := bRuns.Load(); got != tc.aRuns {
				t.Errorf("failing B ran %d times, want %d", got, tc.aRuns)
			}
			if got := cRuns.Load(); got != 1 {
				t.Errorf("batch-mate C (after the failure) ran %d times, want 1", got)
			}
			// The writer lives on.
			MustWrite(t, s, putCustomer("D"))
		})
	}
}

func TestWrite_Cancel(t *testing.T) {
	t.Run("before its turn", func(t *testing.T) {
		s, _ := openRecording(t)
		release, blocked := block(t, s)
		defer release()
		ctx, cancel := context.WithCancel(context.Background())
		var ran atomic.Bool
		out := make(chan error, 1)
		go func() {
			out <- s.Write(ctx, func(tx points.Tx) error { ran.Store(true); return putCustomer("X")(tx) })
		}()
		waitQueued(t, s, 1)
		cancel()
		if err := <-out; !errors.Is(err, context.Canceled) {
			t.Errorf("Write: %v, want context.Canceled", err)
		}
		release()
		if err := <-blocked; err != nil {
			t.Fatal(err)
		}
		MustWrite(t, s, putCustomer("Y")) // after the cancelled one's turn
		if ran.Load() || customerExists(t, s, "X") {
			t.Error("a cancelled write ran")
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		s := MustOpen(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Write(ctx, func(points.Tx) error { t.Error("fn ran"); return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Write: %v, want context.Canceled", err)
		}
	})
	t.Run("while running", func(t *testing.T) {
		s, _ := openRecording(t)
		ctx, cancel := context.WithCancel(context.Background())
		err := s.Write(ctx, func(tx points.Tx) error {
			cancel()
			return putCustomer("X")(tx)
		})
		if err != nil {
			t.Errorf("Write: %v, want it to complete", err)
		}
		if !customerExists(t, s, "X") {
			t.Error("the write was not stored")
		}
	})
}

func TestWrite_CommitFails(t *testing.T) {
	s, rec := openRecording(t)
	// A deferred foreign key is checked at COMMIT: a way to make one fail.
	MustWrite(t, s, func(tx points.Tx) error {
		return exec(tx, `CREATE TABLE deferred_ref (brand_id TEXT REFERENCES brands (brand_id)
			DEFERRABLE INITIALLY DEFERRED)`)
	})
	release, blocked := block(t, s)
	a := goWrite(s, putCustomer("A"))
	waitQueued(t, s, 1)
	b := goWrite(s, func(tx points.Tx) error { return exec(tx, "INSERT INTO deferred_ref VALUES ('nobrand')") })
	waitQueued(t, s, 2)
	c := goWrite(s, func(tx points.Tx) error { return errors.New("c fails on its own") })
	waitQueued(t, s, 3)
	before := rec.last()
	release()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan error{"A": a, "B": b, "C": c} {
		err := <-ch
		if e, ok := ledger.AsError(err); !ok || e.Kind != ledger.KindUnavailable {
			t.Errorf("Write %s: %v, want KindUnavailable", name, err)
		}
	}
	if customerExists(t, s, "A") {
		t.Error("a write of the failed commit was stored")
	}
	if st := s.Stats(); st.CommitErrors != 1 {
		t.Errorf("Stats = %+v, want one commit error", st)
	}
	if got := rec.last(); got != before {
		t.Errorf("OnCommit saw the failed batch")
	}
	MustWrite(t, s, putCustomer("D"))
	if !customerExists(t, s, "D") {
		t.Error("the writer did not recover")
	}
}

// SQLite itself rolls back the whole transaction on some errors (here a
// trigger's RAISE(ROLLBACK); in production a full disk): the batch-mates
// that ran before are run again, those after are unaffected.
func TestWrite_TransactionLost(t *testing.T) {
	for _, swallow := range []bool{false, true} {
		t.Run(fmt.Sprintf("fn swallows the error: %v", swallow), func(t *testing.T) {
			s, _ := openRecording(t)
			MustWrite(t, s, func(tx points.Tx) error {
				if err := exec(tx, "CREATE TABLE boom (x INTEGER)"); err != nil {
					return err
				}
				return exec(tx, "CREATE TRIGGER boom_rollback BEFORE INSERT ON boom BEGIN SELECT RAISE(ROLLBACK, 'boom'); END")
			})
			release, blocked := block(t, s)
			var runsA atomic.Int32
			a := goWrite(s, func(tx points.Tx) error { runsA.Add(1); return putCustomer("A")(tx) })
			waitQueued(t, s, 1)
			b := goWrite(s, func(tx points.Tx) error {
				err := exec(tx, "INSERT INTO boom VALUES (1)")
				if !swallow {
					return err
				}
				// A careless fn goes on writing: nothing more may run in
				// the lost transaction, nor commit on its own.
				_ = putCustomer("B")(tx)
				return nil
			})
			waitQueued(t, s, 2)
			c := goWrite(s, putCustomer("C"))
			waitQueued(t, s, 3)
			release()
			if err := <-blocked; err != nil {
				t.Fatal(err)
			}
			if err := <-a; err != nil {
				t.Errorf("Write A: %v", err)
			}
			if err := <-b; func() bool { e, ok := ledger.AsError(err); return !ok || e.Kind != ledger.KindUnavailable }() {
				t.Errorf("Write B: %v, want KindUnavailable", err)
			}
			if err := <-c; err != nil {
				t.Errorf("Write C: %v", err)
			}
			if runsA.Load() != 2 {
				t.Errorf("A ran %d times, want 2", runsA.Load())
			}
			if !customerExists(t, s, "A") || !customerExists(t, s, "C") || customerExists(t, s, "B") {
				t.Error("want A and C stored, B not")
			}
		})
	}
}

// A read that fails can make SQLite roll the whole transaction back
// without any write noticing (an I/O error; here the fn rolls back on the
// connection itself). Nothing may then run outside a transaction: the
// batch-mate after it, which fails after writing, must leave nothing behind.
func TestWrite_TransactionLostOnARead(t *testing.T) {
	s, _ := openRecording(t)
	errBusiness := ledger.Business(ledger.CodePointNotEnough, "积分不足", "not enough")
	release, blocked := block(t, s)
	var runsA atomic.Int32
	a := goWrite(s, func(tx points.Tx) error { runsA.Add(1); return putCustomer("A")(tx) })
	waitQueued(t, s, 1)
	b := goWrite(s, func(tx points.Tx) error {
		if _, err := tx.(*Tx).w.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			return err
		}
		return errors.New("a read failed")
	})
	waitQueued(t, s, 2)
	c := goWrite(s, func(tx points.Tx) error {
		if err := putCustomer("C")(tx); err != nil {
			return err
		}
		return errBusiness
	})
	waitQueued(t, s, 3)
	release()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	if err := <-a; err != nil {
		t.Errorf("Write A: %v", err)
	}
	if err := <-b; func() bool { e, ok := ledger.AsError(err); return !ok || e.Kind != ledger.KindUnavailable }() {
		t.Errorf("Write B: %v, want KindUnavailable", err)
	}
	if err := <-c; err != errBusiness {
		t.Errorf("Write C: %v, want its own error", err)
	}
	// Again after the lost transaction, and again when C failed after
	// writing and the batch was undone.
	if runsA.Load() != 3 {
		t.Errorf("A ran %d times, want 3", runsA.Load())
	}
	if !customerExists(t, s, "A") || customerExists(t, s, "C") {
		t.Error("want A stored, C not")
	}
	MustWrite(t, s, putCustomer("D"))
}

// A write that must run once (an import: its input is spent) shares a
// batch with one that fails after writing: the batch runs in savepoints
// from the start, so the failure undoes only its own rows.
func TestWriteOnce_BatchRunsInSavepoints(t *testing.T) {
	s, _ := openRecording(t)
	errBusiness := ledger.Business(ledger.CodePointNotEnough, "积分不足", "not enough")
	release, blocked := block(t, s)
	var runsA atomic.Int32
	a := make(chan error, 1)
	go func() {
		a <- s.writeOnce(context.Background(), func(tx points.Tx) error { runsA.Add(1); return putCustomer("A")(tx) })
	}()
	waitQueued(t, s, 1)
	b := goWrite(s, func(tx points.Tx) error {
		if err := putCustomer("BAD")(tx); err != nil {
			return err
		}
		return errBusiness
	})
	waitQueued(t, s, 2)
	release()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	if err := <-a; err != nil {
		t.Errorf("writeOnce A: %v", err)
	}
	if err := <-b; err != errBusiness {
		t.Errorf("Write B: %v, want its own error", err)
	}
	if got := runsA.Load(); got != 1 {
		t.Errorf("A ran %d times, want 1", got)
	}
	if !customerExists(t, s, "A") || customerExists(t, s, "BAD") {
		t.Error("want A stored, BAD not")
	}
}

func TestWrite_CloseDrains(t *testing.T) {
	s, _ := openRecording(t)
	release, blocked := block(t, s)
	var queued []<-chan error
	for i := range 5 {
		queued = append(queued, goWrite(s, putCustomer(fmt.Sprintf("Q%d", i))))
		waitQueued(t, s, i+1)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for _, ch := range queued {
		if err := <-ch; !errors.Is(err, ErrClosed) {
			t.Errorf("queued Write: %v, want ErrClosed", err)
		}
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a write was running", err)
	default:
	}
	release()
	if err := <-blocked; err != nil {
		t.Errorf("running Write: %v, want it to complete", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestTx_UsedAfterWrite(t *testing.T) {
	s := MustOpen(t)
	var leaked points.Tx
	MustWrite(t, s, func(tx points.Tx) error { leaked = tx; return nil })
	if _, err := leaked.Customer(context.Background(), "C1"); !errors.Is(err, errTxDone) {
		t.Errorf("Customer on a finished Tx: %v, want errTxDone", err)
	}
}

// fakeWAL stands in for the WAL file: each Sync waits for a release and
// then returns what it is told.
type fakeWAL struct {
	real    walFile
	entered chan struct{}
	release chan error
}

func (f *fakeWAL) Sync() error {
	f.entered <- struct{}{}
	if err := <-f.release; err != nil {
		return err
	}
	return f.real.Sync()
}

func (f *fakeWAL) Close() error { return f.real.Close() }

// holdSyncs makes s's syncer wait for the test at every fsync.
func holdSyncs(t *testing.T, s *Store) *fakeWAL {
	t.Helper()
	if s.w.wal == nil {
		t.Fatal("store has no WAL to sync")
	}
	f := &fakeWAL{real: s.w.wal, entered: make(chan struct{}), release: make(chan error)}
	s.w.wal = f // before any write: the syncer reads it after a batch arrives
	return f
}

func TestWriter_AnswersOnlyAfterFsync(t *testing.T) {
	s := MustOpenAt(t, filepath.Join(t.TempDir(), "jifen.db"), Options{})
	f := holdSyncs(t, s)
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), func(tx points.Tx) error { return putBrand(tx, "B1") }) }()
	<-f.entered // committed; the fsync is under way
	select {
	case err := <-done:
		t.Fatalf("write answered (%v) before its fsync returned", err)
	case <-time.After(50 * time.Millisecond):
	}
	// The writer is not held up by the fsync: the next write commits and
	// waits for its own fsync.
	next := make(chan error, 1)
	go func() {
		next <- s.Write(context.Background(), func(tx points.Tx) error {
			return putBrand(tx, "B9")
		})
	}()
	f.release <- nil
	if err := <-done; err != nil {
		t.Fatalf("first write: %v", err)
	}
	<-f.entered
	f.release <- nil
	if err := <-next; err != nil {
		t.Fatalf("second write: %v", err)
	}
}

func TestWriter_FailedFsyncRefusesWrites(t *testing.T) {
	s := MustOpenAt(t, filepath.Join(t.TempDir(), "jifen.db"), Options{})
	f := holdSyncs(t, s)
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), func(tx points.Tx) error { return putBrand(tx, "B1") }) }()
	<-f.entered
	// A second batch commits while the first one's fsync is under way.
	next := make(chan error, 1)
	go func() { next <- s.Write(context.Background(), func(tx points.Tx) error { return putBrand(tx, "B2") }) }()
	waitFor(t, func() bool { return s.Stats().Batches == 2 })
	f.release <- errors.New("EIO")
	unavailable := func(what string, err error) {
		t.Helper()
		if e, ok := ledger.AsError(err); !ok || e.Kind != ledger.KindUnavailable {
			t.Fatalf("%s: %v, want an unavailable error", what, err)
		}
	}
	unavailable("write whose fsync failed", <-done)
	// Its own fsync succeeds, but the kernel reports a writeback error
	// once: nothing after a failed fsync may be acknowledged.
	<-f.entered
	f.release <- nil
	unavailable("write committed before the failure was known", <-next)
	// Nothing more is accepted, and the store says it is not ready.
	unavailable("write after a failed fsync", s.Write(context.Background(), func(tx points.Tx) error { return nil }))
	if err := s.Ready(context.Background()); err == nil {
		t.Error("Ready after a failed fsync: nil")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func putBrand(tx points.Tx, id string) error {
	return tx.PutBrand(context.Background(), ledger.Brand{ID: id, Name: id, TimeZone: "Asia/Shanghai", Settings: ledger.DefaultSettings()})
}

// TestWriter_EventsOnlyOnceDurable: a committed batch is visible to readers
// before its fsync returns, but its events are not read until then — an
// event must never be sent for a write a power failure could take back.
func TestWriter_EventsOnlyOnceDurable(t *testing.T) {
	s := MustOpenAt(t, filepath.Join(t.TempDir(), "jifen.db"), Options{})
	f := holdSyncs(t, s)
	releaseAll := func() { // let every fsync through, from now on, held or not
		go func() {
			for {
				select {
				case <-f.entered:
				case f.release <- nil:
				}
			}
		}()
	}
	t.Cleanup(releaseAll) // before the store's Close, which a held fsync would block
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		done <- s.Write(ctx, func(tx points.Tx) error {
			return tx.Emit(ctx, points.Event{ID: "e1", BrandID: "B1", Type: points.EventRuleChanged, Time: time.Now(), Data: []byte("{}")})
		})
	}()
	<-f.entered // committed; the fsync is under way
	var n int
	if err := s.rdb.QueryRow("SELECT COUNT(*) FROM events").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the committed event is not in the database yet (%d, %v): the test proves nothing", n, err)
	}
	if evs, err := s.Events(ctx, points.EventQuery{}); err != nil || len(evs) != 0 {
		t.Fatalf("read before its fsync: %+v, %v", evs, err)
	}
	f.release <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if evs, err := s.Events(ctx, points.EventQuery{}); err != nil || len(evs) != 1 || evs[0].ID != "e1" || evs[0].Pos != 1 {
		t.Fatalf("read after its fsync: %+v, %v", evs, err)
	}
	// A store opened on the database reads every event on disk.
	releaseAll()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := MustOpenAt(t, s.path, Options{})
	if evs, err := s2.Events(ctx, points.EventQuery{}); err != nil || len(evs) != 1 {
		t.Fatalf("after reopening: %+v, %v", evs, err)
	}
}
