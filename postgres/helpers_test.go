package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// mustWrite runs fn in a write and fails the test on error.
func mustWrite(tb testing.TB, s *Store, fn func(points.Tx) error) {
	tb.Helper()
	if err := s.Write(context.Background(), fn); err != nil {
		tb.Fatalf("Write: %v", err)
	}
}

// exec runs raw SQL inside a write, for tests that go around the API.
func exec(ctx context.Context, tx points.Tx, query string, args ...any) error {
	return tx.(*Tx).send(ctx, execQuery(failedTo("exec"), nil, query, args...))
}

// mustExec runs raw SQL on the store's pool.
func mustExec(tb testing.TB, s *Store, query string, args ...any) {
	tb.Helper()
	if _, err := s.pool.Exec(context.Background(), query, args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

// fixture is a brand with one customer.
type fixture struct {
	brand    ledger.Brand
	customer ledger.Customer
}

func mustFixture(tb testing.TB, s *Store) fixture {
	tb.Helper()
	f := fixture{
		brand: ledger.Brand{ID: "B1", Name: "Brand One", TimeZone: "Asia/Shanghai",
			OutIDs: map[string]string{"CS": "cs-b1"}, Settings: ledger.DefaultSettings()},
		customer: ledger.Customer{ID: "C1", BrandID: "B1", Mobile: "13800000000", Name: "Wang",
			CustomerType: 1, CreatedAt: ts(0)},
	}
	mustWrite(tb, s, func(tx points.Tx) error {
		if err := tx.PutBrand(context.Background(), f.brand); err != nil {
			return err
		}
		return tx.PutCustomer(context.Background(), f.customer)
	})
	return f
}

// ts is a fixed instant plus d seconds, with microseconds set so that a
// loss of precision would show.
func ts(d int) time.Time {
	return time.Date(2025, 3, 14, 9, 26, 53, 589793000, ledger.Shanghai).Add(time.Duration(d) * time.Second)
}

var idSeq atomic.Int64

func newID() string { return fmt.Sprintf("ID%08d", idSeq.Add(1)) }

// grant builds the changes of a CHARGE of n points on acct with lots.
func grant(brand ledger.Brand, acct ledger.Account, lots []ledger.Lot, n int64, outBizID string, now time.Time) ledger.Changes {
	b := ledger.NewBook(ledger.State{Brand: brand, Rule: ledger.Rule{BrandID: brand.ID}, Account: acct, Lots: lots}, now, newID)
	b.Grant(ledger.Charge, n, ledger.Info{OutBizID: outBizID, ShopID: "S1", Channel: "CS"})
	return b.Changes()
}

// chargeIn loads the account in tx and grants it n points.
func chargeIn(ctx context.Context, tx points.Tx, brand ledger.Brand, customer string, n int64, now time.Time) error {
	acct, err := tx.(*Tx).Account(ctx, brand.ID, customer)
	if err != nil {
		return err
	}
	lots, err := tx.(*Tx).LiveLots(ctx, brand.ID, customer)
	if err != nil {
		return err
	}
	return tx.(*Tx).ApplyChanges(ctx, grant(brand, acct, lots, n, "", now))
}

// mustVerify fails the test if any invariant is broken.
func mustVerify(tb testing.TB, s *Store) points.VerifyReport {
	tb.Helper()
	rep, err := points.Verify(context.Background(), s)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	for _, v := range rep.Violations {
		tb.Errorf("invariant broken: %s", v)
	}
	return rep
}

// flowExists reports whether a flow with id is stored (no index serves
// it: for tests only).
func flowExists(ctx context.Context, s *Store, id string) (bool, error) {
	var found bool
	err := s.read(ctx, exists(d("flow %q", id), &found, "SELECT 1 FROM flows WHERE flow_id = $1", id))
	return found, err
}
