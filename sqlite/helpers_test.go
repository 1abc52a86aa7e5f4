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
)

// MustOpen opens a store on a new file in a temporary directory and closes
// it when the test ends.
func MustOpen(tb testing.TB) *Store {
	tb.Helper()
	return MustOpenAt(tb, filepath.Join(tb.TempDir(), "jifen.db"), Options{})
}

// MustOpenAt opens a store at path with options.
func MustOpenAt(tb testing.TB, path string, o Options) *Store {
	tb.Helper()
	s, err := OpenWith(context.Background(), path, o)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// MustWrite runs fn in a write and fails the test on error.
func MustWrite(tb testing.TB, s *Store, fn func(points.Tx) error) {
	tb.Helper()
	if err := s.Write(context.Background(), fn); err != nil {
		tb.Fatalf("Write: %v", err)
	}
}

// exec runs raw SQL inside a write, for tests that need to go around the
// store's API.
func exec(tx points.Tx, query string, args ...any) error {
	_, err := tx.(*Tx).w.exec(query, args...)
	return err
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
	MustWrite(tb, s, func(tx points.Tx) error {
		if err := tx.PutBrand(context.Background(), f.brand); err != nil {
			return err
		}
		return tx.PutCustomer(context.Background(), f.customer)
	})
	return f
}

// ts is a fixed instant plus d seconds, with microseconds set so that
// truncation would show.
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

// flowExists reports whether a flow with id is stored (no index serves
// it: for tests only).
func flowExists(ctx context.Context, s *Store, id string) (bool, error) {
	_, ok, err := one(ctx, s.rdb, scanInt, "SELECT 1 FROM flows WHERE flow_id = ?", id)
	return ok, err
}
