package sqlite

import (
	"context"
	"errors"
	"testing"

	sqlite3 "github.com/mattn/go-sqlite3"

	"jifen/ledger"
	"jifen/points"
)

// chargeFixture stores a brand, a customer and a charge of 100 points for
// order G1, and returns the stored account and its one lot.
func chargeFixture(t *testing.T, s *Store) (fixture, ledger.Account, ledger.Lot) {
	t.Helper()
	ctx := context.Background()
	f := mustFixture(t, s)
	MustWrite(t, s, func(tx points.Tx) error {
		acct, err := tx.(*Tx).Account(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		return tx.(*Tx).ApplyChanges(ctx, grant(f.brand, acct, nil, 100, "G1", ts(0)))
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

func isCheck(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintCheck
}

func TestTx_Apply_Conflicts(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	f, acct, lot := chargeFixture(t, s)
	apply := func(c ledger.Changes) error {
		return s.Write(ctx, func(tx points.Tx) error { return tx.(*Tx).ApplyChanges(ctx, c) })
	}
	flow := ledger.Flow{ID: "X1", BrandID: "B1", CustomerID: "C1", Seq: 99, Type: ledger.Adjust, CreatedAt: ts(5)}

	t.Run("stale account version", func(t *testing.T) {
		stale := acct
		stale.Version--
		stale.Available = 1
		if err := apply(ledger.Changes{Account: stale, Flows: []ledger.Flow{flow}}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
	})
	t.Run("account created meanwhile", func(t *testing.T) {
		fresh := acct
		fresh.Exists = false
		if err := apply(ledger.Changes{Account: fresh}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
	})
	t.Run("stale lot remaining", func(t *testing.T) {
		// Someone spends 10 from the lot after it was read.
		MustWrite(t, s, func(tx points.Tx) error {
			a, _ := tx.(*Tx).Account(ctx, "B1", "C1")
			lots, _ := tx.(*Tx).LiveLots(ctx, "B1", "C1")
			b := ledger.NewBook(ledger.State{Brand: f.brand, Account: a, Lots: lots}, ts(1), newID)
			if _, err := b.Spend(ledger.Decrease, 10, ledger.Info{}); err != nil {
				return err
			}
			return tx.(*Tx).ApplyChanges(ctx, b.Changes())
		})
		old := lot // loaded with 100 remaining
		old.Remaining = 50
		if err := apply(ledger.Changes{Lots: []ledger.Lot{old}}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
	})
	t.Run("stale order version", func(t *testing.T) {
		o := ledger.Order{BrandID: "B1", OutBizID: "G1", CustomerID: "C1", Granted: 100, Version: 7, Exists: true}
		if err := apply(ledger.Changes{Order: &o}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
		o.Exists, o.Version = false, 0
		if err := apply(ledger.Changes{Order: &o}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply of an order created meanwhile: %v, want ErrConflict", err)
		}
	})
	t.Run("stale hold version", func(t *testing.T) {
		h := ledger.Hold{BrandID: "B1", OuterOrderID: "H1", CustomerID: "C1", Amount: 1, Remaining: 1,
			Status: ledger.HoldActive}
		if err := apply(ledger.Changes{Hold: &h}); err != nil {
			t.Fatal(err)
		}
		h.Exists, h.Version, h.Remaining = true, 0, 0
		if err := apply(ledger.Changes{Hold: &h}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
		h.Version = 1
		if err := apply(ledger.Changes{Hold: &h}); err != nil {
			t.Errorf("Apply at the stored version: %v", err)
		}
	})
	t.Run("reversal twice", func(t *testing.T) {
		r := ledger.Reversal{BrandID: "B1", ReverseOrderID: "R1", OutBizID: "G1", CustomerID: "C1",
			Type: ledger.ExtraChargeReverse, Amount: 1, FlowID: "F"}
		if err := apply(ledger.Changes{Reversal: &r}); err != nil {
			t.Fatal(err)
		}
		if err := apply(ledger.Changes{Reversal: &r}); !errors.Is(err, points.ErrConflict) {
			t.Errorf("Apply: %v, want ErrConflict", err)
		}
	})

	// None of the refused writes left anything behind.
	if ok, err := flowExists(ctx, s, "X1"); ok || err != nil {
		t.Errorf("FlowExists(X1) = %v, %v; want false", ok, err)
	}
	got, err := s.Account(ctx, "B1", "C1")
	if err != nil || got.Available != 90 || got.Version != acct.Version+1 {
		t.Errorf("Account = %+v, %v; want 90 available at version %d", got, err, acct.Version+1)
	}
}

func TestTx_Apply_Constraints(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	_, acct, lot := chargeFixture(t, s)
	flow := ledger.Flow{ID: "X1", BrandID: "B1", CustomerID: "C1", Seq: acct.Seq + 1, Type: ledger.Decrease,
		CreatedAt: ts(5)}
	next := acct
	next.Seq++
	for _, tc := range []struct {
		name string
		c    ledger.Changes
	}{
		{"negative lot remaining", func() ledger.Changes {
			l := lot
			l.Remaining = -5
			return ledger.Changes{Account: next, Lots: []ledger.Lot{l}, Flows: []ledger.Flow{flow}}
		}()},
		{"lot remaining above granted", func() ledger.Changes {
			l := lot
			l.Remaining = l.Granted + 1
			return ledger.Changes{Account: next, Lots: []ledger.Lot{l}, Flows: []ledger.Flow{flow}}
		}()},
		{"negative available", func() ledger.Changes {
			a := next
			a.Available = -1
			return ledger.Changes{Account: a, Flows: []ledger.Flow{flow}}
		}()},
		{"reversed more than spent", ledger.Changes{Account: next, Flows: []ledger.Flow{flow},
			Order: &ledger.Order{BrandID: "B1", OutBizID: "O9", CustomerID: "C1", Spent: 10, Reversed: 11}}},
		{"clawed back more than granted", ledger.Changes{Account: next, Flows: []ledger.Flow{flow},
			Order: &ledger.Order{BrandID: "B1", OutBizID: "G1", CustomerID: "C1", Granted: 100, ClawedBack: 101,
				Version: 1, Exists: true}}},
		{"negative hold remaining", ledger.Changes{Account: next, Flows: []ledger.Flow{flow},
			Hold: &ledger.Hold{BrandID: "B1", OuterOrderID: "H9", CustomerID: "C1", Amount: 1, Remaining: -1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Write(ctx, func(tx points.Tx) error { return tx.(*Tx).ApplyChanges(ctx, tc.c) })
			if !isCheck(err) {
				t.Fatalf("Apply: %v, want a CHECK violation", err)
			}
			if errors.Is(err, points.ErrConflict) {
				t.Errorf("Apply: %v is a conflict, want a plain error", err)
			}
			if ok, _ := flowExists(ctx, s, "X1"); ok {
				t.Error("the flow of the refused write was stored")
			}
			got, _ := s.Account(ctx, "B1", "C1")
			if got != acct {
				t.Errorf("account = %+v, want unchanged %+v", got, acct)
			}
			lots, _ := s.LiveLots(ctx, "B1", "C1")
			if len(lots) != 1 || lots[0].Remaining != lot.Remaining {
				t.Errorf("lots = %+v, want unchanged", lots)
			}
		})
	}
	t.Run("allocation of a missing lot", func(t *testing.T) {
		err := s.Write(ctx, func(tx points.Tx) error {
			return tx.(*Tx).ApplyChanges(ctx, ledger.Changes{Account: next, Flows: []ledger.Flow{flow},
				Allocations: []ledger.Allocation{{FlowID: "X1", LotID: "nolot", BrandID: "B1", CustomerID: "C1",
					Kind: ledger.AllocOther, Amount: 1}}})
		})
		if err == nil {
			t.Fatal("stored an allocation of a missing lot")
		}
		if ok, _ := flowExists(ctx, s, "X1"); ok {
			t.Error("the flow of the refused write was stored")
		}
	})
}
