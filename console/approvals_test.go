package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"jifen/operator"
	"jifen/points"
	"jifen/storetest"
)

// TestConsole_FourEyes: a support operator's adjustment and refund above
// the brand's approval_above show "已提交审批" and write nothing; another
// operator sees the count in the navigation and the request on 待审批,
// with buttons the asker is not shown, and approves (written once, in
// the asker's name) or rejects it.
func TestConsole_FourEyes(t *testing.T) {
	e := newFourEyesEnv(t, 100)
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 400)
	asker := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服甲", Role: operator.Support, Limit: 1000, Brands: []string{"B1"}})
	checker := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服乙", Role: operator.Support, Limit: 1000, Brands: []string{"B1"}})
	before, flows := e.Available("C1"), e.FlowCount("C1")

	csrf := e.signInAs("客服甲", asker.Password)
	r := e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "confirm": {"1"}, "points": {"300"}, "reason": {"补偿"}, "request_id": {"c-1"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "ok=asked") {
		t.Fatalf("adjust above: %d %s", r.status, r.location)
	}
	e.get(r.location).want(t, http.StatusOK, "已提交审批")
	r = e.post("/console/brands/B1/orders/o1/reverse", url.Values{"csrf": {csrf}, "type": {"DEDUCT_FROM_CONSUME_REVERSE"},
		"customer_id": {"C1"}, "reason": {"退菜"}, "request_id": {"c-2"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "ok=asked") {
		t.Fatalf("refund above: %d %s\n%.2000s", r.status, r.location, r.body)
	}
	e.get(r.location).want(t, http.StatusOK, "已提交审批")
	if e.Available("C1") != before || e.FlowCount("C1") != flows {
		t.Fatal("a pending request wrote")
	}
	own := e.get("/console/approvals").want(t, http.StatusOK, "我提交的").body
	if strings.Contains(own, "/approve") {
		t.Fatal("the asker is shown an approve button")
	}
	e.post("/console/approvals/"+firstApproval(t, own)+"/approve", url.Values{"csrf": {csrf}}).want(t, http.StatusForbidden, "须由另一位操作员审批")

	csrf = e.signInAs("客服乙", checker.Password)
	page := e.get("/console/approvals").want(t, http.StatusOK, `id="pending-count">2<`, "客服甲", "批准", "驳回").body
	ids := approvalRE.FindAllStringSubmatch(page, -1)
	if len(ids) != 2 {
		t.Fatalf("%d approvals listed, want 2", len(ids))
	}
	refund, adjust := ids[0][1], ids[1][1] // newest first
	r = e.post("/console/approvals/"+adjust+"/approve", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%.2000s", r.status, r.body)
	}
	e.get(r.location).want(t, http.StatusOK, "已批准并执行", `id="pending-count">1<`)
	e.post("/console/approvals/"+refund+"/reject", url.Values{"csrf": {csrf}}).want(t, http.StatusBadRequest, "reason")
	r = e.post("/console/approvals/"+refund+"/reject", url.Values{"csrf": {csrf}, "reason": {"不符合规定"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("reject: %d\n%.2000s", r.status, r.body)
	}
	e.get(r.location).want(t, http.StatusOK, "已驳回", `id="no-approvals"`)
	e.post("/console/approvals/"+adjust+"/approve", url.Values{"csrf": {csrf}}) // again: nothing more
	if e.Available("C1") != before+300 || e.FlowCount("C1") != flows+1 {
		t.Fatalf("available %d, flows %d; want %d, %d", e.Available("C1"), e.FlowCount("C1"), before+300, flows+1)
	}
	if f := e.Flows("C1")[0]; f.OperatorName != "客服甲" {
		t.Fatalf("flow of %q, want the asker's", f.OperatorName)
	}
}

var approvalRE = regexp.MustCompile(`<tr id="approval-([0-9A-Z]+)">`)

func firstApproval(t *testing.T, page string) string {
	t.Helper()
	return field(t, approvalRE, page)
}

// newFourEyesEnv is a console whose brand B1 asks a second operator's
// approval above points.
func newFourEyesEnv(t *testing.T, above int64) *consoleEnv {
	t.Helper()
	e := newConsoleEnv(t)
	b, err := e.Store.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	b.Settings.ApprovalAbove = above
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: b}}}); err != nil {
		t.Fatal(err)
	}
	return e
}
