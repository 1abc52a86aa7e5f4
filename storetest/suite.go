package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

type suiteTest struct {
	name string
	fn   func(*testing.T, Opener)
}

// extra holds the tests of the rest of the point family (family.go).
var extra []suiteTest

// Run runs every ledger behaviour test against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []suiteTest{
		{"ChargeConsume", testChargeConsume},
		{"Reverse", testReverse},
		{"ReverseReplays", testReverseReplays},
		{"ReverseErrors", testReverseErrors},
		{"ReverseConcurrent", testReverseConcurrent},
		{"Idempotency", testIdempotency},
		{"IdempotencyConcurrent", testIdempotencyConcurrent},
		{"Resolution", testResolution},
		{"BadInputWritesNothing", testBadInput},
		{"QueryFlows", testQueryFlows},
		{"Customers", testCustomers},
		{"Expiry", testExpiry},
		{"Clawback", testClawback},
	}
	for _, tt := range append(tests, extra...) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

func testChargeConsume(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 500)
	if got := e.Available("C1"); got != 500 {
		t.Fatalf("available %d, want 500", got)
	}
	out := e.MustConsume("C1", "o1", 120)
	if out.Result == "" || out.Result != out.FlowID {
		t.Fatalf("consume result %q, want its flow id", out.Result)
	}
	r := e.Order("o2", 30)
	if _, err := e.Svc.ExtraConsume(e.Ctx, e.Caller, r); err != nil {
		t.Fatal(err)
	}
	v := e.View("C1")
	if v.Available != 350 || v.TotalEarned != 500 || v.TotalUsed != 150 {
		t.Fatalf("view %+v, want available 350, earned 500, used 150", v)
	}
	_, err := e.Svc.Consume(e.Ctx, e.Caller, e.Order("o3", 351))
	WantCode(t, err, ledger.CodePointNotEnough)
	fs := e.Flows("C1")
	if len(fs) != 3 || fs[0].Type != ledger.ExtraConsume || fs[0].RemainPoint != 350 || fs[0].ShopName != "西湖店" {
		t.Fatalf("flows newest first: %+v", fs)
	}
}

func testReverse(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 300)
	// Two partial refunds, then one without change_point for the rest.
	a, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r1", P(100)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r2", P(50))); err != nil {
		t.Fatal(err)
	}
	rest, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r3", nil))
	if err != nil {
		t.Fatal(err)
	}
	if a.Result == "" || a.Result == rest.Result {
		t.Fatalf("reversal results %q and %q must be distinct flow ids", a.Result, rest.Result)
	}
	fs := e.Flows("C1")
	if fs[0].ID != rest.FlowID || fs[0].Amount != 150 || fs[0].Type != ledger.DeductReverse || fs[0].ReverseOrderID != "r3" {
		t.Fatalf("last flow %+v, want the 150-point reversal r3", fs[0])
	}
	if got := e.Available("C1"); got != 1000 {
		t.Fatalf("available %d, want 1000", got)
	}
	_, err = e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r4", nil))
	WantCode(t, err, ledger.CodeAlreadyFullyReversed)
	_, err = e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r5", P(1)))
	WantCode(t, err, ledger.CodeAlreadyFullyReversed)
}

func testReverseReplays(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 300)
	req := e.Reverse("o1", "r1", P(100))
	first, err := e.Svc.Reverse(e.Ctx, e.Caller, req)
	if err != nil {
		t.Fatal(err)
	}
	n := e.FlowCount("C1")
	t.Run("SameRequestID", func(t *testing.T) {
		again, err := e.Svc.Reverse(e.Ctx, e.Caller, req)
		if err != nil || again.Result != first.Result || !again.Replayed {
			t.Fatalf("replay = %+v, %v; want %q replayed", again, err, first.Result)
		}
	})
	t.Run("SameReverseOrderIDOtherRequestID", func(t *testing.T) {
		r := req
		r.RequestID = e.ReqID()
		again, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
		if err != nil || again.Result != first.Result {
			t.Fatalf("replay by reverse_order_id = %+v, %v; want %q", again, err, first.Result)
		}
		// That request_id is now taken: the same request replays from its
		// own record, another refund under it is a conflict.
		again, err = e.Svc.Reverse(e.Ctx, e.Caller, r)
		if err != nil || again.Result != first.Result || !again.Replayed {
			t.Fatalf("second replay = %+v, %v; want %q replayed", again, err, first.Result)
		}
		other := e.Reverse("o1", "r1-other", P(30))
		other.RequestID = r.RequestID
		_, err = e.Svc.Reverse(e.Ctx, e.Caller, other)
		WantCode(t, err, ledger.CodeIdempotencyConflict)
	})
	if got := e.FlowCount("C1"); got != n {
		t.Fatalf("replays wrote flows: %d, want %d", got, n)
	}
	t.Run("ErrReverseOrderConflict", func(t *testing.T) {
		r := e.Reverse("o1", "r1", P(99))
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
		WantCode(t, err, ledger.CodeReverseOrderConflict)
		e.MustConsume("C1", "o2", 10)
		_, err = e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o2", "r1", P(100)))
		WantCode(t, err, ledger.CodeReverseOrderConflict)
	})
	t.Run("ErrIdempotencyConflict", func(t *testing.T) {
		r := e.Reverse("o1", "r9", P(5))
		r.RequestID = req.RequestID
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
		WantCode(t, err, ledger.CodeIdempotencyConflict)
	})
	if got := e.Available("C1"); got != 1000-300+100-10 {
		t.Fatalf("available %d, want %d", got, 1000-300+100-10)
	}
}

func testReverseErrors(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 1000)
	e.MustCharge("C2", "g2", 1000)
	e.MustConsume("C1", "o1", 300)
	t.Run("ErrExceedsConsumed", func(t *testing.T) {
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "rx", P(301)))
		WantCode(t, err, ledger.CodeReverseExceedsSpent)
		le, _ := ledger.AsError(err)
		if le == nil || !strings.Contains(le.Message, "300") {
			t.Fatalf("description %q should say how much is left", le.Message)
		}
	})
	t.Run("ErrOrderNotFound", func(t *testing.T) {
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("nope", "ry", nil))
		WantCode(t, err, ledger.CodeConsumeOrderNotFound)
		// A charge is not a spend.
		_, err = e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("g1", "ry2", nil))
		WantCode(t, err, ledger.CodeConsumeOrderNotFound)
	})
	t.Run("ErrWrongCustomer", func(t *testing.T) {
		r := e.Reverse("o1", "rz", P(1))
		r.CustomerID = "C2"
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
		WantInvalid(t, err, "customer_id")
	})
	t.Run("SeveralCustomersNeedCustomerID", func(t *testing.T) {
		e.MustConsume("C1", "shared", 10)
		e.MustConsume("C2", "shared", 20)
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("shared", "rs", nil))
		WantInvalid(t, err, "customer_id")
		r := e.Reverse("shared", "rs", nil)
		r.CustomerID = "C2"
		out, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
		if err != nil {
			t.Fatal(err)
		}
		if fs := e.Flows("C2"); fs[0].ID != out.FlowID || fs[0].Amount != 20 {
			t.Fatalf("reversed %+v, want C2's 20", fs[0])
		}
	})
	t.Run("BizType", func(t *testing.T) {
		r := e.Reverse("o1", "rb", nil)
		r.Type = "POINT_REVERSE"
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
		WantInvalid(t, err, "biz_type")
	})
}

func testReverseConcurrent(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 500)
	const workers = 24
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		reversed int64
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(30 + i%3*10)
			var p *int64
			if i%8 == 7 {
				p = nil // "the rest" races with the partial ones
			} else {
				p = &n
			}
			out, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", fmt.Sprintf("r%d", i), p))
			if err != nil {
				if !ledger.IsCode(err, ledger.CodeReverseExceedsSpent) && !ledger.IsCode(err, ledger.CodeAlreadyFullyReversed) {
					t.Errorf("reversal %d: %v", i, err)
				}
				return
			}
			fs := e.Flows("C1")
			for _, f := range fs {
				if f.ID == out.FlowID {
					mu.Lock()
					reversed += f.Amount
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if reversed > 500 {
		t.Fatalf("reversed %d of 500 spent", reversed)
	}
	if got := e.Available("C1"); got != 500+reversed {
		t.Fatalf("available %d, want %d", got, 500+reversed)
	}
}

func testIdempotency(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 100)
	r := e.Order("o1", 150)
	_, err := e.Svc.Consume(e.Ctx, e.Caller, r)
	WantCode(t, err, ledger.CodePointNotEnough)
	// Business failures are not stored: the same request_id may be retried.
	e.MustCharge("C1", "g2", 100)
	first, err := e.Svc.Consume(e.Ctx, e.Caller, r)
	if err != nil {
		t.Fatal(err)
	}
	n := e.FlowCount("C1")
	again, err := e.Svc.Consume(e.Ctx, e.Caller, r)
	if err != nil || again.Result != first.Result || !again.Replayed {
		t.Fatalf("replay %+v %v, want %q", again, err, first.Result)
	}
	if e.FlowCount("C1") != n || e.Available("C1") != 50 {
		t.Fatalf("replay wrote: flows %d, available %d", e.FlowCount("C1"), e.Available("C1"))
	}
	other := r
	other.Points = 10
	_, err = e.Svc.Consume(e.Ctx, e.Caller, other)
	WantCode(t, err, ledger.CodeIdempotencyConflict)
	// The same request_id under another method is a conflict too.
	ch := e.Order("g3", 150)
	ch.RequestID = r.RequestID
	_, err = e.Svc.ExtraCharge(e.Ctx, e.Caller, ch)
	WantCode(t, err, ledger.CodeIdempotencyConflict)
	// Keys are per app.
	e.MustVerify()
}

func testIdempotencyConcurrent(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 1000)
	r := e.Order("o1", 10)
	var wg sync.WaitGroup
	results := make([]string, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.Svc.Consume(e.Ctx, e.Caller, r)
			if err != nil {
				t.Errorf("duplicate %d: %v", i, err)
				return
			}
			results[i] = out.Result
		}()
	}
	wg.Wait()
	for _, res := range results {
		if res != results[0] {
			t.Fatalf("duplicates got different answers: %v", results)
		}
	}
	if got := e.Available("C1"); got != 990 {
		t.Fatalf("available %d, want 990: one effect per request_id", got)
	}
}

func testResolution(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 100)
	t.Run("OutIDs", func(t *testing.T) {
		r := e.Order("o1", 10)
		r.Target = points.Target{OutBrandID: "kry-b1", OutShopID: "kry-s1", Channel: "KRY"}
		if _, err := e.Svc.Consume(e.Ctx, e.Caller, r); err != nil {
			t.Fatal(err)
		}
	})
	cases := []struct {
		name   string
		target points.Target
		field  string
	}{
		{"BothBrandEmpty", points.Target{ShopID: "S1", Channel: "KRY"}, "brand_id"},
		{"BothShopEmpty", points.Target{BrandID: "B1", Channel: "KRY"}, "shop_id"},
		{"UnknownBrand", points.Target{BrandID: "B404", ShopID: "S1", Channel: "KRY"}, "brand_id"},
		{"UnknownOutBrand", points.Target{OutBrandID: "nope", ShopID: "S1", Channel: "KRY"}, "out_brand_id"},
		{"UnknownShop", points.Target{BrandID: "B1", ShopID: "S404", Channel: "KRY"}, "shop_id"},
		{"UnknownOutShop", points.Target{BrandID: "B1", OutShopID: "nope", Channel: "KRY"}, "out_shop_id"},
		{"ShopOfAnotherBrand", points.Target{BrandID: "B1", ShopID: "S9", Channel: "KRY"}, "shop_id"},
		{"UnknownChannel", points.Target{BrandID: "B1", ShopID: "S1", Channel: "MT"}, "biz_channel"},
		{"DisagreeingIDs", points.Target{BrandID: "B1", OutBrandID: "cs-b1", ShopID: "S1", Channel: "KRY"}, "out_brand_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.Order("o2", 10)
			r.Target = c.target
			_, err := e.Svc.Consume(e.Ctx, e.Caller, r)
			WantInvalid(t, err, c.field)
		})
	}
	t.Run("ErrPermission", func(t *testing.T) {
		other, err := e.Store.App(e.Ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		r := e.Order("o3", 10)
		_, err = e.Svc.Consume(e.Ctx, points.Caller{App: other}, r)
		le, ok := ledger.AsError(err)
		if !ok || le.Kind != ledger.KindPermission {
			t.Fatalf("got %v, want a permission error", err)
		}
	})
	t.Run("CustomerOfAnotherBrand", func(t *testing.T) {
		r := e.Order("o4", 10)
		r.CustomerID = "X1"
		_, err := e.Svc.Consume(e.Ctx, e.Caller, r)
		WantInvalid(t, err, "customer_id")
	})
	if got := e.Available("C1"); got != 90 {
		t.Fatalf("available %d, want 90", got)
	}
}

func testBadInput(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 100)
	e.MustConsume("C1", "o1", 50)
	before := e.FlowCount("C1")
	for _, n := range []int64{0, -5, points.MaxPoints + 1} {
		_, err := e.Svc.Consume(e.Ctx, e.Caller, e.Order("o2", n))
		WantInvalid(t, err, "change_point")
		_, err = e.Svc.ExtraCharge(e.Ctx, e.Caller, e.Order("o2", n))
		WantInvalid(t, err, "change_point")
		_, err = e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r", P(n)))
		WantInvalid(t, err, "change_point")
	}
	for _, f := range []string{"request_id", "out_biz_id", "operator_id", "customer_id"} {
		r := e.Order("o3", 1)
		switch f {
		case "request_id":
			r.RequestID = ""
		case "out_biz_id":
			r.OutBizID = " "
		case "operator_id":
			r.OperatorID = ""
		case "customer_id":
			r.CustomerID = ""
		}
		_, err := e.Svc.Consume(e.Ctx, e.Caller, r)
		WantInvalid(t, err, f)
	}
	for _, f := range []string{"reverse_order_id", "operator_name"} {
		r := e.Reverse("o1", "r1", nil)
		if f == "reverse_order_id" {
			r.ReverseOrderID = ""
		} else {
			r.OperatorName = ""
		}
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
		WantInvalid(t, err, f)
	}
	// Too long: identifiers past points.MaxIDBytes, free text past
	// points.MaxTextBytes (an index could not even hold some of them).
	long := func(n int) string { return strings.Repeat("长", n/3+1) }
	for _, f := range []string{"request_id", "out_biz_id", "operator_id", "reason", "operator_name"} {
		r := e.Order("o-long", 10)
		switch f {
		case "request_id":
			r.RequestID = long(points.MaxIDBytes)
		case "out_biz_id":
			r.OutBizID = long(points.MaxIDBytes)
		case "operator_id":
			r.OperatorID = long(points.MaxIDBytes)
		case "reason":
			r.Reason = long(points.MaxTextBytes)
		case "operator_name":
			r.OperatorName = long(points.MaxTextBytes)
		}
		_, err := e.Svc.Consume(e.Ctx, e.Caller, r)
		WantInvalid(t, err, f)
	}
	for _, f := range []string{"reverse_order_id", "reason"} {
		r := e.Reverse("o1", "r-long", nil)
		if f == "reverse_order_id" {
			r.ReverseOrderID = long(points.MaxIDBytes)
		} else {
			r.Reason = long(points.MaxTextBytes)
		}
		_, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
		WantInvalid(t, err, f)
	}
	if got := e.FlowCount("C1"); got != before {
		t.Fatalf("bad input wrote flows: %d, want %d", got, before)
	}
	// At the limits, accepted.
	r := e.Order("o-limit", 10)
	r.RequestID, r.Reason = strings.Repeat("r", points.MaxIDBytes), strings.Repeat("x", points.MaxTextBytes)
	if _, err := e.Svc.Consume(e.Ctx, e.Caller, r); err != nil {
		t.Fatalf("a request at the length limits: %v", err)
	}
}

func testQueryFlows(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "CHARGE-1", 1000)
	for i := range 25 {
		e.Clock.Advance(time.Minute)
		e.MustConsume("C1", fmt.Sprintf("ORDER-%03d", i), 1)
	}
	q := func(r points.FlowsRequest) points.FlowPage {
		t.Helper()
		r.Target = points.Target{BrandID: "B1"}
		r.CustomerID = "C1"
		p, err := e.Svc.QueryFlows(e.Ctx, e.Caller, r)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := q(points.FlowsRequest{})
	if p.Total != 26 || len(p.Flows) != 20 || p.TotalPages() != 2 || !p.HasNext() || p.Flows[0].OutBizID != "ORDER-024" {
		t.Fatalf("page 1: total %d, len %d, pages %d, first %s", p.Total, len(p.Flows), p.TotalPages(), p.Flows[0].OutBizID)
	}
	p = q(points.FlowsRequest{PageNo: 2})
	if len(p.Flows) != 6 || p.HasNext() || p.Flows[5].OutBizID != "CHARGE-1" {
		t.Fatalf("page 2: len %d, has next %v", len(p.Flows), p.HasNext())
	}
	if p = q(points.FlowsRequest{OutBizLike: "DER-01"}); p.Total != 10 {
		t.Fatalf("fuzzy out_biz_id: %d, want 10", p.Total)
	}
	if p = q(points.FlowsRequest{Type: "EXTRA_CHARGE"}); p.Total != 1 {
		t.Fatalf("by type: %d, want 1", p.Total)
	}
	if p = q(points.FlowsRequest{Start: Start.Add(5 * time.Minute), End: Start.Add(9 * time.Minute)}); p.Total != 5 {
		t.Fatalf("time range: %d, want 5", p.Total)
	}
	sp, err := e.Svc.QueryFlows(e.Ctx, e.Caller, points.FlowsRequest{Target: points.Target{BrandID: "B1", ShopID: "S2"}, CustomerID: "C1"})
	if err != nil || sp.Total != 0 {
		t.Fatalf("shop S2: %d %v, want 0", sp.Total, err)
	}
	_, err = e.Svc.QueryFlows(e.Ctx, e.Caller, points.FlowsRequest{Target: points.Target{BrandID: "B1"}, CustomerID: "C1", Type: "NOPE"})
	WantInvalid(t, err, "point_flow_type")
}

func testCustomers(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	req := points.CreateCustomerRequest{Target: points.Target{BrandID: "B1"}, RequestID: e.ReqID(),
		Customer: ledger.Customer{Channel: "KRY", CustomerType: 1, OuterType: "wechat", OuterID: "wx-1", Mobile: "13900000000", Name: "赵六"}}
	out, err := e.Svc.CreateCustomer(e.Ctx, e.Caller, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Svc.CreateCustomer(e.Ctx, e.Caller, req)
	if err != nil || again.Result != out.Result {
		t.Fatalf("replay: %+v %v", again, err)
	}
	dup := req
	dup.RequestID = e.ReqID()
	_, err = e.Svc.CreateCustomer(e.Ctx, e.Caller, dup)
	WantCode(t, err, ledger.CodeCustomerExists)
	for _, l := range []points.CustomerLookup{{CustomerID: out.Result}, {Mobile: "13900000000"}, {OuterType: "wechat", OuterID: "wx-1"}} {
		l.Target = points.Target{BrandID: "B1"}
		c, err := e.Svc.FindCustomer(e.Ctx, e.Caller, l)
		if err != nil || c.ID != out.Result {
			t.Fatalf("find %+v: %v %v", l, c.ID, err)
		}
	}
	_, err = e.Svc.FindCustomer(e.Ctx, e.Caller, points.CustomerLookup{Target: points.Target{BrandID: "B1"}, Mobile: "1"})
	WantInvalid(t, err, "mobile")
}

func testExpiry(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	_, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{
		Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: ledger.DefaultSettings()},
		Shops: []ledger.Shop{{ID: "S1", Name: "西湖店", OutIDs: map[string]string{"KRY": "kry-s1"}}, {ID: "S2", Name: "滨江店"}},
		Rule:  &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 30}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g1", 100)
	e.Clock.Advance(10 * 24 * time.Hour)
	e.MustCharge("C1", "g2", 50)
	e.Clock.Advance(25 * 24 * time.Hour) // the first lot has expired
	v := e.View("C1")
	if v.Available != 50 || v.TotalExpired != 100 {
		t.Fatalf("before the sweep: available %d, expired %d; want 50, 100", v.Available, v.TotalExpired)
	}
	_, err = e.Svc.Consume(e.Ctx, e.Caller, e.Order("o1", 60))
	WantCode(t, err, ledger.CodePointNotEnough)
	res, err := e.Svc.Sweep(e.Ctx)
	if err != nil || res.Expired != 1 {
		t.Fatalf("sweep %+v %v, want one account", res, err)
	}
	fs := e.Flows("C1")
	if fs[0].Type != ledger.Expire || fs[0].Amount != 100 || fs[0].RemainPoint != 50 {
		t.Fatalf("newest flow %+v, want EXPIRE 100", fs[0])
	}
	if res, _ := e.Svc.Sweep(e.Ctx); res.Expired != 0 {
		t.Fatalf("second sweep found %d accounts", res.Expired)
	}
}

func testClawback(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "earn-1", 100)
	e.MustConsume("C1", "o1", 30)
	r := e.Reverse("earn-1", "cb1", P(40))
	r.Type = ledger.ExtraChargeReverse
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, r); err != nil {
		t.Fatal(err)
	}
	r = e.Reverse("earn-1", "cb2", nil)
	r.Type = ledger.ExtraChargeReverse
	_, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
	WantCode(t, err, ledger.CodePointNotEnough)
	if got := e.Available("C1"); got != 30 {
		t.Fatalf("available %d, want 30", got)
	}
	r = e.Reverse("nope", "cb3", nil)
	r.Type = ledger.ExtraChargeReverse
	_, err = e.Svc.Reverse(e.Ctx, e.Caller, r)
	WantCode(t, err, ledger.CodeChargeOrderNotFound)
}
