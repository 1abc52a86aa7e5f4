package admin

import (
	"database/sql"
	"encoding/csv"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/sqlite"
	"jifen/storetest"
)

// TestAPI_Audit: the API's writes are in the audit log — who, from where,
// what was asked without its secrets, the outcome, before and after — and
// GET /admin/v1/audit lists them with filters, paging and CSV. On both
// stores.
func TestAPI_Audit(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			e.MustCharge("C1", "g1", 200)
			e.MustConsume("C1", "o1", 150)

			e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals",
				map[string]any{"points": 80, "request_id": "r1"}).want(t, http.StatusCreated)
			e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals",
				map[string]any{"points": 500, "request_id": "r2"}).
				wantError(t, http.StatusUnprocessableEntity, ledger.CodeReverseExceedsSpent)
			e.do("PUT", "/admin/v1/apps/kiosk", map[string]any{"name": "自助机", "secret": "kiosk-secret-0123456789",
				"channels": []string{"KRY"}, "brands": []string{"B1"}}).want(t, http.StatusOK)
			e.do("PUT", "/admin/v1/customers/C2", map[string]any{"remark": "VIP", "request_id": "u1"}).
				want(t, http.StatusOK)

			a := e.do("GET", "/admin/v1/audit", nil).want(t, http.StatusOK)
			if n := len(a.get(t, "entries").([]any)); n != 4 {
				t.Fatalf("%d entries, want 4: %s", n, a.body)
			}
			// Newest first: the customer update, with its values before and after.
			if a.get(t, "entries.0.action") != audit.CustomerUpdate || a.get(t, "entries.0.target") != "C2" ||
				a.get(t, "entries.0.brand_id") != "B1" || a.get(t, "entries.0.operator_name") != "小李" ||
				a.get(t, "entries.0.operator_id") != e.lead.Operator.ID ||
				a.get(t, "entries.0.client_addr") != "127.0.0.1" || a.get(t, "entries.0.outcome") != audit.OK ||
				a.get(t, "entries.0.request.request_id") != "u1" || a.get(t, "entries.0.before.remark") != "" ||
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
			for _, q := range []string{"limit=501", "limit=x", "action=nope", "from=yesterday", "before=-1",
				"operator=%E5%B0%8F%00", "brand_id=B%01", "outcome=%FF"} {
				field := strings.SplitN(q, "=", 2)[0]
				if got := e.do("GET", "/admin/v1/audit?"+q, nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER"); got["field"] != field {
					t.Errorf("%s: field %v, want %s", q, got["field"], field)
				}
			}

			// CSV: the machine columns, a row per entry.
			a = e.do("GET", "/admin/v1/audit?format=csv&operator=小李", nil).want(t, http.StatusOK)
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
		})
	}
}

// TestAPI_AuditFailure: when the log cannot be written the answer says
// so, and says that the action itself succeeded.
func TestAPI_AuditFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jifen.db")
	api := newAPIEnvOn(t, func(t testing.TB) storetest.OperatorStore {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	e := api.Env
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
		map[string]any{"points": 30, "reason": "补偿", "request_id": "a1"}).
		wantError(t, http.StatusInternalServerError, "AUDIT_FAILED")
	if msg, _ := got["message"].(string); !strings.Contains(msg, "the action succeeded") {
		t.Errorf("message %q does not say the adjustment was made", msg)
	}
	if e.Available("C1") != 30 {
		t.Errorf("available %d, want 30: the adjustment was made", e.Available("C1"))
	}
	// A download that cannot be recorded is not sent: not a row leaves.
	for _, path := range []string{"/admin/v1/flows?brand_id=B1&format=csv", "/admin/v1/brands/B1/totals?format=csv",
		"/admin/v1/audit?format=csv"} {
		req, err := http.NewRequest("GET", api.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+api.lead.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "AUDIT_FAILED") ||
			strings.Contains(string(body), "\ufeff") || strings.Contains(resp.Header.Get("Content-Type"), "csv") {
			t.Errorf("%s, the log unable to hold it: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// Put the head back where the (empty) chain ends, for the final check.
	if _, err := db.Exec("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '')"); err != nil {
		t.Fatal(err)
	}
	if e.Flows("C1")[0].AppKey != points.AdminAppKey {
		t.Error("the adjustment's flow is not the operators'")
	}
}

// TestAPI_AuditOperators: managing operators is recorded under the admin
// who did it, never with a password or a token; a support operator's
// write is recorded under that operator, as its flow is; the bootstrap
// token's under "bootstrap". On both stores.
func TestAPI_AuditOperators(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			e.MustCharge("C1", "g1", 200)

			added := e.do("POST", "/admin/v1/operators", map[string]any{"name": "小王", "role": "support", "limit": 500}).
				want(t, http.StatusCreated)
			id, _ := added.get(t, "operator.id").(string)
			secrets := []string{added.get(t, "password").(string), added.get(t, "token.token").(string)}
			e.do("PUT", "/admin/v1/operators/"+id, map[string]any{"limit": 300}).want(t, http.StatusOK)
			e.do("PUT", "/admin/v1/operators/"+id, map[string]any{"disabled": true}).want(t, http.StatusOK)
			e.do("PUT", "/admin/v1/operators/"+id, map[string]any{"disabled": false}).want(t, http.StatusOK)
			reset := e.do("POST", "/admin/v1/operators/"+id+"/reset-password", nil).want(t, http.StatusOK)
			password, _ := reset.get(t, "password").(string)
			tok := e.do("POST", "/admin/v1/operators/"+id+"/tokens", map[string]any{"name": "报表"}).want(t, http.StatusCreated)
			secrets = append(secrets, password, tok.get(t, "token").(string))
			e.do("DELETE", "/admin/v1/operators/"+id+"/tokens/"+tok.get(t, "id").(string), nil).want(t, http.StatusNoContent)
			e.do("PUT", "/admin/v1/operators/nobody", map[string]any{"limit": 1}).want(t, http.StatusNotFound)

			// 小王 changes its password and adjusts points with its own token.
			wang := "Bearer " + secrets[1]
			e.doAuth("POST", "/admin/v1/me/password", map[string]any{"old_password": password, "new_password": "新的密码-0123456789"}, wang).
				want(t, http.StatusNoContent)
			secrets = append(secrets, "新的密码-0123456789")
			e.doAuth("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 20, "reason": "补偿", "request_id": "w1"}, wang).
				want(t, http.StatusCreated)
			e.doAuth("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 900, "reason": "补偿", "request_id": "w2"}, wang).
				wantError(t, http.StatusForbidden, "FORBIDDEN")
			e.doAuth("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": -5, "reason": "更正", "request_id": "b1"}, "Bearer "+token).
				want(t, http.StatusCreated)

			a := e.do("GET", "/admin/v1/audit?limit=100", nil).want(t, http.StatusOK)
			for _, s := range secrets {
				if strings.Contains(string(a.body), s) {
					t.Fatalf("the log holds the secret %q: %s", s, a.body)
				}
			}
			lead := e.lead.Operator
			want := []struct{ action, opID, opName, outcome string }{
				{audit.Adjustment, "bootstrap", "bootstrap", audit.OK},
				{audit.Adjustment, id, "小王", "FORBIDDEN"},
				{audit.Adjustment, id, "小王", audit.OK},
				{audit.OperatorPasswordChange, id, "小王", audit.OK},
				{audit.OperatorUpdate, lead.ID, lead.Name, "OPERATOR_NOT_FOUND"},
				{audit.OperatorTokenRevoke, lead.ID, lead.Name, audit.OK},
				{audit.OperatorTokenCreate, lead.ID, lead.Name, audit.OK},
				{audit.OperatorPasswordReset, lead.ID, lead.Name, audit.OK},
				{audit.OperatorEnable, lead.ID, lead.Name, audit.OK},
				{audit.OperatorDisable, lead.ID, lead.Name, audit.OK},
				{audit.OperatorUpdate, lead.ID, lead.Name, audit.OK},
				{audit.OperatorCreate, lead.ID, lead.Name, audit.OK},
			}
			if n := len(a.get(t, "entries").([]any)); n != len(want) {
				t.Fatalf("%d entries, want %d: %s", n, len(want), a.body)
			}
			for i, w := range want {
				p := "entries." + strconv.Itoa(i) + "."
				if a.get(t, p+"action") != w.action || a.get(t, p+"operator_id") != w.opID ||
					a.get(t, p+"operator_name") != w.opName || a.get(t, p+"outcome") != w.outcome {
					t.Errorf("entry %d: %v by %v (%v), %v; want %+v", i, a.get(t, p+"action"), a.get(t, p+"operator_name"),
						a.get(t, p+"operator_id"), a.get(t, p+"outcome"), w)
				}
			}
			if a.get(t, "entries.11.target") != id || a.get(t, "entries.11.after.name") != "小王" ||
				a.get(t, "entries.10.before.limit") != 500.0 || a.get(t, "entries.10.after.limit") != 300.0 ||
				a.get(t, "entries.3.request.new_password") != audit.Redacted {
				t.Errorf("operator entries' details: %s", a.body)
			}
			// The flows carry the same operators as the entries.
			fs := e.Flows("C1")
			if f := fs[0]; f.OperatorID != "bootstrap" || f.OperatorName != "bootstrap" {
				t.Errorf("bootstrap's flow by %s (%s)", f.OperatorName, f.OperatorID)
			}
			if f := fs[1]; f.OperatorID != id || f.OperatorName != "小王" {
				t.Errorf("小王's flow by %s (%s)", f.OperatorName, f.OperatorID)
			}
			e.MustVerify()
		})
	}
}

// TestAPI_Exports: the API's CSV downloads — flows, totals, the audit
// log — are exports, each recorded in the audit log as `jifen export` is:
// by whom, of what (target), the filters asked without a secret, the rows
// written; refused ones with their code. A JSON listing is not an export.
// On both stores.
func TestAPI_Exports(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			e.MustCharge("C1", "g1", 100)
			e.MustCharge("C2", "g2", 70)
			b2 := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "b2-viewer", Role: operator.Viewer, Brands: []string{"B2"}})

			rows := func(a answer) int {
				t.Helper()
				recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(a.body), "\ufeff"))).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				return len(recs) - 1
			}
			e.do("GET", "/admin/v1/flows?brand_id=B1&customer_id=C1", nil).want(t, http.StatusOK) // a listing, not an export
			flows := rows(e.do("GET", "/admin/v1/flows?brand_id=B1&customer_id=C1&format=csv&api_token=leak-me", nil).want(t, http.StatusOK))
			totals := rows(e.do("GET", "/admin/v1/brands/B1/totals?format=csv&from=2026-03-01&to=2026-03-02", nil).want(t, http.StatusOK))
			logged := rows(e.do("GET", "/admin/v1/audit?format=csv&action=export", nil).want(t, http.StatusOK))
			e.do("GET", "/admin/v1/flows?brand_id=B1&start=yesterday&format=csv", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
			e.do("GET", "/admin/v1/brands/B1/totals?format=csv&from=x", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
			e.doAuth("GET", "/admin/v1/flows?brand_id=B1&format=csv", nil, "Bearer "+b2.Secret).wantError(t, http.StatusForbidden, "FORBIDDEN")
			// Refused before the handler (the brand in the path, the role).
			e.doAuth("GET", "/admin/v1/brands/B1/totals?format=csv", nil, "Bearer "+b2.Secret).wantError(t, http.StatusForbidden, "FORBIDDEN")
			e.doAuth("GET", "/admin/v1/audit?format=csv", nil, "Bearer "+b2.Secret).wantError(t, http.StatusForbidden, "FORBIDDEN")
			if flows != 1 || totals != 3 || logged != 2 {
				t.Fatalf("%d flows, %d totals rows, %d audit rows; want 1, 3 (2 days, 1 day of a shop), 2", flows, totals, logged)
			}

			es, err := e.Store.(audit.Store).AuditEntries(e.Ctx, audit.Query{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			lead := e.lead.Operator
			want := []struct{ by, target, brand, outcome, request, after string }{
				{b2.Operator.ID, "audit", "", "FORBIDDEN", `{"format":"csv"}`, ""},
				{b2.Operator.ID, "totals", "B1", "FORBIDDEN", `{"format":"csv"}`, ""},
				{b2.Operator.ID, "flows", "B1", "FORBIDDEN", `{"brand_id":"B1","format":"csv"}`, ""},
				{lead.ID, "totals", "B1", "INVALID_PARAMETER", `{"format":"csv","from":"x"}`, ""},
				{lead.ID, "flows", "B1", "INVALID_PARAMETER", `{"brand_id":"B1","format":"csv","start":"yesterday"}`, ""},
				{lead.ID, "audit", "", audit.OK, `{"action":"export","format":"csv"}`, `{"rows":2}`},
				{lead.ID, "totals", "B1", audit.OK, `{"format":"csv","from":"2026-03-01","to":"2026-03-02"}`, `{"rows":3}`},
				{lead.ID, "flows", "B1", audit.OK, `{"api_token":"[redacted]","brand_id":"B1","customer_id":"C1","format":"csv"}`, ""},
			}
			if len(es) != len(want) {
				t.Fatalf("%d entries, want %d: %+v", len(es), len(want), es)
			}
			for i, w := range want {
				x := es[i]
				if x.Action != audit.Export || x.OperatorID != w.by || x.Target != w.target || x.BrandID != w.brand || x.Outcome != w.outcome ||
					string(x.Request) != w.request || string(x.After) != w.after {
					t.Errorf("entry %d: %s by %s of %s (brand %q) %s %s → %s; want %+v", x.Seq, x.Action, x.OperatorID, x.Target, x.BrandID,
						x.Outcome, x.Request, x.After, w)
				}
				if strings.Contains(string(x.Request), "leak-me") {
					t.Errorf("entry %d holds the token asked: %s", x.Seq, x.Request)
				}
			}
			e.MustVerify()
		})
	}
}
