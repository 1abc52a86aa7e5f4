package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"jifen/top"
)

// TestE2E_PointFamily drives operate, cal, chkpntbypay and rule.get over
// HTTP, and releases a hold with `jifen hold release`.
func TestE2E_PointFamily(t *testing.T) {
	s := startServer(t)
	op := func(typ, n int, order, req string, who ...any) map[string]any {
		p := map[string]any{"brand_id": "demo-brand", "shop_id": "demo-shop-1", "operate_type": typ, "change_point": n,
			"outer_order_id": order, "operator_id": "op1", "request_id": req}
		for i := 0; i < len(who); i += 2 {
			p[who[i].(string)] = who[i+1]
		}
		return s.call(top.MethodOperate, map[string]any{"param_point_operate_open_req": p})
	}
	if r := op(1, 100, "m-1", "f-1", "mobile", "13800000001"); r["biz_success"] != true || r["result"] != true {
		t.Fatalf("charge by mobile: %v", r)
	}
	if r := op(2, 80, "h-1", "f-2", "customer_id", "demo-c1"); r["result"] != true {
		t.Fatalf("freeze: %v", r)
	}
	if r := op(3, 90, "h-1", "f-3", "customer_id", "demo-c1"); r["biz_success"] != false || r["result_code"] != "HOLD_EXCEEDS_FROZEN" {
		t.Fatalf("over-verify: %v", r)
	}
	if got := s.available("demo-c1"); got != 520 {
		t.Fatalf("available during the hold %v, want 520", got)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"hold", "release", "--brand", "demo-brand", "--order", "h-1", "--db", s.db}, &out, &errb); err != nil {
		t.Fatalf("hold release: %v %s", err, errb.String())
	}
	if got := s.available("demo-c1"); got != 600 {
		t.Fatalf("available after release %v, want 600", got)
	}
	cal := s.call(top.MethodCal, map[string]any{"param_calculate_deducted_money_open_req": map[string]any{
		"brand_id": "demo-brand", "customer_id": "demo-c1", "consume_point": 120}})
	res := cal["result"].(map[string]any)
	if res["consume_point"] != 100.0 || res["deducted_money"] != 5000.0 {
		t.Fatalf("cal: %v", cal)
	}
	chk := func(n int) map[string]any {
		return s.call(top.MethodChkPntByPy, map[string]any{"param_consume_point_by_pay_open_req": map[string]any{
			"brand_id": "demo-brand", "customer_id": "demo-c1", "change_point": n}})
	}
	if r := chk(100); r["result"] != true {
		t.Fatalf("chkpntbypay 100: %v", r)
	}
	if r := chk(5001); r["result"] != false || r["result_code"] != "POINT_EXCEEDS_MAX" || r["result_view"] == "" {
		t.Fatalf("chkpntbypay over the cap: %v", r)
	}
	rule := s.call(top.MethodRuleGet, map[string]any{"param_query_point_rule_open_req": map[string]any{"out_brand_id": "kry-demo"}})
	info := rule["result"].(map[string]any)
	ded := info["point_deduction_rule"].(map[string]any)["member_point_deduction_rules"].(map[string]any)["member_point_deduction_rule_open_info"].([]any)
	if info["name"] != "默认积分规则" || ded[0].(map[string]any)["consume_money"] != 50.0 ||
		info["point_clear_rule"].(map[string]any)["point_clear_rule_type"] != "DAYS_AFTER_EARN" {
		t.Fatalf("rule.get: %v", rule)
	}
	sync := s.call(top.MethodRuleGet, map[string]any{"param_query_point_rule_open_req": map[string]any{
		"brand_id": "demo-brand", "include_logical_delete": true, "max_update_time": "2099-01-01 00:00:00"}})
	if sync["biz_success"] != true || sync["result"] != nil {
		t.Fatalf("incremental sync with nothing new: %v", sync)
	}
	if !strings.Contains(out.String(), "released") {
		t.Fatalf("hold release output: %s", out.String())
	}
}
