package admin

import "testing"

// TestAPI_BadTextNeverInternal: a path or filter holding NUL or bad
// UTF-8, which PostgreSQL refuses in a query, is answered as bad input or
// not found — never as an internal error — on both stores.
func TestAPI_BadTextNeverInternal(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			for _, p := range []string{
				"/admin/v1/customers?q=%00", "/admin/v1/customers?q=%FF", "/admin/v1/customers/C%001",
				"/admin/v1/flows?brand_id=B1&customer_id=%00", "/admin/v1/flows?brand_id=B1&shop_id=%00", "/admin/v1/flows?brand_id=B1&operator=%00",
				"/admin/v1/flows?brand_id=%00", "/admin/v1/brands/B%00", "/admin/v1/brands/B1/orders/o%00", "/admin/v1/brands/B%001/totals",
				"/admin/v1/events?brand_id=%00", "/admin/v1/events?type=%00", "/admin/v1/webhooks/x%00", "/admin/v1/webhooks/x%00/deliveries",
				"/admin/v1/approvals?state=%00", "/admin/v1/approvals?brand_id=%00", "/admin/v1/approvals/x%00", "/admin/v1/operators/x%00",
				"/admin/v1/operators/x%00/tokens", "/admin/v1/flows?brand_id=B1&channel=%00", "/admin/v1/flows?brand_id=B1&operator_id=%FF",
			} {
				a := e.do("GET", p, nil)
				if a.status >= 500 || a.status < 400 && a.status != 200 {
					t.Errorf("%s: %d %s", p, a.status, a.body)
				}
			}
		})
	}
}

// TestAPI_BadTextWritesNeverInternal: the writes likewise — an id in the
// path holding NUL is refused or not found, never an internal error.
func TestAPI_BadTextWritesNeverInternal(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			for _, c := range []struct {
				m, p string
				b    any
			}{
				{"POST", "/admin/v1/customers/C%001/adjustments", map[string]any{"points": 5, "reason": "r", "request_id": "x1"}},
				{"PUT", "/admin/v1/customers/C%001", map[string]any{"name": "n", "request_id": "x2"}},
				{"POST", "/admin/v1/brands/B1/orders/o%00/reversals", map[string]any{"points": 1, "request_id": "x3"}},
				{"POST", "/admin/v1/brands/B1/holds/o%00/release", nil},
				{"PUT", "/admin/v1/operators/x%00", map[string]any{"disabled": true}},
				{"POST", "/admin/v1/operators/x%00/tokens", map[string]any{"name": "t"}},
				{"DELETE", "/admin/v1/operators/x%00/tokens/y%00", nil},
				{"POST", "/admin/v1/approvals/x%00/approve", nil},
				{"POST", "/admin/v1/approvals/x%00/reject", map[string]any{"reason": "r"}},
				{"PUT", "/admin/v1/webhooks/x%00", map[string]any{"url": "https://example.com/x"}},
				{"DELETE", "/admin/v1/webhooks/x%00", nil},
				{"POST", "/admin/v1/webhooks/x%00/rotate-secret", nil},
				{"POST", "/admin/v1/webhooks/x%00/deliveries/redeliver-failed", nil},
				{"POST", "/admin/v1/apps/x%00/rotate-secret", nil},
				{"PUT", "/admin/v1/apps/x%00", map[string]any{"name": "n", "channels": []string{"KRY"}, "brands": []string{"B1"}}},
				{"PUT", "/admin/v1/brands/B%00", map[string]any{"name": "n", "time_zone": "Asia/Shanghai"}},
				{"PUT", "/admin/v1/brands/B1/shops/S%00", map[string]any{"name": "n"}},
				{"PUT", "/admin/v1/brands/B%00/rule", map[string]any{}},
			} {
				a := e.do(c.m, c.p, c.b)
				if a.status >= 500 {
					t.Errorf("%s %s: %d %s", c.m, c.p, a.status, a.body)
				}
			}
		})
	}
}
