package console

import "testing"

// TestConsole_BadTextNeverInternal: a path or filter holding NUL or bad
// UTF-8, which PostgreSQL refuses in a query, is answered as bad input or
// not found — never as an internal error (./scripts/test runs the
// console's tests on each store).
func TestConsole_BadTextNeverInternal(t *testing.T) {
	e, _ := newWebhookConsoleEnv(t)
	e.signIn()
	for _, p := range []string{
		"/console/customers?q=%00", "/console/customers?q=%FF", "/console/customers/C%001", "/console/orders?brand_id=B1&order=o%00",
		"/console/orders?brand_id=%00&order=o1", "/console/brands/B1/orders/o%00", "/console/flows?brand_id=B1&customer=%00",
		"/console/flows?brand_id=B1&shop=%00", "/console/flows?brand_id=B1&operator=%00", "/console/flows?brand_id=%00",
		"/console/flows.csv?brand_id=B1&customer=%00", "/console/brands/B%001", "/console/brands/B1/flows/f%00",
		"/console/webhooks/x%00", "/console/approvals?state=%00", "/console/audit?operator=%00", "/console/audit?brand_id=%FF",
		"/console/brands/B%001/settings", "/console/brands/B%001/rule", "/console/brands/B%001/totals.csv",
	} {
		if r := e.get(p); r.status >= 500 {
			t.Errorf("%s: %d\n%.500s", p, r.status, r.body)
		}
	}
}
