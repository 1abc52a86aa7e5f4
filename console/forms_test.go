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

// inputs are the form controls of page named name.
func inputs(page, name string) []string {
	re := regexp.MustCompile(`<(?:input|select|textarea)\b[^>]*\bname="` + regexp.QuoteMeta(name) + `"[^>]*>`)
	return re.FindAllString(page, -1)
}

// marked checks that the control named name is the one input marked
// invalid on page and, when value is given, holds it as typed.
func marked(t *testing.T, page, name string, value ...string) {
	t.Helper()
	if n := strings.Count(page, `aria-invalid="true"`); n != 1 {
		t.Errorf("%d inputs marked invalid, want 1 (%s)", n, name)
	}
	for _, in := range inputs(page, name) {
		if strings.Contains(in, `aria-invalid="true"`) {
			for _, v := range value {
				if !strings.Contains(in, `value="`+v+`"`) {
					t.Errorf("%s lacks the value typed %q: %s", name, v, in)
				}
			}
			return
		}
	}
	t.Errorf("%s is not marked invalid: %q", name, inputs(page, name))
}

// kept checks that the control named name holds value as typed.
func kept(t *testing.T, page, name, value string) {
	t.Helper()
	for _, in := range inputs(page, name) {
		if strings.Contains(in, `value="`+value+`"`) {
			return
		}
	}
	t.Errorf("%s does not hold %q: %q", name, value, inputs(page, name))
}

// TestConsole_RefusedFormsKeepInput: a refused form comes back as typed,
// the input its error names marked aria-invalid.
func TestConsole_RefusedFormsKeepInput(t *testing.T) {
	e := newConsoleEnv(t)
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 400)
	csrf := e.signIn()

	t.Run("AddOperator", func(t *testing.T) {
		page := e.post("/console/operators", url.Values{"csrf": {csrf}, "name": {"小王"}, "role": {"support"}, "brands": {"B1"}}).
			want(t, http.StatusBadRequest, `<option value="support" selected>客服</option>`).body
		marked(t, page, "limit")
		kept(t, page, "name", "小王")
		kept(t, page, "brands", "B1")
		page = e.post("/console/operators", url.Values{"csrf": {csrf}, "name": {"小王"}, "role": {"support"}, "brands": {"B9"}, "limit": {"50"}}).
			want(t, http.StatusBadRequest, "品牌不存在").body
		marked(t, page, "brands", "B9")
		kept(t, page, "limit", "50")
	})

	t.Run("TokenName", func(t *testing.T) {
		o, err := e.ops.ByName(e.Ctx, "小李")
		if err != nil {
			t.Fatal(err)
		}
		page := e.post("/console/operators/"+o.ID+"/token", url.Values{"csrf": {csrf}, "token_name": {"  "}}).
			want(t, http.StatusBadRequest).body
		marked(t, page, "token_name")
	})

	t.Run("Password", func(t *testing.T) {
		form := func(old, new, confirm string) url.Values {
			return url.Values{"csrf": {csrf}, "old_password": {old}, "new_password": {new}, "confirm_password": {confirm}}
		}
		marked(t, e.post("/console/password", form("wrong-password", "a-new-password-1", "a-new-password-1")).
			want(t, http.StatusBadRequest, "原密码不正确").body, "old_password")
		marked(t, e.post("/console/password", form(e.lead.Password, "a-new-password-1", "a-new-password-2")).
			want(t, http.StatusBadRequest, "不一致").body, "confirm_password")
		page := e.post("/console/password", form(e.lead.Password, "short", "short")).want(t, http.StatusBadRequest, "过短").body
		marked(t, page, "new_password")
		if strings.Contains(page, e.lead.Password) {
			t.Error("a password typed is shown again")
		}
	})

	t.Run("Refund", func(t *testing.T) {
		page := e.post("/console/brands/B1/orders/o1/preview", url.Values{"csrf": {csrf}, "type": {"DEDUCT_FROM_CONSUME_REVERSE"},
			"points": {"abc"}, "reason": {"顾客退菜"}}).want(t, http.StatusBadRequest).body
		marked(t, page, "points", "abc")
		kept(t, page, "reason", "顾客退菜")
	})

	t.Run("RefundAboveLimit", func(t *testing.T) {
		s := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服小张", Role: operator.Support, Limit: 10})
		csrf := e.signInAs("客服小张", s.Password)
		defer e.signIn()
		page := e.post("/console/brands/B1/orders/o1/reverse", url.Values{"csrf": {csrf}, "type": {"DEDUCT_FROM_CONSUME_REVERSE"},
			"customer_id": {"C1"}, "points": {"11"}, "reason": {"顾客退菜"}, "request_id": {"r-11"}}).want(t, http.StatusForbidden).body
		marked(t, page, "points", "11")
	})

	t.Run("Dashboard", func(t *testing.T) {
		page := e.get("/console/brands/B1?from=2026-13-01&to=2026-03-31").want(t, http.StatusBadRequest).body
		marked(t, page, "from", "2026-13-01")
		kept(t, page, "to", "2026-03-31")
	})

	t.Run("Audit", func(t *testing.T) {
		page := e.get("/console/audit?from=nope&operator="+url.QueryEscape("小李")).want(t, http.StatusBadRequest).body
		marked(t, page, "from", "nope")
		kept(t, page, "operator", "小李")
	})

	t.Run("RejectReason", func(t *testing.T) {
		b, err := e.Store.Brand(e.Ctx, "B1")
		if err != nil {
			t.Fatal(err)
		}
		b.Settings.ApprovalAbove = 100
		if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: b}}}); err != nil {
			t.Fatal(err)
		}
		s := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服小赵", Role: operator.Support, Limit: 1000})
		asker := e.signInAs("客服小赵", s.Password)
		if r := e.post("/console/customers/C1/adjust", url.Values{"csrf": {asker}, "confirm": {"1"}, "points": {"300"}, "reason": {"补偿"},
			"request_id": {"rr-1"}}); !strings.Contains(r.location, "ok=asked") {
			t.Fatalf("adjust above: %d %s", r.status, r.location)
		}
		csrf := e.signIn()
		id := firstApproval(t, e.get("/console/approvals").want(t, http.StatusOK).body)
		marked(t, e.post("/console/approvals/"+id+"/reject", url.Values{"csrf": {csrf}}).want(t, http.StatusBadRequest).body, "reason")
		long := strings.Repeat("长", 200)
		marked(t, e.post("/console/approvals/"+id+"/reject", url.Values{"csrf": {csrf}, "reason": {long}}).
			want(t, http.StatusBadRequest, "过长").body, "reason", long)
	})
}
