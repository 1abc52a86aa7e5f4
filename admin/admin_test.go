package admin

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/bodylimit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/postgres"
	"jifen/sqlite"
	"jifen/storetest"
)

const token = "s3cret-admin-token"

// apiEnv is the admin API over a real SQLite store holding the suite's
// standard world (storetest.NewEnv); every invariant is checked when the
// test ends.
//
// Requests go with the API token of lead, an admin of every brand named
// 小李 (do), or with another (doAuth); token is the bootstrap admin token.
type apiEnv struct {
	*storetest.Env
	t    *testing.T
	url  string
	ops  *operator.Service
	lead operator.Added
}

// openSQLite opens a fresh SQLite store.
func openSQLite(t testing.TB) storetest.OperatorStore {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "jifen.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openPostgres opens a fresh PostgreSQL store (skipped without one).
func openPostgres(t testing.TB) storetest.OperatorStore { return postgres.OpenTest(t) }

// stores are the stores the role tests run on.
var stores = []struct {
	name string
	open storetest.OperatorOpener
}{{"SQLite", openSQLite}, {"PostgreSQL", openPostgres}}

func newAPIEnv(t *testing.T) *apiEnv { return newAPIEnvOn(t, openSQLite) }

func newAPIEnvOn(t *testing.T, open storetest.OperatorOpener) *apiEnv {
	t.Helper()
	var os storetest.OperatorStore
	e := storetest.NewEnv(t, func(t testing.TB) storetest.Store {
		s := open(t)
		os = s
		return s
	})
	ops := operator.New(os, e.Svc, token)
	ops.SetPasswordCost(4)
	ts := httptest.NewServer(New(e.Admin(), ops, nil, nil).WithApprovals(approval.New(os, e.Admin())))
	t.Cleanup(ts.Close)
	lead := storetest.MustAddOperator(t, e, ops, operator.NewOperator{Name: "小李", Role: operator.Admin})
	return &apiEnv{Env: e, t: t, url: ts.URL, ops: ops, lead: lead}
}

// answer is a decoded JSON answer.
type answer struct {
	status int
	header http.Header
	body   []byte
	m      map[string]any
}

// do sends a request with the admin token; body, if not nil, as JSON (or
// as is, when it is a string).
func (e *apiEnv) do(method, path string, body any) answer {
	e.t.Helper()
	return e.doAuth(method, path, body, "Bearer "+e.lead.Secret)
}

func (e *apiEnv) doAuth(method, path string, body any, auth string) answer {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if a.body, err = io.ReadAll(resp.Body); err != nil {
		e.t.Fatal(err)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(a.body, &a.m); err != nil {
			e.t.Fatalf("%s %s: %v\n%s", method, path, err, a.body)
		}
	}
	return a
}

// want fails unless the answer has status.
func (a answer) want(t *testing.T, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	return a
}

// wantError fails unless the answer is the error code with status.
func (a answer) wantError(t *testing.T, status int, code string) map[string]any {
	t.Helper()
	a.want(t, status)
	e, ok := a.m["error"].(map[string]any)
	if !ok || e["code"] != code || e["message"] == "" {
		t.Fatalf("error %s, want code %s", a.body, code)
	}
	return e
}

// get reads a dotted path (a.b.0.c) from the answer.
func (a answer) get(t *testing.T, path string) any {
	t.Helper()
	var v any = a.m
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			var i int
			fmt.Sscan(k, &i)
			if i >= len(x) {
				t.Fatalf("%s: index %d of %d in %s", path, i, len(x), a.body)
			}
			v = x[i]
		default:
			t.Fatalf("%s: no %q in %s", path, k, a.body)
		}
	}
	return v
}

func (a answer) num(t *testing.T, path string) int64 {
	t.Helper()
	n, ok := a.get(t, path).(float64)
	if !ok {
		t.Fatalf("%s is not a number in %s", path, a.body)
	}
	return int64(n)
}

func TestAPI_Auth(t *testing.T) {
	e := newAPIEnv(t)
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Basic " + token, "bearer " + token, "Bearer " + token + "x"} {
		a := e.doAuth("GET", "/admin/v1/brands", nil, auth)
		a.wantError(t, http.StatusUnauthorized, "UNAUTHORIZED")
		if a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%q: no WWW-Authenticate", auth)
		}
	}
	// Even a path that does not exist says nothing before the token.
	e.doAuth("GET", "/admin/v1/nothing", nil, "").wantError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	e.do("GET", "/admin/v1/brands", nil).want(t, http.StatusOK)
	e.do("GET", "/admin/v1/nothing", nil).wantError(t, http.StatusNotFound, "NOT_FOUND")
	a := e.do("DELETE", "/admin/v1/brands", nil)
	a.wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	if a.header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", a.header.Get("Allow"))
	}
	if TokenMatches("", "") || TokenMatches("a", "") || !TokenMatches(token, token) {
		t.Error("TokenMatches")
	}
}

func TestAPI_Customers(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 100)
	a := e.do("GET", "/admin/v1/customers?q=1380000000&brand_id=B1", nil).want(t, http.StatusOK)
	if n := len(a.get(t, "customers").([]any)); n != 3 {
		t.Fatalf("%d customers, want 3: %s", n, a.body)
	}
	a = e.do("GET", "/admin/v1/customers?q="+url.QueryEscape("张三"), nil).want(t, http.StatusOK)
	if a.get(t, "customers.0.customer_id") != "C1" || a.get(t, "customers.0.name") != "张三" {
		t.Fatalf("by name: %s", a.body)
	}
	e.do("GET", "/admin/v1/customers?q=", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("GET", "/admin/v1/customers?q=x&limit=-1", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("GET", "/admin/v1/customers?q=x&brand_id=nope", nil).wantError(t, http.StatusNotFound, backoffice.CodeBrandNotFound)

	// Lots with their expiry; one expiring within the window is marked.
	_, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{
		Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1"}, Settings: ledger.DefaultSettings()},
		Rule:  &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 10}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g2", 50)
	a = e.do("GET", "/admin/v1/customers/C1", nil).want(t, http.StatusOK)
	if a.num(t, "account.available") != 150 || a.get(t, "customer.mobile") != "13800000001" || a.num(t, "expiring_soon_days") != 30 {
		t.Fatalf("customer: %s", a.body)
	}
	lots := a.get(t, "lots").([]any)
	if len(lots) != 2 {
		t.Fatalf("lots: %s", a.body)
	}
	first := lots[0].(map[string]any) // earliest expiry first, never-expiring last
	if first["remaining"] != 50.0 || first["expiring_soon"] != true || first["expires_at"] == "" ||
		lots[1].(map[string]any)["expires_at"] != "" || lots[1].(map[string]any)["expiring_soon"] != false {
		t.Fatalf("lots: %s", a.body)
	}
	e.do("GET", "/admin/v1/customers/nobody", nil).wantError(t, http.StatusNotFound, ledger.CodeCustomerNotFound)
}

func TestAPI_Flows(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C2", "=cmd|' /C calc'!A0", 70) // a hostile order id
	e.MustConsume("C1", "o1", 30)
	a := e.do("GET", "/admin/v1/flows?brand_id=B1&page_size=2", nil).want(t, http.StatusOK)
	if a.num(t, "total") != 3 || a.get(t, "has_next") != true || a.get(t, "flows.0.biz_type") != "DEDUCT_FROM_CONSUME" ||
		a.num(t, "flows.0.change_point") != -30 || a.get(t, "flows.0.biz_type_description") != "积分抵现" {
		t.Fatalf("flows: %s", a.body)
	}
	a = e.do("GET", "/admin/v1/flows?brand_id=B1&type=EXTRA_CHARGE&customer_id=C2", nil).want(t, http.StatusOK)
	if a.num(t, "total") != 1 {
		t.Fatalf("filtered: %s", a.body)
	}
	a = e.do("GET", "/admin/v1/flows?brand_id=B1&start=2026-03-01&end=2026-03-01", nil).want(t, http.StatusOK)
	if a.num(t, "total") != 3 {
		t.Fatalf("by day: %s", a.body)
	}
	a = e.do("GET", "/admin/v1/flows?brand_id=B1&start=2026-03-02", nil).want(t, http.StatusOK)
	if a.num(t, "total") != 0 {
		t.Fatalf("next day: %s", a.body)
	}
	e.do("GET", "/admin/v1/flows?brand_id=B1&type=NOPE", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("GET", "/admin/v1/flows?brand_id=B1&start=yesterday", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("GET", "/admin/v1/flows", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")

	// CSV: every matching flow, not a page; a byte order mark for Excel;
	// a cell that a spreadsheet would run as a formula is defused.
	a = e.do("GET", "/admin/v1/flows?brand_id=B1&page_size=1&format=csv", nil).want(t, http.StatusOK)
	if !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") || !strings.Contains(a.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("headers %v", a.header)
	}
	body, ok := bytes.CutPrefix(a.body, []byte("\ufeff"))
	if !ok {
		t.Fatal("no byte order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][0] != "flow_id" || recs[0][7] != "change_point" {
		t.Fatalf("csv: %q", recs)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	if recs[1][col["biz_type"]] != "DEDUCT_FROM_CONSUME" || recs[1][col["change_point"]] != "-30" || recs[1][col["shop_name"]] != "西湖店" {
		t.Fatalf("newest row %q", recs[1])
	}
	if got := recs[2][col["out_biz_id"]]; got != "'=cmd|' /C calc'!A0" {
		t.Fatalf("hostile cell %q", got)
	}
	a = e.do("GET", "/admin/v1/flows?brand_id=B1&type=EXTRA_CHARGE&format=csv", nil).want(t, http.StatusOK)
	if n := bytes.Count(a.body, []byte("\n")); n != 3 {
		t.Fatalf("filtered csv has %d lines:\n%s", n, a.body)
	}
	e.do("GET", "/admin/v1/flows?brand_id=B1&shop_id=S9&format=csv", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
}

func TestAPI_OrderPreviewReverse(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C1", "g2", 100)
	e.MustConsume("C1", "o1", 150)
	a := e.do("GET", "/admin/v1/brands/B1/orders/o1", nil).want(t, http.StatusOK)
	if a.num(t, "spent") != 150 || a.num(t, "reversible") != 150 || a.get(t, "shop_id") != "S1" ||
		a.get(t, "customers.0.customer_id") != "C1" || a.get(t, "customers.0.flows.spent.0.biz_type") != "DEDUCT_FROM_CONSUME" {
		t.Fatalf("order: %s", a.body)
	}
	e.do("GET", "/admin/v1/brands/B1/orders/none", nil).wantError(t, http.StatusNotFound, backoffice.CodeOrderNotFound)

	// The preview says what would happen lot by lot, and writes nothing.
	before := e.Snapshot()
	a = e.do("POST", "/admin/v1/brands/B1/orders/o1/reversal-preview", map[string]any{"points": 80}).want(t, http.StatusOK)
	if a.num(t, "points") != 80 || a.num(t, "available") != 50 || a.num(t, "available_after") != 130 ||
		a.num(t, "after.reversible") != 70 || a.num(t, "lots.0.points") != 50 || a.num(t, "lots.1.points") != 30 ||
		a.num(t, "lots.1.remaining_after") != 30 || a.get(t, "flows.0.flow_id") != nil || a.get(t, "written") != false {
		t.Fatalf("preview: %s", a.body)
	}
	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversal-preview", map[string]any{"points": 151}).
		wantError(t, http.StatusUnprocessableEntity, ledger.CodeReverseExceedsSpent)
	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversal-preview", map[string]any{"points": 1, "extra": 1}).
		wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	if e.Snapshot() != before {
		t.Fatal("a preview wrote")
	}

	// The reversal, attributed to the operator, idempotent by request_id.
	rev := map[string]any{"points": 80, "reason": "退菜", "request_id": "req-a"}
	a = e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals", rev).want(t, http.StatusCreated)
	flowID := a.get(t, "flow_id")
	if a.get(t, "replayed") != false || a.num(t, "order.reversible") != 70 {
		t.Fatalf("reversal: %s", a.body)
	}
	a = e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals", rev).want(t, http.StatusOK)
	if a.get(t, "flow_id") != flowID || a.get(t, "replayed") != true {
		t.Fatalf("replay: %s", a.body)
	}
	f := e.Flows("C1")[0]
	if f.ID != flowID || f.OperatorName != "小李" || f.OperatorID != e.lead.Operator.ID || f.AppKey != points.AdminAppKey || f.Reason != "退菜" || f.Amount != 80 {
		t.Fatalf("flow %+v", f)
	}
	rev["points"] = 81
	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals", rev).wantError(t, http.StatusConflict, ledger.CodeIdempotencyConflict)
	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"points": 71, "request_id": "req-b"}).
		wantError(t, http.StatusUnprocessableEntity, ledger.CodeReverseExceedsSpent)
	// Who reverses is the authenticated operator: a body naming one is refused.
	if f := e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"operator": "张三", "request_id": "req-c"}).
		wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")["field"]; f != "body" {
		t.Fatalf("operator in the body: field %v, want body", f)
	}
	e.do("POST", "/admin/v1/brands/B1/orders/none/reversals", map[string]any{"request_id": "req-d"}).
		wantError(t, http.StatusNotFound, ledger.CodeConsumeOrderNotFound)
	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"request_id": "req-e", "type": "NOPE"}).
		wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	// The rest, then nothing is left.
	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"request_id": "req-f"}).want(t, http.StatusCreated)
	e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"request_id": "req-g"}).
		wantError(t, http.StatusUnprocessableEntity, ledger.CodeAlreadyFullyReversed)
	if got := e.Available("C1"); got != 200 {
		t.Fatalf("available %d, want 200", got)
	}
}

// TestAPI_ReverseConcurrent: operators racing on one order never reverse
// more than was spent.
func TestAPI_ReverseConcurrent(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 500)
	e.MustConsume("C1", "o1", 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := e.do("POST", "/admin/v1/brands/B1/orders/o1/reversals",
				map[string]any{"points": 25, "request_id": fmt.Sprintf("r%d", i)})
			mu.Lock()
			codes[a.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusCreated] != 4 || codes[http.StatusUnprocessableEntity] != 6 {
		t.Fatalf("statuses %v, want 4 created and 6 refused", codes)
	}
}

func TestAPI_AdjustHold(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 100)
	a := e.do("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": -30, "reason": "录入错误", "request_id": "adj-1"}).
		want(t, http.StatusCreated)
	if a.num(t, "account.available") != 70 {
		t.Fatalf("adjust: %s", a.body)
	}
	e.do("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 10, "request_id": "adj-2"}).
		wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"reason": "x", "request_id": "adj-3"}).
		wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": -71, "reason": "x", "request_id": "adj-4"}).
		wantError(t, http.StatusUnprocessableEntity, ledger.CodePointNotEnough)
	e.do("POST", "/admin/v1/customers/C1/adjustments", "{not json").wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	if f := e.Flows("C1")[0]; f.Type != ledger.Adjust || f.ChangePoint() != -30 || f.Reason != "录入错误" || f.OperatorName != "小李" || f.OperatorID != e.lead.Operator.ID {
		t.Fatalf("adjust flow %+v", f)
	}

	if _, err := e.Svc.Operate(e.Ctx, e.Caller, points.OperateRequest{Target: storetest.B1S1, Type: points.OperateFreeze, Points: 20,
		OuterOrderID: "h1", Customer: points.CustomerLookup{CustomerID: "C1"}, OperatorID: "op", RequestID: e.ReqID()}); err != nil {
		t.Fatal(err)
	}
	a = e.do("GET", "/admin/v1/brands/B1/orders/h1", nil).want(t, http.StatusOK)
	if a.get(t, "hold.status") != ledger.HoldActive || a.num(t, "hold.remaining") != 20 {
		t.Fatalf("hold: %s", a.body)
	}
	e.do("POST", "/admin/v1/brands/B1/holds/h1/release", map[string]any{"operator": "张三"}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	a = e.do("POST", "/admin/v1/brands/B1/holds/h1/release", nil).want(t, http.StatusOK)
	if a.get(t, "hold.status") != ledger.HoldReleased {
		t.Fatalf("released: %s", a.body)
	}
	// The audit entry holds the hold before and after the release.
	es, err := e.Store.(audit.Store).AuditEntries(e.Ctx, audit.Query{Action: audit.HoldRelease, Outcome: audit.OK, Limit: 1})
	if err != nil || len(es) != 1 {
		t.Fatalf("hold.release entries: %v %v", es, err)
	}
	var before, after struct {
		Status    string `json:"status"`
		Remaining int64  `json:"remaining"`
	}
	if json.Unmarshal(es[0].Before, &before) != nil || json.Unmarshal(es[0].After, &after) != nil ||
		before.Status != string(ledger.HoldActive) || before.Remaining != 20 || after.Status != string(ledger.HoldReleased) || after.Remaining != 0 {
		t.Errorf("hold.release entry: before %s, after %s", es[0].Before, es[0].After)
	}
	e.do("POST", "/admin/v1/brands/B1/holds/h1/release", nil).
		wantError(t, http.StatusNotFound, ledger.CodeHoldNotFound)
	if got := e.Available("C1"); got != 70 {
		t.Fatalf("available %d, want 70", got)
	}
}

func TestAPI_UpdateCustomer(t *testing.T) {
	e := newAPIEnv(t)
	put := func(body any) answer { return e.do("PUT", "/admin/v1/customers/C1", body) }
	first := map[string]any{"name": "张三丰", "gender": "1", "birthday": "1990-05-01", "level_id": "L2", "remark": "常客",
		"customer_type": 0, "request_id": "u1"}
	a := put(first).want(t, http.StatusOK)
	if a.get(t, "replayed") != false || a.get(t, "customer.name") != "张三丰" || a.get(t, "customer.gender") != "1" ||
		a.get(t, "customer.birthday") != "1990-05-01" || a.get(t, "customer.level_id") != "L2" ||
		a.get(t, "customer.mobile") != "13800000001" || a.num(t, "customer.customer_type") != 0 {
		t.Fatalf("update: %s", a.body)
	}
	if a := put(first).want(t, http.StatusOK); a.get(t, "replayed") != true || a.get(t, "customer.name") != "张三丰" {
		t.Fatalf("the same request again: %s", a.body)
	}
	first["name"] = "张四"
	put(first).wantError(t, http.StatusConflict, ledger.CodeIdempotencyConflict)

	// "" clears, null and absent leave as is.
	a = put(map[string]any{"remark": "", "name": nil, "request_id": "u2"}).want(t, http.StatusOK)
	if a.get(t, "customer.remark") != "" || a.get(t, "customer.name") != "张三丰" || a.get(t, "customer.level_id") != "L2" {
		t.Fatalf("clearing the remark: %s", a.body)
	}
	a = e.do("GET", "/admin/v1/customers/C1", nil).want(t, http.StatusOK)
	if a.get(t, "customer.gender") != "1" || a.get(t, "customer.birthday") != "1990-05-01" || a.get(t, "customer.remark") != "" {
		t.Fatalf("the customer read back: %s", a.body)
	}

	before, stored := e.Snapshot(), e.do("GET", "/admin/v1/customers/C1", nil).body
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"gender": "2", "request_id": "u3"}, "gender"},
		{map[string]any{"birthday": "1990-02-30", "request_id": "u3"}, "birthday"},
		{map[string]any{"customer_type": 2, "request_id": "u3"}, "customer_type"},
		{map[string]any{"name": "x", "operator": "张三", "request_id": "u3"}, "body"}, // the operator is who signed in
		{map[string]any{"name": "x"}, "request_id"},
		{map[string]any{"nickname": "x", "request_id": "u3"}, "body"},
		{map[string]any{"gender": 1, "request_id": "u3"}, "body"},
		{"{not json", "body"},
	} {
		if got := put(c.body).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")["field"]; got != c.field {
			t.Fatalf("%v: field %v, want %s", c.body, got, c.field)
		}
	}
	e.do("PUT", "/admin/v1/customers/nobody", map[string]any{"name": "x", "request_id": "u4"}).
		wantError(t, http.StatusNotFound, ledger.CodeCustomerNotFound)
	if e.Snapshot() != before || string(e.do("GET", "/admin/v1/customers/C1", nil).body) != string(stored) {
		t.Fatal("refused updates wrote")
	}
	if allow := e.do("DELETE", "/admin/v1/customers/C1", nil).header.Get("Allow"); allow != "GET, PUT" {
		t.Fatalf("Allow %q", allow)
	}
}

func TestAPI_Tenant(t *testing.T) {
	e := newAPIEnv(t)
	a := e.do("GET", "/admin/v1/apps", nil).want(t, http.StatusOK)
	if strings.Contains(string(a.body), "s3cret") || a.get(t, "apps.1.secret_set") != true {
		t.Fatalf("apps show a secret: %s", a.body)
	}
	a = e.do("PUT", "/admin/v1/apps/new-pos", map[string]any{"name": "新 POS", "channels": []string{"KRY"}, "brands": []string{"B1"}}).
		want(t, http.StatusOK)
	if s, _ := a.get(t, "secret").(string); len(s) != 32 || a.get(t, "app.app_key") != "new-pos" {
		t.Fatalf("new app: %s", a.body)
	}
	a = e.do("PUT", "/admin/v1/apps/new-pos", map[string]any{"name": "新 POS 2", "channels": []string{"KRY"}, "brands": []string{"B1"}}).
		want(t, http.StatusOK)
	if a.get(t, "secret") != nil || a.get(t, "app.name") != "新 POS 2" {
		t.Fatalf("updated app shows a secret: %s", a.body)
	}
	e.do("PUT", "/admin/v1/apps/x", map[string]any{"channels": []string{"ELEME"}}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("PUT", "/admin/v1/apps/x", map[string]any{"app_key": "y"}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("PUT", "/admin/v1/apps/x", map[string]any{"secrett": "y"}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("PUT", "/admin/v1/apps/"+points.AdminAppKey, map[string]any{}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")

	// A brand as in the tenant file: same keys, same validation.
	a = e.do("PUT", "/admin/v1/brands/B7", map[string]any{"name": "新品牌", "out_ids": map[string]string{"KRY": "kry-b7"},
		"settings": map[string]any{"refund_of_expired": "forfeit", "hold_timeout": "10m"},
		"shops":    []map[string]any{{"shop_id": "S71", "name": "一店"}},
		"rule": map[string]any{"name": "规则", "point_clear_rule": map[string]any{"point_clear_rule_type": "YEAR_END", "days": 1},
			"point_deduction_rule": map[string]any{"member_point_deduction_rules": []map[string]any{
				{"level_id": "", "deducted_point": 100, "consume_money": 12.5, "enable": true}}}},
	}).want(t, http.StatusOK)
	if a.get(t, "settings.refund_of_expired") != "forfeit" || a.get(t, "settings.hold_timeout") != "10m0s" ||
		a.get(t, "shops.0.shop_id") != "S71" || a.get(t, "rule.point_deduction_rule.member_point_deduction_rules.0.consume_money") != 12.5 ||
		a.num(t, "rule.version") != 1 || a.get(t, "time_zone") != "Asia/Shanghai" {
		t.Fatalf("brand: %s", a.body)
	}
	e.do("PUT", "/admin/v1/brands/B7", map[string]any{"settings": map[string]any{"refund_of_expired": "never"}}).
		wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("PUT", "/admin/v1/brands/B7", map[string]any{"time_zone": "Mars/Olympus"}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("PUT", "/admin/v1/brands/B7", map[string]any{"colour": "red"}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")

	// A shop or a rule alone leaves the rest of the brand as it is.
	a = e.do("PUT", "/admin/v1/brands/B7/shops/S72", map[string]any{"name": "二店", "out_ids": map[string]string{"KRY": "kry-s72"}}).want(t, http.StatusOK)
	if len(a.get(t, "shops").([]any)) != 2 {
		t.Fatalf("shops: %s", a.body)
	}
	e.do("PUT", "/admin/v1/brands/B7/shops/S1", map[string]any{"name": "x"}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("PUT", "/admin/v1/brands/B9/shops/S99", map[string]any{"name": "x"}).wantError(t, http.StatusNotFound, backoffice.CodeBrandNotFound)
	a = e.do("PUT", "/admin/v1/brands/B7/rule", map[string]any{"name": "规则二", "point_clear_rule": map[string]any{"point_clear_rule_type": "NEVER"}}).
		want(t, http.StatusOK)
	if a.num(t, "version") != 2 || a.get(t, "point_clear_rule.point_clear_rule_type") != "NEVER" {
		t.Fatalf("rule: %s", a.body)
	}
	e.do("PUT", "/admin/v1/brands/B7/rule", map[string]any{"point_clear_rule": map[string]any{"point_clear_rule_type": "SOMETIMES"}}).
		wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	a = e.do("GET", "/admin/v1/brands/B7", nil).want(t, http.StatusOK)
	if a.get(t, "settings.refund_of_expired") != "forfeit" || a.get(t, "rule.name") != "规则二" {
		t.Fatalf("brand after shop and rule: %s", a.body)
	}
	e.do("GET", "/admin/v1/brands/B2/rule", nil).wantError(t, http.StatusNotFound, ledger.CodeRuleNotFound)

	// A whole tenant file, in YAML, as `jifen apply` takes it.
	a = e.do("POST", "/admin/v1/tenant", "customers:\n  - {customer_id: \"N1\", brand_id: \"B7\", name: \"新顾客\"}\n").want(t, http.StatusOK)
	if a.num(t, "customers") != 1 {
		t.Fatalf("tenant: %s", a.body)
	}
	e.do("POST", "/admin/v1/tenant", "customers:\n  - {customer_id: \"N2\"}\n").wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	if _, err := e.Store.Customer(e.Ctx, "N2"); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("a refused tenant file was applied: %v", err)
	}
}

func TestAPI_Totals(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 300)
	e.MustConsume("C1", "o1", 100)
	e.Clock.Advance(24 * time.Hour)
	a := e.do("GET", "/admin/v1/brands/B1/totals?from=2026-03-01&to=2026-03-02", nil).want(t, http.StatusOK)
	if a.num(t, "days.0.issued") != 300 || a.num(t, "days.0.spent") != 100 || a.num(t, "days.0.liability") != 200 ||
		a.num(t, "days.1.liability") != 200 || a.get(t, "shops.0.shop_id") != "S1" || a.get(t, "shops.0.liability") != nil ||
		a.num(t, "liability") != 200 || a.get(t, "valued") != false {
		t.Fatalf("totals: %s", a.body)
	}
	a = e.do("GET", "/admin/v1/brands/B1/totals?from=2026-03-01&to=2026-03-02&format=csv", nil).want(t, http.StatusOK)
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(a.body, []byte("\ufeff")))).ReadAll()
	if err != nil || len(recs) != 4 || recs[1][0] != "2026-03-01" || recs[1][3] != "300" || recs[3][1] != "S1" {
		t.Fatalf("totals csv %q %v", recs, err)
	}
	// The default window is the last 30 days.
	a = e.do("GET", "/admin/v1/brands/B1/totals", nil).want(t, http.StatusOK)
	if len(a.get(t, "days").([]any)) != 30 || a.get(t, "to") != "2026-03-02" {
		t.Fatalf("default window: %s", a.body)
	}
	e.do("GET", "/admin/v1/brands/B1/totals?from=March", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.do("GET", "/admin/v1/brands/nope/totals", nil).wantError(t, http.StatusNotFound, backoffice.CodeBrandNotFound)
}

// A body the server would not hold (package bodylimit) is answered from
// the table, not as a malformed body, on the JSON and the YAML endpoints;
// nothing is written.
func TestAPI_BodyNotHeld(t *testing.T) {
	e := newAPIEnv(t)
	api := New(e.Admin(), e.ops, nil, nil)
	send := func(method, path, prefix string, err error) (int, Problem) {
		t.Helper()
		req := httptest.NewRequest(method, path, io.MultiReader(strings.NewReader(prefix), iotest.ErrReader(err)))
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		var out struct{ Error Problem }
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, w.Body)
		}
		return w.Code, out.Error
	}
	for _, tc := range []struct {
		method, path, prefix string
		err                  error
		status               int
		code                 string
	}{
		{"PUT", "/admin/v1/apps/slow-pos", `{"name": "慢`, bodylimit.ErrTimeout, http.StatusRequestTimeout, "REQUEST_TIMEOUT"},
		{"POST", "/admin/v1/tenant", "apps:\n  - {app_key: slow-pos", bodylimit.ErrTimeout, http.StatusRequestTimeout, "REQUEST_TIMEOUT"},
		{"PUT", "/admin/v1/apps/slow-pos", `{"name": "慢`, bodylimit.ErrBusy, http.StatusServiceUnavailable, "UNAVAILABLE"},
		{"POST", "/admin/v1/tenant", "apps:\n  - {app_key: slow-pos", bodylimit.ErrBusy, http.StatusServiceUnavailable, "UNAVAILABLE"},
	} {
		status, p := send(tc.method, tc.path, tc.prefix, tc.err)
		if status != tc.status || p.Code != tc.code || p.Message == "" {
			t.Errorf("%s %s failing with %v: %d %+v, want %d %s", tc.method, tc.path, tc.err, status, p, tc.status, tc.code)
		}
	}
	if a := e.do("GET", "/admin/v1/apps", nil).want(t, http.StatusOK); strings.Contains(string(a.body), "slow-pos") {
		t.Errorf("a body not received whole was applied: %s", a.body)
	}
}

func TestProblemOf(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
		hidden bool
	}{
		{ledger.Invalid("points", "不可为 0"), 400, "INVALID_PARAMETER", false},
		{ledger.Denied("brand_id", "no"), 403, "PERMISSION_DENIED", false},
		{ledger.Business(ledger.CodePointNotEnough, "积分不足", "short"), 422, ledger.CodePointNotEnough, false},
		{ledger.Business(ledger.CodeHoldNotFound, "x", "y"), 404, ledger.CodeHoldNotFound, false},
		{ledger.Business(ledger.CodeReverseOrderConflict, "x", "y"), 409, ledger.CodeReverseOrderConflict, false},
		{fmt.Errorf("wrapped: %w", ledger.Unavailable("db down")), 503, "UNAVAILABLE", true},
		{fmt.Errorf("sqlite: x: %w", points.ErrNotFound), 404, "NOT_FOUND", false},
		{errors.New("sqlite: near \"SELEC\": syntax error"), 500, "INTERNAL", true},
		{fmt.Errorf("%w: read tcp: i/o timeout", bodylimit.ErrTimeout), 408, "REQUEST_TIMEOUT", false},
		{bodylimit.ErrBusy, 503, "UNAVAILABLE", false},
	} {
		p := ProblemOf(tc.err, "RID")
		if p.Status != tc.status || p.Code != tc.code || p.Internal != tc.hidden {
			t.Errorf("%v: got %d %s hidden=%v, want %d %s hidden=%v", tc.err, p.Status, p.Code, p.Internal, tc.status, tc.code, tc.hidden)
		}
		if tc.hidden && (strings.Contains(p.Message, "sqlite") || strings.Contains(p.Message, "db down") || !strings.Contains(p.Message, "RID")) {
			t.Errorf("%v: message %q shows the cause or lacks the request id", tc.err, p.Message)
		}
	}
}

// TestAPI_ControlCharacters: text with NUL (which PostgreSQL refuses,
// where SQLite stored it), another control character or bytes that are
// not UTF-8 is 400 INVALID_PARAMETER naming the field, and nothing is
// written; no app may take a key of the reserved "@" namespace.
func TestAPI_ControlCharacters(t *testing.T) {
	e := newAPIEnv(t)
	e.MustCharge("C1", "g1", 100)
	before := e.Snapshot()
	for _, c := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 5, "reason": "补\u0000偿", "request_id": "a1"}, "reason"},
		{"POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 5, "reason": "补偿", "request_id": "a\u007f1"}, "request_id"},
		{"POST", "/admin/v1/brands/B1/orders/g1/reversal-preview", map[string]any{"type": "EXTRA_CHARGE_REVERSE", "reverse_order_id": "r\u00011"}, "reverse_order_id"},
		{"GET", "/admin/v1/customers/C1%00", nil, "customer_id"},
		{"GET", "/admin/v1/customers?q=C%FF", nil, "q"},
		{"GET", "/admin/v1/flows?brand_id=B1&out_biz_id=g%001", nil, "out_biz_id"},
		{"PUT", "/admin/v1/brands/B1/shops/S1", map[string]any{"name": "西湖\u0000店"}, "brands[0].shops[0].name"},
		{"PUT", "/admin/v1/customers/C1", map[string]any{"remark": "常\u0000客", "request_id": "u1"}, "remark"},
		{"PUT", "/admin/v1/apps/@pos", map[string]any{"name": "x"}, "apps[0].app_key"},
		{"POST", "/admin/v1/tenant", map[string]any{"apps": []map[string]any{{"app_key": "@admin", "name": "x"}}}, "apps[0].app_key"},
	} {
		if got := e.do(c.method, c.path, c.body).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")["field"]; got != c.field {
			t.Fatalf("%s %s: field %v, want %s", c.method, c.path, got, c.field)
		}
	}
	if got := e.Snapshot(); got != before {
		t.Fatalf("refused requests wrote:\n%s\nwas:\n%s", got, before)
	}
	apps := e.do("GET", "/admin/v1/apps", nil).want(t, http.StatusOK)
	if strings.Contains(string(apps.body), `"@`) {
		t.Fatalf("an app of the reserved namespace was stored: %s", apps.body)
	}
	if sh, err := e.Store.Shop(e.Ctx, "S1"); err != nil || sh.Name != "西湖店" {
		t.Fatalf("shop S1 after a refused rename: %+v %v", sh, err)
	}
}

// TestAPI_RotateAppSecret: an admin gives an app a new secret through the
// API, answered once; the old one is gone; the rotation, done or refused,
// is in the audit log naming the app and no secret. On both stores.
func TestAPI_RotateAppSecret(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			const old = "kiosk-secret-0123456789"
			e.do("PUT", "/admin/v1/apps/kiosk", map[string]any{"name": "自助机", "secret": old, "channels": []string{"KRY"},
				"brands": []string{"B1"}}).want(t, http.StatusOK)
			first := e.do("POST", "/admin/v1/apps/kiosk/rotate-secret", nil).want(t, http.StatusOK).get(t, "secret").(string)
			second := e.do("POST", "/admin/v1/apps/kiosk/rotate-secret", nil).want(t, http.StatusOK).get(t, "secret").(string)
			if len(first) != 32 || len(second) != 32 || first == old || second == first {
				t.Fatalf("secrets %q then %q after %q", first, second, old)
			}
			if app, err := e.Store.App(e.Ctx, "kiosk"); err != nil || app.Secret != second || app.Name != "自助机" {
				t.Fatalf("the app after rotation: %+v %v", app, err)
			}
			if a := e.do("GET", "/admin/v1/apps", nil).want(t, http.StatusOK); strings.Contains(string(a.body), second) {
				t.Fatalf("the app list shows the secret: %s", a.body)
			}
			e.do("POST", "/admin/v1/apps/nope/rotate-secret", nil).wantError(t, http.StatusNotFound, backoffice.CodeAppNotFound)
			support := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服", Role: operator.Support, Limit: 10})
			e.doAuth("POST", "/admin/v1/apps/kiosk/rotate-secret", nil, "Bearer "+support.Secret).wantError(t, http.StatusForbidden, "FORBIDDEN")

			a := e.do("GET", "/admin/v1/audit?action=app.secret.rotate", nil).want(t, http.StatusOK)
			for _, s := range []string{old, first, second} {
				if strings.Contains(string(a.body), s) {
					t.Fatalf("the log holds the secret %s: %s", s, a.body)
				}
			}
			want := [][2]string{{"nope", backoffice.CodeAppNotFound}, {"kiosk", "ok"}, {"kiosk", "ok"}}
			if n := len(a.get(t, "entries").([]any)); n != len(want) {
				t.Fatalf("%d rotations in the log, want %d: %s", n, len(want), a.body)
			}
			for i, w := range want {
				p := fmt.Sprintf("entries.%d.", i)
				if a.get(t, p+"target") != w[0] || a.get(t, p+"outcome") != w[1] || a.get(t, p+"operator_id") != e.lead.Operator.ID {
					t.Errorf("entry %d: %s", i, a.body)
				}
			}
		})
	}
}
