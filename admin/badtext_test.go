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
