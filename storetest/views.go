package storetest

import (
	"context"
	"testing"
	"time"

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

func init() { extra = append(extra, suiteTest{"ConsoleSessionsEnded", testSessionsEnded}) }

// testSessionsEnded: an ended console session is remembered until it
// would have expired, then forgotten.
func testSessionsEnded(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	now := time.Now()
	end := func(nonce string, until, at time.Time) {
		t.Helper()
		if err := e.Store.Write(e.Ctx, func(tx points.Tx) error { return tx.EndSession(e.Ctx, nonce, until, at) }); err != nil {
			t.Fatal(err)
		}
	}
	ended := func(nonce string) bool {
		t.Helper()
		ok, err := e.Admin().SessionEnded(e.Ctx, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	end("n1", now.Add(time.Hour), now)
	end("n1", now.Add(time.Hour), now) // twice: still one
	end("n2", now.Add(2*time.Hour), now)
	if !ended("n1") || !ended("n2") || ended("n3") {
		t.Fatalf("ended: n1 %v, n2 %v, n3 %v; want true, true, false", ended("n1"), ended("n2"), ended("n3"))
	}
	// Ninety minutes on, n1's cookie has expired by itself: forgotten.
	end("n3", now.Add(3*time.Hour), now.Add(90*time.Minute))
	if ended("n1") || !ended("n2") || !ended("n3") {
		t.Fatalf("after n1 expired: n1 %v, n2 %v, n3 %v; want false, true, true", ended("n1"), ended("n2"), ended("n3"))
	}
}
