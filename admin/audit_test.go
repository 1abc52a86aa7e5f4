package admin

import (
	"database/sql"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"jifen/audit"
	"jifen/ledger"
	"jifen/points"
	"jifen/sqlite"
	"jifen/storetest"
)

// TestAPI_Audit: the API's writes are in the audit log — who, from where,
// what was asked without its secrets, the outcome, before and after — and
// GET /admin/v1/audit lists them with filters, paging and CSV.
func TestAPI_Audit(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 200)
	e.MustConsume("C1", "o1", 150)

	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals",
		map[string]any{"points": 80, "operator": "小李", "request_id": "r1"}).want(t, http.StatusCreated)
	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals",
		map[string]any{"points": 500, "operator": "小李", "request_id": "r2"}).
		wantError(t, http.StatusUnprocessableEntity, ledger.CodeReverseExceedsSpent)
	e.do("PUT", "/admin/v1/apps/kiosk", map[string]any{"name": "自助机", "secret": "kiosk-secret-0123456789",
		"channels": []string{"KRY"}, "brands": []string{"B1"}}).want(t, http.StatusOK)
	e.do("PUT", "/admin/v1/customers/C2", map[string]any{"remark": "VIP", "operator": "小王", "request_id": "u1"}).
		want(t, http.StatusOK)

	a := e.do("GET", "/admin/v1/audit", nil).want(t, http.StatusOK)
	if n := len(a.get(t, "entries").([]any)); n != 4 {
		t.Fatalf("%d entries, want 4: %s", n, a.body)
	}
	// Newest first: the customer update, with its values before and after.
	if a.get(t, "entries.0.action") != audit.CustomerUpdate || a.get(t, "entries.0.target") != "C2" ||
		a.get(t, "entries.0.brand_id") != "B1" || a.get(t, "entries.0.operator_name") != "bootstrap" ||
		a.get(t, "entries.0.client_addr") != "127.0.0.1" || a.get(t, "entries.0.outcome") != audit.OK ||
		a.get(t, "entries.0.request.operator") != "小王" || a.get(t, "entries.0.before.remark") != "" ||
		a.get(t, "entries.0.after.remark") != "VIP" {
		t.Errorf("customer update entry: %s", a.body)
	}
	if a.get(t, "entries.1.action") != audit.AppPut || a.get(t, "entries.1.before") != nil ||
		a.get(t, "entries.1.after.app_key") != "kiosk" {
		t.Errorf("app entry: %s", a.body)
	}
	if strings.Contains(string(a.body), "kiosk-secret") || !strings.Contains(string(a.body), audit.Redacted) {
		t.Errorf("the app's secret is in the log, or not redacted: %s", a.body)
	}
	if a.get(t, "entries.2.outcome") != ledger.CodeReverseExceedsSpent || a.get(t, "entries.2.message") == "" ||
		a.get(t, "entries.3.outcome") != audit.OK || a.get(t, "entries.3.after.flow_id") == nil {
		t.Errorf("reversal entries: %s", a.body)
	}

	// Filters and paging.
	a = e.do("GET", "/admin/v1/audit?action=reversal&outcome=failed", nil).want(t, http.StatusOK)
	if es := a.get(t, "entries").([]any); len(es) != 1 || a.num(t, "entries.0.seq") != 2 {
		t.Errorf("failed reversals: %s", a.body)
	}
	a = e.do("GET", "/admin/v1/audit?brand_id=B1&limit=1", nil).want(t, http.StatusOK)
	if a.num(t, "entries.0.seq") != 4 || a.num(t, "next_before") != 4 {
		t.Fatalf("page 1: %s", a.body)
	}
	a = e.do("GET", "/admin/v1/audit?brand_id=B1&limit=1&before=4", nil).want(t, http.StatusOK)
	if a.num(t, "entries.0.seq") != 2 {
		t.Fatalf("page 2 (the app is of no brand): %s", a.body)
	}
	for _, q := range []string{"limit=501", "limit=x", "action=nope", "from=yesterday", "before=-1"} {
		field := strings.SplitN(q, "=", 2)[0]
		if got := e.do("GET", "/admin/v1/audit?"+q, nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER"); got["field"] != field {
			t.Errorf("%s: field %v, want %s", q, got["field"], field)
		}
	}

	// CSV: the machine columns, a row per entry.
	a = e.do("GET", "/admin/v1/audit?format=csv&operator=bootstrap", nil).want(t, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(a.body), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[0][0] != "seq" || rows[0][5] != "action" || rows[1][0] != "4" || rows[4][5] != audit.Reversal {
		t.Fatalf("CSV: %q", rows)
	}
	if strings.Contains(string(a.body), "kiosk-secret") {
		t.Error("the CSV holds the app's secret")
	}
	e.MustVerify()
}

// TestAPI_AuditFailure: when the log cannot be written the answer says
// so, and says that the action itself succeeded.
func TestAPI_AuditFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jifen.db")
	e := storetest.NewEnv(t, func(t testing.TB) storetest.Store {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	ts := httptest.NewServer(New(e.Admin(), token, nil, nil))
	t.Cleanup(ts.Close)
	api := &apiEnv{Env: e, t: t, url: ts.URL}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The head row gone: no entry can be appended (and verify says the
	// log is broken, which is not what this test is about).
	if _, err := db.Exec("DELETE FROM audit_head"); err != nil {
		t.Fatal(err)
	}
	got := api.do("POST", "/admin/v1/customers/C1/adjustments",
		map[string]any{"points": 30, "reason": "补偿", "operator": "小李", "request_id": "a1"}).
		wantError(t, http.StatusInternalServerError, "AUDIT_FAILED")
	if msg, _ := got["message"].(string); !strings.Contains(msg, "the action succeeded") {
		t.Errorf("message %q does not say the adjustment was made", msg)
	}
	if e.Available("C1") != 30 {
		t.Errorf("available %d, want 30: the adjustment was made", e.Available("C1"))
	}
	// Put the head back where the (empty) chain ends, for the final check.
	if _, err := db.Exec("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '')"); err != nil {
		t.Fatal(err)
	}
	if e.Flows("C1")[0].AppKey != points.AdminAppKey {
		t.Error("the adjustment's flow is not the operators'")
	}
}
