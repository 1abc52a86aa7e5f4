package admin

import (
	"net/http"
	"strings"
	"testing"

	"jifen/ledger"
)

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		body  string
		fold  bool
		field string // "" = accepted
		in    string // part of the message
	}{
		{`{"a":1,"b":{"c":[1,{"d":2}]}}`, true, "", ""},
		{` {"a":1} ` + "\n", true, "", ""},
		{`{"a":1,"a":2}`, true, "a", `已有 "a"`},
		{`{"a":1,"A":2}`, true, "A", `已有 "a"`},
		{`{"a":1,"A":2}`, false, "", ""},                 // YAML keys are exact
		{`{"k":1,"\u212a":2}`, true, "\u212a", `已有 "k"`}, // the Kelvin sign folds to k, as encoding/json matches it
		{`{"a":{"b":1},"c":{"b":1}}`, true, "", ""},      // one key in two objects
		{`{"s":{"g":1,"g":0}}`, true, "s.g", "一个键只能出现一次"},
		{`{"l":[{"x":1},{"x":1,"x":2}]}`, true, "l[1].x", ""},
		{`[[{"x":1,"x":2}]]`, true, "[0][0].x", ""},
		{`{"points":1} {"points":999}`, true, "body", "trailing data"},
		{`{"points":1}{"points":999}`, true, "body", "trailing data"},
		{`{"points":1}]`, true, "body", "trailing data"},
		{`{"points":1} x`, true, "body", "trailing data"},
		{`1 2`, true, "body", "trailing data"},
		{``, true, "body", "请求体为空"},
		{"  \n", true, "body", "请求体为空"},
		{`{"a":1`, true, "body", "unexpected EOF"},
		{`{"a" 1}`, true, "body", "无法解析"},
	}
	for _, tt := range tests {
		err := checkJSON([]byte(tt.body), tt.fold)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s (fold %v): %v, want accepted", tt.body, tt.fold, err)
			}
			continue
		}
		le, ok := ledger.AsError(err)
		if !ok || le.Kind != ledger.KindInvalid || le.Field != tt.field || !strings.Contains(le.Message, tt.in) {
			t.Errorf("%s (fold %v): %v, want field %s saying %q", tt.body, tt.fold, err, tt.field, tt.in)
		}
	}
}

// The API acts on a body only as a whole: trailing data and keys given
// twice, at any depth, are refused (400, naming the field) and nothing is
// written.
func TestAPI_StrictBodies(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 100)
	before := e.Snapshot()
	field := func(a answer) string {
		t.Helper()
		m := a.wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
		f, _ := m["field"].(string)
		return f + ": " + m["message"].(string)
	}
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/admin/v1/customers/C1/adjustments",
			`{"points":-30,"reason":"录入错误","operator":"小李","request_id":"adj-1"} {"points":999}`, "body: JSON 值之后还有内容"},
		{"POST", "/admin/v1/customers/C1/adjustments",
			`{"points":-30,"reason":"录入错误","operator":"小李","request_id":"adj-1","points":-99}`, "points: 重复的键"},
		{"POST", "/admin/v1/customers/C1/adjustments",
			`{"points":-30,"reason":"录入错误","operator":"小李","request_id":"adj-1","Points":-99}`, `Points: 重复的键: 同一对象中已有 "points"`},
		{"POST", "/admin/v1/brands/B1/orders/g1/reversals",
			`{"type":"EXTRA_CHARGE_REVERSE","operator":"小李","request_id":"r-1","type":"DEDUCT_FROM_CONSUME_REVERSE"}`, "type: 重复的键"},
		{"POST", "/admin/v1/brands/B1/holds/h1/release", `{"operator":"小李"}{"operator":"x"}`, "body: JSON 值之后还有内容"},
		// Tenant bodies, nested: the key's path is named.
		{"PUT", "/admin/v1/brands/B1", `{"name":"x","settings":{"grace_days":5,"grace_days":0}}`, "settings.grace_days: 重复的键"},
		{"PUT", "/admin/v1/brands/B1", `{"name":"x"} {"name":"y"}`, "body: 第一个 YAML 文档之后还有内容"},
		{"PUT", "/admin/v1/brands/B1", "name: x\n---\nname: y\n", "body: 第一个 YAML 文档之后还有内容"},
		{"PUT", "/admin/v1/brands/B1", "name: x\nsettings:\n  grace_days: 5\n  grace_days: 0\n", `grace_days" already defined`},
		{"PUT", "/admin/v1/brands/B1/rule", `{"name":"r","point_clear_rule":{"point_clear_rule_type":"NEVER","days":1,"days":2}}`,
			"point_clear_rule.days: 重复的键"},
		{"POST", "/admin/v1/tenant", `{"customers":[{"customer_id":"N1","brand_id":"B1","customer_id":"N2"}]}`,
			"customers[0].customer_id: 重复的键"},
	} {
		got := field(e.do(tc.method, tc.path, tc.body))
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s %s %s:\n got  %s\n want %s", tc.method, tc.path, tc.body, got, tc.want)
		}
	}
	if e.Snapshot() != before {
		t.Fatal("a refused body wrote")
	}
	a := e.do("GET", "/admin/v1/brands/B1", nil).want(t, http.StatusOK)
	if a.get(t, "name") == "x" || a.get(t, "name") == "y" {
		t.Fatalf("a refused brand body was applied: %s", a.body)
	}
	// The same bodies, whole and once each, are taken.
	e.do("POST", "/admin/v1/customers/C1/adjustments", `{"points":-30,"reason":"录入错误","request_id":"adj-1"}`+"\n").
		want(t, http.StatusCreated)
	e.do("PUT", "/admin/v1/brands/B1", "name: x\nsettings:\n  grace_days: 5\n").want(t, http.StatusOK)
}
