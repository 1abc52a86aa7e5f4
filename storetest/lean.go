package storetest

import (
	"testing"

	"jifen/ledger"
	"jifen/points"
)

// What the lean layout (schema 6) changed that a user can see.

func init() {
	extra = append(extra,
		suiteTest{"IdempotencyKeyedByBrand", testIdempotencyKeyedByBrand},
		suiteTest{"AdminOrderOfADecrease", testAdminOrderOfADecrease},
	)
}

// testIdempotencyKeyedByBrand: an idempotency key is unique within its
// brand (every ledger key leads with brand_id). One app acting for two
// brands with one request_id makes two requests; each replays its own
// answer; verify holds.
func testIdempotencyKeyedByBrand(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Apps: []ledger.App{{Key: "multi", Secret: "m", Name: "Multi", Active: true,
		Channels: []string{"KRY", "CS"}, Brands: []string{"B1", "B2"}}}}); err != nil {
		t.Fatal(err)
	}
	app, err := e.Store.App(e.Ctx, "multi")
	if err != nil {
		t.Fatal(err)
	}
	c := points.Caller{App: app}
	r1 := points.OrderRequest{Target: B1S1, CustomerID: "C1", Points: 100, OutBizID: "o1", OperatorID: "op", RequestID: "same"}
	r2 := points.OrderRequest{Target: points.Target{BrandID: "B2", ShopID: "S9", Channel: "CS"}, CustomerID: "X1", Points: 70,
		OutBizID: "o1", OperatorID: "op", RequestID: "same"}
	out1, err := e.Svc.ExtraCharge(e.Ctx, c, r1)
	if err != nil {
		t.Fatal(err)
	}
	out2, err := e.Svc.ExtraCharge(e.Ctx, c, r2)
	if err != nil || out2.Replayed || out2.FlowID == out1.FlowID {
		t.Fatalf("the same request_id for another brand: %+v, %v; want a request of its own", out2, err)
	}
	again1, err1 := e.Svc.ExtraCharge(e.Ctx, c, r1)
	again2, err2 := e.Svc.ExtraCharge(e.Ctx, c, r2)
	if err1 != nil || err2 != nil || !again1.Replayed || !again2.Replayed || again1.FlowID != out1.FlowID || again2.FlowID != out2.FlowID {
		t.Fatalf("retries: %+v %v, %+v %v; want each brand's own answer replayed", again1, err1, again2, err2)
	}
	if e.Available("C1") != 100 {
		t.Fatalf("C1 has %d, want 100", e.Available("C1"))
	}
	// A different request under a key used in the brand is still a conflict.
	r1.Points = 5
	_, err = e.Svc.ExtraCharge(e.Ctx, c, r1)
	WantCode(t, err, ledger.CodeIdempotencyConflict)
}

// testAdminOrderOfADecrease: the order view finds a flow naming the order
// that left no order row (a decrease for an outer order).
func testAdminOrderOfADecrease(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 100)
	out, err := e.operate(points.OperateDecrease, 5, "D1", points.CustomerLookup{CustomerID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Admin().Order(e.Ctx, "B1", "D1")
	if err != nil {
		t.Fatalf("order view of D1: %v", err)
	}
	if len(v.Flows) != 1 || v.Flows[0].ID != out.FlowID {
		t.Fatalf("order view of D1 shows %d flows, want the decrease %s", len(v.Flows), out.FlowID)
	}
}
