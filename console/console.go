// Package console is the operators' web console at /console/, served by
// the jifen binary itself: server-rendered html/template pages and
// embedded static files, in Chinese, no build step. Named operators sign
// in with their name and password (the bootstrap admin token signs in as
// the built-in operator bootstrap), each with the role, brands and points
// limit package operator gives them. They find a customer, read their
// balance, lots and flows, edit their record, open an order, preview and
// perform a reversal, adjust points, release holds, approve or reject
// another operator's request above its brand's threshold, follow a
// brand's daily totals on charts drawn as SVG by the server, edit the
// tenant's brands, shops, rules and apps, watch webhooks deliver (and
// redeliver what failed), manage operators and read the audit log.
//
// It acts through backoffice.Office and operator.Service, like the admin
// JSON API, records every action in the audit log as the API does, and
// shows errors in plain Chinese with the API's codes (admin.ProblemOf).
package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"jifen/admin"
	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/bodylimit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/webhook"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves /console/.
type Console struct {
	admin  *backoffice.Office
	ops    *operator.Service
	log    *slog.Logger
	pages  map[string]*template.Template
	mux    *http.ServeMux
	logins *admin.Throttle // failed sign-ins per client, against guessing the token
	hooks  *webhook.Admin  // nil: webhooks are not served
	// approvals is four eyes; nil: not served, every write at once.
	approvals *approval.Service
	// audits is the log of the service's store; nil if it keeps none,
	// and then every action is answered 500, as when the log cannot be
	// written.
	audits *audit.Log
}

// New returns the console over a, signing operators in through ops.
// Failed sign-ins are counted per client by th (nil: a throttle of its
// own), besides each operator's own count (operator.Service.SignIn).
func New(a *backoffice.Office, ops *operator.Service, log *slog.Logger, th *admin.Throttle) *Console {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if th == nil {
		th = admin.NewThrottle(time.Second, 10)
	}
	c := &Console{admin: a, ops: ops, log: log, pages: parsePages(),
		mux: http.NewServeMux(), logins: th}
	// The log is listed through the Office's reader when it keeps one
	// (read replicas do, appending to the primary).
	if s, ok := a.Reader().(audit.Store); ok {
		c.audits = audit.New(s, a.Service().Now)
	} else if s, ok := a.Service().Store().(audit.Store); ok {
		c.audits = audit.New(s, a.Service().Now)
	}
	c.routes()
	return c
}

// routes is the console's one table of paths.
func (c *Console) routes() {
	m := c.mux
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /console/login", c.loginPage)
	m.HandleFunc("POST /console/login", c.login)
	m.HandleFunc("POST /console/logout", c.signedIn(operator.Self, c.logout))
	m.HandleFunc("GET /console/{$}", c.signedIn(operator.Read, c.home))
	m.HandleFunc("GET /console/customers", c.signedIn(operator.Read, c.searchCustomers))
	m.HandleFunc("GET /console/customers/{id}", c.signedIn(operator.Read, c.customer))
	m.HandleFunc("POST /console/customers/{id}/adjust", c.signedIn(operator.Adjust, c.adjust))
	m.HandleFunc("POST /console/customers/{id}/edit", c.signedIn(operator.EditCustomer, c.editCustomer))
	m.HandleFunc("GET /console/orders", c.signedIn(operator.Read, c.findOrder))
	m.HandleFunc("GET /console/brands/{brand}/orders/{order}", c.signedIn(operator.Read, c.order))
	m.HandleFunc("POST /console/brands/{brand}/orders/{order}/preview", c.signedIn(operator.Read, c.preview))
	m.HandleFunc("POST /console/brands/{brand}/orders/{order}/reverse", c.signedIn(operator.Refund, c.reverse))
	m.HandleFunc("POST /console/brands/{brand}/holds/{order}/release", c.signedIn(operator.ReleaseHold, c.releaseHold))
	m.HandleFunc("GET /console/flows", c.signedIn(operator.Read, c.flows))
	m.HandleFunc("GET /console/flows.csv", c.signedIn(operator.Read, c.flowsCSV))
	m.HandleFunc("GET /console/brands/{brand}", c.signedIn(operator.Read, c.dashboard))
	m.HandleFunc("GET /console/brands/{brand}/flows/{flow}", c.signedIn(operator.Read, c.flow))
	m.HandleFunc("GET /console/webhooks", c.signedIn(operator.Webhooks, c.webhooks))
	m.HandleFunc("GET /console/webhooks/{id}", c.signedIn(operator.Webhooks, c.webhook))
	m.HandleFunc("POST /console/webhooks/{id}/deliveries/{pos}/redeliver", c.signedIn(operator.Webhooks, c.redeliver))
	m.HandleFunc("POST /console/webhooks/{id}/redeliver-failed", c.signedIn(operator.Webhooks, c.redeliverFailed))
	m.HandleFunc("POST /console/webhooks/{id}/enable", c.signedIn(operator.Webhooks, c.enableWebhook))
	m.HandleFunc("GET /console/approvals", c.signedIn(operator.Approve, c.approvalsPage))
	m.HandleFunc("POST /console/approvals/{id}/{action}", c.signedIn(operator.Approve, c.decide))
	m.HandleFunc("GET /console/password", c.signedIn(operator.Self, c.passwordPage))
	m.HandleFunc("POST /console/password", c.signedIn(operator.Self, c.changePassword))
	m.HandleFunc("GET /console/operators", c.signedIn(operator.Operators, c.operators))
	m.HandleFunc("POST /console/operators", c.signedIn(operator.Operators, c.addOperator))
	m.HandleFunc("POST /console/operators/{id}/{action}", c.signedIn(operator.Operators, c.operatorAction))
	m.HandleFunc("GET /console/audit", c.signedIn(operator.Audit, c.auditLog))
	// Tenant pages (tenant.go): reads for viewers of the brand, writes
	// for its admins; the apps span every brand.
	m.HandleFunc("GET /console/brands/{brand}/settings", c.signedIn(operator.Read, c.brandSettings))
	m.HandleFunc("POST /console/brands/{brand}/settings", c.signedIn(operator.Tenant, c.saveBrandSettings))
	m.HandleFunc("POST /console/brands/{brand}/shops", c.signedIn(operator.Tenant, c.saveShop))
	m.HandleFunc("GET /console/brands/{brand}/rule", c.signedIn(operator.Read, c.rulePage))
	m.HandleFunc("POST /console/brands/{brand}/rule/preview", c.signedIn(operator.Read, c.previewRule))
	m.HandleFunc("POST /console/brands/{brand}/rule", c.signedIn(operator.Tenant, c.saveRule))
	m.HandleFunc("GET /console/apps", c.signedIn(operator.Tenant, c.everyBrand(c.apps)))
	m.HandleFunc("POST /console/apps", c.signedIn(operator.Tenant, c.everyBrand(c.saveApp)))
	m.HandleFunc("POST /console/apps/{key}/rotate", c.signedIn(operator.Tenant, c.everyBrand(c.rotateSecret)))
	m.HandleFunc("GET /console/brands/{brand}/totals.csv", c.signedIn(operator.Read, c.totalsCSV))
}

// ServeHTTP sets the headers every page shares and routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/console/static/") {
		h.Set("Cache-Control", "no-store")
	}
	if _, pattern := c.mux.Handler(r); pattern == "" {
		c.render(w, r, http.StatusNotFound, "error", page{Title: "页面不存在", Error: "页面不存在: " + r.URL.Path})
		return
	}
	c.mux.ServeHTTP(w, r)
}

// request is what a signed-in handler gets besides the request.
type request struct {
	session session
	who     operator.Principal
	csrf    string
	pending int // approvals the operator may decide (the navigation's count)
}

// actor is who the request's writes are recorded under: the signed-in
// operator.
func (req request) actor() points.Actor {
	return points.Actor{ID: req.who.OperatorID, Name: req.who.Name}
}

// signedIn lets through requests with a valid session (and, for posts,
// the session's CSRF token) of an operator with permission perm — of
// every brand for the pages that span them (wide), and of the brand a
// path names; others go to the sign-in page, or are refused (403).
func (c *Console) signedIn(perm operator.Permission, h func(http.ResponseWriter, *http.Request, request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, who, ok, err := c.liveSession(r)
		if err != nil {
			c.fail(w, r, request{}, "error", "暂时无法核对登录", nil, err)
			return
		}
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.render(w, r, http.StatusUnauthorized, "login", page{Title: "登录", Error: "登录已失效, 请重新登录"})
			return
		}
		key, err := c.ops.SessionKey(r.Context())
		if err != nil {
			c.fail(w, r, request{}, "error", "暂时无法核对登录", nil, err)
			return
		}
		req := request{session: s, who: who, csrf: csrfToken(key, s)}
		// A form's post, and the page it redirects to (?ok=), read the
		// primary database, not a replica that may lag it: the operator
		// sees what they just did.
		if r.Method == http.MethodPost || r.URL.Query().Has("ok") {
			r = r.WithContext(backoffice.ReadPrimary(r.Context()))
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				c.fail(w, r, req, "error", "请求未能读取", nil, formError(err))
				return
			}
			if !checkCSRF(r, key, s) {
				c.render(w, r, http.StatusForbidden, "error", page{Title: "请求被拒绝", Operator: who.Name, CSRF: req.csrf,
					Error: "表单已过期或来源不明 (CSRF 校验失败), 请返回页面重新提交"})
				return
			}
		}
		err = who.Need(perm)
		if err == nil && wide(perm) {
			err = who.NeedAllBrands()
		}
		if b := r.PathValue("brand"); err == nil && b != "" {
			err = who.NeedBrand(b)
		}
		if err != nil {
			c.fail(w, r, req, "error", "无权操作", nil, err)
			return
		}
		if r.Method == http.MethodGet {
			req.pending = c.pendingFor(r, who)
		}
		h(w, r.WithContext(operator.WithPrincipal(r.Context(), who)), req)
	}
}

// everyBrand lets only an operator of every brand through to h: the apps
// span the brands.
func (c *Console) everyBrand(h func(http.ResponseWriter, *http.Request, request)) func(http.ResponseWriter, *http.Request, request) {
	return func(w http.ResponseWriter, r *http.Request, req request) {
		if err := req.who.NeedAllBrands(); err != nil {
			c.fail(w, r, req, "error", "无权操作", nil, err)
			return
		}
		h(w, r, req)
	}
}

// formError is the error of a posted form that could not be read. A body
// the server would not hold (package bodylimit: not received in time, or
// no memory for it now) keeps its error, which admin.ProblemOf answers;
// anything else is the form's fault.
func formError(err error) error {
	if errors.Is(err, bodylimit.ErrTimeout) || errors.Is(err, bodylimit.ErrBusy) {
		return err
	}
	return ledger.Invalidf("body", "表单无法读取: %v", err)
}

// page is what every template gets.
type page struct {
	Title    string
	Operator string          // "" on the sign-in page
	Can      map[string]bool // what the operator may do: only those actions are shown
	CSRF     string
	Error    string // an error to show above the content
	Code     string // the API's code of Error (admin.ProblemOf)
	Notice   string // a success to show above the content
	Pending  int    // approvals waiting for the operator (the navigation's count)
	Data     any
	Names    map[string]ledger.Customer // the customers the page names, by id
}

func (c *Console) page(req request, title string, data any) page {
	return page{Title: title, Operator: req.who.Name, Can: can(req.who), CSRF: req.csrf, Pending: req.pending, Data: data}
}

// who is the signed-in operator of r (signedIn put it there).
func (c *Console) who(r *http.Request) operator.Principal {
	p, _ := operator.PrincipalFrom(r.Context())
	return p
}

// customerBrand refuses, before a write, a customer whose brand req's
// operator does not act in.
func (c *Console) customerBrand(r *http.Request, req request, id string) error {
	b, err := c.admin.CustomerBrand(r.Context(), id)
	if err != nil {
		return err
	}
	return req.who.NeedBrand(b)
}

// can is what p may do, by permission (of every brand for the pages
// that span them).
func can(p operator.Principal) map[string]bool {
	m := map[string]bool{}
	for _, perm := range []operator.Permission{operator.Read, operator.Refund, operator.ReleaseHold, operator.Adjust,
		operator.EditCustomer, operator.Approve, operator.Tenant, operator.Webhooks, operator.Operators, operator.Audit} {
		m[string(perm)] = p.Allows(perm) && (p.AllBrands() || !wide(perm))
	}
	m["apps"] = m[string(operator.Tenant)] && p.AllBrands() // the apps span the brands
	return m
}

// wide reports whether the pages of perm span every brand (then only an
// operator of every brand may see them): the webhooks, the operators and
// the audit log.
func wide(perm operator.Permission) bool {
	return perm == operator.Webhooks || perm == operator.Operators || perm == operator.Audit
}

// render executes a page template into a buffer first, so a failure is an
// error page rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console template", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders err on page name with the data it could gather, using the
// API's table for the status and code.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, req request, name, title string, data any, err error) {
	p := c.problem(r, err)
	pg := c.page(req, title, data)
	pg.Error, pg.Code = problemText(p), p.Code
	c.render(w, r, p.Status, name, pg)
}

// problem is err as the API's table answers it; an internal error is
// logged with the request id the operator is shown.
func (c *Console) problem(r *http.Request, err error) admin.Problem {
	id := c.admin.Service().NewID()
	p := admin.ProblemOf(err, id)
	if p.Internal {
		c.log.Error("console", "method", r.Method, "path", r.URL.Path, "request_id", id, "error", err)
	}
	return p
}

// parsePages parses each page template with the layout.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"time":        fmtTime,
		"date":        func(t time.Time) string { return fmtTimeLayout(t, "2006-01-02") },
		"isDate":      isDate,
		"typeName":    func(t ledger.FlowType) string { return t.Description() },
		"signed":      func(n int64) string { return fmt.Sprintf("%+d", n) },
		"yuan":        fmtYuan,
		"liability":   fmtLiability,
		"add":         func(a, b int64) int64 { return a + b },
		"int64":       func(i int) int64 { return int64(i) },
		"neg":         func(n int64) int64 { return -n },
		"f1":          func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"sub":         func(a, b float64) float64 { return a - b },
		"add2":        func(a, b float64) float64 { return a + b },
		"mul":         func(a, b float64) float64 { return a * b },
		"short":       func(id string) string { return id[max(0, len(id)-8):] },
		"dict":        dict,
		"reclaimable": func(o ledger.Order) int64 { return o.Granted - o.ClawedBack },
		"customerURL": func(id string) string { return "/console/customers/" + url.PathEscape(id) },
		"brandURL":    func(id string) string { return "/console/brands/" + url.PathEscape(id) },
		"settingsURL": brandSettingsPath,
		"ruleURL":     rulePath,
		"yuanText":    yuanText,
		"levelName":   levelName,
		"clearText":   clearText,
		"orderURL":    orderPath,
		"holdURL": func(brand, order string) string {
			return "/console/brands/" + url.PathEscape(brand) + "/holds/" + url.PathEscape(order) + "/release"
		},
		"policyName": policyName,
		"holdStatus": func(s string) string { return holdStatusNames[s] },
		"figure":     func(t ledger.FlowType) string { return figures[t] },
		"flowURL":    flowPath,
		"webhookURL": webhookPath,
		"delivery":   deliveryState,
		"ms": func(d time.Duration) string {
			return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
		},
		"list":      func(s ...string) []string { return s },
		"join":      strings.Join,
		"bad":       badAttr,
		"stateName": func(s string) string { return stateNames[s] },
		"count": func(n int) string {
			if n > webhook.CountCap {
				return strconv.Itoa(webhook.CountCap) + "+"
			}
			return strconv.Itoa(n)
		},
	}
	entries, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_partials.html", e))
	}
	return pages
}

// isDate reports whether a stored birthday is one a date input can show:
// another is shown as text, so that saving the form does not clear it.
func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return s == "" || err == nil
}

func fmtTime(t time.Time) string { return fmtTimeLayout(t, "2006-01-02 15:04:05") }

func fmtTimeLayout(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.In(ledger.Shanghai).Format(layout)
}

// fmtYuan writes fen as ¥1,234.56.
func fmtYuan(fen int64) string {
	sign, u := "", uint64(fen)
	if fen < 0 {
		sign, u = "-", -u // two's complement: right for math.MinInt64 too
	}
	whole := fmt.Sprint(u / 100)
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return fmt.Sprintf("%s¥%s.%02d", sign, b.String(), u%100)
}

// dict builds a map from key, value pairs, to pass several values to a
// template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// policyName is a refund-of-expired policy in Chinese.
func policyName(p string) string {
	switch p {
	case ledger.RefundGrace, "":
		return "宽限 (退回后可再用一段时间)"
	case ledger.RefundForfeit:
		return "作废 (退回后立即过期)"
	case ledger.RefundReissue:
		return "重新发放 (新批次, 重新计算到期)"
	}
	return p
}

var holdStatusNames = map[string]string{ledger.HoldActive: "冻结中", ledger.HoldVerified: "已核销", ledger.HoldReleased: "已释放"}

// figures says which figure of an order a flow counts toward.
var figures = map[ledger.FlowType]string{
	ledger.DeductFromConsume: "已消费", ledger.ExtraConsume: "已消费", ledger.Verify: "已消费",
	ledger.DeductReverse: "已退回", ledger.ExtraCharge: "已发放", ledger.Charge: "已发放",
	ledger.ExtraChargeReverse: "已收回", ledger.Freeze: "冻结", ledger.Unfreeze: "冻结",
}
