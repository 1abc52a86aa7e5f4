package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/storetest"
)

// TestConsole_Roles: a viewer reads but is not shown, and is refused
// (403), the actions of support; a support operator adjusts within its
// limit, recorded under its id and name; brands outside an operator's are
// refused; admin pages are an admin's.
func TestConsole_Roles(t *testing.T) {
	e := newConsoleEnv(t)
	e.MustCharge("C1", "g1", 100)
	viewer := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "看看", Role: operator.Viewer})
	csrf := e.signInAs("看看", viewer.Password)
	page := e.get("/console/customers/C1").want(t, http.StatusOK, "张三").body
	if strings.Contains(page, `id="adjust"`) || strings.Contains(page, "/console/operators") {
		t.Fatal("a viewer is shown the adjustment form or the operators page")
	}
	before := e.Snapshot()
	e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"5"}, "reason": {"r"}, "request_id": {"v1"}}).
		want(t, http.StatusForbidden, `data-code="FORBIDDEN"`, "需要客服或管理员")
	e.get("/console/operators").want(t, http.StatusForbidden, "需要管理员")
	e.get("/console/webhooks").want(t, http.StatusForbidden)
	if e.Snapshot() != before {
		t.Fatal("a refused adjustment wrote")
	}

	support := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服小王", Role: operator.Support, Limit: 10, Brands: []string{"B1"}})
	csrf = e.signInAs("客服小王", support.Password)
	e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"11"}, "reason": {"r"}, "request_id": {"s1"}}).
		want(t, http.StatusForbidden, "10")
	r := e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"10"}, "reason": {"r"}, "request_id": {"s2"}, "confirm": {"1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("adjust within the limit: %d %s", r.status, r.body)
	}
	if f := e.Flows("C1")[0]; f.Type != ledger.Adjust || f.OperatorID != support.Operator.ID || f.OperatorName != "客服小王" {
		t.Fatalf("flow recorded under %q %q", f.OperatorID, f.OperatorName)
	}
	e.get("/console/customers/X1").want(t, http.StatusForbidden, "B2")
	e.get("/console/brands/B2").want(t, http.StatusForbidden, "B2")
}

// TestConsole_SessionEnds: a disabled operator's session stops at its next
// request, and so do sessions started before a password change; the
// console's own password page changes it and keeps the session.
func TestConsole_SessionEnds(t *testing.T) {
	e := newConsoleEnv(t)
	a := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "王五", Role: operator.Viewer})
	e.signInAs("王五", a.Password)
	disabled, enabled := true, false
	if _, err := e.ops.Update(e.Ctx, a.Operator.ID, operator.Change{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if r := e.get("/console/"); r.status != http.StatusSeeOther {
		t.Fatalf("a disabled operator's session: %d", r.status)
	}
	e.post("/console/login", url.Values{"name": {"王五"}, "password": {a.Password}}).want(t, http.StatusForbidden, "停用")
	if _, err := e.ops.Update(e.Ctx, a.Operator.ID, operator.Change{Disabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	csrf := e.signInAs("王五", a.Password)
	old := e.client.Jar.Cookies(mustURL(t, e.url+"/console/"))
	e.post("/console/password", url.Values{"csrf": {csrf}, "old_password": {a.Password}, "new_password": {"my-new-password-1"},
		"confirm_password": {"my-new-password-1"}}).want(t, http.StatusOK, "密码已修改")
	e.get("/console/").want(t, http.StatusOK, "王五") // this session goes on
	req, err := http.NewRequest("GET", e.url+"/console/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(old[0])
	resp, err := (&http.Client{CheckRedirect: e.client.CheckRedirect}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session from before the password change: %d", resp.StatusCode)
	}
	e.signInAs("王五", "my-new-password-1")
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestConsole_LockOut: repeated wrong passwords lock the operator, even
// with the right one then.
func TestConsole_LockOut(t *testing.T) {
	e := newConsoleEnv(t)
	for range operator.MaxFailedSignIns - 1 {
		e.post("/console/login", url.Values{"name": {"小李"}, "password": {"wrong"}}).want(t, http.StatusUnauthorized)
	}
	e.post("/console/login", url.Values{"name": {"小李"}, "password": {"wrong"}}).want(t, http.StatusTooManyRequests, "锁定")
	e.post("/console/login", url.Values{"name": {"小李"}, "password": {e.lead.Password}}).want(t, http.StatusTooManyRequests, "锁定")
}

// TestConsole_Operators: the bootstrap token signs in as bootstrap, adds an
// operator (its password and token shown once), creates and revokes a
// token, disables the operator.
func TestConsole_Operators(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signInAs("bootstrap", token)
	r := e.post("/console/operators", url.Values{"csrf": {csrf}, "name": {"张经理"}, "role": {"support"}, "brands": {"B1"}, "limit": {"500"}}).
		want(t, http.StatusOK, "张经理", `id="shown-password"`, `id="shown-token"`)
	password := regexp.MustCompile(`id="shown-password">([^<]+)<`).FindStringSubmatch(r.body)[1]
	secret := regexp.MustCompile(`id="shown-token">([^<]+)<`).FindStringSubmatch(r.body)[1]
	if p, err := e.ops.SignIn(e.Ctx, "张经理", password); err != nil || p.Limit != 500 {
		t.Fatalf("the password shown: %+v, %v", p, err)
	}
	if strings.Contains(e.get("/console/operators").want(t, http.StatusOK).body, password) {
		t.Fatal("the password is shown again")
	}
	o, err := e.ops.ByName(e.Ctx, "张经理")
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := e.ops.Tokens(e.Ctx, o.ID)
	e.post("/console/operators/"+o.ID+"/revoke", url.Values{"csrf": {csrf}, "token_id": {ts[0].ID}}).want(t, http.StatusOK, "已吊销")
	if _, err := e.ops.Authenticate(e.Ctx, secret); err == nil {
		t.Fatal("a revoked token authenticates")
	}
	e.post("/console/operators/"+o.ID+"/token", url.Values{"csrf": {csrf}, "token_name": {"脚本"}}).want(t, http.StatusOK, `id="shown-token"`)
	e.post("/console/operators/"+o.ID+"/disable", url.Values{"csrf": {csrf}}).want(t, http.StatusOK, "已停用")
	e.post("/console/operators", url.Values{"csrf": {csrf}, "name": {"x"}, "role": {"support"}}).want(t, http.StatusBadRequest, "limit")
}

// TestConsole_EditOperator: an admin changes an operator's role, brands
// and limit in the console, through the operator service, recorded as
// operator.update with the operator before and after; a refused change
// comes back as typed in the operator's row; others may not.
func TestConsole_EditOperator(t *testing.T) {
	e := newConsoleEnv(t)
	wang := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "小王", Role: operator.Support, Limit: 500, Brands: []string{"B1"}})
	id := wang.Operator.ID
	csrf := e.signIn()
	page := e.get("/console/operators").want(t, http.StatusOK, `action="/console/operators/`+id+`/edit"`).body
	kept(t, page, "brands", "B1")
	kept(t, page, "limit", "500")

	e.post("/console/operators/"+id+"/edit", url.Values{"csrf": {csrf}, "role": {"support"}, "brands": {"B1, B2"}, "limit": {"300"}}).
		want(t, http.StatusOK, "已保存")
	o, err := e.ops.Get(e.Ctx, id)
	if err != nil || o.Role != operator.Support || strings.Join(o.Brands, ",") != "B1,B2" || o.Limit != 300 {
		t.Fatalf("after the edit: %+v, %v", o, err)
	}
	e.post("/console/operators/"+id+"/edit", url.Values{"csrf": {csrf}, "role": {"admin"}, "brands": {""}, "limit": {"300"}}).
		want(t, http.StatusOK, "已保存")
	if o, err = e.ops.Get(e.Ctx, id); err != nil || o.Role != operator.Admin || len(o.Brands) != 0 || o.Limit != 0 {
		t.Fatalf("made an admin of every brand: %+v, %v", o, err)
	}
	page = e.post("/console/operators/"+id+"/edit", url.Values{"csrf": {csrf}, "role": {"support"}, "brands": {"B2"}, "limit": {""}}).
		want(t, http.StatusBadRequest, "客服需要每次操作的积分上限").body
	marked(t, page, "limit")
	row := page[strings.Index(page, `id="edit-`+id+`"`):]
	if !strings.Contains(row, `<option value="support" selected>`) || !strings.Contains(row, `value="B2"`) {
		t.Errorf("the refused edit is not shown as typed:\n%.1500s", row)
	}
	if o, _ := e.ops.Get(e.Ctx, id); o.Role != operator.Admin {
		t.Fatalf("a refused edit changed the operator: %+v", o)
	}

	es, _, err := audit.New(e.Store.(audit.Store), nil).List(e.Ctx, audit.Query{Action: audit.OperatorUpdate})
	if err != nil || len(es) != 3 {
		t.Fatalf("%d operator.update entries, %v; want 3", len(es), err)
	}
	first := es[2]
	if first.Target != id || first.OperatorName != "小李" || first.Outcome != audit.OK ||
		string(first.Request) != `{"brands":["B1","B2"],"disabled":null,"limit":300,"role":"support"}` ||
		!strings.Contains(string(first.Before), `"brands":["B1"]`) || !strings.Contains(string(first.Before), `"limit":500`) ||
		!strings.Contains(string(first.After), `"brands":["B1","B2"]`) || !strings.Contains(string(first.After), `"limit":300`) {
		t.Errorf("the edit's entry: %s %s %s / %s / %s", first.Target, first.OperatorName, first.Request, first.Before, first.After)
	}
	if es[0].Outcome != "INVALID_PARAMETER" || es[0].After != nil {
		t.Errorf("the refused edit's entry: %+v", es[0])
	}

	viewer := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "看看", Role: operator.Viewer})
	csrf = e.signInAs("看看", viewer.Password)
	e.post("/console/operators/"+id+"/edit", url.Values{"csrf": {csrf}, "role": {"viewer"}}).want(t, http.StatusForbidden)
	if o, _ := e.ops.Get(e.Ctx, id); o.Role != operator.Admin {
		t.Fatalf("a viewer changed an operator: %+v", o)
	}
}
