package storetest

import (
	"testing"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

// What the console asks of a store beyond the operators' other reads:
// members by their POS id, names of the customers on a page, a rule's
// version history, flows by operator and by a member's mobile, and the
// tenant writes made in an operator's name.

func init() {
	extra = append(extra,
		suiteTest{"ConsoleSearchOuterID", testConsoleSearchOuterID},
		suiteTest{"ConsoleCustomersByID", testConsoleCustomersByID},
		suiteTest{"ConsoleRuleVersions", testConsoleRuleVersions},
		suiteTest{"ConsoleFlowsByOperatorAndMobile", testConsoleFlowsByOperator},
		suiteTest{"ConsoleTenantWrites", testConsoleTenantWrites},
	)
}

func testConsoleSearchOuterID(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	e.MustApplyCustomers(ledger.Customer{ID: "M7", BrandID: "B1", Name: "赵六", OuterType: "KRY", OuterID: "POS-778899"},
		ledger.Customer{ID: "M8", BrandID: "B1", Name: "钱七", OuterType: "KRY", OuterID: "POS-7788"})
	for _, tc := range []struct{ q, want string }{
		{"POS-7788", "M8,M7"}, // the exact outer id first, then those it starts
		{"pos-778899", "M7"},  // ASCII letters in any case
		{"778899", ""},        // a piece inside an outer id is no match
	} {
		got, err := a.SearchCustomers(e.Ctx, "B1", tc.q, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ids := customerIDs(got); ids != tc.want {
			t.Errorf("search %q: got [%s], want [%s]", tc.q, ids, tc.want)
		}
	}
}

func testConsoleCustomersByID(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	got, err := e.Admin().Customers(e.Ctx, []string{"C2", "C1", "C2", "nobody", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["C1"].Name != "张三" || got["C2"].Mobile != "13800000002" {
		t.Fatalf("customers by id: %+v", got)
	}
	if got, err := e.Admin().Customers(e.Ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no ids: %v %v", got, err)
	}
}

func testConsoleRuleVersions(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	before, err := a.RuleVersions(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	r := ledger.Rule{Name: "春季", Clear: ledger.ClearRule{Type: ledger.ClearNever},
		Deduction: []ledger.DeductionRule{{DeductedPoint: 100, ConsumeMoney: 100, Enable: true}}}
	changed, err := a.PutRule(e.Ctx, points.Actor{Name: "小李"}, "B1", r)
	if err != nil || !changed {
		t.Fatalf("put rule: %v %v", changed, err)
	}
	if changed, err = a.PutRule(e.Ctx, points.Actor{Name: "小李"}, "B1", r); err != nil || changed {
		t.Fatalf("the same rule again: changed %v %v, want no new version", changed, err)
	}
	r.Deduction[0].ConsumeMoney = 200
	if _, err := a.PutRule(e.Ctx, points.Actor{Name: "小王"}, "B1", r); err != nil {
		t.Fatal(err)
	}
	vs, err := a.RuleVersions(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(before)+2 || vs[0].Version != vs[1].Version+1 || vs[0].Deduction[0].ConsumeMoney != 200 ||
		vs[1].Deduction[0].ConsumeMoney != 100 || vs[0].UpdatedBy != "小王" || vs[1].UpdatedBy != "小李" {
		t.Fatalf("versions %+v", vs)
	}
	_, err = a.RuleVersions(e.Ctx, "nope")
	WantCode(t, err, backoffice.CodeBrandNotFound)
	_, err = a.PutRule(e.Ctx, points.Actor{Name: "小李"}, "B1", ledger.Rule{Deduction: []ledger.DeductionRule{{Enable: true}}})
	WantInvalid(t, err, "brands[0].rule.point_deduction_rule.member_point_deduction_rules[0].deducted_point")
}

func testConsoleFlowsByOperator(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C2", "g2", 100)
	if _, err := a.Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C2", Points: 5, Reason: "补偿", RequestID: "a1"}); err != nil {
		t.Fatal(err)
	}
	page, err := a.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", Operator: "小李"})
	if err != nil || page.Total != 1 || page.Flows[0].Type != ledger.Adjust {
		t.Fatalf("flows of 小李: %+v %v", page, err)
	}
	n := 0
	if err := a.EachFlow(e.Ctx, backoffice.FlowFilter{BrandID: "B1", Operator: "小李"}, func(ledger.Flow) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("export of 小李's flows: %d %v", n, err)
	}
	// A member named by mobile.
	page, err = a.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", CustomerID: "13800000002"})
	if err != nil || page.Total != 2 || page.Flows[0].CustomerID != "C2" {
		t.Fatalf("flows of 13800000002: %+v %v", page, err)
	}
	_, err = a.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", CustomerID: "13900000000"})
	if err == nil {
		t.Fatal("flows of an unknown mobile: no error")
	}
}

func testConsoleTenantWrites(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	v, err := a.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	b := v.Brand
	b.Name, b.Settings.GraceDays = "新名字", 7
	if err := a.PutBrand(e.Ctx, points.Actor{Name: "小李"}, b); err != nil {
		t.Fatal(err)
	}
	if err := a.PutShop(e.Ctx, points.Actor{Name: "小李"}, "B1", ledger.Shop{ID: "S19", Name: "新店", OutIDs: map[string]string{"KRY": "kry-s19"}}); err != nil {
		t.Fatal(err)
	}
	after, err := a.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	if after.Brand.Name != "新名字" || after.Brand.Settings.GraceDays != 7 || len(after.Shops) != len(v.Shops)+1 {
		t.Fatalf("brand after: %+v", after)
	}
	if (after.Rule == nil) != (v.Rule == nil) {
		t.Fatalf("the brand's rule changed with its settings: %v → %v", v.Rule, after.Rule)
	}
	sh, err := e.Store.ShopByOutID(e.Ctx, "KRY", "kry-s19")
	if err != nil || sh.ID != "S19" {
		t.Fatalf("shop by its external id: %+v %v", sh, err)
	}
	// A shop of another brand is not moved.
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: ledger.Brand{ID: "B7", Name: "七"},
		Shops: []ledger.Shop{{ID: "S7", Name: "七店"}}}}}); err != nil {
		t.Fatal(err)
	}
	WantInvalid(t, a.PutShop(e.Ctx, points.Actor{Name: "小李"}, "B1", ledger.Shop{ID: "S7", Name: "抢"}), "shop_id")
	b.Settings.RefundOfExpired = "maybe"
	WantInvalid(t, a.PutBrand(e.Ctx, points.Actor{Name: "小李"}, b), "brands[0].settings.refund_of_expired")

	secret, err := a.PutApp(e.Ctx, points.Actor{Name: "小李"}, ledger.App{Key: "pos-new", Name: "新收银", Active: true, Channels: []string{"KRY"}, Brands: []string{"B1"}})
	if err != nil || len(secret) != 32 {
		t.Fatalf("new app: %q %v", secret, err)
	}
	if again, err := a.PutApp(e.Ctx, points.Actor{Name: "小李"}, ledger.App{Key: "pos-new", Name: "改名", Active: true}); err != nil || again != "" {
		t.Fatalf("update app: %q %v, want no new secret", again, err)
	}
	rotated, err := a.RotateSecret(e.Ctx, points.Actor{Name: "小李"}, "pos-new")
	if err != nil || len(rotated) != 32 || rotated == secret {
		t.Fatalf("rotate: %q %v", rotated, err)
	}
	app, err := e.Store.App(e.Ctx, "pos-new")
	if err != nil || app.Secret != rotated || app.Name != "改名" {
		t.Fatalf("app after rotation: %+v %v", app, err)
	}
	_, err = a.RotateSecret(e.Ctx, points.Actor{Name: "小李"}, "nope")
	WantCode(t, err, backoffice.CodeAppNotFound)
}
