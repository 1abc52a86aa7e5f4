package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

// The operators' reads (backoffice.Reader) and what the operators' side
// does with them, through backoffice.Office, on every store.

func init() {
	extra = append(extra,
		suiteTest{"AdminSearchCustomers", testAdminSearchCustomers},
		suiteTest{"AdminOrder", testAdminOrder},
		suiteTest{"AdminOrderHoldEnd", testAdminOrderHoldEnd},
		suiteTest{"AdminPreviewWritesNothing", testAdminPreview},
		suiteTest{"AdminPreviewExpiredLot", testAdminPreviewExpired},
		suiteTest{"AdminReverseAdjust", testAdminReverseAdjust},
		suiteTest{"AdminReverseConcurrent", testAdminReverseConcurrent},
		suiteTest{"AdminFlowsTotals", testAdminFlowsTotals},
	)
}

// Admin is the operators' side of the Env's service, reading its store.
func (e *Env) Admin() *backoffice.Office { return backoffice.New(e.Svc, e.Store) }

// Snapshot renders everything the store holds, to compare before and
// after something that must write nothing.
func (e *Env) Snapshot() string {
	e.T.Helper()
	var b strings.Builder
	err := e.Store.EachAccount(e.Ctx, func(r points.AccountRows) error {
		fmt.Fprintf(&b, "%+v\n", r)
		return nil
	})
	if err == nil {
		err = e.Store.EachIdempotency(e.Ctx, func(r ledger.Idempotency) error { fmt.Fprintf(&b, "%+v\n", r); return nil })
	}
	if err == nil {
		err = e.Store.EachReversal(e.Ctx, func(r ledger.Reversal) error { fmt.Fprintf(&b, "%+v\n", r); return nil })
	}
	if err != nil {
		e.T.Fatal(err)
	}
	return b.String()
}

func customerIDs(cs []ledger.Customer) string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ",")
}

func testAdminSearchCustomers(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	for _, tc := range []struct{ brand, q, want string }{
		{"B1", "1380000000", "C1,C2,C3"}, // part of a mobile
		{"B1", "13800000002", "C2"},      // a whole mobile
		{"B1", "李", "C2"},                // part of a name
		{"", "c", "C1,C2,C3"},            // the start of an id, in any case; X1 does not start with it
		{"", "Other", "X1"},              // every brand
		{"B1", "Other", ""},
		{"B1", "%", ""}, // LIKE's wildcards match themselves
		{"B1", "_", ""},
	} {
		got, err := a.SearchCustomers(e.Ctx, tc.brand, tc.q, 0)
		if err != nil {
			t.Fatalf("search %q in %q: %v", tc.q, tc.brand, err)
		}
		if ids := customerIDs(got); ids != tc.want {
			t.Errorf("search %q in %q: got [%s], want [%s]", tc.q, tc.brand, ids, tc.want)
		}
	}
	// An exact id comes first, and the limit holds.
	e.MustApplyCustomers(ledger.Customer{ID: "AC2", BrandID: "B1", Name: "C2 的朋友"}, ledger.Customer{ID: "C22", BrandID: "B1"})
	got, err := a.SearchCustomers(e.Ctx, "B1", "C2", 0)
	if err != nil || len(got) < 3 || got[0].ID != "C2" {
		t.Fatalf("search C2: %v %v, want C2 first of three", customerIDs(got), err)
	}
	if got, err = a.SearchCustomers(e.Ctx, "B1", "C2", 1); err != nil || len(got) != 1 {
		t.Fatalf("limit 1: %v %v", customerIDs(got), err)
	}
	_, err = a.SearchCustomers(e.Ctx, "B1", "  ", 0)
	WantInvalid(t, err, "q")
	_, err = a.SearchCustomers(e.Ctx, "nope", "C", 0)
	WantCode(t, err, backoffice.CodeBrandNotFound)
}

// MustApplyCustomers provisions more customers.
func (e *Env) MustApplyCustomers(cs ...ledger.Customer) {
	e.T.Helper()
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Customers: cs}); err != nil {
		e.T.Fatal(err)
	}
}

func testAdminOrder(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C1", "g2", 100)
	e.MustConsume("C1", "o1", 150) // empties g1's lot, takes 50 of g2's
	e.MustCharge("C2", "g3", 40)
	e.MustConsume("C2", "o1", 40) // a second customer in the same order
	e.Clock.Advance(time.Minute)
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, func() points.ReverseRequest {
		r := e.Reverse("o1", "r1", P(30))
		r.CustomerID = "C1"
		return r
	}()); err != nil {
		t.Fatal(err)
	}
	rows, err := e.Store.OrderRows(e.Ctx, "B1", "o1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.Orders) != 2 || rows.Orders[0].CustomerID != "C1" || rows.Orders[0].Spent != 150 || rows.Orders[0].Reversed != 30 {
		t.Fatalf("positions %+v", rows.Orders)
	}
	if len(rows.Flows) != 3 || rows.Flows[0].Type != ledger.DeductFromConsume || rows.Flows[2].Type != ledger.DeductReverse {
		t.Fatalf("flows %+v, want consume, consume, reverse oldest first", rows.Flows)
	}
	if len(rows.Accounts) != 2 || rows.Hold.Exists {
		t.Fatalf("accounts %d, hold %+v", len(rows.Accounts), rows.Hold)
	}
	// C1's lots: g1's is empty but the order's allocations name it.
	lots := 0
	for _, l := range rows.Lots {
		if l.CustomerID == "C1" {
			lots++
		}
	}
	if lots != 2 {
		t.Fatalf("C1 lots %d, want 2 (one empty, named by the order)", lots)
	}
	v, err := a.Order(e.Ctx, "B1", "o1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Spent != 190 || v.Reversed != 30 || v.Reversible != 160 || v.ShopID != "S1" || len(v.Parts) != 2 {
		t.Fatalf("order view %+v", v)
	}
	if p := v.Parts[0]; p.CustomerID != "C1" || len(p.Spends) != 1 || len(p.Reversals) != 1 || p.Reversible != 120 {
		t.Fatalf("C1's part %+v", p)
	}
	// An order with a hold and nothing else.
	if _, err := e.operate(points.OperateCharge, 50, "g4", points.CustomerLookup{CustomerID: "C3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.operate(points.OperateFreeze, 20, "h1", points.CustomerLookup{CustomerID: "C3"}); err != nil {
		t.Fatal(err)
	}
	v, err = a.Order(e.Ctx, "B1", "h1")
	if err != nil || !v.Hold.Exists || v.Hold.Remaining != 20 || len(v.Parts) != 1 || len(v.Parts[0].HoldFlows) != 1 {
		t.Fatalf("hold order %+v %v", v, err)
	}
	_, err = a.Order(e.Ctx, "B1", "nothing")
	WantCode(t, err, backoffice.CodeOrderNotFound)
	_, err = a.Order(e.Ctx, "B2", "o1")
	WantCode(t, err, backoffice.CodeOrderNotFound)
}

// An order's view says how its hold ended, and when: verified (the rest
// released with it), released by an operator, or released on timeout.
func testAdminOrderHoldEnd(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	c1 := points.CustomerLookup{CustomerID: "C1"}
	e.MustCharge("C1", "g1", 300)
	for _, h := range []string{"h1", "h2", "h3"} {
		if _, err := e.operate(points.OperateFreeze, 30, h, c1); err != nil {
			t.Fatal(err)
		}
	}
	order := func(id string) backoffice.OrderView {
		t.Helper()
		v, err := a.Order(e.Ctx, "B1", id)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := order("h1"); v.HoldVerify != nil || v.HoldRelease != nil {
		t.Fatalf("an active hold has an end: verify %+v, release %+v", v.HoldVerify, v.HoldRelease)
	}

	e.Clock.Advance(time.Minute)
	verifiedAt := e.Clock.Now()
	if _, err := e.operate(points.OperateVerify, 20, "h1", c1); err != nil {
		t.Fatal(err)
	}
	v := order("h1")
	if v.Hold.Status != ledger.HoldVerified || v.HoldVerify == nil || v.HoldVerify.Amount != 20 ||
		!v.HoldVerify.CreatedAt.Equal(verifiedAt) || v.HoldRelease == nil || v.HoldRelease.Amount != 10 ||
		!v.HoldRelease.CreatedAt.Equal(verifiedAt) {
		t.Fatalf("verified hold: %+v, verify %+v, release %+v", v.Hold, v.HoldVerify, v.HoldRelease)
	}

	e.Clock.Advance(time.Minute)
	releasedAt := e.Clock.Now()
	if err := a.ReleaseHold(e.Ctx, points.Actor{Name: "小李"}, "B1", "h2"); err != nil {
		t.Fatal(err)
	}
	v = order("h2")
	if v.Hold.Status != ledger.HoldReleased || v.HoldVerify != nil || v.HoldRelease == nil || v.HoldRelease.Amount != 30 ||
		!v.HoldRelease.CreatedAt.Equal(releasedAt) || v.HoldRelease.OperatorName != "小李" {
		t.Fatalf("released hold: %+v, verify %+v, release %+v", v.Hold, v.HoldVerify, v.HoldRelease)
	}

	e.Clock.Advance(ledger.DefaultSettings().HoldTimeout)
	timedOutAt := e.Clock.Now()
	if _, err := e.Svc.Sweep(e.Ctx); err != nil {
		t.Fatal(err)
	}
	v = order("h3")
	if v.Hold.Status != ledger.HoldReleased || v.HoldVerify != nil || v.HoldRelease == nil || v.HoldRelease.Amount != 30 ||
		!v.HoldRelease.CreatedAt.Equal(timedOutAt) || v.HoldRelease.OperatorName != "" || v.HoldRelease.Reason != "冻结超时自动释放" {
		t.Fatalf("timed-out hold: %+v, verify %+v, release %+v", v.Hold, v.HoldVerify, v.HoldRelease)
	}
}

func testAdminPreview(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C1", "g2", 100)
	e.MustConsume("C1", "o1", 150)
	before := e.Snapshot()
	p, err := a.PreviewReversal(e.Ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(80)})
	if err != nil {
		t.Fatal(err)
	}
	// Last taken first: 50 back to g2's lot, then 30 to g1's.
	if p.CustomerID != "C1" || p.Points != 80 || p.Available != 50 || p.AvailableAfter != 130 ||
		p.Before.Reversible() != 150 || p.After.Reversible() != 70 || len(p.Lots) != 2 || len(p.Flows) != 1 {
		t.Fatalf("preview %+v", p)
	}
	if p.Lots[0].Points != 50 || p.Lots[0].Before != 50 || p.Lots[0].After != 100 ||
		p.Lots[1].Points != 30 || p.Lots[1].Before != 0 || p.Lots[1].After != 30 {
		t.Fatalf("lot by lot %+v", p.Lots)
	}
	// Errors are those the reversal would meet.
	_, err = a.PreviewReversal(e.Ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(151)})
	WantCode(t, err, ledger.CodeReverseExceedsSpent)
	_, err = a.PreviewReversal(e.Ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "none"})
	WantCode(t, err, ledger.CodeConsumeOrderNotFound)
	_, err = a.PreviewReversal(e.Ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Type: ledger.ExtraChargeReverse})
	WantCode(t, err, ledger.CodeChargeOrderNotFound)
	if after := e.Snapshot(); after != before {
		t.Fatalf("a preview wrote:\nbefore %s\nafter %s", before, after)
	}
	// The reversal does what the preview said.
	out, err := a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(80), RequestID: "pv-1"})
	if err != nil {
		t.Fatal(err)
	}
	v := e.View("C1")
	if v.Available != p.AvailableAfter {
		t.Fatalf("available %d after the reversal, preview said %d", v.Available, p.AvailableAfter)
	}
	remaining := map[string]int64{}
	for _, l := range v.Lots {
		remaining[l.ID] = l.Remaining
	}
	for _, l := range p.Lots {
		if remaining[l.LotID] != l.After {
			t.Errorf("lot %s holds %d, preview said %d", l.LotID, remaining[l.LotID], l.After)
		}
	}
	// A preview naming the refund just made is a replay.
	p, err = a.PreviewReversal(e.Ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(80), ReverseOrderID: "admin-pv-1"})
	if err != nil || p.Replay == nil || p.Replay.FlowID != out.FlowID {
		t.Fatalf("replay preview %+v %v", p, err)
	}
	_, err = a.PreviewReversal(e.Ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(10), ReverseOrderID: "admin-pv-1"})
	WantCode(t, err, ledger.CodeReverseOrderConflict)
}

func testAdminPreviewExpired(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	_, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{
		Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: ledger.DefaultSettings()},
		Rule:  &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 10}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g1", 100)
	e.MustConsume("C1", "o1", 60)
	e.Clock.Advance(12 * 24 * time.Hour) // the lot has expired, its 40 not yet swept
	before := e.Snapshot()
	p, err := a.PreviewReversal(e.Ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Points != 60 || p.Policy != ledger.RefundGrace || len(p.Lots) != 1 || !p.Lots[0].Expired ||
		!p.Lots[0].ExpiresAfter.After(e.Clock.Now()) || p.Available != 0 || p.AvailableAfter != 60 {
		t.Fatalf("preview %+v", p)
	}
	// The flows it would write: the expiry of the 40 still in the lot, then the refund.
	if len(p.Flows) != 2 || p.Flows[0].Type != ledger.Expire || p.Flows[1].Type != ledger.DeductReverse {
		t.Fatalf("flows %+v", p.Flows)
	}
	if e.Snapshot() != before {
		t.Fatal("a preview wrote")
	}
	if _, err := a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", RequestID: "x1"}); err != nil {
		t.Fatal(err)
	}
	if v := e.View("C1"); v.Available != 60 {
		t.Fatalf("available %d after a grace refund, want 60", v.Available)
	}
}

func testAdminReverseAdjust(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	e.MustCharge("C1", "g1", 200)
	e.MustConsume("C1", "o1", 100)
	r := backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(40), Reason: "顾客退菜", RequestID: "console-1"}
	out, err := a.Reverse(e.Ctx, points.Actor{Name: "小李"}, r)
	if err != nil {
		t.Fatal(err)
	}
	f := e.Flows("C1")[0]
	if f.ID != out.FlowID || f.Type != ledger.DeductReverse || f.OperatorName != "小李" || f.AppKey != points.AdminAppKey ||
		f.ShopID != "S1" || f.ReverseOrderID != "admin-console-1" || f.Reason != "顾客退菜" {
		t.Fatalf("reversal flow %+v", f)
	}
	// The same form sent twice is one reversal.
	again, err := a.Reverse(e.Ctx, points.Actor{Name: "小李"}, r)
	if err != nil || again.FlowID != out.FlowID || !again.Replayed {
		t.Fatalf("replay %+v %v", again, err)
	}
	r2 := r
	r2.Points = P(41)
	_, err = a.Reverse(e.Ctx, points.Actor{Name: "小李"}, r2)
	WantCode(t, err, ledger.CodeIdempotencyConflict)
	// Every rule of the gateway's reversal holds.
	_, err = a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(61), RequestID: "console-2"})
	WantCode(t, err, ledger.CodeReverseExceedsSpent)
	if _, err := a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", RequestID: "console-3"}); err != nil {
		t.Fatal(err)
	}
	_, err = a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", RequestID: "console-4"})
	WantCode(t, err, ledger.CodeAlreadyFullyReversed)
	_, err = a.Reverse(e.Ctx, points.Actor{Name: ""}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", RequestID: "console-5"})
	WantInvalid(t, err, "operator")
	_, err = a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1"})
	WantInvalid(t, err, "request_id")
	_, err = a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "nothing", RequestID: "console-6"})
	WantCode(t, err, ledger.CodeConsumeOrderNotFound)
	// Claw-back through the same path.
	if _, err := a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "g1", Type: ledger.ExtraChargeReverse,
		Points: P(50), RequestID: "console-7"}); err != nil {
		t.Fatal(err)
	}
	if got := e.Available("C1"); got != 150 {
		t.Fatalf("available %d after refund of 100 and claw-back of 50, want 150", got)
	}

	// Adjustments: a reason is required; they add a lot or take earliest
	// expiry first; taking more than there is fails and writes nothing.
	_, err = a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C1", Points: 10, RequestID: "adj-0"})
	WantInvalid(t, err, "reason")
	_, err = a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C1", Points: 0, Reason: "x", RequestID: "adj-0"})
	WantInvalid(t, err, "points")
	up, err := a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C1", Points: 25, Reason: "补偿", RequestID: "adj-1"})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C1", Points: 25, Reason: "补偿", RequestID: "adj-1"}); err != nil || again.FlowID != up.FlowID {
		t.Fatalf("adjust replay %+v %v", again, err)
	}
	if _, err := a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C1", Points: -75, Reason: "录入错误", RequestID: "adj-2"}); err != nil {
		t.Fatal(err)
	}
	n := e.FlowCount("C1")
	_, err = a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C1", Points: -101, Reason: "x", RequestID: "adj-3"})
	WantCode(t, err, ledger.CodePointNotEnough)
	if e.FlowCount("C1") != n {
		t.Fatal("a refused adjustment wrote a flow")
	}
	fs := e.Flows("C1")
	if fs[0].Type != ledger.Adjust || fs[0].ChangePoint() != -75 || fs[1].ChangePoint() != 25 || fs[0].Reason != "录入错误" {
		t.Fatalf("adjust flows %+v %+v", fs[0], fs[1])
	}
	if got := e.Available("C1"); got != 100 {
		t.Fatalf("available %d, want 100", got)
	}
	_, err = a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "nobody", Points: 1, Reason: "x", RequestID: "adj-4"})
	WantCode(t, err, ledger.CodeCustomerNotFound)

	// Hold release in an operator's name.
	if _, err := e.operate(points.OperateFreeze, 30, "h1", points.CustomerLookup{CustomerID: "C1"}); err != nil {
		t.Fatal(err)
	}
	if err := a.ReleaseHold(e.Ctx, points.Actor{Name: "小李"}, "B1", "h1"); err != nil {
		t.Fatal(err)
	}
	err = a.ReleaseHold(e.Ctx, points.Actor{Name: "小李"}, "B1", "h1")
	WantCode(t, err, ledger.CodeHoldNotFound)
	if f := e.Flows("C1")[0]; f.Type != ledger.Unfreeze || f.OperatorName != "小李" {
		t.Fatalf("release flow %+v", f)
	}
}

func testAdminReverseConcurrent(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Reverse(e.Ctx, points.Actor{Name: "小李"}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(30),
				RequestID: fmt.Sprintf("c-%d", i)})
			if err != nil {
				if !ledger.IsCode(err, ledger.CodeReverseExceedsSpent) {
					t.Errorf("reversal %d: %v", i, err)
				}
				return
			}
			mu.Lock()
			done++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if done != 3 {
		t.Fatalf("%d reversals of 30 succeeded on 100 spent, want 3", done)
	}
	v, err := a.Order(e.Ctx, "B1", "o1")
	if err != nil || v.Reversed != 90 || v.Reversible != 10 {
		t.Fatalf("order %+v %v", v, err)
	}
}

func testAdminFlowsTotals(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	_, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{
		Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: ledger.DefaultSettings()},
		Rule: &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearNever},
			Deduction: []ledger.DeductionRule{{DeductedPoint: 100, ConsumeMoney: 50, Enable: true}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	// Day 1 (2026-03-01): C1 earns 500 at S1, C2 300 at S2. Day 2: C1
	// spends 200, 50 come back. Day 3: an adjustment of -30. A flow just
	// before midnight belongs to its own day in the brand's time zone.
	e.MustCharge("C1", "g1", 500)
	r := e.Order("g2", 300)
	r.CustomerID, r.ShopID = "C2", "S2"
	if _, err := e.Svc.ExtraCharge(e.Ctx, e.Caller, r); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(14*time.Hour - time.Second) // 23:59:59
	e.MustCharge("C3", "g3", 7)
	e.Clock.Advance(time.Second + 10*time.Hour) // 2026-03-02 10:00
	e.MustConsume("C1", "o1", 200)
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r1", P(50))); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(24 * time.Hour)
	if _, err := a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C2", Points: -30, Reason: "x", RequestID: "a1"}); err != nil {
		t.Fatal(err)
	}

	page, err := a.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", PageSize: 2})
	if err != nil || page.Total != 6 || len(page.Flows) != 2 || page.Flows[0].Type != ledger.Adjust {
		t.Fatalf("flows across customers: %+v %v", page, err)
	}
	page, err = a.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", Type: "EXTRA_CHARGE", ShopID: "S1"})
	if err != nil || page.Total != 2 {
		t.Fatalf("charges at S1: %d %v, want 2", page.Total, err)
	}
	n := 0
	err = a.EachFlow(e.Ctx, backoffice.FlowFilter{BrandID: "B1", Start: Start.Add(12 * time.Hour)}, func(f ledger.Flow) error { n++; return nil })
	if err != nil || n != 4 {
		t.Fatalf("export from the first evening: %d flows %v, want 4", n, err)
	}
	_, err = a.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", ShopID: "S9"})
	WantInvalid(t, err, "shop_id")
	_, err = a.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", Type: "NOPE"})
	WantInvalid(t, err, "type")
	_, err = a.Flows(e.Ctx, backoffice.FlowFilter{})
	WantInvalid(t, err, "brand_id")

	tt, err := a.DailyTotals(e.Ctx, "B1", "2026-02-28", "2026-03-04")
	if err != nil {
		t.Fatal(err)
	}
	if len(tt.Days) != 5 || tt.Days[0].Day != "2026-02-28" {
		t.Fatalf("days %+v", tt.Days)
	}
	want := []dayWant{
		{0, 0, 0, 0, 0},
		{807, 0, 0, 0, 807},
		{0, 200, 50, 0, 657},
		{0, 0, 0, -30, 627},
		{0, 0, 0, 0, 627},
	}
	for i, w := range want {
		d := tt.Days[i]
		if d.Issued != w.issued || d.Spent != w.spent || d.Reversed != w.reversed || d.Adjusted != w.adjusted || d.Liability != w.liability {
			t.Errorf("%s: %+v, want %+v", d.Day, d, w)
		}
	}
	if tt.Liability != 627 || tt.LiabilityFen != 313 || tt.Days[1].LiabilityFen != 403 || !tt.Valued {
		t.Errorf("liability %d = %d fen (day 1 %d fen), want 627 = 313 fen (403)", tt.Liability, tt.LiabilityFen, tt.Days[1].LiabilityFen)
	}
	shops := map[string]int64{}
	for _, s := range tt.Shops {
		shops[s.Day+" "+s.ShopID] += s.Issued + s.Spent + s.Adjusted
	}
	if shops["2026-03-01 S1"] != 507 || shops["2026-03-01 S2"] != 300 || shops["2026-03-02 S1"] != 200 || shops["2026-03-03 "] != -30 {
		t.Errorf("by shop %v", shops)
	}
	// Only the last days: the liability before them is carried in.
	tt, err = a.DailyTotals(e.Ctx, "B1", "2026-03-02", "2026-03-02")
	if err != nil || len(tt.Days) != 1 || tt.Days[0].Liability != 657 {
		t.Fatalf("one day %+v %v", tt.Days, err)
	}
	_, err = a.DailyTotals(e.Ctx, "B1", "2026-03-05", "2026-03-01")
	WantInvalid(t, err, "to")
	_, err = a.DailyTotals(e.Ctx, "B1", "2025-01-01", "2026-03-01")
	WantInvalid(t, err, "from")
}

// dayWant is what a day's totals should be.
type dayWant struct{ issued, spent, reversed, adjusted, liability int64 }
