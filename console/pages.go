package console

import (
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/admin"
	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
)

// Sign-in.

type loginData struct{ Next string }

// safeNext keeps a post-sign-in destination inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/console/"
	}
	return next
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, _, ok, _ := c.liveSession(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", page{Title: "登录", Data: loginData{Next: next}})
}

// login checks an operator's name and password and starts a session for
// the operator. The password is posted in the form body, never put in a
// URL. The bootstrap admin token signs in with the name "bootstrap".
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p := admin.ProblemOf(formError(err), "")
		c.render(w, r, p.Status, "login", page{Title: "登录", Error: problemText(p), Data: loginData{Next: "/console/"}})
		return
	}
	next := safeNext(r.PostFormValue("next"))
	fail := func(status int, msg string) {
		c.render(w, r, status, "login", page{Title: "登录", Error: msg, Data: loginData{Next: next}})
	}
	if o := r.Header.Get("Origin"); o != "" {
		if _, host, ok := strings.Cut(o, "://"); !ok || host != r.Host {
			fail(http.StatusForbidden, "来源不明的登录请求")
			return
		}
	}
	// A form without a password (sent empty) is no guess, as a request
	// without an Authorization header is none for the API: it is not
	// counted against the client's allowance (admin.Throttle).
	name, password := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password")
	if name == "" || password == "" {
		fail(http.StatusUnauthorized, "请输入操作员姓名与密码")
		return
	}
	done, allowed := c.logins.Begin(r)
	if !allowed {
		fail(http.StatusTooManyRequests, "登录失败次数过多, 请稍后再试")
		return
	}
	who, err := c.ops.SignIn(r.Context(), name, password)
	done(err == nil || !errors.Is(err, operator.ErrBadCredentials) && !errors.Is(err, operator.ErrLocked))
	if err != nil {
		// The entry names the name tried, as far as it may be stored; it
		// has no operator id.
		tried := request{who: operator.Principal{Name: name}}
		if points.CheckOperator(name) != nil {
			tried.who.Name = ""
		}
		// A refusal is the outcome the entry names; any other error is
		// the entry's error.
		e := audit.Entry{Action: audit.SignInFailed, Request: audit.JSON(map[string]string{"name": tried.who.Name})}
		failed := err
		for _, o := range []struct {
			err     error
			outcome string
		}{{operator.ErrBadCredentials, "UNAUTHORIZED"}, {operator.ErrLocked, "LOCKED"}, {operator.ErrDisabled, "DISABLED"}} {
			if errors.Is(err, o.err) {
				e.Outcome, e.Message, failed = o.outcome, err.Error(), nil
			}
		}
		if !c.audited(w, r, tried, e, failed) {
			return
		}
	}
	switch {
	case errors.Is(err, operator.ErrBadCredentials):
		c.log.Warn("console sign-in refused", "operator", name, "remote", r.RemoteAddr)
		fail(http.StatusUnauthorized, "操作员姓名或密码不正确")
		return
	case errors.Is(err, operator.ErrLocked):
		c.log.Warn("console sign-in refused: locked", "operator", name, "remote", r.RemoteAddr)
		msg := fmt.Sprintf("连续 %d 次密码错误, 账号已锁定 %d 分钟", operator.MaxFailedSignIns, int(operator.LockFor.Minutes()))
		if le, ok := errors.AsType[*operator.LockedError](err); ok {
			msg = fmt.Sprintf("连续 %d 次密码错误, 账号已锁定至 %s (北京时间), 届时可再试, 或请管理员重置密码",
				operator.MaxFailedSignIns, fmtTime(le.Until))
		}
		fail(http.StatusTooManyRequests, msg)
		return
	case errors.Is(err, operator.ErrDisabled):
		fail(http.StatusForbidden, "该操作员已停用")
		return
	case err != nil:
		p := c.problem(r, err)
		fail(p.Status, problemText(p))
		return
	}
	key, err := c.ops.SessionKey(r.Context())
	if err != nil {
		p := c.problem(r, err)
		fail(p.Status, problemText(p))
		return
	}
	if !c.audited(w, r, request{who: who}, audit.Entry{Action: audit.SignIn}, nil) {
		return
	}
	c.newSession(w, r, key, who.OperatorID)
	c.log.Info("console sign-in", "operator", who.Name, "operator_id", who.OperatorID, "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, req request) {
	// Ended for every server, not only in this browser: a copy of the
	// cookie is refused from now on.
	err := c.admin.EndSession(r.Context(), req.session.Nonce, time.Unix(req.session.Expires, 0))
	if !c.audited(w, r, req, audit.Entry{Action: audit.SignOut}, err) {
		return
	}
	if err != nil {
		c.fail(w, r, req, "error", "退出失败", nil, err)
		return
	}
	endSession(w, r)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// Home.

type homeData struct{ Brands []ledger.Brand }

// brands are the brands req's operator acts in.
func (c *Console) brands(r *http.Request, req request) ([]ledger.Brand, error) {
	bs, err := c.admin.Brands(r.Context())
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(bs, func(b ledger.Brand) bool { return !req.who.CanBrand(b.ID) }), nil
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, req request) {
	bs, err := c.brands(r, req)
	if err != nil {
		c.fail(w, r, req, "home", "首页", homeData{}, err)
		return
	}
	c.render(w, r, http.StatusOK, "home", c.page(req, "首页", homeData{Brands: bs}))
}

// Customers.

type searchData struct {
	Q, BrandID string
	Brands     []ledger.Brand
	Customers  []ledger.Customer
	Searched   bool
	More       bool // more customers match than are shown
}

// searchShown is how many customers a search shows; one more is read to
// tell whether there are more.
const searchShown = 100

func (c *Console) searchCustomers(w http.ResponseWriter, r *http.Request, req request) {
	d := searchData{Q: strings.TrimSpace(r.URL.Query().Get("q")), BrandID: r.URL.Query().Get("brand_id")}
	var err error
	if d.Brands, err = c.brands(r, req); err != nil {
		c.fail(w, r, req, "customers", "查找顾客", d, err)
		return
	}
	if d.Q == "" {
		c.render(w, r, http.StatusOK, "customers", c.page(req, "查找顾客", d))
		return
	}
	d.Searched = true
	if d.Customers, err = admin.SearchCustomers(r.Context(), c.admin, req.who, d.BrandID, d.Q, searchShown+1); err != nil {
		c.fail(w, r, req, "customers", "查找顾客", d, err)
		return
	}
	if len(d.Customers) > searchShown {
		d.Customers, d.More = d.Customers[:searchShown], true
	}
	if len(d.Customers) == 1 {
		http.Redirect(w, r, "/console/customers/"+url.PathEscape(d.Customers[0].ID), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "customers", c.page(req, "查找顾客", d))
}

type customerData struct {
	View      backoffice.CustomerView
	Flows     points.FlowPage
	RequestID string // for the adjustment form: sending it twice adjusts once
	Found     bool
	Flow      string // the flow just written, highlighted
	Edit      customerForm
	Adjust    adjustForm
}

// adjustForm is the adjustment form as typed, shown again when refused.
type adjustForm struct{ Points, Reason, Bad string }

// customerFields are the fields of a customer an operator edits, in the
// form's order, with their Chinese labels.
var customerFields = []struct{ Name, Label string }{
	{"name", "姓名"}, {"mobile", "手机号"}, {"level_id", "等级"}, {"customer_type", "顾客类型"},
	{"gender", "性别"}, {"birthday", "生日"}, {"email", "邮箱"}, {"address", "地址"}, {"remark", "备注"},
}

// customerForm is the edit form of a customer's record: the values shown
// (as stored, or as typed when a submission failed) and those the form
// was opened with. Only a field whose value differs from the one it was
// opened with is sent, so an edit does not put back a field another
// client changed meanwhile.
type customerForm struct {
	Values    map[string]string
	Orig      map[string]string
	RequestID string // sending the form twice changes once
	Field     string // the field the last submission was refused for
}

func newCustomerForm(c ledger.Customer, requestID string) customerForm {
	v := map[string]string{"name": c.Name, "mobile": c.Mobile, "level_id": c.LevelID,
		"customer_type": strconv.Itoa(c.CustomerType), "gender": c.Gender, "birthday": c.Birthday, "email": c.Email,
		"address": c.Address, "remark": c.Remark}
	return customerForm{Values: v, Orig: maps.Clone(v), RequestID: requestID}
}

// readCustomerForm reads the posted form. Browsers send line breaks as
// CR LF: they are read back as the LF they were shown as.
func readCustomerForm(r *http.Request) customerForm {
	f := customerForm{Values: map[string]string{}, Orig: map[string]string{}, RequestID: r.PostFormValue("request_id")}
	for _, fd := range customerFields {
		f.Values[fd.Name] = strings.ReplaceAll(r.PostFormValue(fd.Name), "\r\n", "\n")
		f.Orig[fd.Name] = strings.ReplaceAll(r.PostFormValue("orig_"+fd.Name), "\r\n", "\n")
	}
	return f
}

// request is the update the form asks for: the fields changed. A
// one-line input drops the line breaks of what it shows (an address
// stored on two lines): that alone is no change.
func (f customerForm) request(id string) (points.UpdateCustomerRequest, error) {
	u := points.UpdateCustomerRequest{CustomerID: id, RequestID: f.RequestID}
	oneLine := strings.NewReplacer("\r", "", "\n", "")
	changed := func(name string) *string {
		v, orig := f.Values[name], f.Orig[name]
		if name != "remark" {
			v, orig = oneLine.Replace(v), oneLine.Replace(orig)
		}
		if v != orig {
			return &v
		}
		return nil
	}
	u.Name, u.Mobile, u.LevelID, u.Gender = changed("name"), changed("mobile"), changed("level_id"), changed("gender")
	u.Birthday, u.Email, u.Address, u.Remark = changed("birthday"), changed("email"), changed("address"), changed("remark")
	if v := changed("customer_type"); v != nil {
		n, err := strconv.Atoi(strings.TrimSpace(*v))
		if err != nil {
			return u, ledger.Invalidf("customer_type", "应为 0 (顾客) 或 1 (会员), 收到 %q", *v)
		}
		u.CustomerType = &n
	}
	return u, nil
}

// notice turns a redirect's ?ok= into a sentence.
// flowIDRE is what a flow id looks like (a ULID): a notice names only
// such, so a crafted link cannot put words in the console's mouth.
var flowIDRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

func notice(q url.Values) string {
	flow := q.Get("flow")
	if !flowIDRE.MatchString(flow) {
		flow = ""
	}
	switch q.Get("ok") {
	case "reversed":
		return "退回成功, 流水号 " + flow
	case "asked":
		return "已提交审批: 超过品牌审批阈值, 须另一位操作员在「待审批」中批准后执行"
	case "adjusted":
		return "调整成功, 流水号 " + flow
	case "released":
		return "冻结已释放"
	case "updated":
		return "顾客资料已保存"
	}
	return ""
}

func (c *Console) customerData(r *http.Request, id string) (customerData, error) {
	d := customerData{RequestID: "console-" + c.admin.Service().NewID(), Flow: r.URL.Query().Get("flow")}
	var err error
	if d.View, err = c.admin.Customer(r.Context(), id); err != nil {
		return d, err
	}
	if err = c.who(r).NeedBrand(d.View.Brand.ID); err != nil {
		d.View = backoffice.CustomerView{}
		return d, err
	}
	d.Found = true
	d.Edit = newCustomerForm(d.View.Account.Customer, "console-"+c.admin.Service().NewID())
	pageNo, _ := strconv.ParseInt(r.URL.Query().Get("page"), 10, 64)
	d.Flows, err = c.admin.Flows(r.Context(), backoffice.FlowFilter{BrandID: d.View.Brand.ID, CustomerID: id,
		PageNo: max(pageNo, 1), PageSize: 20})
	return d, err
}

func (c *Console) customer(w http.ResponseWriter, r *http.Request, req request) {
	d, err := c.customerData(r, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, req, "customer", "顾客", d, err)
		return
	}
	p := c.page(req, "顾客 "+d.View.Account.Customer.Name, d)
	p.Notice = notice(r.URL.Query())
	c.render(w, r, http.StatusOK, "customer", p)
}

type adjustPreviewData struct {
	Preview   backoffice.AdjustPreview
	Points    int64
	Reason    string
	RequestID string
}

// adjust previews an adjustment (the write's own decision, rolled back)
// and, once confirmed from the preview, performs it. The preview's form
// carries the request id of the customer page: sending it twice adjusts
// once.
func (c *Console) adjust(w http.ResponseWriter, r *http.Request, req request) {
	id := r.PathValue("id")
	form := adjustForm{Points: strings.TrimSpace(r.PostFormValue("points")), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	n, err := strconv.ParseInt(form.Points, 10, 64)
	var pts *int64 // the points as the audit log records them; nil: not a number
	if err != nil {
		err = ledger.Invalid("points", "应为整数: 正数增加, 负数扣减")
	} else {
		pts = &n
		if err = c.customerBrand(r, req, id); err == nil {
			err = req.who.NeedPoints(n)
		}
	}
	ar := points.AdjustRequest{CustomerID: id, Points: n, Reason: form.Reason, RequestID: r.PostFormValue("request_id")}
	if r.PostFormValue("confirm") != "1" {
		// A preview writes nothing, and is not recorded.
		var p backoffice.AdjustPreview
		if err == nil {
			p, err = c.admin.PreviewAdjust(r.Context(), req.actor(), ar)
		}
		if err == nil {
			pg := c.page(req, "调整预览", adjustPreviewData{Preview: p, Points: n, Reason: form.Reason, RequestID: ar.RequestID})
			c.render(w, r, http.StatusOK, "adjust", pg)
			return
		}
	} else {
		// Recorded as the admin API records an adjustment: what was
		// asked, and the account before and after.
		e := audit.Entry{Action: audit.Adjustment, Target: id, Request: audit.JSON(admin.NewAdjustment(pts, form.Reason, ar.RequestID))}
		if cu, cerr := c.admin.Service().Store().Customer(r.Context(), id); cerr == nil {
			e.BrandID = cu.BrandID
		}
		var before backoffice.CustomerView
		if err == nil {
			before, err = c.admin.Customer(r.Context(), id)
		}
		var out points.Outcome
		var asked *approval.Approval
		if err == nil {
			e.Before = admin.AuditAccount(before)
			out, asked, err = c.adjustOrAsk(r, req, ar)
		}
		switch {
		case err == nil && asked != nil:
			// Recorded for approval: nothing is written yet.
			e.After = audit.JSON(asked.Summary())
		case err == nil:
			if v, verr := c.admin.Customer(r.Context(), id); verr == nil {
				e.After = admin.AuditAccount(v)
			}
		}
		if !c.audited(w, r, req, e, err) {
			return
		}
		if err == nil && asked != nil {
			http.Redirect(w, r, "/console/customers/"+url.PathEscape(id)+"?ok=asked", http.StatusSeeOther)
			return
		}
		if err == nil {
			http.Redirect(w, r, "/console/customers/"+url.PathEscape(id)+"?ok=adjusted&flow="+url.QueryEscape(out.FlowID), http.StatusSeeOther)
			return
		}
	}
	d, derr := c.customerData(r, id)
	if derr != nil {
		c.fail(w, r, req, "customer", "顾客", d, derr)
		return
	}
	pg := c.page(req, "顾客 "+d.View.Account.Customer.Name, nil)
	status, bad := c.refused(r, &pg, err)
	form.Bad = bad
	d.Adjust = form
	pg.Data = d
	c.render(w, r, status, "customer", pg)
}

// editCustomer saves the fields of the edit form that the operator
// changed. A refused submission shows the form again as typed, with the
// field named in Chinese.
func (c *Console) editCustomer(w http.ResponseWriter, r *http.Request, req request) {
	id := r.PathValue("id")
	form := readCustomerForm(r)
	u, err := form.request(id)
	// Recorded as the admin API records an edit: the fields asked for,
	// the record before and after.
	e := audit.Entry{Action: audit.CustomerUpdate, Target: id, Request: audit.JSON(admin.CustomerUpdateOf(u))}
	if err == nil {
		err = c.customerBrand(r, req, id)
	}
	if err == nil {
		// The record before, once the operator may see it.
		before, berr := c.admin.Service().Store().Customer(r.Context(), id)
		if berr == nil {
			e.BrandID, e.Before = before.BrandID, admin.AuditCustomer(before)
		}
		_, err = c.admin.UpdateCustomer(r.Context(), req.actor(), u)
	}
	if err == nil {
		if after, aerr := c.admin.Service().Store().Customer(r.Context(), id); aerr == nil {
			e.After = admin.AuditCustomer(after)
		}
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err == nil {
		http.Redirect(w, r, "/console/customers/"+url.PathEscape(id)+"?ok=updated", http.StatusSeeOther)
		return
	}
	d, derr := c.customerData(r, id)
	if derr != nil {
		c.fail(w, r, req, "customer", "顾客", d, derr)
		return
	}
	p := c.problem(r, err)
	if _, ok := fieldLabels[p.Field]; ok {
		form.Field = p.Field
	}
	if ledger.IsCode(err, ledger.CodeIdempotencyConflict) {
		// The form's request id went with another edit (sent again from
		// the browser's history): this one gets a new one.
		form.RequestID = d.Edit.RequestID
	}
	d.Edit = form
	pg := c.page(req, "顾客 "+d.View.Account.Customer.Name, d)
	pg.Error, pg.Code = problemText(p), p.Code
	c.render(w, r, p.Status, "customer", pg)
}

// Orders.

func (c *Console) findOrder(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	brand, order := strings.TrimSpace(q.Get("brand_id")), strings.TrimSpace(q.Get("order"))
	if brand == "" || order == "" {
		bs, _ := c.admin.Brands(r.Context())
		p := c.page(req, "首页", homeData{Brands: bs})
		p.Error = "请选择品牌并填写订单号"
		c.render(w, r, http.StatusBadRequest, "home", p)
		return
	}
	http.Redirect(w, r, orderPath(brand, order), http.StatusSeeOther)
}

func orderPath(brand, order string) string {
	return "/console/brands/" + url.PathEscape(brand) + "/orders/" + url.PathEscape(order)
}

type orderData struct {
	View  backoffice.OrderView
	Found bool
	Form  reverseForm
	Bad   string // the refund form's input an error named
	Flow  string // the flow just written, highlighted
}

// reverseForm is the reversal form, as posted (and shown again).
type reverseForm struct {
	Type       string
	Points     string
	CustomerID string
	Reason     string
	RequestID  string
}

func readReverseForm(r *http.Request) reverseForm {
	return reverseForm{Type: r.PostFormValue("type"), Points: strings.TrimSpace(r.PostFormValue("points")),
		CustomerID: r.PostFormValue("customer_id"), Reason: strings.TrimSpace(r.PostFormValue("reason")),
		RequestID: r.PostFormValue("request_id")}
}

func (f reverseForm) request(r *http.Request) (backoffice.ReverseRequest, error) {
	ar := backoffice.ReverseRequest{BrandID: r.PathValue("brand"), OutBizID: r.PathValue("order"), Type: ledger.FlowType(f.Type),
		CustomerID: f.CustomerID, Reason: f.Reason, RequestID: f.RequestID}
	if f.Points != "" {
		n, err := strconv.ParseInt(f.Points, 10, 64)
		if err != nil {
			return ar, ledger.Invalidf("points", "应为正整数, 留空表示全部可退积分, 收到 %q", f.Points)
		}
		ar.Points = &n
	}
	return ar, nil
}

func (c *Console) orderData(r *http.Request, form reverseForm) (orderData, error) {
	d := orderData{Form: form, Flow: r.URL.Query().Get("flow")}
	if d.Form.Type == "" {
		d.Form.Type = string(ledger.DeductReverse)
	}
	var err error
	d.View, err = c.admin.Order(r.Context(), r.PathValue("brand"), r.PathValue("order"))
	d.Found = err == nil
	if d.Found && form.Type == "" && d.View.Reversible == 0 && d.View.Reclaimable > 0 {
		d.Form.Type = string(ledger.ExtraChargeReverse) // an order that only earned points
	}
	if d.Found && d.Form.CustomerID == "" && len(d.View.Parts) > 0 {
		d.Form.CustomerID = d.View.Parts[0].CustomerID
	}
	return d, err
}

func (c *Console) order(w http.ResponseWriter, r *http.Request, req request) {
	d, err := c.orderData(r, reverseForm{})
	if err != nil {
		c.fail(w, r, req, "order", "订单 "+r.PathValue("order"), d, err)
		return
	}
	p := c.page(req, "订单 "+d.View.OutBizID, d)
	p.Notice = notice(r.URL.Query())
	p.Names = c.orderNames(r, d.View)
	c.render(w, r, http.StatusOK, "order", p)
}

type previewData struct {
	Order   backoffice.OrderView
	Preview backoffice.ReversalPreview
	Form    reverseForm
}

// preview shows what the reversal in the form would do, lot by lot, and
// a form to perform it carrying a request id of its own: sending that
// form twice reverses once.
func (c *Console) preview(w http.ResponseWriter, r *http.Request, req request) {
	form := readReverseForm(r)
	form.RequestID = "console-" + c.admin.Service().NewID()
	ar, err := form.request(r)
	var p backoffice.ReversalPreview
	if err == nil {
		p, err = c.admin.PreviewReversal(r.Context(), ar)
	}
	if err != nil {
		c.refusedOrder(w, r, req, form, err)
		return
	}
	v, err := c.admin.Order(r.Context(), r.PathValue("brand"), r.PathValue("order"))
	if err != nil {
		c.fail(w, r, req, "order", "订单 "+r.PathValue("order"), orderData{Form: form}, err)
		return
	}
	pg := c.page(req, "退回预览 "+v.OutBizID, previewData{Order: v, Preview: p, Form: form})
	pg.Names = c.names(r, p.CustomerID)
	c.render(w, r, http.StatusOK, "preview", pg)
}

func (c *Console) reverse(w http.ResponseWriter, r *http.Request, req request) {
	form := readReverseForm(r)
	ar, err := form.request(r)
	e := audit.Entry{Action: audit.Reversal, BrandID: r.PathValue("brand"), Target: r.PathValue("order"),
		Request: audit.JSON(admin.ReversalOf(ar))}
	if err == nil && req.who.Role != operator.Admin {
		if ar.Points != nil {
			err = req.who.NeedPoints(*ar.Points)
		} else {
			var p backoffice.ReversalPreview
			if p, err = c.admin.PreviewReversal(r.Context(), ar); err == nil {
				err = req.who.NeedPoints(p.Points)
			}
		}
	}
	var out points.Outcome
	var asked *approval.Approval
	if err == nil {
		if out, asked, err = c.reverseOrAsk(r, req, ar); err == nil && asked != nil {
			// Recorded for approval: nothing is written yet.
			e.After = audit.JSON(asked.Summary())
		} else if err == nil {
			e.After = audit.JSON(map[string]any{"flow_id": out.FlowID, "replayed": out.Replayed})
		}
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err == nil && asked != nil {
		http.Redirect(w, r, orderPath(ar.BrandID, ar.OutBizID)+"?ok=asked", http.StatusSeeOther)
		return
	}
	if err == nil {
		http.Redirect(w, r, orderPath(ar.BrandID, ar.OutBizID)+"?ok=reversed&flow="+url.QueryEscape(out.FlowID), http.StatusSeeOther)
		return
	}
	c.refusedOrder(w, r, req, form, err)
}

// refusedOrder shows the order again after its refund form was refused:
// the form as typed, the input the error named marked.
func (c *Console) refusedOrder(w http.ResponseWriter, r *http.Request, req request, form reverseForm, err error) {
	d, derr := c.orderData(r, form)
	if derr != nil && !ledger.IsCode(derr, backoffice.CodeOrderNotFound) {
		err = derr
	}
	p := c.page(req, "订单 "+r.PathValue("order"), nil)
	var status int
	status, d.Bad = c.refused(r, &p, err)
	if d.Found {
		p.Names = c.orderNames(r, d.View)
	}
	p.Data = d
	c.render(w, r, status, "order", p)
}

func (c *Console) releaseHold(w http.ResponseWriter, r *http.Request, req request) {
	brand, order := r.PathValue("brand"), r.PathValue("order")
	rel, err := admin.ReleaseHold(r.Context(), c.admin, req.who, brand, order)
	e := audit.Entry{Action: audit.HoldRelease, BrandID: brand, Target: order, Before: rel.Before, After: rel.After}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err != nil {
		d, _ := c.orderData(r, reverseForm{})
		c.fail(w, r, req, "order", "订单 "+order, d, err)
		return
	}
	http.Redirect(w, r, orderPath(brand, order)+"?ok=released", http.StatusSeeOther)
}

// Flows.

type flowsData struct {
	Brands   []ledger.Brand
	Shops    []ledger.Shop // of the brand chosen
	Channels []string
	Types    []ledger.FlowType
	Filter   url.Values // as given, for the form, the pages and the export
	Page     points.FlowPage
	Ready    bool // a brand is chosen and the filter is valid
	Prev     string
	Next     string
	Export   string // the CSV of every match
	Bad      string // the filter input an error named
}

func (c *Console) flowsFilter(r *http.Request, d *flowsData) (backoffice.FlowFilter, error) {
	q := r.URL.Query()
	if q.Get("brand_id") == "" && len(d.Brands) == 1 {
		q.Set("brand_id", d.Brands[0].ID)
	}
	d.Filter = url.Values{}
	for _, k := range flowFilterKeys {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			d.Filter.Set(k, v)
		}
	}
	f, err := admin.ParseFlowFilter(d.Filter)
	if err != nil {
		return f, err
	}
	f.PageNo, _ = strconv.ParseInt(q.Get("page"), 10, 64)
	f.PageNo, f.PageSize = max(f.PageNo, 1), 50
	return f, nil
}

func (c *Console) flows(w http.ResponseWriter, r *http.Request, req request) {
	d := flowsData{Types: ledger.FlowTypes(), Channels: points.Channels}
	var err error
	if d.Brands, err = c.brands(r, req); err != nil {
		c.fail(w, r, req, "flows", "积分流水", d, err)
		return
	}
	f, err := c.flowsFilter(r, &d)
	if err == nil && f.BrandID != "" {
		err = req.who.NeedBrand(f.BrandID)
	}
	if err == nil && f.BrandID != "" {
		if v, berr := c.admin.Brand(r.Context(), f.BrandID); berr == nil {
			d.Shops = v.Shops
		}
	}
	if err == nil && f.BrandID == "" {
		c.render(w, r, http.StatusOK, "flows", c.page(req, "积分流水", d))
		return
	}
	if err == nil {
		d.Page, err = c.admin.Flows(r.Context(), f)
	}
	if err != nil {
		c.refusedFlows(w, r, req, d, err)
		return
	}
	d.Ready = true
	link := func(n int64) string {
		v := url.Values{}
		for k, vs := range d.Filter {
			v[k] = vs
		}
		v.Set("page", strconv.FormatInt(n, 10))
		return "/console/flows?" + v.Encode()
	}
	if d.Page.PageNo > 1 {
		d.Prev = link(d.Page.PageNo - 1)
	}
	if d.Page.HasNext() {
		d.Next = link(d.Page.PageNo + 1)
	}
	d.Export = "/console/flows.csv?" + d.Filter.Encode()
	p := c.page(req, "积分流水", d)
	p.Names = c.names(r, flowCustomers(d.Page.Flows)...)
	c.render(w, r, http.StatusOK, "flows", p)
}

// flowFilterKeys are the parameters of the flows' filter.
var flowFilterKeys = []string{"brand_id", "customer_id", "shop_id", "out_biz_id", "type", "channel", "operator", "start", "end"}

// flowsCSV answers every flow the filter matches as CSV. The export is
// in the audit log, with its filter, before a row is sent: one that
// cannot be recorded is not sent.
func (c *Console) flowsCSV(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	d := flowsData{Types: ledger.FlowTypes(), Channels: points.Channels}
	d.Brands, _ = c.brands(r, req)
	f, err := c.flowsFilter(r, &d)
	if err == nil && strings.TrimSpace(f.BrandID) != "" {
		err = req.who.NeedBrand(f.BrandID)
	}
	if err == nil {
		// A filter the flows refuse is an error page, not a cut answer.
		err = c.admin.CheckFlowFilter(r.Context(), f)
	}
	e := audit.Entry{Action: audit.Export, BrandID: strings.TrimSpace(f.BrandID), Target: "flows",
		Request: audit.JSON(asked(q, flowFilterKeys))}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err != nil {
		c.refusedFlows(w, r, req, d, err)
		return
	}
	c.writeFlowsCSV(w, r, f)
}

// refusedFlows shows the flows page again, refused by err, with its
// filter as typed and the input err names marked.
func (c *Console) refusedFlows(w http.ResponseWriter, r *http.Request, req request, d flowsData, err error) {
	p := c.page(req, "积分流水", nil)
	var status int
	status, d.Bad = c.refused(r, &p, err)
	p.Data = d
	c.render(w, r, status, "flows", p)
}

// asked is what an export was asked for, for its audit entry: the
// parameters of keys that were given.
func asked(q url.Values, keys []string) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			m[k] = v
		}
	}
	return m
}

// Dashboard.

type dashboardData struct {
	Totals  backoffice.Totals
	Charts  charts
	Reverse []backoffice.DayTotal // newest day first, for the table
	Active  bool                  // some day of the range has flows
	// From and To are the range's form: the range shown, or as typed
	// when refused, with the input the error named (Bad).
	From, To, Bad string
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	t, err := c.admin.DailyTotals(r.Context(), r.PathValue("brand"), q.Get("from"), q.Get("to"))
	if err != nil {
		c.refusedDashboard(w, r, req, t, err)
		return
	}
	d := dashboardData{Totals: t, Charts: buildCharts(t), From: t.From, To: t.To}
	for i := len(t.Days) - 1; i >= 0; i-- {
		d.Reverse = append(d.Reverse, t.Days[i])
		d.Active = d.Active || t.Days[i].Flows > 0
	}
	c.render(w, r, http.StatusOK, "dashboard", c.page(req, "品牌看板 "+t.Brand.Name, d))
}

// refusedDashboard shows the dashboard's range form again as typed, the
// date its error names marked.
func (c *Console) refusedDashboard(w http.ResponseWriter, r *http.Request, req request, t backoffice.Totals, err error) {
	q := r.URL.Query()
	// Only the brand: figures of a read that failed would show as zeros.
	d := dashboardData{Totals: backoffice.Totals{Brand: t.Brand}, From: q.Get("from"), To: q.Get("to")}
	p := c.page(req, "品牌看板 "+t.Brand.Name, nil)
	var status int
	status, d.Bad = c.refused(r, &p, err)
	p.Data = d
	c.render(w, r, status, "dashboard", p)
}

// totalsCSV answers the dashboard's daily table as CSV, with Chinese
// headers: the brand's days with flows, then each shop's. The export is
// in the audit log, with the range asked for, before it is sent.
func (c *Console) totalsCSV(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	t, err := c.admin.DailyTotals(r.Context(), r.PathValue("brand"), q.Get("from"), q.Get("to"))
	e := audit.Entry{Action: audit.Export, BrandID: r.PathValue("brand"), Target: "totals",
		Request: audit.JSON(asked(q, []string{"from", "to"}))}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err != nil {
		c.refusedDashboard(w, r, req, t, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="jifen-daily-`+url.PathEscape(t.Brand.ID)+"-"+t.From+"-"+t.To+`.csv"`)
	w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	cw.Write([]string{"日期", "门店", "发放", "消费", "退回", "收回", "过期", "调整", "还欠分", "流水数", "日终待兑付", "折合 (元)"})
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	row := func(shop string, d backoffice.DayTotal, liability bool) {
		l, v := "", ""
		if liability {
			l = n(d.Liability)
			if t.Valued {
				v = fmtLiability(d.LiabilityFen, d.LiabilityFenCapped)
			}
		}
		cw.Write([]string{d.Day, admin.CSVCell(shop), n(d.Issued), n(d.Spent), n(d.Reversed), n(d.ClawedBack), n(d.Expired),
			n(d.Adjusted), n(d.DebtRepaid), n(d.Flows), l, v})
	}
	for _, d := range t.Days {
		if d.Flows > 0 {
			row("全部门店", d, true)
		}
	}
	for _, s := range t.Shops {
		row(s.ShopName, s.DayTotal, false)
	}
	cw.Flush()
}
