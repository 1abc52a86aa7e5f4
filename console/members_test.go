package console

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/storetest"
)

// Wherever a customer appears, the console names them and their mobile.
func TestConsole_MembersByName(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C2", "g2", 50)
	r := e.get("/console/flows?brand_id=B1").want(t, http.StatusOK, ">张三</a> <small class=\"mobile\">13800000001</small>",
		">李四</a> <small class=\"mobile\">13800000002</small>")
	if regexp.MustCompile(`<td><a href="/console/customers/C1"[^>]*>C1</a>`).MatchString(r.body) {
		t.Fatal("a bare customer id in the flows")
	}
	e.get("/console/brands/B1/orders/g1").want(t, http.StatusOK, ">张三</a> <small class=\"mobile\">13800000001</small>")
	e.post("/console/brands/B1/orders/g1/preview", url.Values{"csrf": {csrf}, "type": {"EXTRA_CHARGE_REVERSE"}, "points": {"10"},
		"customer_id": {"C1"}}).want(t, http.StatusOK, ">张三</a>")
}

func TestConsole_SearchByOuterIDAndMore(t *testing.T) {
	e := newConsoleEnv(t)
	e.signIn()
	var cs []ledger.Customer
	for i := range searchShown + 1 {
		cs = append(cs, ledger.Customer{ID: fmt.Sprintf("M%03d", i), BrandID: "B1", Name: "同名", Mobile: fmt.Sprintf("1390000%04d", i)})
	}
	cs = append(cs, ledger.Customer{ID: "P1", BrandID: "B1", Name: "收银会员", OuterType: "KRY", OuterID: "KRY-42"})
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Customers: cs}); err != nil {
		t.Fatal(err)
	}
	// By the POS member id: the one match opens.
	if r := e.get("/console/customers?q=KRY-42"); r.status != http.StatusSeeOther || r.location != "/console/customers/P1" {
		t.Fatalf("search by outer id: %d %s", r.status, r.location)
	}
	// More than are shown: said, not silently cut.
	r := e.get("/console/customers?q="+url.QueryEscape("同名")).want(t, http.StatusOK, `id="more"`, "前 100 位")
	if n := strings.Count(r.body, `data-label="姓名"`); n != searchShown {
		t.Fatalf("%d rows shown", n)
	}
	r = e.get("/console/customers?q=M00").want(t, http.StatusOK, "10 位")
	if strings.Contains(r.body, `id="more"`) {
		t.Fatal("a notice of more results where there are none")
	}
}

func TestConsole_FlowFilters(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C2", "g2", 100)
	e.post("/console/customers/C2/adjust", url.Values{"csrf": {csrf}, "points": {"5"}, "reason": {"补偿"}, "request_id": {"a1"},
		"confirm": {"1"}}).want(t, http.StatusSeeOther)
	// By member mobile, by operator, by shop (chosen by name), by channel.
	e.get("/console/flows?brand_id=B1&customer_id=13800000002").want(t, http.StatusOK, "共 2 条")
	r := e.get("/console/flows?brand_id=B1&operator="+url.QueryEscape("小李")).want(t, http.StatusOK, "共 1 条", "补偿")
	export := field(t, exportRE, r.body)
	if !strings.Contains(export, "operator=") {
		t.Fatalf("the export drops the operator: %s", export)
	}
	e.get("/console/flows?brand_id=B1&shop_id=S1").want(t, http.StatusOK, `<option value="S1" selected>西湖店</option>`, "共 2 条")
	e.get("/console/flows?brand_id=B1&channel=KRY").want(t, http.StatusOK, `<option value="KRY" selected>KRY</option>`)
	e.get("/console/flows?brand_id=B1&start=2026-03-01&end=2026-03-01").want(t, http.StatusOK, `type="date" name="start"`, "共 3 条")
	// A member nobody is: said in Chinese, the input marked.
	r = e.get("/console/flows?brand_id=B1&customer_id=13999999999").want(t, http.StatusBadRequest,
		`id="flt-member" value="13999999999" placeholder="13800000001" class="bad" aria-invalid="true"`)
	if strings.Contains(alertText(r.body), "customer_id") {
		t.Fatalf("wire name in %q", alertText(r.body))
	}
}

// An adjustment is previewed (the write's decision, rolled back), then
// confirmed; a refused one keeps what was typed.
func TestConsole_AdjustPreviewConfirm(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	rid := field(t, requestRE, e.get("/console/customers/C1").body)
	before := e.Snapshot()
	form := url.Values{"csrf": {csrf}, "points": {"-30"}, "reason": {"扣回多发"}, "request_id": {rid}}
	r := e.post("/console/customers/C1/adjust", form).want(t, http.StatusOK, `id="adjust-preview"`, "100 → <b id=\"adjust-after\">70</b>",
		"张三", `id="adjust-confirm"`, `name="confirm" value="1"`)
	if got := e.Snapshot(); got != before {
		t.Fatal("the preview wrote")
	}
	confirm := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(r.body, -1) {
		confirm.Set(m[1], html.UnescapeString(m[2]))
	}
	if confirm.Get("request_id") != rid || confirm.Get("points") != "-30" {
		t.Fatalf("confirm form %v", confirm)
	}
	for range 2 { // sent twice: adjusted once
		e.post("/console/customers/C1/adjust", confirm).want(t, http.StatusSeeOther)
	}
	if got := e.Available("C1"); got != 70 {
		t.Fatalf("available %d after the confirmed adjustment, want 70", got)
	}
	// More than is available: refused by the write's own rule, in Chinese,
	// with the form as typed; nothing written.
	form.Set("points", "-500")
	r = e.post("/console/customers/C1/adjust", form).want(t, http.StatusUnprocessableEntity, "积分不足", `value="-500"`, `value="扣回多发"`)
	if strings.Contains(alertText(r.body), "available points") {
		t.Fatalf("English ledger text shown: %s", alertText(r.body))
	}
	form.Set("points", "abc")
	e.post("/console/customers/C1/adjust", form).want(t, http.StatusBadRequest, "积分: 应为整数",
		`value="abc" placeholder="正数增加, 负数扣减" class="bad" aria-invalid="true"`)
	if got := e.Available("C1"); got != 70 {
		t.Fatalf("available %d after refusals", got)
	}
}

// TestConsole_ApprovalsAndAuditNameMembers: a reviewer reads on 待审批
// what each request would do — refund or adjustment, the member by name
// and mobile, the order, the points, who asked, why, when, until when —
// and the audit log names the member of an adjustment or a refund.
func TestConsole_ApprovalsAndAuditNameMembers(t *testing.T) {
	e := newFourEyesEnv(t, 100)
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 400)
	asker := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服甲", Role: operator.Support, Limit: 1000, Brands: []string{"B1"}})
	csrf := e.signInAs("客服甲", asker.Password)
	e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "confirm": {"1"}, "points": {"-300"}, "reason": {"重复发放"},
		"request_id": {"a-1"}}).want(t, http.StatusSeeOther)
	e.post("/console/brands/B1/orders/o1/reverse", url.Values{"csrf": {csrf}, "type": {"DEDUCT_FROM_CONSUME_REVERSE"},
		"customer_id": {"C1"}, "reason": {"顾客退菜"}, "request_id": {"r-1"}}).want(t, http.StatusSeeOther)

	csrf = e.signIn()
	page := e.get("/console/approvals").want(t, http.StatusOK).body
	ids := approvalRE.FindAllStringSubmatch(page, -1)
	if len(ids) != 2 {
		t.Fatalf("%d approvals listed, want 2", len(ids))
	}
	row := func(id string) string {
		s := page[strings.Index(page, `<tr id="approval-`+id+`">`):]
		return s[:strings.Index(s, "</tr>")]
	}
	refund, adjust := row(ids[0][1]), row(ids[1][1])
	for _, want := range []string{"退款", "张三", "13800000001", `href="/console/brands/B1/orders/o1"`, ">400<", "顾客退菜", "客服甲"} {
		if !strings.Contains(refund, want) {
			t.Errorf("the refund's row lacks %q:\n%s", want, refund)
		}
	}
	for _, want := range []string{"调整", "张三", "13800000001", ">-300<", "重复发放", "客服甲"} {
		if !strings.Contains(adjust, want) {
			t.Errorf("the adjustment's row lacks %q:\n%s", want, adjust)
		}
	}
	if n := len(regexp.MustCompile(`<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>`).FindAllString(adjust, -1)); n != 2 {
		t.Errorf("the adjustment's row shows %d times, want when asked and when it expires:\n%s", n, adjust)
	}

	e.post("/console/approvals/"+ids[1][1]+"/approve", url.Values{"csrf": {csrf}}).want(t, http.StatusSeeOther)
	page = e.get("/console/audit").want(t, http.StatusOK).body
	entries := regexp.MustCompile(`(?s)<tr id="audit-\d+".*?</tr>`).FindAllString(page, -1)
	var adjusted, refunded bool
	for _, en := range entries {
		switch {
		case strings.Contains(en, ">adjustment<"):
			adjusted = strings.Contains(en, "张三") && strings.Contains(en, "13800000001")
		case strings.Contains(en, ">reversal<"):
			refunded = strings.Contains(en, "张三") && strings.Contains(en, `href="/console/brands/B1/orders/o1"`)
		}
	}
	if !adjusted || !refunded {
		t.Errorf("the audit log does not name the member (adjustment %v, refund %v):\n%s", adjusted, refunded, strings.Join(entries, "\n"))
	}
}
