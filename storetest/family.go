package storetest

import (
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

func init() {
	extra = append(extra,
		suiteTest{"OperateHolds", testOperateHolds},
		suiteTest{"CalCheckRule", testCalCheckRule},
	)
}

func (e *Env) operate(typ, n int64, order string, who points.CustomerLookup) (points.Outcome, error) {
	return e.Svc.Operate(e.Ctx, e.Caller, points.OperateRequest{Target: points.Target{BrandID: "B1", ShopID: "S1"},
		Type: typ, Points: n, OuterOrderID: order, Customer: who, OperatorID: "op1", RequestID: e.ReqID()})
}

func testOperateHolds(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	byID := points.CustomerLookup{CustomerID: "C1"}
	if _, err := e.operate(points.OperateCharge, 100, "g1", points.CustomerLookup{Mobile: "13800000001"}); err != nil {
		t.Fatal(err)
	}
	out, err := e.Svc.CreateCustomer(e.Ctx, e.Caller, points.CreateCustomerRequest{Target: points.Target{BrandID: "B1"}, RequestID: e.ReqID(),
		Customer: ledger.Customer{Channel: "KRY", CustomerType: 1, OuterType: "alipay", OuterID: "ali-9"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.operate(points.OperateCharge, 40, "g2", points.CustomerLookup{OuterType: "alipay", OuterID: "ali-9"}); err != nil {
		t.Fatal(err)
	}
	if v := e.View(out.Result); v.Available != 40 {
		t.Fatalf("charged by outer_id: %d", v.Available)
	}
	// Freeze 80, verify 50: the rest is released.
	if _, err := e.operate(points.OperateFreeze, 80, "H1", byID); err != nil {
		t.Fatal(err)
	}
	if v := e.View("C1"); v.Available != 20 || v.Frozen != 80 {
		t.Fatalf("after freeze %+v", v)
	}
	_, err = e.operate(points.OperateVerify, 81, "H1", byID)
	WantCode(t, err, ledger.CodeHoldExceeded)
	if _, err := e.operate(points.OperateVerify, 50, "H1", byID); err != nil {
		t.Fatal(err)
	}
	if v := e.View("C1"); v.Available != 50 || v.Frozen != 0 {
		t.Fatalf("after verify %+v", v)
	}
	// Verified points are a spend of the order and can be refunded.
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("H1", "rh1", nil)); err != nil {
		t.Fatal(err)
	}
	// A hold not verified in time is released by the sweeper.
	if _, err := e.operate(points.OperateFreeze, 30, "H2", byID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(31 * time.Minute)
	// Past its timeout it cannot be verified, even before the sweep; the
	// refusal writes nothing.
	before := e.Flows("C1")
	_, err = e.operate(points.OperateVerify, 10, "H2", byID)
	WantCode(t, err, ledger.CodeHoldExpired)
	if after := e.Flows("C1"); len(after) != len(before) || after[0].ID != before[0].ID {
		t.Fatalf("a refused verify wrote flows: %d before, %d after", len(before), len(after))
	}
	if v := e.View("C1"); v.Frozen != 30 {
		t.Fatalf("frozen after a refused verify %d, want 30", v.Frozen)
	}
	res, err := e.Svc.Sweep(e.Ctx)
	if err != nil || res.Released != 1 {
		t.Fatalf("sweep %+v %v", res, err)
	}
	if fs := e.Flows("C1"); fs[0].Type != ledger.Unfreeze || fs[0].Amount != 30 {
		t.Fatalf("newest flow %+v, want UNFREEZE 30", fs[0])
	}
	_, err = e.operate(points.OperateVerify, 1, "H2", byID)
	WantCode(t, err, ledger.CodeHoldNotFound)
	if _, err := e.operate(points.OperateDecrease, 10, "d1", byID); err != nil {
		t.Fatal(err)
	}
	if v := e.View("C1"); v.Available != 90 {
		t.Fatalf("after decrease %d, want 90", v.Available)
	}
	// Operator release.
	if _, err := e.operate(points.OperateFreeze, 5, "H3", byID); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.ReleaseHold(e.Ctx, "B1", "H3", points.Actor{Name: "tester"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.operate(5, 1, "x", byID)
	WantInvalid(t, err, "operate_type")
}

func testCalCheckRule(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	rule := &ledger.Rule{Name: "r1", Clear: ledger.ClearRule{Type: ledger.ClearNever}, Deduction: []ledger.DeductionRule{
		{LevelID: "", DeductedPoint: 100, ConsumeMoney: 5000, Enable: true, HasUpperLimit: true, MaxPoint: 500},
		{LevelID: "L2", DeductedPoint: 100, ConsumeMoney: 5000, Enable: false}}}
	brand := points.TenantBrand{Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai",
		OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: ledger.DefaultSettings()},
		Shops: []ledger.Shop{{ID: "S1", Name: "西湖店", OutIDs: map[string]string{"KRY": "kry-s1"}}, {ID: "S2", Name: "滨江店"}}, Rule: rule}
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{brand}}); err != nil {
		t.Fatal(err)
	}
	d, _, err := e.Svc.Calculate(e.Ctx, e.Caller, points.Target{BrandID: "B1"}, "C1", 120)
	if err != nil || d.ConsumePoint != 100 || d.DeductedMoney != 5000 {
		t.Fatalf("cal 120 = %+v %v, want 100 points, 5000 fen", d, err)
	}
	e.MustCharge("C1", "g1", 1000)
	e.MustCharge("C3", "g3", 1000)
	tg := points.Target{BrandID: "B1"}
	if err := e.Svc.CheckPay(e.Ctx, e.Caller, tg, "C1", 300); err != nil {
		t.Fatalf("allowed: %v", err)
	}
	WantCode(t, e.Svc.CheckPay(e.Ctx, e.Caller, tg, "C1", 600), ledger.CodeExceedsMaxPoint)
	WantCode(t, e.Svc.CheckPay(e.Ctx, e.Caller, tg, "C3", 100), ledger.CodeDeductionDisabled)
	_, err = e.Svc.Consume(e.Ctx, e.Caller, e.Order("o1", 600))
	WantCode(t, err, ledger.CodeExceedsMaxPoint)
	// Incremental sync: unchanged since a later time; a new version after
	// a change, with the removed level logically deleted.
	first, err := e.Svc.GetRule(e.Ctx, e.Caller, points.RuleRequest{Target: tg})
	if err != nil || first.Rule.Version != 1 {
		t.Fatalf("rule %+v %v", first, err)
	}
	ans, _ := e.Svc.GetRule(e.Ctx, e.Caller, points.RuleRequest{Target: tg, MaxUpdateTime: e.Clock.Now(), IncludeLogicalDelete: true})
	if !ans.Unchanged {
		t.Fatalf("sync at now: %+v, want unchanged", ans)
	}
	e.Clock.Advance(time.Hour)
	rule.Deduction = rule.Deduction[:1]
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{brand}}); err != nil {
		t.Fatal(err)
	}
	ans, _ = e.Svc.GetRule(e.Ctx, e.Caller, points.RuleRequest{Target: tg, MaxUpdateTime: Start, IncludeLogicalDelete: true})
	deleted := 0
	for _, d := range ans.Rule.Deduction {
		if d.Deleted && d.LevelID == "L2" {
			deleted++
		}
	}
	if ans.Unchanged || ans.Rule.Version != 2 || deleted != 1 {
		t.Fatalf("sync after change: %+v", ans)
	}
	if err := e.Svc.CheckPay(e.Ctx, e.Caller, tg, "C3", 100); err != nil {
		t.Fatalf("L2 falls back to the default once its rule is deleted: %v", err)
	}
}

func init() {
	extra = append(extra, suiteTest{"RefundOfExpired", testRefundOfExpired})
}

func testRefundOfExpired(t *testing.T, open Opener) {
	for _, policy := range []string{ledger.RefundGrace, ledger.RefundForfeit, ledger.RefundReissue} {
		t.Run(policy, func(t *testing.T) {
			e := NewEnv(t, open)
			settings := ledger.DefaultSettings()
			settings.RefundOfExpired = policy
			_, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{
				Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: settings},
				Shops: []ledger.Shop{{ID: "S1", Name: "西湖店", OutIDs: map[string]string{"KRY": "kry-s1"}}, {ID: "S2", Name: "滨江店"}},
				Rule:  &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 10}},
			}}})
			if err != nil {
				t.Fatal(err)
			}
			e.MustCharge("C1", "g1", 100)
			e.MustConsume("C1", "o1", 100)
			e.Clock.Advance(20 * 24 * time.Hour)
			out, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r1", nil))
			if err != nil {
				t.Fatal(err)
			}
			var rev ledger.Flow
			for _, f := range e.Flows("C1") {
				if f.ID == out.FlowID {
					rev = f
				}
			}
			if rev.Policy != policy {
				t.Fatalf("reversal flow policy %q, want %q", rev.Policy, policy)
			}
			want := map[string]int64{ledger.RefundGrace: 100, ledger.RefundForfeit: 0, ledger.RefundReissue: 100}[policy]
			if got := e.Available("C1"); got != want {
				t.Fatalf("available %d, want %d", got, want)
			}
		})
	}
}
