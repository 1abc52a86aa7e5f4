package console

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"jifen/operator"
	"jifen/storetest"
)

var (
	errorRE   = regexp.MustCompile(`<div class="alert error" role="alert" id="error"[^>]*>([^<]*)</div>`)
	englishRE = regexp.MustCompile(`[A-Za-z]{4,}`)
)

// refusal checks that page shows an error in plain Chinese: the reason
// want, and no English word (a run of four letters or more) once the ids
// the operator typed (typed) are taken out.
func refusal(t *testing.T, r resp, status int, want string, typed ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%.2000s", r.status, status, r.body)
	}
	m := errorRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no error shown\n%.2000s", r.body)
	}
	text := html.UnescapeString(m[1])
	if !strings.Contains(text, want) {
		t.Errorf("error %q lacks %q", text, want)
	}
	for _, s := range typed {
		text = strings.ReplaceAll(text, s, "")
	}
	if w := englishRE.FindString(text); w != "" {
		t.Errorf("error %q has the English %q", m[1], w)
	}
}

// TestConsole_RefusalsInChinese walks the refusals an operator meets —
// a role without the permission, a points limit, another brand, approving
// one's own request, a request decided already, a locked sign-in — and
// finds each said in plain Chinese, without the API's English.
func TestConsole_RefusalsInChinese(t *testing.T) {
	e := newFourEyesEnv(t, 100)
	e.MustCharge("C1", "g1", 1000)
	viewer := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "看看", Role: operator.Viewer})
	small := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服", Role: operator.Support, Limit: 10, Brands: []string{"B1"}})
	asker := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服甲", Role: operator.Support, Limit: 1000, Brands: []string{"B1"}})
	checker := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服乙", Role: operator.Support, Limit: 1000, Brands: []string{"B1"}})

	csrf := e.signInAs("看看", viewer.Password)
	refusal(t, e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"5"}, "reason": {"补偿"}, "request_id": {"v1"}}),
		http.StatusForbidden, "你的角色 (查看) 不能调整积分, 需要客服或管理员")
	refusal(t, e.get("/console/operators"), http.StatusForbidden, "需要管理员")

	csrf = e.signInAs("客服", small.Password)
	refusal(t, e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"11"}, "reason": {"补偿"}, "request_id": {"s1"}}),
		http.StatusForbidden, "最多可变动 10 积分, 本次为 11 积分")
	refusal(t, e.get("/console/customers/X1"), http.StatusForbidden, "你只能操作品牌 B1, 不能操作品牌 B2")
	refusal(t, e.get("/console/brands/B2"), http.StatusForbidden, "不能操作品牌 B2")

	csrf = e.signInAs("客服甲", asker.Password)
	r := e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "confirm": {"1"}, "points": {"300"}, "reason": {"补偿"}, "request_id": {"a1"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "ok=asked") {
		t.Fatalf("adjust above: %d %s", r.status, r.location)
	}
	id := firstApproval(t, e.get("/console/approvals").want(t, http.StatusOK).body)
	refusal(t, e.post("/console/approvals/"+id+"/approve", url.Values{"csrf": {csrf}}), http.StatusForbidden, "须由另一位操作员审批")

	csrf = e.signInAs("客服乙", checker.Password)
	if r := e.post("/console/approvals/"+id+"/reject", url.Values{"csrf": {csrf}, "reason": {"不符合规定"}}); r.status != http.StatusSeeOther {
		t.Fatalf("reject: %d\n%.2000s", r.status, r.body)
	}
	refusal(t, e.post("/console/approvals/"+id+"/approve", url.Values{"csrf": {csrf}}), http.StatusConflict, "该请求已由 客服乙 驳回")

	for range operator.MaxFailedSignIns - 1 {
		e.post("/console/login", url.Values{"name": {"看看"}, "password": {"wrong-password"}}).want(t, http.StatusUnauthorized)
	}
	refusal(t, e.post("/console/login", url.Values{"name": {"看看"}, "password": {"wrong-password"}}), http.StatusTooManyRequests, "账号已锁定至 ")
	refusal(t, e.post("/console/login", url.Values{"name": {"看看"}, "password": {viewer.Password}}), http.StatusTooManyRequests, "(北京时间)")
}
