package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"jifen/ledger"
	"jifen/points"
	"jifen/top"
)

// TestE2E_CustomerUpdate drives alibaba.alsc.crm.customer.update with the
// signed client, on both stores: fields set, cleared and left as they
// were (read back with customer.get), the same request_id replayed and
// reused for another request, an unknown customer and another brand's
// answered alike, bad input named, and a level change deciding the next
// payment's deduction rule at once.
func TestE2E_CustomerUpdate(t *testing.T) {
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			store, err := openStore(ctx, newDB(t))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			svc := points.New(store, nil, nil)
			d, err := setupDemo(ctx, svc)
			if err != nil {
				t.Fatal(err)
			}
			// A second brand the demo app may not act for, a level that
			// may not pay with points, and one whose points are worth
			// twice the default's (100 points = 100 yuan, not 50) with a
			// lower cap (200 points a payment, not 5000).
			brand, err := store.Brand(ctx, "demo-brand")
			if err != nil {
				t.Fatal(err)
			}
			rule, err := store.Rule(ctx, "demo-brand")
			if err != nil {
				t.Fatal(err)
			}
			rule.Deduction = append(rule.Deduction, ledger.DeductionRule{LevelID: "BLOCKED", Enable: false},
				ledger.DeductionRule{LevelID: "GOLD", DeductedPoint: 100, ConsumeMoney: 10000, Enable: true, HasUpperLimit: true, MaxPoint: 200})
			if _, err := svc.Apply(ctx, points.Tenant{
				Brands:    []points.TenantBrand{{Brand: brand, Rule: &rule}, {Brand: ledger.Brand{ID: "other-brand", Name: "别家"}}},
				Customers: []ledger.Customer{{ID: "other-c1", BrandID: "other-brand", Name: "别家顾客"}},
			}); err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(newHandler(handlerConfig{svc: svc, store: store, log: discardLogger(), adminToken: adminToken}))
			defer ts.Close()
			client := &top.Client{URL: ts.URL + "/router/rest", AppKey: d.appKey, Secret: d.secret, HTTP: ts.Client()}

			call := func(method, param string, obj map[string]any) *top.Response {
				t.Helper()
				resp, err := client.Call(ctx, method, map[string]any{param: obj})
				if err != nil {
					t.Fatalf("%s: %v", method, err)
				}
				return resp
			}
			result := func(resp *top.Response) map[string]any {
				t.Helper()
				if resp.Err != nil {
					t.Fatalf("error_response %s", resp.Body)
				}
				var m map[string]any
				if err := json.Unmarshal(resp.Result, &m); err != nil {
					t.Fatalf("result %s: %v", resp.Result, err)
				}
				return m
			}
			update := func(obj map[string]any) map[string]any {
				t.Helper()
				return result(call(top.MethodCustomerUpdate, "param_customer_update_open_req", obj))
			}
			get := func(id string) map[string]any {
				t.Helper()
				r := result(call(top.MethodCustomerGet, "param_customer_id_query_open_req", map[string]any{
					"brand_id": "demo-brand", "customer_id": id, "options": []string{"POINT"}}))
				return r["result"].(map[string]any)["customer_open_info"].(map[string]any)
			}
			ok := func(r map[string]any, id string) {
				t.Helper()
				if r["biz_success"] != true || r["result"] != id || r["result_code"] != "200" {
					t.Fatalf("update: %v, want success with result %s", r, id)
				}
			}
			refused := func(r map[string]any, code string) {
				t.Helper()
				if r["biz_success"] != false || r["result_code"] != code || r["result_view"] == "" {
					t.Fatalf("update: %v, want %s", r, code)
				}
			}

			// Set fields, by the brand's external id, with the platform's
			// spellings: gender a number, birthday a TOP Date, a list as
			// a comma-separated string.
			first := map[string]any{"out_brand_id": "kry-demo", "customer_id": "demo-c1", "name": "张三丰", "gender": 1,
				"birthday": "1990-05-01 00:00:00", "email": "zs@example.com", "remark": "常客", "customer_type": "1",
				"phone": "0571-88886666", "invoice": "某某公司", "ext_info": `{"vip":true}`, "tag_ids": "t1,t2",
				"operator_id": "op1", "operator_name": "小王", "request_id": "cu-1"}
			ok(update(first), "demo-c1")
			info := get("demo-c1")
			if info["name"] != "张三丰" || info["gender"] != 1.0 || info["email"] != "zs@example.com" || info["remark"] != "常客" ||
				info["mobile"] != "13800000001" || info["level_id"] != "L1" || info["customer_type"] != 1.0 {
				t.Fatalf("customer.get after the update: %v", info)
			}
			if c, err := store.Customer(ctx, "demo-c1"); err != nil || c.Birthday != "1990-05-01" {
				t.Fatalf("stored birthday %q (%v), want 1990-05-01", c.Birthday, err)
			}
			ok(update(first), "demo-c1") // the same request: its answer again
			first["name"] = "张四"
			refused(update(first), ledger.CodeIdempotencyConflict)

			// "" clears; what is not sent stays.
			ok(update(map[string]any{"brand_id": "demo-brand", "customer_id": "demo-c1", "email": "", "gender": "",
				"birthday": "", "request_id": "cu-2"}), "demo-c1")
			info = get("demo-c1")
			if _, has := info["email"]; has || info["gender"] != nil || info["name"] != "张三丰" || info["remark"] != "常客" {
				t.Fatalf("customer.get after clearing: %v", info)
			}

			// An unknown customer and another brand's: the same answer.
			for _, id := range []string{"nobody", "other-c1"} {
				r := update(map[string]any{"brand_id": "demo-brand", "customer_id": id, "name": "冒名", "request_id": "cu-x-" + id})
				refused(r, ledger.CodeCustomerNotFound)
				if r["result_view"] != "顾客不存在: "+id {
					t.Fatalf("%s: %v", id, r)
				}
			}

			// Bad input: error_response code 50 naming the field; a missing
			// object parameter is code 40.
			for _, c := range []struct {
				field string
				obj   map[string]any
			}{
				{"gender", map[string]any{"gender": 2}},
				{"birthday", map[string]any{"birthday": "1990-02-30"}},
				{"customer_type", map[string]any{"customer_type": 5}},
				{"customer_id", map[string]any{"customer_id": ""}},
				{"request_id", map[string]any{"request_id": nil}},
				{"name", map[string]any{"name": "a\u0000b"}},
				{"tag_ids", map[string]any{"tag_ids": 7}},
			} {
				obj := map[string]any{"brand_id": "demo-brand", "customer_id": "demo-c1", "request_id": "cu-bad"}
				for k, v := range c.obj {
					obj[k] = v
				}
				resp := call(top.MethodCustomerUpdate, "param_customer_update_open_req", obj)
				if e := resp.Err; e == nil || e.Code != 50 || e.SubCode != "isv.invalid-parameter" || !strings.Contains(e.SubMsg, c.field) {
					t.Fatalf("bad %s: %s, want code 50 naming it", c.field, resp.Body)
				}
			}
			resp, err := client.Call(ctx, top.MethodCustomerUpdate, map[string]any{})
			if err != nil || resp.Err == nil || resp.Err.Code != top.CodeMissingArguments {
				t.Fatalf("no parameter: %v %v", resp, err)
			}

			// A level change takes effect for the next payment.
			pay := func(order string, n int) map[string]any {
				t.Helper()
				return result(call(top.MethodConsumePoint, "param_consume_point_open_req", with(kry, "customer_id", "demo-c1",
					"change_point", n, "out_biz_id", order, "operator_id", "op1", "operator_name", "小王", "request_id", order)))
			}
			if r := pay("pay-1", 10); r["biz_success"] != true {
				t.Fatalf("payment at level L1: %v", r)
			}
			ok(update(map[string]any{"brand_id": "demo-brand", "customer_id": "demo-c1", "level_id": "BLOCKED", "request_id": "cu-3"}), "demo-c1")
			if r := pay("pay-2", 10); r["biz_success"] != false || r["result_code"] != ledger.CodeDeductionDisabled {
				t.Fatalf("payment at level BLOCKED: %v", r)
			}
			ok(update(map[string]any{"brand_id": "demo-brand", "customer_id": "demo-c1", "level_id": "L1", "request_id": "cu-4"}), "demo-c1")
			if r := pay("pay-3", 10); r["biz_success"] != true {
				t.Fatalf("payment back at level L1: %v", r)
			}

			// A level with its own rate and cap: point.cal values the same
			// 300 points by the level's rule, and the next payment is held
			// to the level's cap.
			cal := func() (pts, fen float64) {
				t.Helper()
				r := result(call(top.MethodCal, "param_calculate_deducted_money_open_req", map[string]any{
					"brand_id": "demo-brand", "customer_id": "demo-c1", "consume_point": 300}))
				res := r["result"].(map[string]any)
				return res["consume_point"].(float64), res["deducted_money"].(float64)
			}
			if p, fen := cal(); p != 300 || fen != 15000 {
				t.Fatalf("point.cal of 300 at level L1 (the default rule): %v points, %v fen; want 300, 15000", p, fen)
			}
			ok(update(map[string]any{"brand_id": "demo-brand", "customer_id": "demo-c1", "level_id": "GOLD", "request_id": "cu-5"}), "demo-c1")
			if p, fen := cal(); p != 200 || fen != 20000 {
				t.Fatalf("point.cal of 300 at level GOLD: %v points, %v fen; want 200 (its cap), 20000 (100 yuan a 100 points)", p, fen)
			}
			if r := pay("pay-4", 300); r["biz_success"] != false || r["result_code"] != ledger.CodeExceedsMaxPoint {
				t.Fatalf("payment of 300 at level GOLD (cap 200): %v", r)
			}
			if r := pay("pay-5", 200); r["biz_success"] != true {
				t.Fatalf("payment of 200 at level GOLD: %v", r)
			}
			ok(update(map[string]any{"brand_id": "demo-brand", "customer_id": "demo-c1", "level_id": "L1", "request_id": "cu-6"}), "demo-c1")
			if p, fen := cal(); p != 300 || fen != 15000 {
				t.Fatalf("point.cal of 300 back at level L1: %v points, %v fen; want 300, 15000", p, fen)
			}
			if r := pay("pay-6", 250); r["biz_success"] != true {
				t.Fatalf("payment of 250 back at level L1 (cap 5000): %v", r)
			}

			// One customer.updated event per change (cu-1 … cu-6),
			// through the admin API.
			req, err := http.NewRequest("GET", ts.URL+"/admin/v1/events?type=customer.updated&limit=100", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			hr, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer hr.Body.Close()
			var page struct {
				Events []struct {
					Subject string                   `json:"subject"`
					Data    points.CustomerEventData `json:"data"`
				} `json:"events"`
			}
			if err := json.NewDecoder(hr.Body).Decode(&page); err != nil {
				t.Fatal(err)
			}
			var levels []string
			for _, ev := range page.Events {
				if ev.Subject != "demo-c1" {
					t.Fatalf("customer.updated of %s", ev.Subject)
				}
				levels = append(levels, ev.Data.LevelID)
			}
			if strings.Join(levels, ",") != "L1,L1,BLOCKED,L1,GOLD,L1" {
				t.Fatalf("customer.updated events with levels %v, want L1,L1,BLOCKED,L1,GOLD,L1", levels)
			}
		})
	}
}
