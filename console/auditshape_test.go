package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"jifen/admin"
	"jifen/audit"
	"jifen/operator"
	"jifen/points"
	"jifen/storetest"
	"jifen/webhook"
)

// jsonKeys lists the key paths of a JSON value (an array's elements
// under "[]"), sorted; nil for no value.
func jsonKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	if raw == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var keys []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				keys = append(keys, path+"."+k)
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("", v)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// TestConsole_AuditEntriesAsTheAPIs: for each action both take, the
// console's audit entry holds what was asked and the record before and
// after under the same keys as the admin API's entry — the wire names,
// never Go's field names.
func TestConsole_AuditEntriesAsTheAPIs(t *testing.T) {
	e := newConsoleEnv(t)
	api := httptest.NewServer(admin.New(e.Admin(), e.ops, nil, nil))
	t.Cleanup(api.Close)
	call := func(method, path, body string) {
		t.Helper()
		req, err := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		r.Body.Close()
		if r.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, r.StatusCode, b.String())
		}
	}
	e.MustCharge("C1", "g1", 500)
	e.MustCharge("C2", "g2", 500)
	e.MustConsume("C1", "o1", 100)
	e.MustConsume("C2", "o2", 100)
	csrf := e.signIn()
	consoleDid := func(path string, form url.Values) {
		t.Helper()
		form.Set("csrf", csrf)
		if r := e.post(path, form); r.status >= 400 {
			t.Fatalf("POST %s: %d\n%.2000s", path, r.status, r.body)
		}
	}

	consoleDid("/console/customers/C1/adjust", url.Values{"points": {"30"}, "reason": {"补偿"}, "request_id": {"c-adj"}, "confirm": {"1"}})
	call("POST", "/admin/v1/customers/C2/adjustments", `{"points": 30, "reason": "补偿", "request_id": "a-adj"}`)

	consoleDid("/console/brands/B1/orders/o1/reverse", url.Values{"type": {"DEDUCT_FROM_CONSUME_REVERSE"}, "customer_id": {"C1"},
		"points": {"10"}, "reason": {"退菜"}, "request_id": {"c-rev"}})
	call("POST", "/admin/v1/brands/B1/orders/o2/reversals", `{"type": "DEDUCT_FROM_CONSUME_REVERSE", "customer_id": "C2",
		"points": 10, "reason": "退菜", "request_id": "a-rev"}`)

	for _, h := range []struct{ customer, order string }{{"C1", "h1"}, {"C2", "h2"}} {
		if _, err := e.Svc.Operate(e.Ctx, e.Caller, points.OperateRequest{Target: storetest.B1S1, Type: points.OperateFreeze, Points: 20,
			OuterOrderID: h.order, Customer: points.CustomerLookup{CustomerID: h.customer}, OperatorID: "op", RequestID: e.ReqID()}); err != nil {
			t.Fatal(err)
		}
	}
	consoleDid("/console/brands/B1/holds/h1/release", url.Values{})
	call("POST", "/admin/v1/brands/B1/holds/h2/release", "")

	edit := e.editForm("C1")
	edit.Set("name", "张三丰")
	consoleDid("/console/customers/C1/edit", edit)
	call("PUT", "/admin/v1/customers/C2", `{"name": "李四光", "request_id": "a-edit"}`)

	consoleDid("/console/brands/B1/settings", url.Values{"name": {"Brand 1"}, "time_zone": {"Asia/Shanghai"},
		"refund_of_expired": {"grace"}, "grace_days": {"30"}, "clawback_shortfall": {"reject"}, "hold_timeout": {"30"},
		"out_id_KRY": {"kry-b1"}, "out_id_CS": {"cs-b1"}})
	call("PUT", "/admin/v1/brands/B1", `{"name": "Brand 1", "time_zone": "Asia/Shanghai", "out_ids": {"KRY": "kry-b1", "CS": "cs-b1"},
		"settings": {"refund_of_expired": "grace", "grace_days": 30, "clawback_shortfall": "reject", "hold_timeout": "30m"}}`)

	consoleDid("/console/brands/B1/shops", url.Values{"shop_id": {"S5"}, "name": {"钱江店"}, "out_id_KRY": {"kry-s5"}})
	call("PUT", "/admin/v1/brands/B1/shops/S6", `{"name": "钱塘店", "out_ids": {"KRY": "kry-s6"}}`)

	consoleDid("/console/brands/B1/rule", ruleFormValues(csrf))
	call("PUT", "/admin/v1/brands/B1/rule", `{"name": "春季规则", "point_clear_rule": {"point_clear_rule_type": "DAYS_AFTER_EARN", "days": 365},
		"point_deduction_rule": {"with_coupon": false, "member_point_deduction_rules": [
			{"level_id": "", "deducted_point": 100, "consume_money": 1, "enable": true},
			{"level_id": "VIP", "deducted_point": 50, "consume_money": 1.5, "enable": true, "has_upper_limit": true, "max_point": 500}]},
		"point_addition_rule": {"member_point_addition_rules": [{"level_id": "", "consume_money": 10, "reward_point": 1, "enable": true}]}}`)
	rule := ruleFormValues(csrf)
	rule.Set("name", "夏季规则")
	consoleDid("/console/brands/B1/rule", rule)

	consoleDid("/console/apps", url.Values{"app_key": {"crm"}, "name": {"CRM"}, "brands": {"B1"}, "rate_limit": {"5"}, "ch_KRY": {"1"}, "active": {"1"}})
	call("PUT", "/admin/v1/apps/erp", `{"name": "ERP", "channels": ["KRY"], "brands": ["B1"], "rate_limit": 5}`)

	consoleDid("/console/operators", url.Values{"name": {"小王"}, "role": {"support"}, "brands": {"B1"}, "limit": {"500"}})
	call("POST", "/admin/v1/operators", `{"name": "小赵", "role": "support", "brands": ["B1"], "limit": 500}`)
	wang, err := e.ops.ByName(e.Ctx, "小王")
	if err != nil {
		t.Fatal(err)
	}
	zhao, err := e.ops.ByName(e.Ctx, "小赵")
	if err != nil {
		t.Fatal(err)
	}
	consoleDid("/console/operators/"+wang.ID+"/edit", url.Values{"role": {"support"}, "brands": {"B1, B2"}, "limit": {"300"}})
	call("PUT", "/admin/v1/operators/"+zhao.ID, `{"role": "support", "brands": ["B1", "B2"], "limit": 300}`)
	consoleDid("/console/operators/"+wang.ID+"/disable", url.Values{})
	call("PUT", "/admin/v1/operators/"+zhao.ID, `{"disabled": true}`)
	consoleDid("/console/operators/"+wang.ID+"/token", url.Values{"token_name": {"脚本"}})
	call("POST", "/admin/v1/operators/"+zhao.ID+"/tokens", `{"name": "脚本"}`)

	log := audit.New(e.Store.(audit.Store), nil)
	newest := func(action, by string) audit.Entry {
		t.Helper()
		es, _, err := log.List(e.Ctx, audit.Query{Action: action, Operator: by, Limit: 1})
		if err != nil || len(es) != 1 {
			t.Fatalf("%s by %s: %d entries, %v", action, by, len(es), err)
		}
		return es[0]
	}
	for _, action := range []string{audit.Adjustment, audit.Reversal, audit.HoldRelease, audit.CustomerUpdate, audit.BrandPut, audit.ShopPut, audit.RulePut,
		audit.AppPut, audit.OperatorCreate, audit.OperatorUpdate, audit.OperatorDisable, audit.OperatorTokenCreate} {
		c, a := newest(action, "小李"), newest(action, "bootstrap")
		if action == audit.HoldRelease && (c.Before == nil || c.After == nil || a.Before == nil || a.After == nil) {
			t.Errorf("hold.release entries without the hold before and after: console %s → %s, API %s → %s", c.Before, c.After, a.Before, a.After)
		}
		if c.Outcome != audit.OK || a.Outcome != audit.OK {
			t.Errorf("%s: outcomes %s (console), %s (API)", action, c.Outcome, a.Outcome)
		}
		for _, part := range []struct {
			name     string
			con, api json.RawMessage
		}{{"request", c.Request, a.Request}, {"before", c.Before, a.Before}, {"after", c.After, a.After}} {
			ck, ak := jsonKeys(t, part.con), jsonKeys(t, part.api)
			if !slices.Equal(ck, ak) {
				t.Errorf("%s %s: the console's keys\n\t%v\nthe API's\n\t%v\n(console %s; API %s)", action, part.name, ck, ak, part.con, part.api)
			}
		}
	}
}

// TestConsole_AuditEntriesAsTheAPIs_More: enabling a webhook and
// changing one's password are recorded under the API's keys too.
func TestConsole_AuditEntriesAsTheAPIs_More(t *testing.T) {
	e, st := newWebhookConsoleEnv(t)
	api := httptest.NewServer(admin.New(e.Admin(), e.ops, nil, nil).WithWebhooks(webhook.NewAdmin(e.Svc, st)))
	t.Cleanup(api.Close)
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Webhooks: []points.Webhook{
		{ID: "crm", URL: "http://127.0.0.1:9/crm", Brands: []string{"B1"}}, {ID: "bi", URL: "http://127.0.0.1:9/bi", Brands: []string{"B1"}},
	}}); err != nil {
		t.Fatal(err)
	}
	other := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "小周", Role: operator.Admin})
	call := func(method, path, body string) {
		t.Helper()
		req, err := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+other.Secret)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
	}
	csrf := e.signIn()
	e.post("/console/webhooks/crm/enable", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)
	call("PUT", "/admin/v1/webhooks/bi", `{"url": "http://127.0.0.1:9/bi", "brands": ["B1"]}`)
	e.post("/console/password", url.Values{"csrf": {csrf}, "old_password": {"wrong-password"}, "new_password": {"a-new-password-1"},
		"confirm_password": {"a-new-password-1"}}).want(t, http.StatusBadRequest)
	call("POST", "/admin/v1/me/password", `{"old_password": "wrong-password", "new_password": "a-new-password-1"}`)

	log := audit.New(e.Store.(audit.Store), nil)
	for _, action := range []string{audit.WebhookUpdate, audit.OperatorPasswordChange} {
		var got [2]audit.Entry
		for i, by := range []string{"小李", "小周"} {
			es, _, err := log.List(e.Ctx, audit.Query{Action: action, Operator: by, Limit: 1})
			if err != nil || len(es) != 1 {
				t.Fatalf("%s by %s: %d entries, %v", action, by, len(es), err)
			}
			got[i] = es[0]
		}
		for _, part := range [][2]json.RawMessage{{got[0].Request, got[1].Request}, {got[0].Before, got[1].Before}, {got[0].After, got[1].After}} {
			if ck, ak := jsonKeys(t, part[0]), jsonKeys(t, part[1]); !slices.Equal(ck, ak) {
				t.Errorf("%s: the console's keys %v (%s), the API's %v (%s)", action, ck, part[0], ak, part[1])
			}
		}
	}
}
