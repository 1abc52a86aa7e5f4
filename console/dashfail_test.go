package console

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"jifen/backoffice"
	"jifen/ledger"
)

// failingTotals is a store whose brand totals cannot be read.
type failingTotals struct{ backoffice.Reader }

func (failingTotals) BrandTotals(context.Context, string, time.Time, time.Time) (backoffice.BrandTotals, error) {
	return backoffice.BrandTotals{}, ledger.Unavailable("the database is unavailable; retry")
}

// TestConsole_DashboardReadFailure: when the totals cannot be read, the
// dashboard says so and shows no figures — not zeros that look like an
// empty brand.
func TestConsole_DashboardReadFailure(t *testing.T) {
	e := newConsoleEnv(t)
	e.MustCharge("C1", "g1", 100)
	ts := httptest.NewServer(New(backoffice.New(e.Svc, failingTotals{e.Store.(backoffice.Reader)}), e.ops, nil, nil))
	t.Cleanup(ts.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := *e
	f.url, f.client = ts.URL, &http.Client{Jar: jar, CheckRedirect: e.client.CheckRedirect}
	f.signIn()
	r := f.get("/console/brands/B1")
	if r.status < 500 || strings.Contains(r.body, `id="liability"`) || strings.Contains(r.body, "待兑付积分") {
		t.Fatalf("dashboard with its totals unreadable: %d, figures shown:\n%.3000s", r.status, r.body)
	}
}
