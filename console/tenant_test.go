package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"fmt"
	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/storetest"
)

func TestConsole_BrandSettingsAndShops(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.get("/console/brands/B1/settings").want(t, http.StatusOK, `value="Brand 1"`, "西湖店", "kry-s1", `id="shop-form"`)

	form := url.Values{"csrf": {csrf}, "name": {"一号品牌"}, "time_zone": {"Asia/Shanghai"}, "refund_of_expired": {"grace"},
		"grace_days": {"14"}, "clawback_shortfall": {"debt"}, "hold_timeout": {"45"}, "expiry_reminders": {"7, 1"},
		"out_id_KRY": {"kry-b1"}, "out_id_CS": {""}}
	e.post("/console/brands/B1/settings", form).want(t, http.StatusSeeOther)
	b, err := e.Store.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	s := b.Settings
	if b.Name != "一号品牌" || s.GraceDays != 14 || s.ClawbackShortfall != ledger.ShortfallDebt || s.HoldTimeout != 45*time.Minute ||
		len(s.ExpiryReminders) != 2 || b.OutIDs["KRY"] != "kry-b1" || b.OutIDs["CS"] != "" {
		t.Fatalf("brand after the form: %+v", b)
	}
	e.get("/console/brands/B1/settings?ok=settings").want(t, http.StatusOK, "品牌设置已保存", `value="7, 1"`)

	// A refused form keeps what was typed, names the field in Chinese and
	// marks its input; nothing is written.
	form.Set("name", "改了名")
	form.Set("grace_days", "0")
	r := e.post("/console/brands/B1/settings", form).want(t, http.StatusBadRequest, "宽限天数: ", `value="改了名"`,
		`name="grace_days" min="0" step="1" value="0" class="bad" aria-invalid="true"`)
	for _, wire := range []string{"grace_days:", "refund_of_expired", "brands[0]"} {
		if strings.Contains(alertText(r.body), wire) {
			t.Fatalf("the error shows %q: %s", wire, alertText(r.body))
		}
	}
	if b, _ := e.Store.Brand(e.Ctx, "B1"); b.Name != "一号品牌" {
		t.Fatalf("a refused form wrote: %+v", b)
	}
	form.Set("grace_days", "x")
	e.post("/console/brands/B1/settings", form).want(t, http.StatusBadRequest, "宽限天数: 应为整数天数")

	// Shops: a new one with its external ids, then an edit.
	e.post("/console/brands/B1/shops", url.Values{"csrf": {csrf}, "shop_id": {"S5"}, "name": {"钱江店"},
		"out_id_KRY": {"kry-s5"}, "out_id_CS": {"cs-s5"}}).want(t, http.StatusSeeOther)
	sh, err := e.Store.ShopByOutID(e.Ctx, "CS", "cs-s5")
	if err != nil || sh.ID != "S5" || sh.BrandID != "B1" || sh.Name != "钱江店" {
		t.Fatalf("new shop: %+v %v", sh, err)
	}
	e.get("/console/brands/B1/settings?shop=S5").want(t, http.StatusOK, "编辑门店 S5", `value="kry-s5"`)
	e.post("/console/brands/B1/shops", url.Values{"csrf": {csrf}, "edit": {"1"}, "shop_id": {"S5"}, "name": {"钱江新店"},
		"out_id_KRY": {"kry-s5"}}).want(t, http.StatusSeeOther)
	if sh, _ := e.Store.Shop(e.Ctx, "S5"); sh.Name != "钱江新店" || sh.OutIDs["CS"] != "" {
		t.Fatalf("edited shop: %+v", sh)
	}
	// Another brand's shop is not taken over.
	e.post("/console/brands/B1/shops", url.Values{"csrf": {csrf}, "shop_id": {"S9"}, "name": {"抢"}}).
		want(t, http.StatusBadRequest, "门店: 门店 S9 属于品牌 B2", `value="抢"`)
	if sh, _ := e.Store.Shop(e.Ctx, "S9"); sh.BrandID != "B2" || sh.Name != "Other shop" {
		t.Fatalf("another brand's shop: %+v", sh)
	}
	e.get("/console/brands/nope/settings").want(t, http.StatusNotFound, "品牌不存在")
}

// alertText is the error alert of a page.
func alertText(page string) string {
	m := regexp.MustCompile(`(?s)<div class="alert error"[^>]*>(.*?)</div>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// ruleForm is the rule editor as posted: one default level and VIP.
func ruleFormValues(csrf string) url.Values {
	return url.Values{"csrf": {csrf}, "name": {"春季规则"}, "clear_type": {"DAYS_AFTER_EARN"}, "clear_days": {"365"},
		"ded_rows":       {"3"},
		"ded_level_id_0": {""}, "ded_deducted_point_0": {"100"}, "ded_consume_money_0": {"1"}, "ded_enable_0": {"1"},
		"ded_level_id_1": {"VIP"}, "ded_deducted_point_1": {"50"}, "ded_consume_money_1": {"1.5"}, "ded_enable_1": {"1"},
		"ded_has_upper_limit_1": {"1"}, "ded_max_point_1": {"500"},
		"add_rows": {"1"}, "add_level_id_0": {""}, "add_consume_money_0": {"10"}, "add_reward_point_0": {"1"}, "add_enable_0": {"1"}}
}

func TestConsole_RuleEditor(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.get("/console/brands/B1/rule").want(t, http.StatusOK, "尚无规则", "还没有保存过规则", `id="rule-form"`)

	// The preview answers point.cal per level, as the gateway would, and
	// writes nothing.
	form := ruleFormValues(csrf)
	r := e.post("/console/brands/B1/rule/preview", form).want(t, http.StatusOK, `id="preview-table"`, `id="rule-save"`)
	table := regexp.MustCompile(`(?s)<table id="preview-table">.*?</table>`).FindString(r.body)
	// Default: 100 points = ¥1; 50 → 不足一档, 5000 → ¥50. VIP: 50 = ¥1.50, capped at 500 points.
	for _, want := range []string{"默认等级", "不足一档", "实用 5000 抵 <b>¥50.00</b>", "等级 VIP", "实用 100 抵 <b>¥3.00</b>",
		"实用 500 抵 <b>¥15.00</b>"} {
		if !strings.Contains(table, want) {
			t.Fatalf("preview lacks %q:\n%s", want, table)
		}
	}
	if _, err := e.Store.Rule(e.Ctx, "B1"); err == nil {
		t.Fatal("the preview stored a rule")
	}
	// What was typed comes back, with a blank row to add a level.
	if !strings.Contains(r.body, `name="ded_consume_money_1" value="1.5"`) || !strings.Contains(r.body, `name="ded_rows" value="3"`) {
		t.Fatalf("preview lost the form:\n%.3000s", r.body)
	}

	e.post("/console/brands/B1/rule", form).want(t, http.StatusSeeOther)
	rule, err := e.Store.Rule(e.Ctx, "B1")
	if err != nil || rule.Version != 1 || rule.UpdatedBy != "小李" || len(rule.Deduction) != 2 || rule.Deduction[1].ConsumeMoney != 150 ||
		rule.Clear.Days != 365 || len(rule.Addition) != 1 || rule.Addition[0].ConsumeMoney != 1000 {
		t.Fatalf("stored rule %+v %v", rule, err)
	}
	// The same rule again is no new version.
	e.post("/console/brands/B1/rule", form).want(t, http.StatusSeeOther)
	// A second version: VIP removed, the default cheaper.
	form.Set("ded_remove_1", "1")
	form.Set("ded_consume_money_0", "2")
	e.post("/console/brands/B1/rule", form).want(t, http.StatusSeeOther)
	r = e.get("/console/brands/B1/rule").want(t, http.StatusOK, "当前版本 v2", `id="rule-diff"`)
	diff := regexp.MustCompile(`(?s)<table id="rule-diff">.*?</table>`).FindString(r.body)
	for _, want := range []string{"抵现 · 默认等级", "每 100 积分抵 ¥1.00", "每 100 积分抵 ¥2.00", "抵现 · 等级 VIP", "—"} {
		if !strings.Contains(diff, want) {
			t.Fatalf("diff lacks %q:\n%s", want, diff)
		}
	}
	if strings.Contains(diff, "积分过期") {
		t.Fatalf("the diff shows a field that did not change:\n%s", diff)
	}
	e.get("/console/brands/B1/rule?from=2&to=2").want(t, http.StatusOK, "两个版本没有差别")

	// A refusal names the row and field in Chinese, marks the input and
	// keeps the form; nothing is stored.
	bad := ruleFormValues(csrf)
	bad.Set("ded_deducted_point_1", "0")
	r = e.post("/console/brands/B1/rule/preview", bad).want(t, http.StatusBadRequest, "抵现规则第 2 行 · 积分数: ",
		`name="ded_deducted_point_1" min="0" step="1" value="0" class="bad" aria-invalid="true"`, `value="1.5"`)
	if strings.Contains(alertText(r.body), "deducted_point") || strings.Contains(r.body, `id="rule-save"`) {
		t.Fatalf("refused preview: %s", alertText(r.body))
	}
	bad = ruleFormValues(csrf)
	bad.Set("ded_consume_money_0", "1.234")
	e.post("/console/brands/B1/rule", bad).want(t, http.StatusBadRequest, "抵现规则第 1 行 · 抵扣金额: ",
		`value="1.234" class="bad" aria-invalid="true"`)
	if rule, _ := e.Store.Rule(e.Ctx, "B1"); rule.Version != 2 {
		t.Fatalf("a refused save stored version %d", rule.Version)
	}
}

func TestConsole_Apps(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	r := e.get("/console/apps").want(t, http.StatusOK, `id="apps"`, "pos", "POS")
	if strings.Contains(r.body, "s3cret") {
		t.Fatal("the apps page shows a secret")
	}
	// A new app: its secret is shown on the answer, once.
	r = e.post("/console/apps", url.Values{"csrf": {csrf}, "app_key": {"pos2"}, "name": {"新收银"}, "brands": {"B1"},
		"ch_KRY": {"1"}, "active": {"1"}}).want(t, http.StatusOK, `id="secret"`, "只显示这一次")
	secret := regexp.MustCompile(`<code id="secret">([0-9a-f]{32})</code>`).FindStringSubmatch(r.body)
	a, err := e.Store.App(e.Ctx, "pos2")
	if secret == nil || err != nil || a.Secret != secret[1] || !a.Active || a.Channels[0] != "KRY" || a.Brands[0] != "B1" {
		t.Fatalf("new app %+v %v, page secret %v", a, err, secret)
	}
	if strings.Contains(e.get("/console/apps").body, a.Secret) {
		t.Fatal("the secret is shown again")
	}
	// An edit keeps the secret.
	e.post("/console/apps", url.Values{"csrf": {csrf}, "app_key": {"pos2"}, "name": {"改名"}, "brands": {"B1, B2"},
		"ch_KRY": {"1"}}).want(t, http.StatusSeeOther)
	if b, _ := e.Store.App(e.Ctx, "pos2"); b.Secret != a.Secret || b.Active || b.Name != "改名" || len(b.Brands) != 2 {
		t.Fatalf("edited app %+v", b)
	}
	// Rotation: a new secret, shown once; the old one is gone.
	r = e.post("/console/apps/pos2/rotate", url.Values{"csrf": {csrf}}).want(t, http.StatusOK, "密钥已更换", `id="secret"`)
	rotated := regexp.MustCompile(`<code id="secret">([0-9a-f]{32})</code>`).FindStringSubmatch(r.body)
	if b, _ := e.Store.App(e.Ctx, "pos2"); rotated == nil || b.Secret != rotated[1] || b.Secret == a.Secret {
		t.Fatalf("rotated app %+v, page %v", b, rotated)
	}
	e.post("/console/apps/nope/rotate", url.Values{"csrf": {csrf}}).want(t, http.StatusNotFound, "应用不存在")
	// Refused: the form comes back as typed, the field marked.
	e.post("/console/apps", url.Values{"csrf": {csrf}, "app_key": {"@mine"}, "name": {"坏"}}).
		want(t, http.StatusBadRequest, "应用 Key: ", `value="@mine" required class="bad" aria-invalid="true"`, `value="坏"`)
	e.post("/console/apps", url.Values{"csrf": {csrf}, "app_key": {"x"}, "rate_limit": {"fast"}}).
		want(t, http.StatusBadRequest, "限流: ")
}

// TestConsole_TenantAudited: the tenant pages' writes are in the audit
// log under the signed-in admin, secrets never; a viewer reads the pages
// without their save buttons and is refused a save; an admin of one brand
// is not shown the apps, which span every brand.
func TestConsole_TenantAudited(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.post("/console/brands/B1/settings", url.Values{"csrf": {csrf}, "name": {"一号品牌"}, "time_zone": {"Asia/Shanghai"},
		"refund_of_expired": {"grace"}, "grace_days": {"14"}, "clawback_shortfall": {"debt"}, "hold_timeout": {"45"},
		"expiry_reminders": {"7, 1"}}).want(t, http.StatusSeeOther)
	e.post("/console/brands/B1/shops", url.Values{"csrf": {csrf}, "shop_id": {"S19"}, "name": {"新店"}}).want(t, http.StatusSeeOther)
	r := e.post("/console/apps", url.Values{"csrf": {csrf}, "app_key": {"pos2"}, "name": {"新收银"}, "brands": {"B1"},
		"ch_KRY": {"1"}, "active": {"1"}}).want(t, http.StatusOK, `id="secret"`)
	secret := regexp.MustCompile(`<code id="secret">([0-9a-f]{32})</code>`).FindStringSubmatch(r.body)[1]
	r = e.post("/console/apps/pos2/rotate", url.Values{"csrf": {csrf}}).want(t, http.StatusOK, `id="secret"`)
	rotated := regexp.MustCompile(`<code id="secret">([0-9a-f]{32})</code>`).FindStringSubmatch(r.body)[1]

	es, _, err := audit.New(e.Store.(audit.Store), nil).List(e.Ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range es {
		got = append(got, en.Action+"/"+en.OperatorName+"/"+en.Outcome)
		if en.OperatorID != e.lead.Operator.ID {
			t.Errorf("%s by operator id %q", en.Action, en.OperatorID)
		}
		if s := fmt.Sprintf("%+v", en); strings.Contains(s, secret) || strings.Contains(s, rotated) {
			t.Errorf("%s holds an app secret", en.Action)
		}
	}
	want := "app.secret.rotate/小李/ok app.put/小李/ok shop.put/小李/ok brand.put/小李/ok signin/小李/ok"
	if strings.Join(got, " ") != want {
		t.Fatalf("log %v, want %s", got, want)
	}
	if !strings.Contains(string(es[3].Before), `"name":"Brand 1"`) || !strings.Contains(string(es[3].After), `"name":"一号品牌"`) {
		t.Errorf("brand entry before %s after %s", es[3].Before, es[3].After)
	}

	viewer := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "看看", Role: operator.Viewer})
	csrf = e.signInAs("看看", viewer.Password)
	page := e.get("/console/brands/B1/settings").want(t, http.StatusOK, `id="settings-form"`).body
	rule := e.get("/console/brands/B1/rule").want(t, http.StatusOK, `id="rule-form"`).body
	if strings.Contains(page, `id="settings-save"`) || strings.Contains(page, `id="shop-save"`) ||
		strings.Contains(rule, `id="rule-save"`) || strings.Contains(page, `href="/console/apps"`) {
		t.Error("a viewer is shown the tenant pages' save buttons or the apps")
	}
	e.post("/console/brands/B1/shops", url.Values{"csrf": {csrf}, "shop_id": {"S20"}, "name": {"不该"}}).
		want(t, http.StatusForbidden, "需要管理员")

	one := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "一号管理", Role: operator.Admin, Brands: []string{"B1"}})
	e.signInAs("一号管理", one.Password)
	if strings.Contains(e.get("/console/brands/B1/settings").want(t, http.StatusOK, `id="settings-save"`).body, `href="/console/apps"`) {
		t.Error("an admin of one brand is shown the apps")
	}
	e.get("/console/apps").want(t, http.StatusForbidden)
	e.get("/console/brands/B2/settings").want(t, http.StatusForbidden, "B2")
}

// TestConsole_BrandApprovalAbove: 品牌设置 sets the four-eyes threshold
// (empty: off), refuses one that is not a positive whole number in
// Chinese with its input marked and the form as typed, and records the
// change as brand.put.
func TestConsole_BrandApprovalAbove(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	page := e.get("/console/brands/B1/settings").want(t, http.StatusOK).body
	kept(t, page, "approval_above", "")
	form := url.Values{"csrf": {csrf}, "name": {"Brand 1"}, "time_zone": {"Asia/Shanghai"}, "refund_of_expired": {"grace"},
		"grace_days": {"30"}, "clawback_shortfall": {"reject"}, "hold_timeout": {"30"}, "approval_above": {"500"}}
	e.post("/console/brands/B1/settings", form).want(t, http.StatusSeeOther)
	if b, err := e.Store.Brand(e.Ctx, "B1"); err != nil || b.Settings.ApprovalAbove != 500 {
		t.Fatalf("approval_above after the form: %+v, %v", b.Settings, err)
	}
	kept(t, e.get("/console/brands/B1/settings").want(t, http.StatusOK).body, "approval_above", "500")

	for _, bad := range []string{"0", "-5", "abc", "1.5"} {
		form.Set("approval_above", bad)
		r := e.post("/console/brands/B1/settings", form).want(t, http.StatusBadRequest, "审批阈值: 应为正整数")
		marked(t, r.body, "approval_above", bad)
		refusal(t, r, http.StatusBadRequest, "留空表示不需审批", bad)
	}
	if b, _ := e.Store.Brand(e.Ctx, "B1"); b.Settings.ApprovalAbove != 500 {
		t.Fatalf("a refused threshold was stored: %+v", b.Settings)
	}
	form.Set("approval_above", "")
	e.post("/console/brands/B1/settings", form).want(t, http.StatusSeeOther)
	if b, _ := e.Store.Brand(e.Ctx, "B1"); b.Settings.ApprovalAbove != 0 {
		t.Fatalf("an emptied threshold is still on: %+v", b.Settings)
	}

	es, _, err := audit.New(e.Store.(audit.Store), nil).List(e.Ctx, audit.Query{Action: audit.BrandPut})
	if err != nil || len(es) != 6 {
		t.Fatalf("%d brand.put entries, %v; want 6", len(es), err)
	}
	on, off := es[5], es[0]
	if on.Outcome != audit.OK || strings.Contains(string(on.Before), "approval_above") || !strings.Contains(string(on.After), `"approval_above":500`) {
		t.Errorf("setting it: %s → %s", on.Before, on.After)
	}
	if off.Outcome != audit.OK || !strings.Contains(string(off.Before), `"approval_above":500`) || strings.Contains(string(off.After), "approval_above") {
		t.Errorf("clearing it: %s → %s", off.Before, off.After)
	}
	if es[1].Outcome != "INVALID_PARAMETER" {
		t.Errorf("a refused threshold: %+v", es[1])
	}
}
