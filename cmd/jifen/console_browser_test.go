package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"jifen/ledger"
	"jifen/points"
	"jifen/storetest"
	"jifen/top"
)

// chromium finds a Chromium or Chrome to drive: $JIFEN_CHROMIUM, else the
// usual names on $PATH. Without one the browser test is skipped with a
// message, except in CI (CI=true), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("JIFEN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: CI must run the console's browser test (apt-get install chromium)")
	}
	t.Skip("chromium not found (install it, or set JIFEN_CHROMIUM): skipping the console's browser test")
	return ""
}

// TestConsoleBrowser drives the operators' console in headless Chromium on
// a real jifen server with the demo tenant: a POS pays for an order with
// points through the gateway; an operator (an admin, so that every page is hers to see) signs in, finds the customer,
// opens the order, previews a partial refund, performs it, sees the new
// flow and balance, and edits the customer's record. Screenshots of each
// step go to the test's artifact directory (kept with `go test
// -artifacts`, under _artifacts/).
func TestConsoleBrowser(t *testing.T) {
	exe := chromium(t)
	s := startServerWith(t, true)
	password := addOperator(t, s.db, "--name", "小李", "--role", "admin")
	// The brand's events go to a webhook, so that its pages (and each
	// flow's delivery) show real deliveries.
	recv := storetest.NewReceiver(t, browserHookSecret)
	ctx := context.Background()
	if _, err := s.svc.Apply(ctx, points.Tenant{Webhooks: []points.Webhook{{ID: "crm", URL: recv.URL(), Secret: browserHookSecret}}}); err != nil {
		t.Fatal(err)
	}
	const order = "browser-order-1"
	res := s.call(top.MethodConsumePoint, map[string]any{"param_consume_point_open_req": with(kry,
		"customer_id", "demo-c1", "change_point", 120, "out_biz_id", order, "operator_id", "pos1", "operator_name", "收银员",
		"request_id", "browser-1")})
	if res["biz_success"] != true {
		t.Fatalf("consume: %v", res)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.WindowSize(1366, 900),
		chromedp.Flag("lang", "zh-CN"))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses its sandbox as root (containers, CI)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	// The first run starts the browser, on a context without a deadline
	// (a deadline there would stop the whole browser); steps get theirs.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	dir := t.ArtifactDir()
	t.Logf("screenshots in %s", dir)
	shot := 0
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			png, _ := chromedp.Run(browser, chromedp.FullScreenshot(100))
			os.WriteFile(filepath.Join(dir, "failed.png"), png, 0o644)
			html, _ := chromedp.Run(browser, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: %v\npage: %.3000s", what, err, html)
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 20*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	screenshot := func(name string) {
		t.Helper()
		shot++
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Any console page sends a visitor without a session to sign in.
	do("open the console", chromedp.Navigate(s.url+"/console/customers/demo-c1"), chromedp.WaitVisible(chromedp.ID("password")))
	screenshot("01-login")
	for _, width := range viewports {
		do("resize", chromedp.EmulateViewport(width, 900))
		checkPage(t, browser, "login", width)
		screenshot(fmt.Sprintf("w%d-login", width))
	}
	do("resize", chromedp.EmulateViewport(1366, 900))
	do("sign in with a wrong password",
		chromedp.SetValue(chromedp.ID("name"), "小李"), chromedp.SendKeys(chromedp.ID("password"), "not-the-password"),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("error")))
	if got := text("#error"); !strings.Contains(got, "姓名或密码不正确") {
		t.Fatalf("wrong password: %q", got)
	}
	do("sign in",
		chromedp.SetValue(chromedp.ID("name"), "小李"), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("available")))
	// Back where it was going: the customer, 500 − 120.
	if got := text("#available"); got != "380" {
		t.Fatalf("available %q after signing in, want 380", got)
	}
	if got := text("#operator-name"); got != "小李" {
		t.Fatalf("operator %q", got)
	}

	do("find the customer by name",
		chromedp.Navigate(s.url+"/console/"), chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SetValue(chromedp.ID("q"), "张三"), chromedp.Click(chromedp.ID("search")),
		chromedp.WaitVisible(chromedp.ID("lots")))
	if got := text("#available"); got != "380" {
		t.Fatalf("available %q, want 380", got)
	}
	screenshot("02-customer")

	do("open the order from the customer's flows",
		chromedp.Click(chromedp.CSS(`#flows a[href$="/orders/`+order+`"]`)), chromedp.WaitVisible(chromedp.ID("reversible")))
	if got := text("#reversible"); got != "120" {
		t.Fatalf("reversible %q, want 120", got)
	}
	screenshot("03-order")

	do("preview a refund of 50",
		chromedp.SendKeys(chromedp.ID("points"), "50"), chromedp.SetValue(chromedp.ID("reason"), "顾客退菜"),
		chromedp.Click(chromedp.ID("preview")), chromedp.WaitVisible(chromedp.ID("preview-lots")))
	if got, avail := text("#preview-points"), text("#preview-available"); got != "50" || avail != "430" {
		t.Fatalf("preview: %q points, available after %q; want 50, 430", got, avail)
	}
	if got := text("#preview-lots tbody"); !strings.Contains(got, "+50") {
		t.Fatalf("preview lots %q, want +50 back to the lot", got)
	}
	if v := s.available("demo-c1"); v != 380 {
		t.Fatalf("the preview wrote: available %v", v)
	}
	screenshot("04-preview")

	do("perform the refund", chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("notice")))
	if got := text("#notice"); !strings.Contains(got, "退回成功") {
		t.Fatalf("notice %q", got)
	}
	if rev, left := text("#reversed"), text("#reversible"); rev != "50" || left != "70" {
		t.Fatalf("order after: reversed %q, reversible %q; want 50, 70", rev, left)
	}
	if got := text("#order-flows tr.new"); !strings.Contains(got, "积分消费回退") || !strings.Contains(got, "+50") || !strings.Contains(got, "小李") {
		t.Fatalf("new flow row %q", got)
	}
	screenshot("05-reversed")

	do("see the customer again",
		chromedp.Click(chromedp.CSS(`#parts a[href="/console/customers/demo-c1"]`)), chromedp.WaitVisible(chromedp.ID("flows")))
	if got := text("#available"); got != "430" {
		t.Fatalf("available %q after the refund, want 430", got)
	}
	if got := text("#flows tbody tr"); !strings.Contains(got, "积分消费回退") || !strings.Contains(got, "+50") ||
		!strings.Contains(got, "430") || !strings.Contains(got, "顾客退菜") {
		t.Fatalf("newest flow row %q", got)
	}
	screenshot("06-customer-after")

	// The operator edits the member's level, gender and remark; the rest
	// of the record stays as it was.
	do("edit the customer's record",
		chromedp.SetValue(chromedp.ID("edit-level"), "VIP"), chromedp.SetValue(chromedp.ID("edit-gender"), "0"),
		chromedp.SetValue(chromedp.ID("edit-remark"), "常客\n爱吃辣"),
		chromedp.Click(chromedp.ID("edit-save")), chromedp.WaitVisible(chromedp.ID("notice")))
	if got := text("#notice"); !strings.Contains(got, "顾客资料已保存") {
		t.Fatalf("notice %q after saving the record", got)
	}
	if got := text("main .meta"); !strings.Contains(got, "等级 VIP") || !strings.Contains(got, "13800000001") {
		t.Fatalf("customer line %q after saving the record", got)
	}
	c, err := s.svc.Store().Customer(context.Background(), "demo-c1")
	if err != nil || c.LevelID != "VIP" || c.Gender != "0" || c.Remark != "常客\n爱吃辣" || c.Name != "张三" || c.Mobile != "13800000001" {
		t.Fatalf("customer after the edit: %+v %v", c, err)
	}
	screenshot("06b-customer-edited")

	do("open the brand dashboard",
		chromedp.Navigate(s.url+"/console/brands/demo-brand"), chromedp.WaitVisible(chromedp.ID("chart-activity")),
		chromedp.WaitVisible(chromedp.ID("chart-liability")))
	if got := text("#liability"); got != "4630" { // 500 + 1200 + 3000 − 120 + 50
		t.Fatalf("liability %q, want 4630", got)
	}
	screenshot("07-dashboard")

	// The ledger agrees: one reversal, in the operator's name, through the
	// service's own rules (and `jifen verify` passes when the test ends).
	fs, _, err := s.svc.Store().Flows(context.Background(), points.FlowQuery{BrandID: "demo-brand", OutBizLike: order})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Type != ledger.DeductReverse || fs[0].Amount != 50 || fs[0].OperatorName != "小李" ||
		fs[0].AppKey != points.AdminAppKey || fs[0].Reason != "顾客退菜" {
		t.Fatalf("flows of the order: %+v", fs)
	}

	// The tenant pages act: a rule previewed, then saved.
	do("preview a rule",
		chromedp.Navigate(s.url+"/console/brands/demo-brand/rule"), chromedp.WaitVisible(chromedp.ID("rule-form")),
		chromedp.SetValue(chromedp.ID("ded_consume_money_0"), "2"),
		chromedp.Click(chromedp.ID("rule-preview-btn")), chromedp.WaitVisible(chromedp.ID("preview-table")))
	if got := text("#preview-table tbody"); !strings.Contains(got, "默认等级") {
		t.Fatalf("rule preview %q", got)
	}
	do("save the rule", chromedp.Click(chromedp.ID("rule-save")), chromedp.WaitVisible(chromedp.ID("notice")))
	if got := text("#notice"); !strings.Contains(got, "新版本") {
		t.Fatalf("notice %q after saving the rule", got)
	}
	if rule, err := s.svc.Store().Rule(context.Background(), "demo-brand"); err != nil || rule.Version != 2 || rule.UpdatedBy != "小李" {
		t.Fatalf("rule after saving: %+v %v", rule, err)
	}

	// Four eyes: a support operator's adjustment above the brand's
	// approval_above waits for 小李 on the approvals page.
	b, err := s.svc.Store().Brand(ctx, "demo-brand")
	if err != nil {
		t.Fatal(err)
	}
	b.Settings.ApprovalAbove = 100
	if _, err := s.svc.Apply(ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: b}}}); err != nil {
		t.Fatal(err)
	}
	_, supportToken := addOperatorWithToken(t, s.db, "--name", "小王", "--role", "support", "--limit", "10000", "--brands", "demo-brand")
	if status, body := adminCall(t, s.url, supportToken, "POST", "/admin/v1/customers/demo-c2/adjustments",
		`{"points": 300, "reason": "补偿", "request_id": "browser-ask-1"}`); status != http.StatusAccepted {
		t.Fatalf("support's adjustment above the threshold: %d %s", status, body)
	}

	// Every page, at desktop and phone width: nothing scrolls sideways,
	// every input is labelled.
	var flowID string
	if fs, _, err := s.svc.Store().Flows(context.Background(), points.FlowQuery{BrandID: "demo-brand", Limit: 1}); err != nil || len(fs) == 0 {
		t.Fatalf("a flow: %v", err)
	} else {
		flowID = fs[0].ID
	}
	type visit struct {
		name  string
		steps []chromedp.Action[chromedp.Void]
	}
	open := func(name, path, sel string) visit {
		return visit{name, []chromedp.Action[chromedp.Void]{chromedp.Navigate(s.url + path), chromedp.WaitVisible(chromedp.CSS(sel))}}
	}
	pages := []visit{
		open("home", "/console/", "#q"),
		open("search", "/console/customers?q=138", "#results"),
		open("customer", "/console/customers/demo-c1", "#lots"),
		open("order", "/console/brands/demo-brand/orders/"+order, "#parts"),
		{"refund-preview", []chromedp.Action[chromedp.Void]{chromedp.Navigate(s.url + "/console/brands/demo-brand/orders/" + order),
			chromedp.WaitVisible(chromedp.ID("points")), chromedp.SetValue(chromedp.ID("points"), "5"),
			chromedp.Click(chromedp.ID("preview")), chromedp.WaitVisible(chromedp.ID("preview-lots"))}},
		{"adjust-preview", []chromedp.Action[chromedp.Void]{chromedp.Navigate(s.url + "/console/customers/demo-c2"),
			chromedp.WaitVisible(chromedp.ID("adjust-points")), chromedp.SetValue(chromedp.ID("adjust-points"), "-20"),
			chromedp.SetValue(chromedp.ID("adjust-reason"), "扣回"), chromedp.Click(chromedp.ID("adjust")),
			chromedp.WaitVisible(chromedp.ID("adjust-preview"))}},
		{"adjust-refused", []chromedp.Action[chromedp.Void]{chromedp.Navigate(s.url + "/console/customers/demo-c2"),
			chromedp.WaitVisible(chromedp.ID("adjust-points")), chromedp.SetValue(chromedp.ID("adjust-points"), "-999999"),
			chromedp.SetValue(chromedp.ID("adjust-reason"), "扣回"), chromedp.Click(chromedp.ID("adjust")),
			chromedp.WaitVisible(chromedp.ID("error"))}},
		open("flows", "/console/flows?brand_id=demo-brand", "#flows"),
		open("flow", "/console/brands/demo-brand/flows/"+flowID, "#delivery-crm"),
		open("dashboard", "/console/brands/demo-brand", "#chart-activity"),
		open("webhooks", "/console/webhooks", "#webhook-crm"),
		open("webhook", "/console/webhooks/crm", "#deliveries tbody tr[id^=delivery-]"),
		open("approvals", "/console/approvals", "#approvals"),
		open("settings", "/console/brands/demo-brand/settings", "#settings-form"),
		open("rule", "/console/brands/demo-brand/rule", "#rule-diff"),
		{"rule-preview", []chromedp.Action[chromedp.Void]{chromedp.Navigate(s.url + "/console/brands/demo-brand/rule"),
			chromedp.WaitVisible(chromedp.ID("rule-form")), chromedp.Click(chromedp.ID("rule-preview-btn")),
			chromedp.WaitVisible(chromedp.ID("preview-table"))}},
		open("apps", "/console/apps", "#apps"),
		open("audit", "/console/audit", "#audit"),
		open("operators", "/console/operators", "#add-operator"),
		open("password", "/console/password", "#change-password"),
		open("not-found", "/console/nothing-here", "#error"),
		open("order-search-empty", "/console/orders", "#error"),
		open("order-search", "/console/orders?brand_id=demo-brand&order="+order, "#parts"),
	}
	for _, width := range viewports {
		do("resize", chromedp.EmulateViewport(width, 900))
		for _, p := range pages {
			do(fmt.Sprintf("%s at %d px", p.name, width), p.steps...)
			checkPage(t, browser, p.name, width)
			screenshot(fmt.Sprintf("w%d-%s", width, p.name))
		}
	}
	if want := 8 + 2 + 2*len(pages); shot != want {
		t.Fatalf("%d screenshots, want %d", shot, want)
	}
}

// viewports are the widths every console page is checked at: a desktop
// and a phone (390 px).
var viewports = []int64{1280, 390}

// checkPage fails the test if the page scrolls sideways at width or has
// an input without a label.
func checkPage(t *testing.T, browser context.Context, name string, width int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 20*time.Second)
	defer cancel()
	over, err := chromedp.Run(ctx, chromedp.Evaluate[[]int64](
		`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil {
		t.Fatalf("%s at %d px: %v", name, width, err)
	}
	if over[0] > over[1] {
		wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('main *, header *')]
			.filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.scroll, .chartscroll, .card'))
			.slice(0, 8).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)`))
		t.Errorf("%s at %d px scrolls sideways: scrollWidth %d > innerWidth %d; wide: %v", name, width, over[0], over[1], wide)
	}
	unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(
		'input:not([type=hidden]), select, textarea')].filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
		.map(e => e.name || e.id)`))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(unlabelled) > 0 {
		t.Errorf("%s: inputs without a label: %v", name, unlabelled)
	}
}

// browserHookSecret signs the browser test's webhook deliveries.
const browserHookSecret = "whsec_YnJvd3Nlci10ZXN0LXdlYmhvb2stc2VjcmV0"

// addOperator runs jifen operator add on db and returns the password it
// prints.
func addOperator(t *testing.T, db string, args ...string) string {
	t.Helper()
	password, _ := addOperatorWithToken(t, db, args...)
	return password
}

// addOperatorWithToken runs jifen operator add on db and returns the
// password and the API token it prints.
func addOperatorWithToken(t *testing.T, db string, args ...string) (password, token string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append([]string{"operator", "add", "--db", db}, args...), &out, &errb); err != nil {
		t.Fatalf("operator add: %v\n%s", err, errb.String())
	}
	p := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out.String())
	k := regexp.MustCompile(`(?m)^token: +(\S+)$`).FindStringSubmatch(out.String())
	if p == nil || k == nil {
		t.Fatalf("no password or token in %q", out.String())
	}
	return p[1], k[1]
}

// adminCall makes an admin API request with an operator's token.
func adminCall(t *testing.T, base, token, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
