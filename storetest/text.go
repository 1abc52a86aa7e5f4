package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

func init() {
	extra = append(extra,
		suiteTest{"TextRefusedEverywhere", testTextRefused},
		suiteTest{"TextFreeTextLineBreaks", testTextLineBreaks},
		suiteTest{"ReservedAppKeys", testReservedAppKeys},
	)
}

// Values no field may hold: NUL (which PostgreSQL refuses, where SQLite
// stored it), another C0 control character, DEL, a C1 control character
// and bytes that are not UTF-8 (which PostgreSQL refuses too).
var badText = []string{"pg\x002", "a\x01b", "a\x7fb", "a\u0085b", "bad\xff\xfe"}

// Snapshot of the tenant records, to compare before and after refusals.
func (e *Env) tenantSnapshot() string {
	e.T.Helper()
	var b strings.Builder
	apps, err := e.Store.Apps(e.Ctx)
	if err != nil {
		e.T.Fatal(err)
	}
	fmt.Fprintf(&b, "%+v\n", apps)
	brands, err := e.Store.Brands(e.Ctx)
	if err != nil {
		e.T.Fatal(err)
	}
	for _, br := range brands {
		shops, err := e.Store.Shops(e.Ctx, br.ID)
		if err != nil {
			e.T.Fatal(err)
		}
		r, err := e.Store.Rule(e.Ctx, br.ID)
		if err != nil && !errors.Is(err, points.ErrNotFound) {
			e.T.Fatal(err)
		}
		fmt.Fprintf(&b, "%+v %+v %+v\n", br, shops, r)
	}
	for _, id := range []string{"C1", "C2", "C3", "X1"} {
		c, err := e.Store.Customer(e.Ctx, id)
		if err != nil {
			e.T.Fatal(err)
		}
		fmt.Fprintf(&b, "%+v\n", c)
	}
	return b.String()
}

// testTextRefused: every piece of text that reaches the store — ids,
// free text, optional fields, lookups — through every service and admin
// operation and the tenant file, refuses each bad value as invalid input
// naming the field, and nothing is written.
func testTextRefused(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 500)
	e.MustConsume("C1", "o1", 100)
	if _, err := e.Svc.Operate(e.Ctx, e.Caller, points.OperateRequest{Target: B1S1, Type: points.OperateFreeze, Points: 10,
		OuterOrderID: "H1", Customer: points.CustomerLookup{CustomerID: "C1"}, OperatorID: "op1", RequestID: e.ReqID()}); err != nil {
		t.Fatal(err)
	}
	admin := e.Admin()
	ledgerBefore, tenantBefore := e.Snapshot(), e.tenantSnapshot()

	type attempt struct {
		field string
		do    func(bad string) error
	}
	order := func(set func(*points.OrderRequest, string)) func(string) error {
		return func(bad string) error {
			r := e.Order("o-new", 10)
			set(&r, bad)
			_, err := e.Svc.ExtraCharge(e.Ctx, e.Caller, r)
			return err
		}
	}
	reverse := func(set func(*points.ReverseRequest, string)) func(string) error {
		return func(bad string) error {
			r := e.Reverse("o1", "r-new", P(10))
			set(&r, bad)
			_, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
			return err
		}
	}
	operate := func(set func(*points.OperateRequest, string)) func(string) error {
		return func(bad string) error {
			r := points.OperateRequest{Target: B1S1, Type: points.OperateCharge, Points: 5, OuterOrderID: "op-new",
				Customer: points.CustomerLookup{CustomerID: "C1"}, OperatorID: "op1", RequestID: e.ReqID()}
			set(&r, bad)
			_, err := e.Svc.Operate(e.Ctx, e.Caller, r)
			return err
		}
	}
	create := func(set func(*ledger.Customer, string)) func(string) error {
		return func(bad string) error {
			c := ledger.Customer{Channel: "KRY", CustomerType: 1, OuterType: "wechat", OuterID: "wx-new", Mobile: "13900000009"}
			set(&c, bad)
			_, err := e.Svc.CreateCustomer(e.Ctx, e.Caller, points.CreateCustomerRequest{Target: points.Target{BrandID: "B1"},
				Customer: c, RequestID: e.ReqID()})
			return err
		}
	}
	update := func(set func(*points.UpdateCustomerRequest, string)) func(string) error {
		return func(bad string) error {
			r := points.UpdateCustomerRequest{Target: points.Target{BrandID: "B1"}, CustomerID: "C1", Name: S("n"), RequestID: e.ReqID()}
			set(&r, bad)
			_, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, r)
			return err
		}
	}
	apply := func(tn func(string) points.Tenant) func(string) error {
		return func(bad string) error { _, err := e.Svc.Apply(e.Ctx, tn(bad)); return err }
	}
	brand := func(set func(*points.TenantBrand, string)) func(string) points.Tenant {
		return func(bad string) points.Tenant {
			b := points.TenantBrand{Brand: ledger.Brand{ID: "B9", Name: "b", Settings: ledger.DefaultSettings()},
				Shops: []ledger.Shop{{ID: "S99", Name: "s"}},
				Rule: &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearNever},
					Deduction: []ledger.DeductionRule{{LevelID: "L1", DeductedPoint: 100, ConsumeMoney: 100, Enable: true}},
					Addition:  []ledger.AdditionRule{{LevelID: "L1", ConsumeMoney: 100, RewardPoint: 1, Enable: true}}}}
			set(&b, bad)
			return points.Tenant{Brands: []points.TenantBrand{b}}
		}
	}
	app := func(set func(*ledger.App, string)) func(string) points.Tenant {
		return func(bad string) points.Tenant {
			a := ledger.App{Key: "new-app", Name: "a", Active: true, Channels: []string{"KRY"}, Brands: []string{"B1"}}
			set(&a, bad)
			return points.Tenant{Apps: []ledger.App{a}}
		}
	}
	customer := func(set func(*ledger.Customer, string)) func(string) points.Tenant {
		return func(bad string) points.Tenant {
			c := ledger.Customer{ID: "C9", BrandID: "B1", Name: "n"}
			set(&c, bad)
			return points.Tenant{Customers: []ledger.Customer{c}}
		}
	}
	adjust := func(set func(*points.AdjustRequest, string)) func(string) error {
		return func(bad string) error {
			r := points.AdjustRequest{CustomerID: "C1", Points: 5, Reason: "r", RequestID: e.ReqID()}
			set(&r, bad)
			_, err := admin.Adjust(e.Ctx, points.Actor{Name: "小李"}, r)
			return err
		}
	}
	adminReverse := func(set func(*backoffice.ReverseRequest, string)) func(string) error {
		return func(bad string) error {
			r := backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", Points: P(10), Reason: "r", RequestID: e.ReqID()}
			set(&r, bad)
			_, err := admin.Reverse(e.Ctx, points.Actor{Name: "小李"}, r)
			return err
		}
	}
	for _, a := range []attempt{
		// The gateway's writes.
		{"request_id", order(func(r *points.OrderRequest, v string) { r.RequestID = v })},
		{"out_biz_id", order(func(r *points.OrderRequest, v string) { r.OutBizID = v })},
		{"customer_id", order(func(r *points.OrderRequest, v string) { r.CustomerID = v })},
		{"operator_id", order(func(r *points.OrderRequest, v string) { r.OperatorID = v })},
		{"operator_name", order(func(r *points.OrderRequest, v string) { r.OperatorName = v })},
		{"reason", order(func(r *points.OrderRequest, v string) { r.Reason = v })},
		{"brand_id", order(func(r *points.OrderRequest, v string) { r.BrandID = v })},
		{"out_brand_id", order(func(r *points.OrderRequest, v string) { r.OutBrandID = v })},
		{"shop_id", order(func(r *points.OrderRequest, v string) { r.ShopID = v })},
		{"out_shop_id", order(func(r *points.OrderRequest, v string) { r.OutShopID = v })},
		{"biz_channel", order(func(r *points.OrderRequest, v string) { r.Channel = v })},
		{"consume request_id", func(bad string) error {
			r := e.Order("o-new", 10)
			r.RequestID = bad
			_, err := e.Svc.Consume(e.Ctx, e.Caller, r)
			return err
		}},
		{"reverse_order_id", reverse(func(r *points.ReverseRequest, v string) { r.ReverseOrderID = v })},
		{"customer_id", reverse(func(r *points.ReverseRequest, v string) { r.CustomerID = v })},
		{"reason", reverse(func(r *points.ReverseRequest, v string) { r.Reason = v })},
		{"operator_name", reverse(func(r *points.ReverseRequest, v string) { r.OperatorName = v })},
		{"outer_order_id", operate(func(r *points.OperateRequest, v string) { r.OuterOrderID = v })},
		{"operator_id", operate(func(r *points.OperateRequest, v string) { r.OperatorID = v })},
		{"reason", operate(func(r *points.OperateRequest, v string) { r.Reason = v })},
		{"customer_id", operate(func(r *points.OperateRequest, v string) { r.Customer.CustomerID = v })},
		{"mobile", operate(func(r *points.OperateRequest, v string) { r.Customer = points.CustomerLookup{Mobile: v} })},
		{"outer_id", operate(func(r *points.OperateRequest, v string) {
			r.Customer = points.CustomerLookup{OuterType: "wechat", OuterID: v}
		})},
		{"outer_type", operate(func(r *points.OperateRequest, v string) {
			r.Customer = points.CustomerLookup{OuterType: v, OuterID: "wx-1"}
		})},
		{"mobile", create(func(c *ledger.Customer, v string) { c.Mobile = v })},
		{"name", create(func(c *ledger.Customer, v string) { c.Name = v })},
		{"level_id", create(func(c *ledger.Customer, v string) { c.LevelID = v })},
		{"outer_id", create(func(c *ledger.Customer, v string) { c.OuterID = v })},
		{"outer_type", create(func(c *ledger.Customer, v string) { c.OuterType = v })},
		{"gender", create(func(c *ledger.Customer, v string) { c.Gender = v })},
		{"email", create(func(c *ledger.Customer, v string) { c.Email = v })},
		{"birthday", create(func(c *ledger.Customer, v string) { c.Birthday = v })},
		{"address", create(func(c *ledger.Customer, v string) { c.Address = v })},
		{"remark", create(func(c *ledger.Customer, v string) { c.Remark = v })},
		{"request_id", update(func(r *points.UpdateCustomerRequest, v string) { r.RequestID = v })},
		{"customer_id", update(func(r *points.UpdateCustomerRequest, v string) { r.CustomerID = v })},
		{"brand_id", update(func(r *points.UpdateCustomerRequest, v string) { r.BrandID = v })},
		{"mobile", update(func(r *points.UpdateCustomerRequest, v string) { r.Mobile = &v })},
		{"name", update(func(r *points.UpdateCustomerRequest, v string) { r.Name = &v })},
		{"level_id", update(func(r *points.UpdateCustomerRequest, v string) { r.LevelID = &v })},
		{"gender", update(func(r *points.UpdateCustomerRequest, v string) { r.Gender = &v })},
		{"email", update(func(r *points.UpdateCustomerRequest, v string) { r.Email = &v })},
		{"birthday", update(func(r *points.UpdateCustomerRequest, v string) { r.Birthday = &v })},
		{"address", update(func(r *points.UpdateCustomerRequest, v string) { r.Address = &v })},
		{"remark", update(func(r *points.UpdateCustomerRequest, v string) { r.Remark = &v })},
		{"phone", update(func(r *points.UpdateCustomerRequest, v string) { r.Phone = &v })},
		{"invoice", update(func(r *points.UpdateCustomerRequest, v string) { r.Invoice = &v })},
		{"ext_info", update(func(r *points.UpdateCustomerRequest, v string) { r.ExtInfo = &v })},
		{"tag_ids[0]", update(func(r *points.UpdateCustomerRequest, v string) { r.TagIDs = []string{v} })},
		{"operator_id", update(func(r *points.UpdateCustomerRequest, v string) { r.OperatorID = v })},
		{"operator_name", update(func(r *points.UpdateCustomerRequest, v string) { r.OperatorName = v })},
		// The gateway's reads.
		{"customer_id", func(bad string) error {
			_, err := e.Svc.QueryFlows(e.Ctx, e.Caller, points.FlowsRequest{Target: B1S1, CustomerID: bad})
			return err
		}},
		{"out_biz_id", func(bad string) error {
			_, err := e.Svc.QueryFlows(e.Ctx, e.Caller, points.FlowsRequest{Target: B1S1, CustomerID: "C1", OutBizLike: bad})
			return err
		}},
		{"mobile", func(bad string) error {
			_, err := e.Svc.FindCustomer(e.Ctx, e.Caller, points.CustomerLookup{Target: B1S1, Mobile: bad})
			return err
		}},
		{"customer_id", func(bad string) error {
			_, _, err := e.Svc.Calculate(e.Ctx, e.Caller, B1S1, bad, 100)
			return err
		}},
		{"customer_id", func(bad string) error { return e.Svc.CheckPay(e.Ctx, e.Caller, B1S1, bad, 100) }},
		{"level_id", func(bad string) error {
			_, err := e.Svc.GetRule(e.Ctx, e.Caller, points.RuleRequest{Target: B1S1, LevelID: bad})
			return err
		}},
		{"out_brand_id", func(bad string) error {
			_, err := e.Svc.GetRule(e.Ctx, e.Caller, points.RuleRequest{Target: points.Target{OutBrandID: bad, Channel: "KRY"}})
			return err
		}},
		// `jifen hold release`.
		{"operator", func(bad string) error { return e.Svc.ReleaseHold(e.Ctx, "B1", "H1", points.Actor{Name: bad}) }},
		{"outer_order_id", func(bad string) error { return e.Svc.ReleaseHold(e.Ctx, "B1", bad, points.Actor{Name: "cli"}) }},
		{"brand_id", func(bad string) error { return e.Svc.ReleaseHold(e.Ctx, bad, "H1", points.Actor{Name: "cli"}) }},
		// The tenant file (and the admin API's tenant writes).
		{"brands[0].brand_id", apply(brand(func(b *points.TenantBrand, v string) { b.ID = v }))},
		{"brands[0].name", apply(brand(func(b *points.TenantBrand, v string) { b.Name = v }))},
		{"brands[0].out_ids.KRY", apply(brand(func(b *points.TenantBrand, v string) { b.OutIDs = map[string]string{"KRY": v} }))},
		{"brands[0].shops[0].shop_id", apply(brand(func(b *points.TenantBrand, v string) { b.Shops[0].ID = v }))},
		{"brands[0].shops[0].name", apply(brand(func(b *points.TenantBrand, v string) { b.Shops[0].Name = v }))},
		{"brands[0].shops[0].out_ids.CS", apply(brand(func(b *points.TenantBrand, v string) {
			b.Shops[0].OutIDs = map[string]string{"CS": v}
		}))},
		{"brands[0].rule.name", apply(brand(func(b *points.TenantBrand, v string) { b.Rule.Name = v }))},
		{"brands[0].rule.point_deduction_rule.member_point_deduction_rules[0].level_id",
			apply(brand(func(b *points.TenantBrand, v string) { b.Rule.Deduction[0].LevelID = v }))},
		{"brands[0].rule.point_addition_rule.member_point_addition_rules[0].level_id",
			apply(brand(func(b *points.TenantBrand, v string) { b.Rule.Addition[0].LevelID = v }))},
		{"apps[0].app_key", apply(app(func(a *ledger.App, v string) { a.Key = v }))},
		{"apps[0].secret", apply(app(func(a *ledger.App, v string) { a.Secret = v }))},
		{"apps[0].name", apply(app(func(a *ledger.App, v string) { a.Name = v }))},
		{"apps[0].brands[1]", apply(app(func(a *ledger.App, v string) { a.Brands = append(a.Brands, v) }))},
		{"customers[0].customer_id", apply(customer(func(c *ledger.Customer, v string) { c.ID = v }))},
		{"customers[0].brand_id", apply(customer(func(c *ledger.Customer, v string) { c.BrandID = v }))},
		{"customers[0].mobile", apply(customer(func(c *ledger.Customer, v string) { c.Mobile = v }))},
		{"customers[0].name", apply(customer(func(c *ledger.Customer, v string) { c.Name = v }))},
		{"customers[0].level_id", apply(customer(func(c *ledger.Customer, v string) { c.LevelID = v }))},
		{"customers[0].outer_id", apply(customer(func(c *ledger.Customer, v string) { c.OuterID = v }))},
		// The operators' side.
		{"operator", func(bad string) error {
			_, err := admin.Adjust(e.Ctx, points.Actor{Name: bad}, points.AdjustRequest{CustomerID: "C1", Points: 5, Reason: "r", RequestID: e.ReqID()})
			return err
		}},
		{"reason", adjust(func(r *points.AdjustRequest, v string) { r.Reason = v })},
		{"operator", func(bad string) error {
			_, err := admin.UpdateCustomer(e.Ctx, points.Actor{Name: bad}, points.UpdateCustomerRequest{CustomerID: "C1", Name: S("n"), RequestID: e.ReqID()})
			return err
		}},
		{"customer_id", func(bad string) error {
			_, err := admin.UpdateCustomer(e.Ctx, points.Actor{Name: "小李"}, points.UpdateCustomerRequest{CustomerID: bad, Name: S("n"), RequestID: e.ReqID()})
			return err
		}},
		{"remark", func(bad string) error {
			_, err := admin.UpdateCustomer(e.Ctx, points.Actor{Name: "小李"}, points.UpdateCustomerRequest{CustomerID: "C1", Remark: &bad, RequestID: e.ReqID()})
			return err
		}},
		{"request_id", adjust(func(r *points.AdjustRequest, v string) { r.RequestID = v })},
		{"customer_id", adjust(func(r *points.AdjustRequest, v string) { r.CustomerID = v })},
		{"operator", func(bad string) error {
			_, err := admin.Reverse(e.Ctx, points.Actor{Name: bad}, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", RequestID: e.ReqID()})
			return err
		}},
		{"reason", adminReverse(func(r *backoffice.ReverseRequest, v string) { r.Reason = v })},
		{"reverse_order_id", adminReverse(func(r *backoffice.ReverseRequest, v string) { r.ReverseOrderID = v })},
		{"request_id", adminReverse(func(r *backoffice.ReverseRequest, v string) { r.RequestID = v })},
		{"shop_id", adminReverse(func(r *backoffice.ReverseRequest, v string) { r.ShopID = v })},
		{"customer_id", adminReverse(func(r *backoffice.ReverseRequest, v string) { r.CustomerID = v })},
		{"out_biz_id", adminReverse(func(r *backoffice.ReverseRequest, v string) { r.OutBizID = v })},
		{"brand_id", adminReverse(func(r *backoffice.ReverseRequest, v string) { r.BrandID = v })},
		{"reverse_order_id", func(bad string) error {
			_, err := admin.PreviewReversal(e.Ctx, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "o1", ReverseOrderID: bad})
			return err
		}},
		{"operator", func(bad string) error { return admin.ReleaseHold(e.Ctx, points.Actor{Name: bad}, "B1", "H1") }},
		{"outer_order_id", func(bad string) error { return admin.ReleaseHold(e.Ctx, points.Actor{Name: "小李"}, "B1", bad) }},
		{"out_biz_id", func(bad string) error { _, err := admin.Order(e.Ctx, "B1", bad); return err }},
		{"brand_id", func(bad string) error { _, err := admin.Order(e.Ctx, bad, "o1"); return err }},
		{"brand_id", func(bad string) error { _, err := admin.Brand(e.Ctx, bad); return err }},
		{"customer_id", func(bad string) error { _, err := admin.Customer(e.Ctx, bad); return err }},
		{"q", func(bad string) error { _, err := admin.SearchCustomers(e.Ctx, "", bad, 0); return err }},
		{"brand_id", func(bad string) error { _, err := admin.SearchCustomers(e.Ctx, bad, "C1", 0); return err }},
		{"shop_id", func(bad string) error {
			_, err := admin.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", ShopID: bad})
			return err
		}},
		{"out_biz_id", func(bad string) error {
			_, err := admin.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", OutBizLike: bad})
			return err
		}},
		{"customer_id", func(bad string) error {
			_, err := admin.Flows(e.Ctx, backoffice.FlowFilter{BrandID: "B1", CustomerID: bad})
			return err
		}},
		{"brand_id", func(bad string) error { _, err := admin.DailyTotals(e.Ctx, bad, "", ""); return err }},
	} {
		field, _ := strings.CutPrefix(a.field, "consume ")
		for _, bad := range badText {
			t.Run(fmt.Sprintf("%s=%q", a.field, bad), func(t *testing.T) {
				WantInvalid(t, a.do(bad), field)
			})
		}
	}
	if got := e.Snapshot(); got != ledgerBefore {
		t.Errorf("refused requests wrote to the ledger:\n%s\nwas:\n%s", got, ledgerBefore)
	}
	if got := e.tenantSnapshot(); got != tenantBefore {
		t.Errorf("refused requests wrote tenant records:\n%s\nwas:\n%s", got, tenantBefore)
	}
	if _, err := e.Store.CustomerByOuterID(e.Ctx, "B1", "wechat", "wx-new"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("a refused customer.create stored a customer: %v", err)
	}
	if _, err := e.Store.Customer(e.Ctx, "C9"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("a refused tenant stored customer C9: %v", err)
	}
}

// testTextLineBreaks: free text may hold tab, CR and LF (a reason on two
// lines is ordinary) and comes back as sent; ids may not.
func testTextLineBreaks(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	r := e.Order("g1", 10)
	r.Reason, r.OperatorName = "退菜\r\n第二行\t备注", "小\t王"
	if _, err := e.Svc.ExtraCharge(e.Ctx, e.Caller, r); err != nil {
		t.Fatal(err)
	}
	if f := e.Flows("C1")[0]; f.Reason != r.Reason || f.OperatorName != r.OperatorName {
		t.Fatalf("flow reason %q, operator_name %q; want %q, %q", f.Reason, f.OperatorName, r.Reason, r.OperatorName)
	}
	r = e.Order("g2", 10)
	r.OutBizID = "g2\n"
	_, err := e.Svc.ExtraCharge(e.Ctx, e.Caller, r)
	WantInvalid(t, err, "out_biz_id")
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Customers: []ledger.Customer{{ID: "C1", BrandID: "B1", Name: "张三",
		Remark: "常客\n爱吃辣", LevelID: "L1"}}}); err != nil {
		t.Fatal(err)
	}
}

// testReservedAppKeys: no app may take a key of the "@" namespace, which
// the operators' writes use; one stored by an older release is unknown
// to the service, so it cannot sign in at the gateway.
func testReservedAppKeys(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	before := e.tenantSnapshot()
	for _, key := range []string{points.AdminAppKey, "@", "@pos"} {
		_, err := e.Svc.Apply(e.Ctx, points.Tenant{Apps: []ledger.App{{Key: "ok-app", Name: "a", Active: true},
			{Key: key, Name: "a", Active: true, Channels: []string{"KRY"}, Brands: []string{"B1"}}}})
		WantInvalid(t, err, "apps[1].app_key")
		_, err = e.Admin().Apply(e.Ctx, points.Tenant{Apps: []ledger.App{{Key: key, Name: "a", Active: true}}})
		WantInvalid(t, err, "apps[0].app_key")
	}
	if got := e.tenantSnapshot(); got != before {
		t.Fatalf("refused apps were stored:\n%s\nwas:\n%s", got, before)
	}

	// An older release let the tenant file store one.
	legacy := ledger.App{Key: "@legacy", Secret: "s", Name: "old", Active: true, Channels: []string{"KRY"}, Brands: []string{"B1"}}
	if err := e.Store.Write(e.Ctx, func(tx points.Tx) error { return tx.PutApp(e.Ctx, legacy) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.App(e.Ctx, legacy.Key); err != nil {
		t.Fatalf("the store does not hold %s: %v", legacy.Key, err)
	}
	for _, key := range []string{legacy.Key, "pos\x00", "pos\xff"} {
		if a, err := e.Svc.App(e.Ctx, key); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Svc.App(%q) = %+v, %v; want ErrNotFound", key, a, err)
		}
	}
	// An operator's write is still its own.
	out, err := e.Admin().Adjust(e.Ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "C1", Points: 5, Reason: "补偿", RequestID: "adj-1"})
	if err != nil || e.Flows("C1")[0].AppKey != points.AdminAppKey || out.FlowID == "" {
		t.Fatalf("operator adjustment: %+v %v", out, err)
	}
}
