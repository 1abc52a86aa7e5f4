package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"jifen/audit"
)

// TestConsole_Audit: signing in (and failing to, under the name tried),
// an adjustment and signing out are in the audit log under the signed-in
// operator; /console/audit lists them, filters and pages.
func TestConsole_Audit(t *testing.T) {
	e := newConsoleEnv(t)
	e.post("/console/login", url.Values{"name": {"小王"}, "password": {"wrong-password"}}).want(t, http.StatusUnauthorized)
	csrf := e.signIn()
	r := e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"30"}, "reason": {"补偿"}, "confirm": {"1"},
		"request_id": {"adj-1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("adjust: %d\n%s", r.status, r.body)
	}
	e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"x"}, "confirm": {"1"}, "request_id": {"adj-2"}}).
		want(t, http.StatusBadRequest)

	es, _, err := audit.New(e.Store.(audit.Store), nil).List(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range es {
		got = append(got, en.Action+"/"+en.OperatorName+"/"+en.Outcome)
		if id := map[bool]string{true: e.lead.Operator.ID}[en.OperatorName == "小李"]; en.OperatorID != id {
			t.Errorf("%s by %s: operator id %q, want %q", en.Action, en.OperatorName, en.OperatorID, id)
		}
	}
	want := []string{"adjustment/小李/INVALID_PARAMETER", "adjustment/小李/ok", "signin/小李/ok", "signin.failed/小王/UNAUTHORIZED"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("log %v, want %v", got, want)
	}
	if es[1].BrandID != "B1" || es[1].Target != "C1" || es[1].ClientAddr != "127.0.0.1" ||
		string(es[1].Request) != `{"points":30,"reason":"补偿","request_id":"adj-1"}` ||
		!strings.Contains(string(es[1].Before), `"available":0`) || !strings.Contains(string(es[1].After), `"available":30`) {
		t.Errorf("adjustment entry %+v", es[1])
	}

	e.get("/console/audit").want(t, http.StatusOK, `href="/console/audit"`, `id="audit-4"`, `id="audit-1"`, "signin.failed", "补偿")
	page := e.get("/console/audit?action=signin.failed").want(t, http.StatusOK, `id="audit-1"`).body
	if strings.Contains(page, `id="audit-2"`) {
		t.Error("the action filter let a sign-in through")
	}
	page = e.get("/console/audit?outcome=failed&operator="+url.QueryEscape("小李")).want(t, http.StatusOK, `id="audit-4"`).body
	if strings.Contains(page, `id="audit-3"`) {
		t.Error("the outcome filter let a success through")
	}
	r = e.get("/console/audit").want(t, http.StatusOK)
	if strings.Contains(r.body, `id="audit-next"`) {
		t.Error("a next page where all entries fit on one")
	}
	e.get("/console/audit?from=nope").want(t, http.StatusBadRequest, "from")

	e.post("/console/logout", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)
	es, _, err = audit.New(e.Store.(audit.Store), nil).List(context.Background(), audit.Query{Limit: 1})
	if err != nil || len(es) != 1 || es[0].Action != audit.SignOut || es[0].OperatorName != "小李" || es[0].OperatorID != e.lead.Operator.ID {
		t.Fatalf("after signing out: %+v, %v", es, err)
	}
}

// TestConsole_AuditOperators: managing operators in the console is
// recorded under the admin who did it, never with a password or token;
// an operator's own password change and its writes under that operator;
// the page is the admins' only.
func TestConsole_AuditOperators(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	r := e.post("/console/operators", url.Values{"csrf": {csrf}, "name": {"小王"}, "role": {"support"}, "limit": {"500"}}).
		want(t, http.StatusOK, `id="shown-password"`)
	secrets := []string{regexp.MustCompile(`id="shown-password">([^<]+)<`).FindStringSubmatch(r.body)[1],
		regexp.MustCompile(`id="shown-token">([^<]+)<`).FindStringSubmatch(r.body)[1]}
	wang, err := e.ops.ByName(e.Ctx, "小王")
	if err != nil {
		t.Fatal(err)
	}
	op := "/console/operators/" + wang.ID + "/"
	e.post(op+"disable", url.Values{"csrf": {csrf}}).want(t, http.StatusOK)
	e.post(op+"enable", url.Values{"csrf": {csrf}}).want(t, http.StatusOK)
	r = e.post(op+"reset", url.Values{"csrf": {csrf}}).want(t, http.StatusOK, `id="shown-password"`)
	password := regexp.MustCompile(`id="shown-password">([^<]+)<`).FindStringSubmatch(r.body)[1]
	r = e.post(op+"token", url.Values{"csrf": {csrf}, "token_name": {"脚本"}}).want(t, http.StatusOK, `id="shown-token"`)
	secrets = append(secrets, password, regexp.MustCompile(`id="shown-token">([^<]+)<`).FindStringSubmatch(r.body)[1])
	ts, _ := e.ops.Tokens(e.Ctx, wang.ID)
	e.post(op+"revoke", url.Values{"csrf": {csrf}, "token_id": {ts[0].ID}}).want(t, http.StatusOK)
	e.post("/console/logout", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)

	csrf = e.signInAs("小王", password)
	e.get("/console/audit").want(t, http.StatusForbidden)
	e.post("/console/password", url.Values{"csrf": {csrf}, "old_password": {password}, "new_password": {"新的密码-0123456789"},
		"confirm_password": {"另一个密码-0123456789"}}).want(t, http.StatusBadRequest, "confirm_password")
	if _, err := e.ops.SignIn(e.Ctx, "小王", password); err != nil {
		t.Fatalf("a mistyped confirmation changed the password: %v", err)
	}
	e.post("/console/password", url.Values{"csrf": {csrf}, "old_password": {password}, "new_password": {"新的密码-0123456789"},
		"confirm_password": {"新的密码-0123456789"}}).want(t, http.StatusOK)
	secrets = append(secrets, "新的密码-0123456789")

	es, _, err := audit.New(e.Store.(audit.Store), nil).List(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	lead := e.lead.Operator
	want := []struct{ action, id, name, outcome string }{
		{audit.OperatorPasswordChange, wang.ID, "小王", audit.OK},
		{audit.OperatorPasswordChange, wang.ID, "小王", "INVALID_PARAMETER"},
		{audit.SignIn, wang.ID, "小王", audit.OK},
		{audit.SignOut, lead.ID, lead.Name, audit.OK},
		{audit.OperatorTokenRevoke, lead.ID, lead.Name, audit.OK},
		{audit.OperatorTokenCreate, lead.ID, lead.Name, audit.OK},
		{audit.OperatorPasswordReset, lead.ID, lead.Name, audit.OK},
		{audit.OperatorEnable, lead.ID, lead.Name, audit.OK},
		{audit.OperatorDisable, lead.ID, lead.Name, audit.OK},
		{audit.OperatorCreate, lead.ID, lead.Name, audit.OK},
		{audit.SignIn, lead.ID, lead.Name, audit.OK},
	}
	if len(es) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(es), len(want), es)
	}
	for i, w := range want {
		if en := es[i]; en.Action != w.action || en.OperatorID != w.id || en.OperatorName != w.name || en.Outcome != w.outcome {
			t.Errorf("entry %d: %s by %s (%s), %s; want %+v", i, en.Action, en.OperatorName, en.OperatorID, en.Outcome, w)
		}
		for _, s := range secrets {
			if strings.Contains(fmt.Sprintf("%+v", es[i]), s) {
				t.Errorf("entry %d holds the secret %q", i, s)
			}
		}
	}
	if es[9].Target != wang.ID || !strings.Contains(string(es[9].After), `"name":"小王"`) ||
		!strings.Contains(string(es[8].After), `"disabled":true`) || !strings.Contains(string(es[7].After), `"disabled":false`) {
		t.Errorf("operator entries' details: %+v", es[7:10])
	}
}

// TestConsole_ExportsAudited: the CSV downloads — the flows (with names
// and mobiles) and the daily totals — are exports in the audit log, with
// what was asked for; a refused one too, with its error.
func TestConsole_ExportsAudited(t *testing.T) {
	e := newConsoleEnv(t)
	e.MustCharge("C1", "g1", 100)
	e.signIn()
	r := e.get("/console/flows.csv?brand_id=B1&customer_id=13800000001&start=2026-03-01&page=2").want(t, http.StatusOK, "张三")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("flows.csv: %s", r.header.Get("Content-Type"))
	}
	e.get("/console/brands/B1/totals.csv?from=2026-02-01&to=2026-03-01").want(t, http.StatusOK, "全部门店")
	marked(t, e.get("/console/flows.csv?brand_id=B1&start=nope").want(t, http.StatusBadRequest).body, "start", "nope")

	es, _, err := audit.New(e.Store.(audit.Store), nil).List(context.Background(), audit.Query{Action: audit.Export})
	if err != nil || len(es) != 3 {
		t.Fatalf("%d exports recorded, %v; want 3", len(es), err)
	}
	want := []struct{ target, request, outcome string }{
		{"flows", `{"brand_id":"B1","start":"nope"}`, "INVALID_PARAMETER"},
		{"totals", `{"from":"2026-02-01","to":"2026-03-01"}`, audit.OK},
		{"flows", `{"brand_id":"B1","customer_id":"13800000001","start":"2026-03-01"}`, audit.OK},
	}
	for i, w := range want {
		if en := es[i]; en.Target != w.target || string(en.Request) != w.request || en.Outcome != w.outcome || en.BrandID != "B1" ||
			en.OperatorName != "小李" || en.OperatorID != e.lead.Operator.ID {
			t.Errorf("export %d: %s %s %s %s by %s; want %+v", i, en.Target, en.BrandID, en.Request, en.Outcome, en.OperatorName, w)
		}
	}
	e.get("/console/audit?action=export").want(t, http.StatusOK, `id="audit-`, "totals", "13800000001")
}
