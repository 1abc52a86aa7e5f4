package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"jifen/ledger"
	"jifen/points"
)

func init() {
	extra = append(extra, suiteTest{"CustomerOfAnotherBrand", testCustomerOfAnotherBrand})
}

// countCustomerReads is a store that counts its reads of customers by id.
type countCustomerReads struct {
	points.Store
	n atomic.Int64
}

func (c *countCustomerReads) Customer(ctx context.Context, id string) (ledger.Customer, error) {
	c.n.Add(1)
	return c.Store.Customer(ctx, id)
}

// testCustomerOfAnotherBrand: an app asking its own brand about a
// customer of another brand gets the answer an unknown customer gets —
// same kind, field, message (but for the id asked about) and view — on
// every method that names a customer, by id, mobile or external id, and
// nothing is written. Neither is kept in the service's cache, so both take
// the same path each time.
func testCustomerOfAnotherBrand(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "o1", 100)
	e.MustConsume("C1", "o1", 40)
	e.MustApplyCustomers(ledger.Customer{ID: "X2", BrandID: "B2", Mobile: "13900000002", OuterType: "wechat", OuterID: "wx-x2"})
	other, err := e.Store.App(e.Ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	b2 := points.Target{BrandID: "B2", ShopID: "S9", Channel: "CS"}
	for _, who := range []string{"X1", "X2"} {
		if _, err := e.Svc.ExtraCharge(e.Ctx, points.Caller{App: other}, points.OrderRequest{Target: b2, CustomerID: who,
			Points: 100, OutBizID: "b2-" + who, OperatorID: "op", RequestID: e.ReqID()}); err != nil {
			t.Fatalf("charge %s in B2: %v", who, err)
		}
	}
	before := e.Snapshot()

	// Each call asks about one customer: of B2 (the first lookup) or
	// unknown (the second). They must be answered alike.
	type lookup struct{ id, mobile, outer string }
	foreign := lookup{"X1", "13900000002", "wx-x2"}
	missing := lookup{"N404", "13900000404", "wx-404"}
	byID := func(l lookup) points.CustomerLookup { return points.CustomerLookup{CustomerID: l.id} }
	byMobile := func(l lookup) points.CustomerLookup { return points.CustomerLookup{Mobile: l.mobile} }
	byOuter := func(l lookup) points.CustomerLookup {
		return points.CustomerLookup{OuterType: "wechat", OuterID: l.outer}
	}
	order := func(l lookup) points.OrderRequest {
		r := e.Order("o1", 10)
		r.CustomerID = l.id
		return r
	}
	reverse := func(l lookup, typ ledger.FlowType) points.ReverseRequest {
		r := e.Reverse("o1", "r-"+l.id+string(typ), P(10))
		r.Type, r.CustomerID = typ, l.id
		return r
	}
	b1 := points.Target{BrandID: "B1"}
	calls := []struct {
		name string
		call func(lookup) error
	}{
		{"customer.get/customer_id", func(l lookup) error {
			_, err := e.Svc.FindCustomer(e.Ctx, e.Caller, points.CustomerLookup{Target: b1, CustomerID: l.id})
			return err
		}},
		{"customer.get/mobile", func(l lookup) error {
			_, err := e.Svc.FindCustomer(e.Ctx, e.Caller, points.CustomerLookup{Target: b1, Mobile: l.mobile})
			return err
		}},
		{"customer.get/outer_id", func(l lookup) error {
			_, err := e.Svc.FindCustomer(e.Ctx, e.Caller, points.CustomerLookup{Target: b1, OuterType: "wechat", OuterID: l.outer})
			return err
		}},
		{"consumepoint", func(l lookup) error { _, err := e.Svc.Consume(e.Ctx, e.Caller, order(l)); return err }},
		{"extra.consume", func(l lookup) error { _, err := e.Svc.ExtraConsume(e.Ctx, e.Caller, order(l)); return err }},
		{"extracharge", func(l lookup) error { _, err := e.Svc.ExtraCharge(e.Ctx, e.Caller, order(l)); return err }},
		{"reversepoint/refund", func(l lookup) error {
			_, err := e.Svc.Reverse(e.Ctx, e.Caller, reverse(l, ledger.DeductReverse))
			return err
		}},
		{"reversepoint/clawback", func(l lookup) error {
			_, err := e.Svc.Reverse(e.Ctx, e.Caller, reverse(l, ledger.ExtraChargeReverse))
			return err
		}},
		{"querypointflow", func(l lookup) error {
			_, err := e.Svc.QueryFlows(e.Ctx, e.Caller, points.FlowsRequest{Target: b1, CustomerID: l.id})
			return err
		}},
		{"point.cal", func(l lookup) error { _, _, err := e.Svc.Calculate(e.Ctx, e.Caller, b1, l.id, 100); return err }},
		{"chkpntbypay", func(l lookup) error { return e.Svc.CheckPay(e.Ctx, e.Caller, b1, l.id, 10) }},
	}
	for typ := int64(points.OperateCharge); typ <= points.OperateDecrease; typ++ {
		for _, by := range []struct {
			name string
			of   func(lookup) points.CustomerLookup
		}{{"customer_id", byID}, {"mobile", byMobile}, {"outer_id", byOuter}} {
			calls = append(calls, struct {
				name string
				call func(lookup) error
			}{
				fmt.Sprintf("open.point.operate/%d/%s", typ, by.name),
				func(l lookup) error { _, err := e.operate(typ, 10, "h-"+l.id, by.of(l)); return err },
			})
		}
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			a, b := c.call(foreign), c.call(missing)
			ea, ok := ledger.AsError(a)
			if !ok || ea.Kind != ledger.KindInvalid {
				t.Fatalf("a customer of another brand: %v, want the invalid parameter an unknown one gets (%v)", a, b)
			}
			eb, _ := ledger.AsError(b)
			if eb == nil {
				t.Fatalf("an unknown customer: %v", b)
			}
			same := func(e *ledger.Error, l lookup) ledger.Error {
				v := *e
				for _, s := range []string{l.id, l.mobile, l.outer} {
					v.Message = strings.ReplaceAll(v.Message, s, "<asked>")
				}
				return v
			}
			if x, y := same(ea, foreign), same(eb, missing); x != y {
				t.Fatalf("a customer of another brand: %+v\nan unknown customer:        %+v\nwant them alike", x, y)
			}
		})
	}
	if after := e.Snapshot(); after != before {
		t.Fatalf("refused calls wrote:\nbefore %s\nafter  %s", before, after)
	}

	// The same path each time: a customer of another brand is read from
	// the store on every call, as an unknown one is, never from a cache
	// that only a real customer could have filled.
	counted := &countCustomerReads{Store: e.Store}
	svc := points.New(counted, e.Clock, nil)
	if _, err := svc.FindCustomer(e.Ctx, points.Caller{App: other}, points.CustomerLookup{Target: points.Target{BrandID: "B2"},
		CustomerID: "X1"}); err != nil {
		t.Fatalf("X1 in its own brand: %v", err)
	}
	reads := func(id string) int64 {
		start := counted.n.Load()
		for range 3 {
			if _, err := svc.FindCustomer(e.Ctx, e.Caller, points.CustomerLookup{Target: b1, CustomerID: id}); err == nil {
				t.Fatalf("%s found in B1", id)
			}
		}
		return counted.n.Load() - start
	}
	if x, n := reads("X1"), reads("N404"); x != n {
		t.Fatalf("three lookups read the store %d times for a customer of another brand, %d for an unknown one", x, n)
	}
}
