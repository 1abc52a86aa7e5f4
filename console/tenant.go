package console

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/admin"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
	"jifen/tenant"
)

// Tenant pages: a brand's settings and shops, its rule (editor, preview
// of point.cal, version history with a diff) and the apps with their
// secrets. Every write goes through backoffice.Office, which applies it
// as the admin API and `jifen apply` do (points.Service.Apply).

func brandSettingsPath(brand string) string {
	return "/console/brands/" + url.PathEscape(brand) + "/settings"
}

func rulePath(brand string) string { return "/console/brands/" + url.PathEscape(brand) + "/rule" }

// refused is a form's error and the input it names, for a page shown
// again with what was typed. An operator's points limit names the
// points.
func (c *Console) refused(r *http.Request, pg *page, err error) (status int, bad string) {
	p := c.problem(r, err)
	pg.Error, pg.Code = problemText(p), p.Code
	switch {
	case p.Field != "":
		bad = formField(p.Field)
	case strings.HasPrefix(p.Missing, "limit "):
		bad = "points"
	}
	return p.Status, bad
}

// Brand settings and shops.

type brandPageData struct {
	View     backoffice.BrandView
	Channels []string
	Form     map[string]string // the settings form, as stored or as typed
	Bad      string            // the settings input an error named
	Shop     map[string]string // the shop form
	ShopBad  string
	ShopEdit bool // the shop form edits an existing shop
}

func brandForm(b ledger.Brand) map[string]string {
	s := b.Settings
	var days []string
	for _, d := range s.ExpiryReminders {
		days = append(days, strconv.Itoa(d))
	}
	f := map[string]string{"name": b.Name, "time_zone": b.TimeZone, "refund_of_expired": s.RefundOfExpired,
		"grace_days": strconv.Itoa(s.GraceDays), "clawback_shortfall": s.ClawbackShortfall,
		"hold_timeout": strconv.FormatFloat(s.HoldTimeout.Minutes(), 'f', -1, 64), "expiry_reminders": strings.Join(days, ", "),
		"approval_above": ""}
	if s.ApprovalAbove > 0 {
		f["approval_above"] = strconv.FormatInt(s.ApprovalAbove, 10)
	}
	for ch, id := range b.OutIDs {
		f["out_id_"+ch] = id
	}
	return f
}

func shopForm(sh ledger.Shop) map[string]string {
	f := map[string]string{"shop_id": sh.ID, "name": sh.Name}
	for ch, id := range sh.OutIDs {
		f["out_id_"+ch] = id
	}
	return f
}

// postedForm reads the named fields of a posted form, trimmed, with the
// external id of each channel.
func postedForm(r *http.Request, names ...string) map[string]string {
	f := map[string]string{}
	for _, n := range names {
		f[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	for _, ch := range points.Channels {
		f["out_id_"+ch] = strings.TrimSpace(r.PostFormValue("out_id_" + ch))
	}
	return f
}

// outIDs are the external ids of a form, by channel; empty ones dropped.
func outIDs(f map[string]string) map[string]string {
	m := map[string]string{}
	for _, ch := range points.Channels {
		if v := f["out_id_"+ch]; v != "" {
			m[ch] = v
		}
	}
	return m
}

func (c *Console) brandData(r *http.Request, d *brandPageData) error {
	var err error
	d.Channels = points.Channels
	d.View, err = c.admin.Brand(r.Context(), r.PathValue("brand"))
	if err != nil {
		return err
	}
	if d.Form == nil {
		d.Form = brandForm(d.View.Brand)
	}
	if d.Shop == nil {
		d.Shop = map[string]string{}
		if id := r.URL.Query().Get("shop"); id != "" {
			for _, sh := range d.View.Shops {
				if sh.ID == id {
					d.Shop, d.ShopEdit = shopForm(sh), true
				}
			}
		}
	}
	return nil
}

func (c *Console) brandSettings(w http.ResponseWriter, r *http.Request, req request) {
	var d brandPageData
	if err := c.brandData(r, &d); err != nil {
		c.fail(w, r, req, "brand", "品牌设置", d, err)
		return
	}
	p := c.page(req, "品牌设置 "+d.View.Brand.Name, d)
	switch r.URL.Query().Get("ok") {
	case "settings":
		p.Notice = "品牌设置已保存"
	case "shop":
		p.Notice = "门店已保存"
	}
	c.render(w, r, http.StatusOK, "brand", p)
}

// readSettings turns the settings form into the brand to store.
func readSettings(b ledger.Brand, f map[string]string) (ledger.Brand, error) {
	b.Name, b.TimeZone, b.OutIDs = f["name"], f["time_zone"], outIDs(f)
	s := &b.Settings
	s.RefundOfExpired, s.ClawbackShortfall = f["refund_of_expired"], f["clawback_shortfall"]
	n, err := strconv.Atoi(f["grace_days"])
	if err != nil {
		return b, ledger.Invalid("grace_days", "应为整数天数")
	}
	s.GraceDays = n
	m, err := strconv.ParseFloat(f["hold_timeout"], 64)
	if err != nil || m < 0 || m > 7*24*60 {
		return b, ledger.Invalid("hold_timeout", "应为 0 到 10080 之间的分钟数")
	}
	s.HoldTimeout = time.Duration(m * float64(time.Minute))
	s.ExpiryReminders = nil
	for _, part := range strings.FieldsFunc(f["expiry_reminders"], func(r rune) bool { return r == ',' || r == '，' || r == ' ' }) {
		d, err := strconv.Atoi(part)
		if err != nil {
			return b, ledger.Invalidf("expiry_reminders", "应为天数, 用逗号分隔, 收到 %q", part)
		}
		s.ExpiryReminders = append(s.ExpiryReminders, d)
	}
	// Four eyes: empty is off, as a tenant file that leaves it out.
	s.ApprovalAbove = 0
	if v := f["approval_above"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return b, ledger.Invalidf("approval_above", "应为正整数 (积分), 留空表示不需审批, 收到 %q", v)
		}
		s.ApprovalAbove = n
	}
	return b, nil
}

func (c *Console) saveBrandSettings(w http.ResponseWriter, r *http.Request, req request) {
	d := brandPageData{Form: postedForm(r, "name", "time_zone", "refund_of_expired", "grace_days", "clawback_shortfall",
		"hold_timeout", "expiry_reminders", "approval_above")}
	if err := c.brandData(r, &d); err != nil {
		c.fail(w, r, req, "brand", "品牌设置", d, err)
		return
	}
	// Recorded as the admin API records a brand's change: the tenant
	// file's entry asked for, the brand before and after as it shows it.
	b, err := readSettings(d.View.Brand, d.Form)
	e := audit.Entry{Action: audit.BrandPut, BrandID: d.View.Brand.ID, Target: d.View.Brand.ID,
		Request: audit.JSON(tenant.BrandOf(b)), Before: admin.AuditBrand(d.View)}
	if err == nil {
		if err = c.admin.PutBrand(r.Context(), req.actor(), b); err == nil {
			if after, aerr := c.admin.Brand(r.Context(), b.ID); aerr == nil {
				e.After = admin.AuditBrand(after)
			}
		}
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err == nil {
		http.Redirect(w, r, brandSettingsPath(d.View.Brand.ID)+"?ok=settings", http.StatusSeeOther)
		return
	}
	p := c.page(req, "品牌设置 "+d.View.Brand.Name, nil)
	status, bad := c.refused(r, &p, err)
	d.Bad = bad
	p.Data = d
	c.render(w, r, status, "brand", p)
}

func (c *Console) saveShop(w http.ResponseWriter, r *http.Request, req request) {
	d := brandPageData{Shop: postedForm(r, "shop_id", "name"), ShopEdit: r.PostFormValue("edit") == "1"}
	if err := c.brandData(r, &d); err != nil {
		c.fail(w, r, req, "brand", "品牌设置", d, err)
		return
	}
	sh := ledger.Shop{ID: d.Shop["shop_id"], Name: d.Shop["name"], OutIDs: outIDs(d.Shop)}
	e := audit.Entry{Action: audit.ShopPut, BrandID: d.View.Brand.ID, Target: sh.ID, Request: audit.JSON(tenant.ShopOf(sh))}
	store := c.admin.Service().Store()
	if old, oerr := store.Shop(r.Context(), strings.TrimSpace(sh.ID)); oerr == nil && old.BrandID == d.View.Brand.ID {
		e.Before = admin.AuditShop(old)
	}
	err := c.admin.PutShop(r.Context(), req.actor(), d.View.Brand.ID, sh)
	if err == nil {
		if after, aerr := store.Shop(r.Context(), strings.TrimSpace(sh.ID)); aerr == nil {
			e.After = admin.AuditShop(after)
		}
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err == nil {
		http.Redirect(w, r, brandSettingsPath(d.View.Brand.ID)+"?ok=shop", http.StatusSeeOther)
		return
	}
	p := c.page(req, "品牌设置 "+d.View.Brand.Name, nil)
	status, bad := c.refused(r, &p, err)
	d.ShopBad = bad
	p.Data = d
	c.render(w, r, status, "brand", p)
}

// Rule.

// ruleForm is the rule editor, as shown or as typed: text as typed,
// money in yuan.
type ruleForm struct {
	Name, ClearType, ClearDays string
	WithCoupon                 bool
	Ded                        []dedRow
	Add                        []addRow
}

type dedRow struct {
	Level, Points, Money, Max string
	Enable, Limit             bool
}

type addRow struct {
	Level, Money, Reward string
	Enable               bool
}

// yuanText writes fen as yuan for an input: 150 → "1.5", 100 → "1".
func yuanText(fen int64) string {
	return strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(float64(fen)/100, 'f', 2, 64), "0"), ".")
}

var yuanRE = regexp.MustCompile(`^\d{1,12}(\.\d{1,2})?$`)

// parseYuan reads an amount in yuan with at most two decimals as fen.
func parseYuan(field, s string) (int64, error) {
	if !yuanRE.MatchString(s) {
		return 0, ledger.Invalidf(field, "应为金额 (元), 最多两位小数, 收到 %q", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	frac = (frac + "00")[:2]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f, nil
}

func newRuleForm(r *ledger.Rule) ruleForm {
	f := ruleForm{ClearType: ledger.ClearNever, ClearDays: "0"}
	if r != nil {
		f.Name, f.ClearType, f.ClearDays, f.WithCoupon = r.Name, r.Clear.Type, strconv.Itoa(r.Clear.Days), r.WithCoupon
		if f.ClearType == "" {
			f.ClearType = ledger.ClearNever
		}
		for _, d := range r.Deduction {
			if !d.Deleted {
				f.Ded = append(f.Ded, dedRow{Level: d.LevelID, Points: strconv.FormatInt(d.DeductedPoint, 10),
					Money: yuanText(d.ConsumeMoney), Max: strconv.FormatInt(d.MaxPoint, 10), Enable: d.Enable, Limit: d.HasUpperLimit})
			}
		}
		for _, a := range r.Addition {
			if !a.Deleted {
				f.Add = append(f.Add, addRow{Level: a.LevelID, Money: yuanText(a.ConsumeMoney),
					Reward: strconv.FormatInt(a.RewardPoint, 10), Enable: a.Enable})
			}
		}
	}
	return f
}

// withBlank is the form with one empty row of each kind, to add a level.
func (f ruleForm) withBlank() ruleForm {
	f.Ded = append(slices.Clip(f.Ded), dedRow{Enable: true})
	f.Add = append(slices.Clip(f.Add), addRow{Enable: true})
	return f
}

// maxRuleRows bounds the rows a posted rule form is read for.
const maxRuleRows = 200

// readRuleForm reads the posted editor. A row whose amounts are all
// empty (the blank row left blank) or that is marked for removal is no
// row; ded and add map the rule's rows to the form's, for errors.
func readRuleForm(r *http.Request) (f ruleForm, ded, add []int) {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f = ruleForm{Name: v("name"), ClearType: v("clear_type"), ClearDays: v("clear_days"), WithCoupon: v("with_coupon") == "1"}
	for i := range min(atoiOr(v("ded_rows")), maxRuleRows) {
		n := strconv.Itoa(i)
		row := dedRow{Level: v("ded_level_id_" + n), Points: v("ded_deducted_point_" + n), Money: v("ded_consume_money_" + n),
			Max: v("ded_max_point_" + n), Enable: v("ded_enable_"+n) == "1", Limit: v("ded_has_upper_limit_"+n) == "1"}
		if v("ded_remove_"+n) == "1" || (row.Points == "" && row.Money == "" && row.Level == "" && i == atoiOr(v("ded_rows"))-1) {
			continue
		}
		f.Ded = append(f.Ded, row)
		ded = append(ded, i)
	}
	for i := range min(atoiOr(v("add_rows")), maxRuleRows) {
		n := strconv.Itoa(i)
		row := addRow{Level: v("add_level_id_" + n), Money: v("add_consume_money_" + n), Reward: v("add_reward_point_" + n),
			Enable: v("add_enable_"+n) == "1"}
		if v("add_remove_"+n) == "1" || (row.Money == "" && row.Reward == "" && row.Level == "" && i == atoiOr(v("add_rows"))-1) {
			continue
		}
		f.Add = append(f.Add, row)
		add = append(add, i)
	}
	return f, ded, add
}

func atoiOr(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

const (
	dedPath = "rule.point_deduction_rule.member_point_deduction_rules"
	addPath = "rule.point_addition_rule.member_point_addition_rules"
)

// rule is the rule the form asks for. Errors name the form's rows.
func (f ruleForm) rule(ded, add []int) (ledger.Rule, error) {
	r := ledger.Rule{Name: f.Name, Clear: ledger.ClearRule{Type: f.ClearType}, WithCoupon: f.WithCoupon}
	if f.ClearType != ledger.ClearNever {
		d, err := strconv.Atoi(f.ClearDays)
		if err != nil {
			return r, ledger.Invalid("rule.point_clear_rule.days", "应为整数")
		}
		r.Clear.Days = d
	}
	num := func(field, s string) (int64, error) {
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, ledger.Invalidf(field, "应为整数, 收到 %q", s)
		}
		return n, nil
	}
	for i, row := range f.Ded {
		at := fmt.Sprintf("%s[%d].", dedPath, ded[i])
		d := ledger.DeductionRule{LevelID: row.Level, Enable: row.Enable, HasUpperLimit: row.Limit}
		var err error
		if d.DeductedPoint, err = num(at+"deducted_point", row.Points); err != nil {
			return r, err
		}
		if row.Money != "" {
			if d.ConsumeMoney, err = parseYuan(at+"consume_money", row.Money); err != nil {
				return r, err
			}
		}
		if d.MaxPoint, err = num(at+"max_point", row.Max); err != nil {
			return r, err
		}
		r.Deduction = append(r.Deduction, d)
	}
	for i, row := range f.Add {
		at := fmt.Sprintf("%s[%d].", addPath, add[i])
		a := ledger.AdditionRule{LevelID: row.Level, Enable: row.Enable}
		var err error
		if row.Money != "" {
			if a.ConsumeMoney, err = parseYuan(at+"consume_money", row.Money); err != nil {
				return r, err
			}
		}
		if a.RewardPoint, err = num(at+"reward_point", row.Reward); err != nil {
			return r, err
		}
		r.Addition = append(r.Addition, a)
	}
	return r, nil
}

// rowRE finds the row of a rule's field in an error's field path.
var rowRE = regexp.MustCompile(`(member_point_(?:deduction|addition)_rules)\[(\d+)\]`)

// formRows renames the rule's rows in err's field to the form's rows.
func formRows(err error, ded, add []int) error {
	le, ok := ledger.AsError(err)
	if !ok || le.Field == "" {
		return err
	}
	c := *le
	c.Field = rowRE.ReplaceAllStringFunc(le.Field, func(m string) string {
		s := rowRE.FindStringSubmatch(m)
		k, _ := strconv.Atoi(s[2])
		rows := ded
		if strings.Contains(s[1], "addition") {
			rows = add
		}
		if k < len(rows) {
			k = rows[k]
		}
		return fmt.Sprintf("%s[%d]", s[1], k)
	})
	return &c
}

// sampleAmounts are the points a preview of point.cal asks for.
var sampleAmounts = []int64{50, 100, 500, 1000, 5000}

type rulePageData struct {
	Brand    ledger.Brand
	Current  *ledger.Rule
	Versions []ledger.Rule
	Form     ruleForm
	Bad      string
	Preview  *backoffice.RulePreview
	Changed  bool // the previewed rule differs from the one in force
	Diff     *ruleDiff
}

func (c *Console) ruleData(r *http.Request, d *rulePageData) error {
	v, err := c.admin.Brand(r.Context(), r.PathValue("brand"))
	if err != nil {
		return err
	}
	d.Brand, d.Current = v.Brand, v.Rule
	if d.Versions, err = c.admin.RuleVersions(r.Context(), v.Brand.ID); err != nil {
		return err
	}
	q := r.URL.Query()
	from, to := atoiOr(q.Get("from")), atoiOr(q.Get("to"))
	if from == 0 && to == 0 && len(d.Versions) >= 2 {
		from, to = int(d.Versions[1].Version), int(d.Versions[0].Version)
	}
	var a, b *ledger.Rule
	for i := range d.Versions {
		if v := int(d.Versions[i].Version); v == from {
			a = &d.Versions[i]
		}
		if v := int(d.Versions[i].Version); v == to {
			b = &d.Versions[i]
		}
	}
	if a != nil && b != nil {
		d.Diff = diffRules(*a, *b)
	}
	return nil
}

func (c *Console) rulePage(w http.ResponseWriter, r *http.Request, req request) {
	var d rulePageData
	if err := c.ruleData(r, &d); err != nil {
		c.fail(w, r, req, "rule", "积分规则", d, err)
		return
	}
	d.Form = newRuleForm(d.Current).withBlank()
	p := c.page(req, "积分规则 "+d.Brand.Name, d)
	switch r.URL.Query().Get("ok") {
	case "saved":
		p.Notice = "积分规则已保存为新版本"
	case "same":
		p.Notice = "规则与当前版本相同, 未生成新版本"
	}
	c.render(w, r, http.StatusOK, "rule", p)
}

// previewRule shows what point.cal would answer under the rule typed,
// level by level, with the form to save it.
func (c *Console) previewRule(w http.ResponseWriter, r *http.Request, req request) {
	c.ruleAction(w, r, req, false)
}

func (c *Console) saveRule(w http.ResponseWriter, r *http.Request, req request) {
	c.ruleAction(w, r, req, true)
}

func (c *Console) ruleAction(w http.ResponseWriter, r *http.Request, req request, save bool) {
	var d rulePageData
	if err := c.ruleData(r, &d); err != nil {
		c.fail(w, r, req, "rule", "积分规则", d, err)
		return
	}
	form, ded, add := readRuleForm(r)
	d.Form = form
	rule, err := form.rule(ded, add)
	if err == nil {
		var p backoffice.RulePreview
		if p, err = backoffice.PreviewRule(rule, sampleAmounts); err == nil {
			d.Preview = &p
			d.Changed = d.Current == nil || diffRules(*d.Current, rule).Changed()
		} else {
			err = formRows(err, ded, add)
		}
	}
	if save {
		e := audit.Entry{Action: audit.RulePut, BrandID: d.Brand.ID, Target: d.Brand.ID, Request: audit.JSON(tenant.RuleOf(rule))}
		if d.Current != nil {
			e.Before = admin.AuditRule(*d.Current)
		}
		var changed bool
		if err == nil {
			if changed, err = c.admin.PutRule(r.Context(), req.actor(), d.Brand.ID, rule); err != nil {
				err = formRows(err, ded, add)
			} else if after, aerr := c.admin.Service().Store().Rule(r.Context(), d.Brand.ID); aerr == nil {
				e.After = admin.AuditRule(after)
			}
		}
		if !c.audited(w, r, req, e, err) {
			return
		}
		if err == nil {
			ok := "same"
			if changed {
				ok = "saved"
			}
			http.Redirect(w, r, rulePath(d.Brand.ID)+"?ok="+ok, http.StatusSeeOther)
			return
		}
	}
	d.Form = d.Form.withBlank()
	p := c.page(req, "积分规则 "+d.Brand.Name, nil)
	status := http.StatusOK
	if err != nil {
		d.Preview = nil
		status, d.Bad = c.refused(r, &p, err)
	}
	p.Data = d
	c.render(w, r, status, "rule", p)
}

// ruleDiff compares two rule versions field by field.
type ruleDiff struct {
	From, To ledger.Rule
	Rows     []diffRow // the fields that differ
}

type diffRow struct{ Label, From, To string }

// Changed reports whether the versions differ in what they decide.
func (d *ruleDiff) Changed() bool { return len(d.Rows) > 0 }

// ruleLines is a rule as labelled lines, in a stable order: what a diff
// compares. Logically deleted levels are left out (they decide nothing).
func ruleLines(r ledger.Rule) ([]string, map[string]string) {
	var keys []string
	m := map[string]string{}
	put := func(k, v string) { keys = append(keys, k); m[k] = v }
	yes := func(b bool) string {
		if b {
			return "是"
		}
		return "否"
	}
	put("规则名称", r.Name)
	put("积分过期", clearText(r.Clear))
	put("可与优惠券同用", yes(r.WithCoupon))
	for _, d := range r.Deduction {
		if d.Deleted {
			continue
		}
		l := "抵现 · " + levelName(d.LevelID)
		v := "不可抵现"
		if d.Enable {
			v = fmt.Sprintf("每 %d 积分抵 %s", d.DeductedPoint, fmtYuan(d.ConsumeMoney))
			if d.HasUpperLimit {
				v += fmt.Sprintf(", 单次最多 %d 积分", d.MaxPoint)
			}
		}
		put(l, v)
	}
	for _, a := range r.Addition {
		if a.Deleted {
			continue
		}
		v := "不获得积分"
		if a.Enable {
			v = fmt.Sprintf("每消费 %s 得 %d 积分", fmtYuan(a.ConsumeMoney), a.RewardPoint)
		}
		put("获得 · "+levelName(a.LevelID), v)
	}
	return keys, m
}

func diffRules(a, b ledger.Rule) *ruleDiff {
	d := &ruleDiff{From: a, To: b}
	ka, ma := ruleLines(a)
	kb, mb := ruleLines(b)
	keys := ka
	for _, k := range kb {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if ma[k] != mb[k] {
			d.Rows = append(d.Rows, diffRow{Label: k, From: orDash(ma[k]), To: orDash(mb[k])})
		}
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func levelName(id string) string {
	if id == "" {
		return "默认等级"
	}
	return "等级 " + id
}

func clearText(c ledger.ClearRule) string {
	switch c.Type {
	case ledger.ClearDaysAfterEarn:
		return fmt.Sprintf("获得后 %d 天过期", c.Days)
	case ledger.ClearYearEnd:
		return fmt.Sprintf("获得后第 %d 年年底过期", c.Days)
	}
	return "永不过期"
}

// Apps.

type appsData struct {
	Apps     []ledger.App
	Brands   []ledger.Brand
	Channels []string
	Form     map[string]string
	Bad      string
	// Secret is a secret just made (a new app, a rotation), shown on this
	// answer only: it is never shown again.
	Secret, SecretApp string
}

func (c *Console) appsData(r *http.Request, d *appsData) error {
	var err error
	d.Channels = append(slices.Clone(points.Channels), "*")
	if d.Apps, err = c.admin.Apps(r.Context()); err != nil {
		return err
	}
	// The console's own key is no app an operator edits.
	d.Apps = slices.DeleteFunc(d.Apps, func(a ledger.App) bool { return points.ReservedAppKey(a.Key) })
	if d.Form == nil {
		d.Form = map[string]string{"active": "1"}
		if key := r.URL.Query().Get("app"); key != "" {
			for _, a := range d.Apps {
				if a.Key == key {
					d.Form = appForm(a)
				}
			}
		}
	}
	d.Brands, err = c.admin.Brands(r.Context())
	return err
}

func appForm(a ledger.App) map[string]string {
	f := map[string]string{"app_key": a.Key, "name": a.Name, "brands": strings.Join(a.Brands, ", "),
		"rate_limit": strconv.FormatFloat(a.RateLimit, 'f', -1, 64)}
	if a.Active {
		f["active"] = "1"
	}
	for _, ch := range a.Channels {
		f["ch_"+ch] = "1"
	}
	return f
}

func (c *Console) apps(w http.ResponseWriter, r *http.Request, req request) {
	var d appsData
	if err := c.appsData(r, &d); err != nil {
		c.fail(w, r, req, "apps", "应用", d, err)
		return
	}
	p := c.page(req, "应用", d)
	if r.URL.Query().Get("ok") == "saved" {
		p.Notice = "应用已保存"
	}
	c.render(w, r, http.StatusOK, "apps", p)
}

func (c *Console) saveApp(w http.ResponseWriter, r *http.Request, req request) {
	f := map[string]string{}
	for _, k := range []string{"app_key", "name", "brands", "rate_limit", "active"} {
		f[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	a := ledger.App{Key: f["app_key"], Name: f["name"], Active: f["active"] == "1"}
	for _, ch := range append(slices.Clone(points.Channels), "*") {
		if r.PostFormValue("ch_"+ch) == "1" {
			f["ch_"+ch] = "1"
			a.Channels = append(a.Channels, ch)
		}
	}
	a.Brands = strings.FieldsFunc(f["brands"], func(r rune) bool { return r == ',' || r == '，' || r == ' ' })
	var err error
	if f["rate_limit"] != "" {
		if a.RateLimit, err = strconv.ParseFloat(f["rate_limit"], 64); err != nil {
			err = ledger.Invalid("rate_limit", "应为每秒请求数, 0 表示不限")
		}
	}
	var secret string
	if err == nil {
		err = points.Required("app_key", a.Key)
	}
	e := audit.Entry{Action: audit.AppPut, Target: a.Key, Request: audit.JSON(tenant.AppOf(a))}
	store := c.admin.Service().Store()
	if old, oerr := store.App(r.Context(), a.Key); oerr == nil {
		e.Before = admin.AuditApp(old)
	}
	if err == nil {
		secret, err = c.admin.PutApp(r.Context(), req.actor(), a)
	}
	if err == nil {
		if after, aerr := store.App(r.Context(), a.Key); aerr == nil {
			e.After = admin.AuditApp(after)
		}
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err == nil && secret == "" {
		http.Redirect(w, r, "/console/apps?ok=saved", http.StatusSeeOther)
		return
	}
	d := appsData{Form: f}
	if err == nil {
		d.Form, d.Secret, d.SecretApp = nil, secret, a.Key
	}
	if derr := c.appsData(r, &d); derr != nil {
		c.fail(w, r, req, "apps", "应用", d, derr)
		return
	}
	p := c.page(req, "应用", nil)
	status := http.StatusOK
	if err != nil {
		status, d.Bad = c.refused(r, &p, err)
	} else {
		p.Notice = "应用已创建"
	}
	p.Data = d
	c.render(w, r, status, "apps", p)
}

// rotateSecret gives an app a new secret and shows it, this once.
func (c *Console) rotateSecret(w http.ResponseWriter, r *http.Request, req request) {
	key := r.PathValue("key")
	secret, err := c.admin.RotateSecret(r.Context(), req.actor(), key)
	if !c.audited(w, r, req, audit.Entry{Action: audit.AppSecretRotate, Target: key}, err) {
		return
	}
	var d appsData
	if derr := c.appsData(r, &d); derr != nil {
		c.fail(w, r, req, "apps", "应用", d, derr)
		return
	}
	if err != nil {
		c.fail(w, r, req, "apps", "应用", d, err)
		return
	}
	d.Secret, d.SecretApp = secret, key
	p := c.page(req, "应用", d)
	p.Notice = "密钥已更换: 旧密钥立即失效"
	c.render(w, r, http.StatusOK, "apps", p)
}
