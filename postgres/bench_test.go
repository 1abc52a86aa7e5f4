package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// clients is how many concurrent callers the benchmarks simulate.
const clients = 64

// BenchmarkService runs the service's write path end to end — resolve
// the brand, shop and customer, then the idempotent write — from 64
// goroutines, alternating charges and spends over 2000 members.
func BenchmarkService(b *testing.B) {
	ctx := context.Background()
	s := openTestWith(b, Options{MaxConns: 32, Migrate: true})
	svc := points.New(s, nil, nil)
	const members = 2000
	tenant := points.Tenant{
		Apps: []ledger.App{{Key: "pos", Secret: "s", Active: true, Channels: []string{"KRY"}, Brands: []string{"B1"}}},
		Brands: []points.TenantBrand{{Brand: ledger.Brand{ID: "B1", Name: "bench", Settings: ledger.DefaultSettings()},
			Shops: []ledger.Shop{{ID: "S1", Name: "shop"}}}},
	}
	for i := range members {
		tenant.Customers = append(tenant.Customers, ledger.Customer{ID: fmt.Sprintf("M%04d", i), BrandID: "B1", LevelID: "L1"})
	}
	if _, err := svc.Apply(ctx, tenant); err != nil {
		b.Fatal(err)
	}
	app, err := s.App(ctx, "pos")
	if err != nil {
		b.Fatal(err)
	}
	caller := points.Caller{App: app}
	var next atomic.Int64
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			r := points.OrderRequest{Target: points.Target{BrandID: "B1", ShopID: "S1", Channel: "KRY"},
				CustomerID: fmt.Sprintf("M%04d", i%members), OutBizID: fmt.Sprintf("O%d", i), OperatorID: "op",
				RequestID: fmt.Sprintf("req-%d", i)}
			var err error
			if (i/members)%2 == 0 {
				r.Points = 20
				_, err = svc.ExtraCharge(ctx, caller, r)
			} else {
				r.Points = 10
				_, err = svc.Consume(ctx, caller, r)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	start := time.Now()
	mustVerify(b, s)
	b.Logf("verified %d ops in %v", b.N, time.Since(start))
}

// BenchmarkWrite runs the store's part alone: the idempotency read, the
// account and its lots, one Book decision, Apply, the idempotency record.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	s := openTestWith(b, Options{MaxConns: 32, Migrate: true})
	brand := ledger.Brand{ID: "B1", Name: "bench", Settings: ledger.DefaultSettings()}
	const members = 2000
	mustWrite(b, s, func(tx points.Tx) error {
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
	var next atomic.Int64
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			cust := fmt.Sprintf("M%04d", i%members)
			req := fmt.Sprintf("req-%d", i)
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
					if f, err = bk.Spend(ledger.Decrease, 10, ledger.Info{AppKey: "app", RequestID: req}); err != nil {
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
