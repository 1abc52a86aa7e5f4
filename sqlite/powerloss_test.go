package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"jifen/ledger"
	"jifen/points"
	"jifen/storetest"
)

// durableWAL stands in for the WAL file at the syncer and keeps track of
// what a power failure could not take away: before each fsync it notes the
// WAL's size through the very file the syncer syncs, and once the fsync has
// returned, the WAL up to that size is on disk. A power failure may keep
// more; it cannot keep less.
type durableWAL struct {
	f       *os.File
	durable atomic.Int64
	// inFlight, if set, runs at each fsync before it starts: what was
	// answered by then must be within the durable size of the fsync before.
	inFlight func()
}

func (d *durableWAL) Sync() error {
	fi, err := d.f.Stat()
	if err != nil {
		return err
	}
	if d.inFlight != nil {
		d.inFlight()
	}
	if err := d.f.Sync(); err != nil {
		return err
	}
	d.durable.Store(fi.Size())
	return nil
}

func (d *durableWAL) Close() error { return d.f.Close() }

// ack is a request the service answered with success.
type ack struct{ requestID, flowID string }

// cut is the instant of a power failure: the writes answered by then, and
// how much of the WAL was durable.
type cut struct {
	answered []ack
	durable  int64
}

// TestPowerLoss_AcknowledgedWritesSurvive pulls the plug on the group
// commit: while order life cycles run from many goroutines, it takes the
// database as a power failure at that instant could leave it at worst —
// the database file and the WAL up to its last completed fsync, nothing
// written after — opens that copy (SQLite recovers the WAL), and proves
// that every write answered before the instant is there with the flow it
// was answered with, that no request has two flows, and that every
// invariant holds. A SIGKILL (the crash test) keeps what the kernel holds
// in its page cache; this keeps only what was fsynced.
func TestPowerLoss_AcknowledgedWritesSurvive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jifen.db")
	var s *Store
	e := storetest.NewEnv(t, func(tb testing.TB) storetest.Store {
		s = MustOpenAt(tb, path, Options{})
		return s
	})
	const customers = 40
	var custs []ledger.Customer
	for i := range customers {
		custs = append(custs, ledger.Customer{ID: fmt.Sprintf("P%03d", i), BrandID: "B1", LevelID: "L1"})
	}
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Customers: custs}); err != nil {
		t.Fatal(err)
	}
	for _, c := range custs {
		e.MustCharge(c.ID, "seed-"+c.ID, 1_000_000)
	}

	// The model below takes the database file as it is now, so no
	// checkpoint may copy the WAL into it during the load. (A checkpoint's
	// own durability is SQLite's: with synchronous=NORMAL it fsyncs the WAL
	// before and the database after. What is tested here is the writer's:
	// that nothing is answered before the fsync that makes it durable.)
	MustWrite(t, s, func(tx points.Tx) error { return exec(tx, "PRAGMA wal_autocheckpoint = 0") })

	// From here on the syncer reports what it made durable. Everything
	// before was answered, so fsynced: the WAL as it is now is on disk.
	walF, ok := s.w.wal.(*os.File)
	if !ok {
		t.Fatalf("WAL is a %T, want *os.File", s.w.wal)
	}
	d := &durableWAL{f: walF}
	fi, err := walF.Stat()
	if err != nil {
		t.Fatal(err)
	}
	d.durable.Store(fi.Size())
	var (
		mu    sync.Mutex
		acked []ack
		cuts  []cut
		syncs int
	)
	// The plug is pulled while an fsync is under way (every 16th), where an
	// answer given too early would show: the instant is only noted here and
	// checked after the load, since the WAL up to a durable size does not
	// change without a checkpoint.
	d.inFlight = func() {
		mu.Lock()
		defer mu.Unlock()
		if syncs++; syncs%16 == 0 && len(cuts) < 10 {
			cuts = append(cuts, cut{acked[:len(acked):len(acked)], d.durable.Load()})
		}
	}
	s.w.wal = d // the syncer reads it after the next batch arrives
	dbImage, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	record := func(reqID string, out points.Outcome) {
		mu.Lock()
		acked = append(acked, ack{reqID, out.FlowID})
		mu.Unlock()
	}
	const workers, cycles = 16, 40
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range cycles {
				cust := custs[(g*cycles+i)%customers].ID
				order := fmt.Sprintf("w%d-o%d", g, i)
				r := e.Order(order, 100)
				r.CustomerID = cust
				out, err := e.Svc.Consume(e.Ctx, e.Caller, r)
				if err != nil {
					t.Errorf("consume %s: %v", order, err)
					return
				}
				record(r.RequestID, out)
				for j, part := range []*int64{storetest.P(30), nil} {
					rv := e.Reverse(order, fmt.Sprintf("%s-r%d", order, j), part)
					rv.CustomerID = cust
					out, err := e.Svc.Reverse(e.Ctx, e.Caller, rv)
					if err != nil {
						t.Errorf("reverse %s: %v", order, err)
						return
					}
					record(rv.RequestID, out)
				}
			}
		})
	}

	wg.Wait()
	mu.Lock()
	cuts = append(cuts, cut{acked, d.durable.Load()}) // and once after the load
	mu.Unlock()
	for i, c := range cuts {
		checkPowerLoss(t, fmt.Sprintf("cut %d", i), dbImage, walF, c)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, dbImage) {
		// The model takes the database file as it was before the load:
		// a checkpoint would have changed it (and restarted the WAL).
		t.Fatalf("the database file changed during the load (err %v): a checkpoint ran", err)
	}
	t.Logf("%d cuts, the last after %d answered writes (%d KiB of WAL)", len(cuts), len(acked), d.durable.Load()>>10)
}

// checkPowerLoss builds the database a power failure would leave — db as
// the database file, the first size bytes of wal as its WAL — in a new
// directory, opens it, and checks it against the answered writes.
func checkPowerLoss(t *testing.T, name string, db []byte, wal *os.File, c cut) {
	t.Helper()
	walImage := make([]byte, c.durable)
	if _, err := wal.ReadAt(walImage, 0); err != nil {
		t.Fatalf("%s: read the WAL: %v", name, err)
	}
	path := filepath.Join(t.TempDir(), "jifen.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+"-wal", walImage, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := OpenWith(ctx, path, Options{})
	if err != nil {
		t.Fatalf("%s: open what the power failure left: %v", name, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("%s: close: %v", name, err)
		}
	}()
	flows := map[string][]string{} // request_id → flow ids
	err = s.EachAccount(ctx, func(rows points.AccountRows) error {
		for _, f := range rows.Flows {
			flows[f.RequestID] = append(flows[f.RequestID], f.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, a := range c.answered {
		if got := flows[a.requestID]; len(got) != 1 || got[0] != a.flowID {
			t.Errorf("%s: request %s was answered with flow %s; after the power failure its flows are %v",
				name, a.requestID, a.flowID, got)
		}
	}
	for id, f := range flows {
		if len(f) > 1 {
			t.Errorf("%s: request %s has %d flows: %v", name, id, len(f), f)
		}
	}
	rep, err := points.Verify(ctx, s)
	if err != nil {
		t.Fatalf("%s: verify: %v", name, err)
	}
	for _, v := range rep.Violations {
		t.Errorf("%s: verify: %s", name, v)
	}
}
