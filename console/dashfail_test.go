package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"jifen/audit"
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
	f := e.over(t, failingTotals{e.Store.(backoffice.Reader)})
	r := f.get("/console/brands/B1")
	if r.status < 500 || strings.Contains(r.body, `id="liability"`) || strings.Contains(r.body, "待兑付积分") {
		t.Fatalf("dashboard with its totals unreadable: %d, figures shown:\n%.3000s", r.status, r.body)
	}
}

// exportsUnrecorded is a store whose audit log takes no export.
type exportsUnrecorded struct{ consoleStore }

func (s exportsUnrecorded) AppendAudit(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	if e.Action == audit.Export {
		return e, errors.New("the audit log is down")
	}
	return s.consoleStore.AppendAudit(ctx, e)
}

// TestConsole_ExportsNotSentUnrecorded: a download the audit log cannot
// hold is not sent — an error page, not a file.
func TestConsole_ExportsNotSentUnrecorded(t *testing.T) {
	e := newConsoleEnv(t)
	e.MustCharge("C1", "g1", 100)
	st := exportsUnrecorded{e.Store.(consoleStore)}
	f := e.over(t, st)
	for _, p := range []string{"/console/flows.csv?brand_id=B1", "/console/brands/B1/totals.csv"} {
		r := f.get(p)
		if r.status < 500 || strings.Contains(r.header.Get("Content-Type"), "csv") || !strings.Contains(r.body, "AUDIT_FAILED") {
			t.Errorf("%s with the log unable to hold it: %d %s\n%.300s", p, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
}

// over is e with a console of its own, whose office reads through read,
// signed in.
func (e *consoleEnv) over(t *testing.T, read backoffice.Reader) *consoleEnv {
	t.Helper()
	ts := httptest.NewServer(New(backoffice.New(e.Svc, read), e.ops, nil, nil))
	t.Cleanup(ts.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := *e
	f.url, f.client = ts.URL, &http.Client{Jar: jar, CheckRedirect: e.client.CheckRedirect}
	f.signIn()
	return &f
}
