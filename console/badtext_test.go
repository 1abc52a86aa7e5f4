package console

import (
	"net/url"
	"testing"
)

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

// TestConsole_BadTextWritesNeverInternal: the forms likewise — an id in
// the path or a field holding NUL is refused or not found, never an
// internal error.
func TestConsole_BadTextWritesNeverInternal(t *testing.T) {
	e, _ := newWebhookConsoleEnv(t)
	csrf := e.signIn()
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/console/customers/C%001/adjust", url.Values{"points": {"5"}, "reason": {"r"}, "request_id": {"x1"}}},
		{"/console/customers/C%001/edit", url.Values{"name": {"n"}, "request_id": {"x2"}}},
		{"/console/brands/B1/orders/o%00/preview", url.Values{"points": {"1"}}},
		{"/console/brands/B1/orders/o%00/reverse", url.Values{"points": {"1"}, "request_id": {"x3"}}},
		{"/console/brands/B%001/holds/o1/release", url.Values{}},
		{"/console/webhooks/x%00/deliveries/1/redeliver", url.Values{}},
		{"/console/webhooks/x%00/redeliver-failed", url.Values{}},
		{"/console/webhooks/x%00/enable", url.Values{}},
		{"/console/approvals/x%00/approve", url.Values{}},
		{"/console/approvals/x%00/reject", url.Values{"reason": {"r"}}},
		{"/console/operators/x%00/disable", url.Values{}},
		{"/console/operators/x%00/token", url.Values{"token_name": {"t"}}},
		{"/console/operators/x%00/edit", url.Values{"role": {"viewer"}}},
		{"/console/brands/B%001/settings", url.Values{"name": {"n"}, "time_zone": {"Asia/Shanghai"}}},
		{"/console/brands/B%001/shops", url.Values{"shop_id": {"S1"}, "name": {"n"}}},
		{"/console/brands/B1/shops", url.Values{"shop_id": {"S\x001"}, "name": {"n"}}},
		{"/console/brands/B%001/rule/preview", url.Values{}},
		{"/console/apps", url.Values{"app_key": {"k\x00"}, "name": {"n"}}},
		{"/console/apps/k%00/rotate", url.Values{}},
	} {
		c.form.Set("csrf", csrf)
		if r := e.post(c.path, c.form); r.status >= 500 {
			t.Errorf("POST %s: %d\n%.500s", c.path, r.status, r.body)
		}
	}
}
