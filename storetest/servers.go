package storetest

import (
	"testing"

	"jifen/ledger"
	"jifen/points"
)

func init() {
	extra = append(extra,
		suiteTest{"ReverseOrderIDOfAnotherCustomer", testReverseOrderIDOfAnotherCustomer},
		suiteTest{"LevelChangedByAnotherServer", testLevelChangedByAnotherServer},
	)
}

// testReverseOrderIDOfAnotherCustomer: an order paid by two members; a
// refund's reverse_order_id used for one of them is, for the other, a
// conflict — not a replay of the first member's refund.
func testReverseOrderIDOfAnotherCustomer(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C2", "g2", 100)
	e.MustConsume("C1", "O1", 50)
	e.MustConsume("C2", "O1", 50)
	r := e.Reverse("O1", "RO1", P(10))
	r.CustomerID = "C1"
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, r); err != nil {
		t.Fatal(err)
	}
	r = e.Reverse("O1", "RO1", P(10))
	r.CustomerID = "C2"
	out, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
	WantCode(t, err, ledger.CodeReverseOrderConflict)
	if out.FlowID != "" {
		t.Fatalf("answered with flow %s", out.FlowID)
	}
	if c1, c2 := e.Available("C1"), e.Available("C2"); c1 != 60 || c2 != 50 {
		t.Fatalf("available C1 %d, C2 %d; want 60, 50", c1, c2)
	}
}

// testLevelChangedByAnotherServer: a payment is decided on the member's
// level as stored, not as a server cached it a moment ago.
func testLevelChangedByAnotherServer(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	rule := &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearNever}, Deduction: []ledger.DeductionRule{
		{LevelID: "L1", DeductedPoint: 100, ConsumeMoney: 100, Enable: true},
		{LevelID: "L9", DeductedPoint: 100, ConsumeMoney: 100, Enable: false},
	}}
	brand, err := e.Store.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: brand, Rule: rule}}}); err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 10) // this server has C1 (level L1) cached now
	// Another server moves C1 to level L9, which may not pay with points.
	other := points.New(e.Store, e.Clock, nil)
	c1, err := e.Store.Customer(e.Ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	c1.LevelID = "L9"
	if _, err := other.Apply(e.Ctx, points.Tenant{Customers: []ledger.Customer{c1}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Svc.Consume(e.Ctx, e.Caller, e.Order("o2", 10))
	WantCode(t, err, ledger.CodeDeductionDisabled)
}
