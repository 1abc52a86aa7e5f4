package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"jifen/audit"
)

// TestConsole_Audit: signing in (and failing to), an adjustment and
// signing out are in the audit log under the typed name; /console/audit
// lists them, filters and pages.
func TestConsole_Audit(t *testing.T) {
	e := newConsoleEnv(t)
	e.post("/console/login", url.Values{"token": {"wrong-token"}, "operator": {"小王"}}).want(t, http.StatusUnauthorized)
	csrf := e.signIn()
	r := e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"30"}, "reason": {"补偿"},
		"request_id": {"adj-1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("adjust: %d\n%s", r.status, r.body)
	}
	e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"x"}, "request_id": {"adj-2"}}).
		want(t, http.StatusBadRequest)

	es, _, err := audit.New(e.Store.(audit.Store), nil).List(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range es {
		got = append(got, en.Action+"/"+en.OperatorName+"/"+en.Outcome)
	}
	want := []string{"adjustment/小李/INVALID_PARAMETER", "adjustment/小李/ok", "signin/小李/ok", "signin.failed/小王/UNAUTHORIZED"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("log %v, want %v", got, want)
	}
	if es[1].BrandID != "B1" || es[1].Target != "C1" || es[1].ClientAddr != "127.0.0.1" ||
		!strings.Contains(string(es[1].Request), `"reason":"补偿"`) || !strings.Contains(string(es[1].After), "flow_id") {
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
	if err != nil || len(es) != 1 || es[0].Action != audit.SignOut || es[0].OperatorName != "小李" {
		t.Fatalf("after signing out: %+v, %v", es, err)
	}
}
