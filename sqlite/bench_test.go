package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
	"jifen/storetest"
)

// BenchmarkWrite runs ledger operations the way the service does (look up
// the idempotency key, load the account and its lots, decide with a Book,
// apply, store the idempotency record) from many goroutines at once, so
// group commit has something to batch. Each op alternates charging and
// spending on one of 1000 members.
func BenchmarkWrite(b *testing.B) {
	for _, par := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%dxGOMAXPROCS", par), func(b *testing.B) {
			benchWrite(b, par)
		})
	}
}

func benchWrite(b *testing.B, parallelism int) {
	ctx := context.Background()
	var commitTime atomic.Int64
	s := MustOpenAt(b, filepath.Join(b.TempDir(), "bench.db"), Options{
		OnCommit: func(_ int, _, commit time.Duration) { commitTime.Add(int64(commit)) },
	})
	brand := ledger.Brand{ID: "B1", Name: "bench", Settings: ledger.DefaultSettings()}
	const members = 1000
	MustWrite(b, s, func(tx points.Tx) error {
		if err := tx.PutBrand(ctx, brand); err != nil {
			return err
		}
		for i := range members {
			if err := tx.PutCustomer(ctx, ledger.Customer{ID: fmt.Sprintf("M%04d", i), BrandID: "B1"}); err != nil {
				return err
			}
		}
		return nil
	})
	var next, reqs atomic.Int64
	before := s.Stats()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			cust := fmt.Sprintf("M%04d", i%members)
			req := fmt.Sprintf("req-%d", reqs.Add(1))
			err := s.Write(ctx, func(tx points.Tx) error {
				if _, err := tx.(*Tx).Idempotency(ctx, "B1", "app", req); err == nil {
					return nil
				}
				acct, err := tx.(*Tx).Account(ctx, "B1", cust)
				if err != nil {
					return err
				}
				lots, err := tx.(*Tx).LiveLots(ctx, "B1", cust)
				if err != nil {
					return err
				}
				bk := ledger.NewBook(ledger.State{Brand: brand, Account: acct, Lots: lots}, time.Now(), newID)
				var f ledger.Flow
				if acct.Available >= 10 {
					f, err = bk.Spend(ledger.DeductFromConsume, 10, ledger.Info{OutBizID: req, AppKey: "app", RequestID: req})
					if err != nil {
						return err
					}
				} else {
					f = bk.Grant(ledger.Charge, 20, ledger.Info{AppKey: "app", RequestID: req})
				}
				if err := tx.(*Tx).ApplyChanges(ctx, bk.Changes()); err != nil {
					return err
				}
				return tx.(*Tx).PutIdempotency(ctx, ledger.Idempotency{BrandID: "B1", AppKey: "app", RequestID: req, Method: "op",
					Fingerprint: "fp", FlowID: f.ID, Result: f.ID, CreatedAt: time.Now()})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := s.Stats()
	if n := st.Batches - before.Batches; n > 0 {
		b.ReportMetric(float64(st.Requests-before.Requests)/float64(n), "ops/commit")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(commitTime.Load())/float64(b.Elapsed().Nanoseconds())*100, "%commit")
}

// BenchmarkService runs the service's order life cycle (consume, a partial
// reversal, reverse the rest: three durable writes) on 2000 members from
// 32×GOMAXPROCS goroutines: the store as the HTTP gateway drives it, less
// the HTTP.
func BenchmarkService(b *testing.B) {
	e := storetest.NewEnv(b, func(tb testing.TB) storetest.Store {
		return MustOpenAt(tb, filepath.Join(tb.TempDir(), "bench.db"), Options{})
	})
	var custs []ledger.Customer
	for i := range 2000 {
		custs = append(custs, ledger.Customer{ID: fmt.Sprintf("M%04d", i), BrandID: "B1", LevelID: "L1"})
	}
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Customers: custs}); err != nil {
		b.Fatal(err)
	}
	for _, c := range custs {
		e.MustCharge(c.ID, "seed-"+c.ID, 1_000_000_000)
	}
	s := e.Store.(*Store)
	before := s.Stats()
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			cust := custs[i%int64(len(custs))].ID
			order := fmt.Sprintf("o%d", i)
			r := e.Order(order, 100)
			r.CustomerID = cust
			if _, err := e.Svc.Consume(e.Ctx, e.Caller, r); err != nil {
				b.Error(err)
				return
			}
			for _, part := range []*int64{storetest.P(30), nil} {
				rv := e.Reverse(order, fmt.Sprintf("%s-%v", order, part == nil), part)
				rv.CustomerID = cust
				if _, err := e.Svc.Reverse(e.Ctx, e.Caller, rv); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	b.StopTimer()
	st := s.Stats()
	if n := st.Batches - before.Batches; n > 0 {
		b.ReportMetric(float64(st.Requests-before.Requests)/float64(n), "writes/commit")
	}
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "writes/s")
}
