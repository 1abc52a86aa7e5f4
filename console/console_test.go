package console

import (
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/bodylimit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/postgres"
	"jifen/sqlite"
	"jifen/storetest"
	"jifen/webhook"
)

const token = "console-test-token-0123456789"

// consoleEnv is the console over a real store (openConsoleStore) with
// the suite's standard world; every invariant is checked when the test ends.
//
// lead is an admin of every brand named 小李, whom signIn signs in; token
// is the bootstrap admin token.
type consoleEnv struct {
	*storetest.Env
	t      *testing.T
	url    string
	client *http.Client
	ops    *operator.Service
	lead   operator.Added
}

// consoleStore is what the console's tests run on: SQLite, or with
// JIFEN_CONSOLE_STORE=postgres PostgreSQL (./scripts/test runs the
// console's tests once on each).
type consoleStore interface {
	storetest.Store
	operator.Store
	approval.Store
	webhook.Store
	audit.Store
}

func openConsoleStore(t testing.TB) consoleStore {
	if os.Getenv("JIFEN_CONSOLE_STORE") == "postgres" {
		return postgres.OpenTest(t)
	}
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "jifen.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	var st consoleStore
	e := storetest.NewEnv(t, func(t testing.TB) storetest.Store {
		st = openConsoleStore(t)
		return st
	})
	ops := operator.New(st, e.Svc, token)
	ops.SetPasswordCost(4)
	lead := storetest.MustAddOperator(t, e, ops, operator.NewOperator{Name: "小李", Role: operator.Admin})
	ts := httptest.NewServer(New(e.Admin(), ops, nil, nil).WithApprovals(approval.New(st, e.Admin())))
	t.Cleanup(ts.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &consoleEnv{Env: e, t: t, url: ts.URL, client: client, ops: ops, lead: lead}
}

type resp struct {
	status   int
	location string
	header   http.Header
	body     string
}

func (e *consoleEnv) get(path string) resp {
	e.t.Helper()
	r, err := e.client.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	return read(e.t, r)
}

func (e *consoleEnv) post(path string, form url.Values, header ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	r, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return read(e.t, r)
}

func read(t *testing.T, r *http.Response) resp {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: r.StatusCode, location: r.Header.Get("Location"), header: r.Header, body: string(b)}
}

func (r resp) want(t *testing.T, status int, contains ...string) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%.2000s", r.status, status, r.body)
	}
	for _, c := range contains {
		if !strings.Contains(r.body, c) {
			t.Fatalf("page lacks %q\n%.3000s", c, r.body)
		}
	}
	return r
}

var (
	csrfRE    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	requestRE = regexp.MustCompile(`name="request_id" value="([^"]+)"`)
	exportRE  = regexp.MustCompile(`id="export" href="([^"]+)"`)
	hiddenRE  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

func field(t *testing.T, re *regexp.Regexp, page string) string {
	t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in page\n%.2000s", re, page)
	}
	return m[1]
}

// signIn signs in as 小李 and returns the session's CSRF token.
func (e *consoleEnv) signIn() string {
	e.t.Helper()
	return e.signInAs("小李", e.lead.Password)
}

// signInAs signs in as name with password and returns the session's CSRF
// token.
func (e *consoleEnv) signInAs(name, password string) string {
	e.t.Helper()
	r := e.post("/console/login", url.Values{"name": {name}, "password": {password}, "next": {"/console/"}})
	if r.status != http.StatusSeeOther || r.location != "/console/" {
		e.t.Fatalf("sign in: %d %s\n%s", r.status, r.location, r.body)
	}
	return field(e.t, csrfRE, e.get("/console/").want(e.t, http.StatusOK, name).body)
}

func TestConsole_SignIn(t *testing.T) {
	e := newConsoleEnv(t)
	r := e.get("/console/customers/C1")
	if r.status != http.StatusSeeOther || r.location != "/console/login?next=%2Fconsole%2Fcustomers%2FC1" {
		t.Fatalf("without a session: %d %s", r.status, r.location)
	}
	e.get("/console/login").want(t, http.StatusOK, `name="name"`, `name="password"`, `type="password"`)
	e.post("/console/login", url.Values{"name": {"小李"}, "password": {"wrong"}}).want(t, http.StatusUnauthorized, "姓名或密码不正确")
	e.post("/console/login", url.Values{"name": {"nobody"}, "password": {e.lead.Password}}).want(t, http.StatusUnauthorized, "姓名或密码不正确")
	e.post("/console/login", url.Values{"password": {e.lead.Password}}).want(t, http.StatusUnauthorized, "请输入操作员姓名与密码")
	e.post("/console/login", url.Values{"name": {"小李"}, "password": {e.lead.Password}}, "Origin", "https://evil.example").
		want(t, http.StatusForbidden)

	r = e.post("/console/login", url.Values{"name": {"小李"}, "password": {e.lead.Password}, "next": {"/console/customers/C1"}})
	if r.status != http.StatusSeeOther || r.location != "/console/customers/C1" {
		t.Fatalf("sign in: %d %s", r.status, r.location)
	}
	ck := r.header.Get("Set-Cookie")
	for _, want := range []string{"jifen_console=", "HttpOnly", "SameSite=Lax", "Path=/console/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, e.lead.Password) {
		t.Fatal("the cookie holds the password")
	}
	e.get("/console/customers/C1").want(t, http.StatusOK, "张三")

	// A cookie that was tampered with is no session.
	u, _ := url.Parse(e.url + "/console/")
	cs := e.client.Jar.Cookies(u)
	value := cs[0].Value
	payload, mac, _ := strings.Cut(value, ".")
	forged := b64.EncodeToString([]byte(`{"op":"mallory","exp":9999999999,"n":"x"}`)) + "." + mac
	for _, v := range []string{forged, payload, payload + ".AAAA", ""} {
		e.client.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: v, Path: "/console/"}})
		if r := e.get("/console/"); r.status != http.StatusSeeOther {
			t.Errorf("cookie %q: status %d, want the sign-in page", v, r.status)
		}
	}
	// An open redirect is not possible through next.
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/console/\\evil", "/admin/v1/apps"} {
		if got := safeNext(next); got != "/console/" {
			t.Errorf("next %q → %q", next, got)
		}
	}
	// Sessions are signed with the database's key, not the admin token.
	key, err := e.ops.SessionKey(e.Ctx)
	if err != nil || len(key) < 32 {
		t.Fatalf("session key %x, %v", key, err)
	}
	req := httptest.NewRequest("GET", "/console/", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: value})
	if _, ok := sessionOf(req, []byte(token)); ok {
		t.Fatal("a session signed by the admin token")
	}
	if _, ok := sessionOf(req, key); !ok {
		t.Fatal("the session is not signed by the database's key")
	}
}

func TestConsole_SignInRateLimited(t *testing.T) {
	e := newConsoleEnv(t)
	limited := false
	for range 30 {
		r := e.post("/console/login", url.Values{"name": {"bootstrap"}, "password": {"guess"}})
		if r.status == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("30 wrong tokens in a row were all checked")
	}
	// Only the guessing client is held back: another signs in.
	c := New(e.Admin(), e.ops, nil, nil)
	login := func(addr, tok string) int {
		r := httptest.NewRequest(http.MethodPost, "/console/login",
			strings.NewReader(url.Values{"name": {"bootstrap"}, "password": {tok}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	for range 30 {
		login("192.0.2.1:5000", "guess")
	}
	if got := login("192.0.2.1:5001", token); got != http.StatusTooManyRequests {
		t.Errorf("the guessing client with the right token: %d, want 429", got)
	}
	if got := login("192.0.2.7:5000", token); got != http.StatusSeeOther {
		t.Errorf("another client signing in: %d, want 303", got)
	}
}

// An empty sign-in form is no guess: it asks for the token and uses up
// none of the client's allowance for wrong ones.
func TestConsole_EmptySignInNotCounted(t *testing.T) {
	e := newConsoleEnv(t)
	for range 30 {
		e.post("/console/login", url.Values{"password": {""}, "name": {"小李"}}).want(t, http.StatusUnauthorized)
		e.post("/console/login", url.Values{"name": {"小李"}}).want(t, http.StatusUnauthorized)
	}
	e.post("/console/login", url.Values{"password": {""}, "name": {"小李"}}).want(t, http.StatusUnauthorized, "请输入操作员姓名与密码")
	e.signIn()
}

func TestConsole_CSRF(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	form := url.Values{"points": {"10"}, "reason": {"x"}, "request_id": {"r1"}, "confirm": {"1"}}
	e.post("/console/customers/C1/adjust", form).want(t, http.StatusForbidden, "CSRF")
	form.Set("csrf", "not-it")
	e.post("/console/customers/C1/adjust", form).want(t, http.StatusForbidden)
	form.Set("csrf", csrf)
	e.post("/console/customers/C1/adjust", form, "Origin", "https://evil.example").want(t, http.StatusForbidden)
	if got := e.Available("C1"); got != 100 {
		t.Fatalf("a forged form adjusted: available %d", got)
	}
	r := e.post("/console/customers/C1/adjust", form, "Origin", e.url)
	if r.status != http.StatusSeeOther {
		t.Fatalf("adjust: %d\n%s", r.status, r.body)
	}
	if got := e.Available("C1"); got != 110 {
		t.Fatalf("available %d, want 110", got)
	}
}

// A form the server would not hold (package bodylimit) is answered with
// the API's codes, at sign-in and signed in, and nothing is done.
func TestConsole_BodyNotHeld(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	c := New(e.Admin(), e.ops, nil, nil)
	base, err := url.Parse(e.url + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	send := func(path, form string, cookies bool, failure error) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("POST", path, io.MultiReader(strings.NewReader(form), iotest.ErrReader(failure)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookies {
			for _, ck := range e.client.Jar.Cookies(base) {
				req.AddCookie(ck)
			}
		}
		w := httptest.NewRecorder()
		c.ServeHTTP(w, req)
		return w
	}
	for _, tc := range []struct {
		name, path, form string
		signedIn         bool
		failure          error
		status           int
		code             string
	}{
		{"sign-in, not received in time", "/console/login", "operator=x&token=" + token, false, bodylimit.ErrTimeout, http.StatusRequestTimeout, "表单没有及时送达"},
		{"sign-in, busy", "/console/login", "operator=x&token=" + token, false, bodylimit.ErrBusy, http.StatusServiceUnavailable, "服务繁忙"},
		{"adjust, not received in time", "/console/customers/C1/adjust", "points=10&reason=x&request_id=r1&csrf=" + csrf, true, bodylimit.ErrTimeout, http.StatusRequestTimeout, "REQUEST_TIMEOUT"},
		{"adjust, busy", "/console/customers/C1/adjust", "points=10&reason=x&request_id=r1&csrf=" + csrf, true, bodylimit.ErrBusy, http.StatusServiceUnavailable, "UNAVAILABLE"},
	} {
		w := send(tc.path, tc.form, tc.signedIn, tc.failure)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.code) {
			t.Errorf("%s: %d, want %d with %s\n%.2000s", tc.name, w.Code, tc.status, tc.code, w.Body)
		}
		if w.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s: a session was started", tc.name)
		}
	}
	if got := e.Available("C1"); got != 100 {
		t.Errorf("a form not received whole adjusted: available %d, want 100", got)
	}
}

// TestConsole_Reversal goes the operator's way: open the order, preview,
// confirm; and checks every ledger rule holds on that path.
func TestConsole_Reversal(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	e.MustCharge("C1", "g2", 100)
	e.MustConsume("C1", "o1", 150)

	e.get("/console/brands/B1/orders/o1").want(t, http.StatusOK, `id="reversible">150<`, "积分抵现", `/orders/o1/preview`)
	e.get("/console/brands/B1/orders/none").want(t, http.StatusNotFound, "ORDER_NOT_FOUND")

	// The preview writes nothing and carries a request id for the confirmation.
	before := e.Snapshot()
	r := e.post("/console/brands/B1/orders/o1/preview", url.Values{"csrf": {csrf}, "type": {"DEDUCT_FROM_CONSUME_REVERSE"},
		"points": {"80"}, "reason": {"退菜"}}).want(t, http.StatusOK, `id="preview-points">80<`, `id="preview-available">130<`, "确认退回 80 积分")
	if e.Snapshot() != before {
		t.Fatal("the preview wrote")
	}
	reqID := field(t, requestRE, r.body)
	confirm := url.Values{"csrf": {csrf}, "type": {"DEDUCT_FROM_CONSUME_REVERSE"}, "points": {"80"}, "customer_id": {"C1"},
		"reason": {"退菜"}, "request_id": {reqID}}
	r = e.post("/console/brands/B1/orders/o1/reverse", confirm)
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "ok=reversed") {
		t.Fatalf("reverse: %d %s\n%s", r.status, r.location, r.body)
	}
	e.get(r.location).want(t, http.StatusOK, "退回成功", `id="reversible">70<`, `class="new"`, "小李")
	if flow := r.location[strings.Index(r.location, "flow=")+5:]; !strings.Contains(e.get(r.location).body, "流水号 "+flow) {
		t.Errorf("the notice does not name flow %s", flow)
	}
	// A crafted link cannot make the notice say anything else.
	if body := e.get("/console/brands/B1/orders/o1?ok=reversed&flow=" + url.QueryEscape("请致电13800000000")).body; strings.Contains(body, "请致电") {
		t.Error("the notice repeats text from the link")
	}
	// The same confirmation sent again (a double click, a reload) is one reversal.
	r2 := e.post("/console/brands/B1/orders/o1/reverse", confirm)
	if r2.location != r.location {
		t.Fatalf("resent form: %s, want %s", r2.location, r.location)
	}
	if got := e.Available("C1"); got != 130 {
		t.Fatalf("available %d after one reversal of 80, want 130", got)
	}
	f := e.Flows("C1")[0]
	if f.Type != ledger.DeductReverse || f.Amount != 80 || f.OperatorName != "小李" || f.AppKey != points.AdminAppKey || f.Reason != "退菜" {
		t.Fatalf("flow %+v", f)
	}
	// More than is left: refused with the ledger's code, nothing written.
	n := e.FlowCount("C1")
	e.post("/console/brands/B1/orders/o1/preview", url.Values{"csrf": {csrf}, "points": {"71"}}).
		want(t, http.StatusUnprocessableEntity, "REVERSE_EXCEEDS_CONSUMED")
	e.post("/console/brands/B1/orders/o1/reverse", url.Values{"csrf": {csrf}, "points": {"71"}, "request_id": {"x-1"}}).
		want(t, http.StatusUnprocessableEntity, "REVERSE_EXCEEDS_CONSUMED")
	e.post("/console/brands/B1/orders/o1/reverse", url.Values{"csrf": {csrf}, "points": {"abc"}, "request_id": {"x-2"}}).
		want(t, http.StatusBadRequest, "INVALID_PARAMETER")
	if e.FlowCount("C1") != n {
		t.Fatal("a refused reversal wrote")
	}
	// The rest, without a number; then nothing is left.
	r = e.post("/console/brands/B1/orders/o1/reverse", url.Values{"csrf": {csrf}, "request_id": {"x-3"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("reverse the rest: %d\n%s", r.status, r.body)
	}
	e.post("/console/brands/B1/orders/o1/reverse", url.Values{"csrf": {csrf}, "request_id": {"x-4"}}).
		want(t, http.StatusUnprocessableEntity, "ALREADY_FULLY_REVERSED")
	// A claw-back of what an order earned.
	r = e.post("/console/brands/B1/orders/g1/reverse", url.Values{"csrf": {csrf}, "type": {"EXTRA_CHARGE_REVERSE"}, "points": {"30"}, "request_id": {"x-5"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("claw-back: %d\n%s", r.status, r.body)
	}
	if got := e.Available("C1"); got != 170 {
		t.Fatalf("available %d, want 170", got)
	}
}

// TestConsole_ConfirmMovesWhatWasPreviewed: a preview of "all that is left"
// confirms that number; if the order changed in between, the confirmation
// is refused, not carried out for another amount.
func TestConsole_ConfirmMovesWhatWasPreviewed(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 200)
	e.MustConsume("C1", "o1", 150)
	r := e.post("/console/brands/B1/orders/o1/preview", url.Values{"csrf": {csrf}, "type": {"DEDUCT_FROM_CONSUME_REVERSE"}}).
		want(t, http.StatusOK, `id="preview-points">150<`, "确认退回 150 积分")
	confirm := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(r.body, -1) {
		confirm.Set(m[1], html.UnescapeString(m[2]))
	}
	if confirm.Get("points") != "150" || confirm.Get("request_id") == "" {
		t.Fatalf("the confirmation form carries %v, want points 150 and a request id", confirm)
	}
	// Another operator refunds 50 of the order meanwhile.
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "other", storetest.P(50))); err != nil {
		t.Fatal(err)
	}
	n := e.FlowCount("C1")
	e.post("/console/brands/B1/orders/o1/reverse", confirm).want(t, http.StatusUnprocessableEntity, "REVERSE_EXCEEDS_CONSUMED")
	if e.FlowCount("C1") != n {
		t.Fatal("the refused confirmation wrote")
	}
}

func TestConsole_Pages(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	e.MustConsume("C1", "o1", 30)
	if _, err := e.Svc.Operate(e.Ctx, e.Caller, points.OperateRequest{Target: storetest.B1S1, Type: points.OperateFreeze, Points: 20,
		OuterOrderID: "h1", Customer: points.CustomerLookup{CustomerID: "C1"}, OperatorID: "op", RequestID: e.ReqID()}); err != nil {
		t.Fatal(err)
	}
	e.get("/console/").want(t, http.StatusOK, "Brand 1", "查找顾客")
	r := e.get("/console/customers?q=" + url.QueryEscape("张三"))
	if r.status != http.StatusSeeOther || r.location != "/console/customers/C1" {
		t.Fatalf("one match goes to the customer: %d %s", r.status, r.location)
	}
	e.get("/console/customers?q=1380000000").want(t, http.StatusOK, "C2", "C3", "李四")
	e.get("/console/customers?q=nobody").want(t, http.StatusOK, "没有找到顾客")
	e.get("/console/customers/C1").want(t, http.StatusOK, `id="available">50<`, `id="frozen">20<`, "积分抵现", "冻结中", "释放")
	e.get("/console/customers/nobody").want(t, http.StatusNotFound, "CUSTOMER_NOT_FOUND")

	// An order that only earned points offers its claw-back.
	e.get("/console/brands/B1/orders/g1").want(t, http.StatusOK, `value="EXTRA_CHARGE_REVERSE" checked`, `id="reclaimable">100<`)
	// Release the hold from its order page.
	e.get("/console/brands/B1/orders/h1").want(t, http.StatusOK, `id="hold-remaining">20<`, `id="release"`)
	r = e.post("/console/brands/B1/holds/h1/release", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("release: %d\n%s", r.status, r.body)
	}
	e.get(r.location).want(t, http.StatusOK, "冻结已释放", "已释放")
	if f := e.Flows("C1")[0]; f.Type != ledger.Unfreeze || f.OperatorName != "小李" {
		t.Fatalf("release flow %+v", f)
	}
	// Adjust: a reason is required.
	e.post("/console/customers/C1/adjust", url.Values{"csrf": {csrf}, "points": {"5"}, "request_id": {"a1"}}).
		want(t, http.StatusBadRequest, "reason")

	// Flows across customers, and their export.
	e.get("/console/flows?brand_id=B1").want(t, http.StatusOK, "共 4 条", "导出 CSV", "积分冻结")
	e.get("/console/flows?brand_id=B1&type=NOPE").want(t, http.StatusBadRequest, "INVALID_PARAMETER")
	// The export link on the page exports what the page shows.
	page := e.get("/console/flows?brand_id=B1&type=EXTRA_CHARGE").want(t, http.StatusOK, "共 1 条")
	export := html.UnescapeString(field(t, exportRE, page.body))
	r = e.get(export)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
		strings.Count(r.body, "\n") != 2 || !strings.Contains(r.body, "积分补录") || !strings.HasPrefix(r.body, "\ufeff时间,顾客姓名,手机号,") ||
		!strings.Contains(r.body, ",张三,13800000001,C1,") {
		t.Fatalf("csv: %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}

	// The dashboard draws its charts on the server.
	e.get("/console/brands/B1").want(t, http.StatusOK, `id="chart-activity"`, `id="chart-liability"`, "<rect class=\"bar issued\"",
		"<polyline", `id="liability">70<`)
	e.get("/console/brands/B1?from=nope").want(t, http.StatusBadRequest, "INVALID_PARAMETER")
	e.get("/console/nothing").want(t, http.StatusNotFound)
	r = e.get("/console/static/console.css")
	if r.status != http.StatusOK || !strings.Contains(r.body, "svg.chart") {
		t.Fatalf("css: %d", r.status)
	}
	if csp := e.get("/console/").header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	// Sign out: the session ends for good, not only in this browser — a
	// copy of its cookie taken before is refused afterwards.
	u, _ := url.Parse(e.url + "/console/")
	kept := e.client.Jar.Cookies(u)
	r = e.post("/console/logout", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("logout %d", r.status)
	}
	if r := e.get("/console/"); r.status != http.StatusSeeOther {
		t.Fatalf("after logout: %d", r.status)
	}
	e.client.Jar.SetCookies(u, kept)
	if r := e.get("/console/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/login") {
		t.Fatalf("the cookie kept from before the sign-out: %d %s, want the sign-in page", r.status, r.location)
	}
	e.get("/console/login").want(t, http.StatusOK, "登录")
	// Signing in again starts a new session.
	e.signIn()
	e.get("/console/").want(t, http.StatusOK)
}

// The hold card says how the hold ended and when — verified, released by
// an operator, released on timeout — instead of the timeout it no longer
// has; the customer's holds table shows a timeout only for active holds.
func TestConsole_HoldCard(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	c1 := points.CustomerLookup{CustomerID: "C1"}
	operate := func(typ, n int64, order string) {
		t.Helper()
		if _, err := e.Svc.Operate(e.Ctx, e.Caller, points.OperateRequest{Target: storetest.B1S1, Type: typ, Points: n,
			OuterOrderID: order, Customer: c1, OperatorID: "op", RequestID: e.ReqID()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		operate(points.OperateFreeze, 20, h)
	}
	timeout := fmtTime(e.Clock.Now().Add(ledger.DefaultSettings().HoldTimeout))
	e.get("/console/brands/B1/orders/h1").want(t, http.StatusOK, "超时 "+timeout+" 自动释放。", `id="release"`)

	e.Clock.Advance(time.Minute)
	released := fmtTime(e.Clock.Now())
	if r := e.post("/console/brands/B1/holds/h1/release", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("release: %d\n%s", r.status, r.body)
	}
	e.Clock.Advance(time.Minute)
	verified := fmtTime(e.Clock.Now())
	operate(points.OperateVerify, 15, "h2")
	for order, want := range map[string]string{
		"h1": released + " 释放 20 积分 (操作员释放冻结 · 小李)。",
		"h2": verified + " 核销 15 积分 (操作员 op), 其余 5 积分同时释放。",
	} {
		r := e.get("/console/brands/B1/orders/"+order).want(t, http.StatusOK, `<span id="hold-end">`+want+"</span>")
		if strings.Contains(r.body, "自动释放") || strings.Contains(r.body, `id="release"`) {
			t.Errorf("%s: the card of an ended hold still speaks of its timeout or offers a release\n%s", order, r.body)
		}
	}
	r := e.get("/console/customers/C1").want(t, http.StatusOK, "已释放", "已核销", "冻结中")
	if n := strings.Count(r.body, timeout); n != 1 {
		t.Errorf("the holds table shows the timeout %s %d times, want once (the active hold only)", timeout, n)
	}

	e.Clock.Advance(ledger.DefaultSettings().HoldTimeout)
	swept := fmtTime(e.Clock.Now())
	if _, err := e.Svc.Sweep(e.Ctx); err != nil {
		t.Fatal(err)
	}
	e.get("/console/brands/B1/orders/h3").want(t, http.StatusOK, `<span id="hold-end">`+swept+" 释放 20 积分 (冻结超时自动释放)。</span>")
}

func TestCharts(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{{0, 5}, {3, 5}, {7, 10}, {10, 10}, {11, 20}, {4630, 5000}, {5001, 10000}, {120, 200}} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
	for in, want := range map[int64]string{999: "999", 12000: "1.2万", 10000: "1万", 300_000_000: "3亿"} {
		if got := compact(in); got != want {
			t.Errorf("compact(%d) = %q, want %q", in, got, want)
		}
	}
	if got := fmtYuan(123456789); got != "¥1,234,567.89" {
		t.Errorf("fmtYuan %q", got)
	}
	tt := backoffice.Totals{Days: []backoffice.DayTotal{{Day: "2026-03-01", Issued: 100, Liability: 100}, {Day: "2026-03-02", Spent: 40, Liability: 60}}}
	c := buildCharts(tt)
	if len(c.Activity.Bars) != 2 || c.Activity.Bars[0].H <= c.Activity.Bars[1].H || c.Liability.Line == "" || len(c.Liability.Dots) != 2 {
		t.Fatalf("charts %+v", c)
	}
}

// TestConsole_ControlCharacters: a form field holding NUL (which
// PostgreSQL refuses, where SQLite stored it) or another control
// character is refused naming the field, and nothing is written; an
// operator name with one signs in as no one (no operator may have one).
func TestConsole_ControlCharacters(t *testing.T) {
	e := newConsoleEnv(t)
	e.post("/console/login", url.Values{"name": {"小\x00李"}, "password": {e.lead.Password}}).want(t, http.StatusUnauthorized, "姓名或密码不正确")
	if r := e.get("/console/"); r.status != http.StatusSeeOther {
		t.Fatalf("an operator name with a NUL signed in: %d", r.status)
	}
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	before := e.Snapshot()
	for name, form := range map[string]url.Values{
		"原因":  {"points": {"5"}, "reason": {"补\x00偿"}, "request_id": {"a1"}},
		"请求号": {"points": {"5"}, "reason": {"补偿"}, "request_id": {"a\x1b2"}},
	} {
		form.Set("csrf", csrf)
		e.post("/console/customers/C1/adjust", form).want(t, http.StatusBadRequest, name+": ", `data-code="INVALID_PARAMETER"`)
	}
	r := e.get("/console/customers/C1%00").want(t, http.StatusBadRequest, "顾客: ", `data-code="INVALID_PARAMETER"`)
	if strings.Contains(r.body, "customer_id:") {
		t.Fatalf("the error names the wire field:\n%s", r.body)
	}
	if got := e.Snapshot(); got != before {
		t.Fatalf("refused forms wrote:\n%s\nwas:\n%s", got, before)
	}
}

// editForm reads the customer page's edit form: its hidden fields (csrf,
// request_id, orig_…) and the values shown, as a browser would post them.
func (e *consoleEnv) editForm(id string) url.Values {
	e.t.Helper()
	page := e.get("/console/customers/"+id).want(e.t, http.StatusOK, `id="edit-form"`).body
	return formValues(e.t, page)
}

var (
	textInputRE = regexp.MustCompile(`<input type="[a-z]+"(?: inputmode="[a-z]+")? name="([a-z_]+)" id="edit-[a-z]+"[^>]* value="([^"]*)"`)
	selectedRE  = regexp.MustCompile(`(?s)<select name="([a-z_]+)" id="edit-[a-z]+".*?<option value="([^"]*)" selected>`)
	textareaRE  = regexp.MustCompile(`(?s)<textarea name="([a-z_]+)" id="edit-[a-z]+"[^>]*>(.*?)</textarea>`)
)

// formValues reads the edit form of a customer page.
func formValues(t *testing.T, page string) url.Values {
	t.Helper()
	start := strings.Index(page, `id="edit-form"`)
	if start < 0 {
		t.Fatalf("no edit form\n%.2000s", page)
	}
	form := page[start:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, re := range []*regexp.Regexp{hiddenRE, textInputRE, selectedRE, textareaRE} {
		for _, m := range re.FindAllStringSubmatch(form, -1) {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	// The form's own csrf is the page's.
	v.Set("csrf", field(t, csrfRE, page))
	return v
}

func TestConsole_EditCustomer(t *testing.T) {
	e := newConsoleEnv(t)
	e.signIn()
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{
		Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"},
			Settings: ledger.DefaultSettings()},
		Shops: []ledger.Shop{{ID: "S1", Name: "西湖店", OutIDs: map[string]string{"KRY": "kry-s1"}}},
		Rule: &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearNever}, Deduction: []ledger.DeductionRule{
			{LevelID: "L1", DeductedPoint: 100, ConsumeMoney: 100, Enable: true},
			{LevelID: "L9", DeductedPoint: 100, ConsumeMoney: 100, Enable: false}}},
	}}}); err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g1", 100)
	form := e.editForm("C1")
	if form.Get("name") != "张三" || form.Get("orig_name") != "张三" || form.Get("level_id") != "L1" ||
		form.Get("customer_type") != "1" || form.Get("gender") != "" || !strings.HasPrefix(form.Get("request_id"), "console-") {
		t.Fatalf("the form as opened: %v", form)
	}
	e.get("/console/customers/C1").want(t, http.StatusOK, `<datalist id="levels"><option value="L1"><option value="L9"></datalist>`,
		"姓名", "手机号", "等级", "性别", "生日", "邮箱", "地址", "备注", "顾客类型")

	// Meanwhile a POS changes the mobile: the operator's form, opened
	// before, does not put the old one back.
	if _, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, points.UpdateCustomerRequest{Target: points.Target{BrandID: "B1"},
		CustomerID: "C1", Mobile: storetest.S("13911112222"), RequestID: e.ReqID()}); err != nil {
		t.Fatal(err)
	}

	// A refused submission keeps what was typed and names the field.
	form.Set("name", "张三丰")
	form.Set("level_id", "L9")
	form.Set("gender", "1")
	form.Set("birthday", "1990-02-30")
	form.Set("remark", "常客\r\n爱吃辣")
	r := e.post("/console/customers/C1/edit", form).want(t, http.StatusBadRequest, "生日: ", `data-code="INVALID_PARAMETER"`,
		`value="张三丰"`, `value="1990-02-30" class="bad" aria-invalid="true"`, ">常客\n爱吃辣</textarea>")
	again := formValues(t, r.body)
	for _, k := range []string{"name", "level_id", "gender", "birthday", "request_id", "orig_name", "orig_mobile"} {
		if again.Get(k) != form.Get(k) {
			t.Fatalf("after the refusal %s is %q, was posted as %q", k, again.Get(k), form.Get(k))
		}
	}
	if c := e.mustCustomer("C1"); c.Name != "张三" || c.LevelID != "L1" {
		t.Fatalf("a refused edit stored %+v", c)
	}
	// Without its CSRF token: refused, nothing stored.
	forged := maps.Clone(again)
	forged.Del("csrf")
	forged.Set("birthday", "1990-05-01")
	e.post("/console/customers/C1/edit", forged).want(t, http.StatusForbidden, "CSRF")

	// Corrected, the same form (same request id) saves.
	again.Set("birthday", "1990-05-01")
	r = e.post("/console/customers/C1/edit", again)
	if r.status != http.StatusSeeOther || r.location != "/console/customers/C1?ok=updated" {
		t.Fatalf("save: %d %s\n%.2000s", r.status, r.location, r.body)
	}
	e.get(r.location).want(t, http.StatusOK, "顾客资料已保存", "张三丰", "等级 L9")
	c := e.mustCustomer("C1")
	if c.Name != "张三丰" || c.LevelID != "L9" || c.Gender != "1" || c.Birthday != "1990-05-01" || c.Remark != "常客\n爱吃辣" ||
		c.Mobile != "13911112222" || c.CustomerType != 1 {
		t.Fatalf("stored %+v", c)
	}
	// The level decides the next payment.
	_, err := e.Svc.Consume(e.Ctx, e.Caller, e.Order("o1", 10))
	storetest.WantCode(t, err, ledger.CodeDeductionDisabled)
	// Sent twice (a double click): saved once.
	e.post("/console/customers/C1/edit", again).want(t, http.StatusSeeOther)

	// A field cleared is removed; an address stored on two lines, shown in
	// a one-line input, is not changed by saving another field.
	e.MustApplyCustomers(ledger.Customer{ID: "C2", BrandID: "B1", Name: "李四", Mobile: "13800000002", LevelID: "L1",
		Address: "杭州市\n西湖区", Email: "ls@example.com"})
	form = e.editForm("C2")
	form.Set("address", strings.ReplaceAll(form.Get("address"), "\n", ""))               // what a text input sends
	form.Set("orig_address", strings.ReplaceAll(form.Get("orig_address"), "\n", "\r\n")) // a browser's line breaks
	form.Set("email", "")
	form.Set("customer_type", "0")
	e.post("/console/customers/C2/edit", form).want(t, http.StatusSeeOther)
	if c := e.mustCustomer("C2"); c.Address != "杭州市\n西湖区" || c.Email != "" || c.CustomerType != 0 || c.Name != "李四" {
		t.Fatalf("stored %+v", c)
	}
	// A customer type that is no number: named in Chinese.
	form = e.editForm("C2")
	form.Set("customer_type", "x")
	e.post("/console/customers/C2/edit", form).want(t, http.StatusBadRequest, "顾客类型: 应为", `id="edit-type" class="bad" aria-invalid="true"`)

	// One event per saved change: the POS's, the operator's two.
	var n int
	for _, ev := range storetest.AllEvents(t, e.Ctx, e.Svc, points.EventQuery{Types: []string{points.EventCustomerUpdated}}) {
		if ev.Subject == "C1" || ev.Subject == "C2" {
			n++
		}
	}
	if n != 4 { // C1: the POS's mobile, the operator's edit; C2: applied, then edited
		t.Fatalf("%d customer.updated events, want 4", n)
	}
}

func (e *consoleEnv) mustCustomer(id string) ledger.Customer {
	e.t.Helper()
	c, err := e.Store.Customer(e.Ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
