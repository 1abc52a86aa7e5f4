package storetest

import (
	"context"
	"testing"

	"jifen/ledger"
	"jifen/points"
)

func init() { extra = append(extra, suiteTest{"AccountViewOneMoment", testAccountViewOneMoment}) }

// commitBetween is a store whose first Account read lets a write commit
// after it has read, as a concurrent payment would, before the lots are.
type commitBetween struct {
	points.Store
	once  bool
	write func()
}

func (c *commitBetween) Account(ctx context.Context, brandID, customerID string) (ledger.Account, error) {
	a, err := c.Store.Account(ctx, brandID, customerID)
	if !c.once {
		c.once = true
		c.write()
	}
	return a, err
}

// testAccountViewOneMoment: a member's balance and lots come from one
// moment even when a write commits between the store's reads of them.
func testAccountViewOneMoment(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 100)
	between := &commitBetween{Store: e.Store, write: func() { e.MustConsume("C1", "o1", 40) }}
	svc := points.New(between, e.Clock, nil)
	cust, err := e.Store.Customer(e.Ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.Account(e.Ctx, cust)
	if err != nil {
		t.Fatal(err)
	}
	var inLots int64
	for _, l := range v.Lots {
		inLots += l.Remaining
	}
	if v.Available != 60 || inLots != 60 || v.TotalUsed != 40 {
		t.Fatalf("view: available %d, lots hold %d, used %d; want 60, 60, 40 (one moment, after the payment)",
			v.Available, inLots, v.TotalUsed)
	}
}
