package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// chargeFixture stores a brand, a customer and a charge of 100 points for
// order G1, and returns the stored account and its one lot.
func chargeFixture(t *testing.T, s *Store) (fixture, ledger.Account, ledger.Lot) {
	t.Helper()
	ctx := context.Background()
	f := mustFixture(t, s)
	mustWrite(t, s, func(tx points.Tx) error {
		acct, err := tx.(*Tx).Account(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		c := grant(f.brand, acct, nil, 100, "G1", ts(0))
		return tx.(*Tx).ApplyChanges(ctx, c)
	})
	acct, err := s.Account(ctx, "B1", "C1")
	if err != nil {
		t.Fatal(err)
	}
	lots, err := s.LiveLots(ctx, "B1", "C1")
	if err != nil || len(lots) != 1 {
		t.Fatalf("LiveLots = %v, %v", lots, err)
	}
	return f, acct, lots[0]
}

// applyOnce runs one Apply in a write and reports Apply's own error (the
// write may be retried; the first attempt's error is what Apply said).
// With atCommit it uses the ledger's Apply, whose statements travel with
// COMMIT, and reports the commit's error.
func applyOnce(t *testing.T, s *Store, c ledger.Changes) error {
	t.Helper()
	ctx := context.Background()
	if atCommit {
		return s.writeOnce(ctx, time.Time{}, func(tx points.Tx) error { return tx.Apply(ctx, c, nil) })
	}
	var first error
	calls := 0
	err := s.Write(ctx, func(tx points.Tx) error {
		calls++
		if calls > 1 {
			return errStop // do not retry: the test looks at the first attempt
		}
		first = tx.(*Tx).ApplyChanges(ctx, c)
		return first
	})
	if err == nil && first != nil {
		t.Fatalf("Write succeeded although Apply failed: %v", first)
	}
	return first
}

// atCommit makes applyOnce apply at commit (see TestTx_Apply_Conflicts).
var atCommit bool

var errStop = errors.New("stop")

func TestTx_Apply_Conflicts(t *testing.T) {
	t.Run("Immediate", testApplyConflicts)
	t.Run("AtCommit", func(t *testing.T) {
		// The statements travel with COMMIT: a row changed since it was
		// read must fail the commit (a guarded update), not be skipped.
		atCommit = true
		defer func() { atCommit = false }()
		testApplyConflicts(t)
	})
}

func testApplyConflicts(t *testing.T) {
	ctx := context.Background()
	s := OpenTest(t)
	f, acct, lot := chargeFixture(t, s)
	flow := ledger.Flow{ID: "X1", BrandID: "B1", CustomerID: "C1", Seq: 99, Type: ledger.Adjust, CreatedAt: ts(5)}

	t.Run("StaleAccountVersion", func(t *testing.T) {
		stale := acct
		stale.Version--
		stale.Available = 1
		if err := applyOnce(t, s, ledger.Changes{Account: stale, Flows: []ledger.Flow{flow}}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
	})
	t.Run("AccountCreatedMeanwhile", func(t *testing.T) {
		fresh := acct
		fresh.Exists = false
		if err := applyOnce(t, s, ledger.Changes{Account: fresh}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
	})
	t.Run("StaleLotRemaining", func(t *testing.T) {
		// Someone spends 10 from the lot after it was read.
		mustWrite(t, s, func(tx points.Tx) error {
			a, err := tx.(*Tx).Account(ctx, "B1", "C1")
			if err != nil {
				return err
			}
			lots, err := tx.(*Tx).LiveLots(ctx, "B1", "C1")
			if err != nil {
				return err
			}
			b := ledger.NewBook(ledger.State{Brand: f.brand, Account: a, Lots: lots}, ts(1), newID)
			if _, err := b.Spend(ledger.Decrease, 10, ledger.Info{}); err != nil {
				return err
			}
			return tx.(*Tx).ApplyChanges(ctx, b.Changes())
		})
		old := lot // loaded with 100 remaining
		old.Remaining = 50
		if err := applyOnce(t, s, ledger.Changes{Lots: []ledger.Lot{old}}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
	})
	t.Run("StaleOrderVersion", func(t *testing.T) {
		o := ledger.Order{BrandID: "B1", OutBizID: "G1", CustomerID: "C1", Granted: 100, Version: 7, Exists: true}
		if err := applyOnce(t, s, ledger.Changes{Order: &o}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
		o.Exists = false
		if err := applyOnce(t, s, ledger.Changes{Order: &o}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply of an order created meanwhile: %v, want ErrConflict", err)
		}
	})
	t.Run("StaleHold", func(t *testing.T) {
		h := ledger.Hold{BrandID: "B1", OuterOrderID: "H1", CustomerID: "C1", Status: ledger.HoldActive, Version: 1, Exists: true}
		if err := applyOnce(t, s, ledger.Changes{Hold: &h}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply of a hold that is not there: %v, want ErrConflict", err)
		}
	})
	t.Run("ReversalStoredMeanwhile", func(t *testing.T) {
		r := ledger.Reversal{BrandID: "B1", ReverseOrderID: "R1", OutBizID: "G1", CustomerID: "C1",
			Type: ledger.ExtraChargeReverse, FlowID: "F", CreatedAt: ts(0)}
		mustWrite(t, s, func(tx points.Tx) error { return tx.(*Tx).ApplyChanges(ctx, ledger.Changes{Reversal: &r}) })
		if err := applyOnce(t, s, ledger.Changes{Reversal: &r}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
	})
	t.Run("IgnoredConflictDoesNotCommit", func(t *testing.T) {
		stale := acct
		stale.Version--
		calls := 0
		err := s.Write(ctx, func(tx points.Tx) error {
			calls++
			if calls > 1 {
				return errStop
			}
			if err := tx.(*Tx).ApplyChanges(ctx, ledger.Changes{Account: stale, Flows: []ledger.Flow{flow}}); !errors.Is(err, points.ErrConflict) {
				t.Errorf("Apply: %v, want ErrConflict", err)
			}
			return nil // a careless fn
		})
		if !errors.Is(err, errStop) {
			t.Errorf("Write = %v; want the conflict retried, not committed", err)
		}
	})
	// Nothing of the failed writes was stored.
	got, err := s.Account(ctx, "B1", "C1")
	if err != nil || got.Available != 90 || got.Version != acct.Version+1 {
		t.Errorf("account after the conflicts = %+v, %v; want 90 available, version %d", got, err, acct.Version+1)
	}
	if ok, err := flowExists(ctx, s, "X1"); ok || err != nil {
		t.Errorf("flow of a conflicting write stored: %v, %v", ok, err)
	}
}

// TestTx_Apply_Checks: what the database must refuse is refused, as an
// error that is neither a conflict nor retried, and nothing is written.
func TestTx_Apply_Checks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	_, acct, lot := chargeFixture(t, s)
	bad := map[string]func() ledger.Changes{
		"NegativeAvailable": func() ledger.Changes {
			a := acct
			a.Available = -1
			return ledger.Changes{Account: a}
		},
		"NegativeDebt": func() ledger.Changes {
			a := acct
			a.Debt = -5
			return ledger.Changes{Account: a}
		},
		"LotBelowZero": func() ledger.Changes {
			l := lot
			l.Remaining = -1
			a := acct
			a.Available = 5 // the account row goes first and is fine
			return ledger.Changes{Account: a, Lots: []ledger.Lot{l}}
		},
		"LotAboveGranted": func() ledger.Changes {
			l := lot
			l.Remaining = 101
			return ledger.Changes{Lots: []ledger.Lot{l}}
		},
		"OrderOverReversed": func() ledger.Changes {
			return ledger.Changes{Order: &ledger.Order{BrandID: "B1", OutBizID: "O9", CustomerID: "C1", Spent: 10, Reversed: 11}}
		},
		"OrderOverClawedBack": func() ledger.Changes {
			return ledger.Changes{Order: &ledger.Order{BrandID: "B1", OutBizID: "O9", CustomerID: "C1", Granted: 1, ClawedBack: 2}}
		},
		"HoldBelowZero": func() ledger.Changes {
			return ledger.Changes{Hold: &ledger.Hold{BrandID: "B1", OuterOrderID: "H9", CustomerID: "C1", Remaining: -1}}
		},
	}
	for name, changes := range bad {
		t.Run(name, func(t *testing.T) {
			calls := 0
			err := s.Write(ctx, func(tx points.Tx) error {
				calls++
				return tx.(*Tx).ApplyChanges(ctx, changes())
			})
			if !isCode(err, "23514") || errors.Is(err, points.ErrConflict) {
				t.Errorf("Apply: %v, want a check violation", err)
			}
			if calls != 1 {
				t.Errorf("fn ran %d times, want once: a check violation is not retried", calls)
			}
		})
	}
	got, err := s.Account(ctx, "B1", "C1")
	if err != nil || got != acct {
		t.Errorf("account = %+v, %v; want it unchanged: %+v", got, err, acct)
	}
	var orders, holds int
	if err := s.pool.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM orders WHERE out_biz_id = 'O9'), (SELECT COUNT(*) FROM holds)").
		Scan(&orders, &holds); err != nil || orders != 0 || holds != 0 {
		t.Errorf("refused rows stored: %d orders, %d holds, %v", orders, holds, err)
	}
	mustVerify(t, s)
}

// TestTx_Apply_Numbering: new lots and allocations are numbered after the
// account's last, whatever the Book numbered them.
func TestTx_Apply_Numbering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f, _, _ := chargeFixture(t, s)
	// Spend the first lot entirely, then grant again: the Book, which sees
	// no live lot, numbers the new one 1 again.
	for _, step := range []func(b *ledger.Book) error{
		func(b *ledger.Book) error { _, err := b.Spend(ledger.Decrease, 100, ledger.Info{}); return err },
		func(b *ledger.Book) error { b.Grant(ledger.Charge, 5, ledger.Info{}); return nil },
		func(b *ledger.Book) error { _, err := b.Spend(ledger.Decrease, 5, ledger.Info{}); return err },
	} {
		mustWrite(t, s, func(tx points.Tx) error {
			a, err := tx.(*Tx).Account(ctx, "B1", "C1")
			if err != nil {
				return err
			}
			lots, err := tx.(*Tx).LiveLots(ctx, "B1", "C1")
			if err != nil {
				return err
			}
			b := ledger.NewBook(ledger.State{Brand: f.brand, Account: a, Lots: lots}, ts(10), newID)
			if err := step(b); err != nil {
				return err
			}
			return tx.(*Tx).ApplyChanges(ctx, b.Changes())
		})
	}
	var rows points.AccountRows
	if err := s.EachAccount(ctx, func(r points.AccountRows) error { rows = r; return nil }); err != nil {
		t.Fatal(err)
	}
	for i, l := range rows.Lots {
		if l.Seq != int64(i+1) {
			t.Errorf("lot %d has seq %d, want %d", i, l.Seq, i+1)
		}
	}
	for i, a := range rows.Allocations {
		if a.Seq != int64(i+1) {
			t.Errorf("allocation %d has seq %d, want %d", i, a.Seq, i+1)
		}
	}
	if len(rows.Lots) != 2 || len(rows.Allocations) != 2 {
		t.Errorf("%d lots, %d allocations; want 2 and 2", len(rows.Lots), len(rows.Allocations))
	}
	mustVerify(t, s)
}
