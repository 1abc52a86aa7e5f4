// Package backoffice is what a brand's operators do, through the admin
// JSON API (package admin) and the web console (package console): find a
// customer and see their account, lots and holds; see everything recorded
// for an order and preview a refund of it lot by lot; refund, adjust,
// release a hold and edit a customer's record in their own name; filter
// and export flows; read a brand's daily totals and liability.
//
// It reads across customers and orders through its own Reader, which a
// store implements (the compiler checks that the one handed to New does),
// and it writes only through the points.Service: an operator's refund,
// adjustment or release is a ledger write like a POS's — the same rules
// and database guarantees; a refund, adjustment or edit is idempotent under
// points.AdminAppKey — and a refund preview is the service's own decision
// run as a dry run (points.Service.PreviewReverse).
package backoffice

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// Reader is what the operators' views read of a store directly: tenant
// records as stored now (not through the service's cache: an operator
// editing a brand must see what was just applied), and beyond the
// service's Reader, searches across customers, everything recorded for
// one order from one snapshot, a streamed flow export and a brand's daily
// sums. It is declared here, beside its only consumer, so that the
// compiler checks that the store handed to New serves all of it.
type Reader interface {
	Customer(ctx context.Context, id string) (ledger.Customer, error)
	Brand(ctx context.Context, id string) (ledger.Brand, error)
	Brands(ctx context.Context) ([]ledger.Brand, error)
	Shops(ctx context.Context, brandID string) ([]ledger.Shop, error)
	// Rule is the brand's rule version in force; points.ErrNotFound if it
	// has none.
	Rule(ctx context.Context, brandID string) (ledger.Rule, error)
	Apps(ctx context.Context) ([]ledger.App, error)
	// Flows lists flows matching q, newest first, and how many match.
	Flows(ctx context.Context, q points.FlowQuery) ([]ledger.Flow, int, error)

	// SearchCustomers lists up to q.Limit customers whose id or outer_id
	// (the POS's member id) starts with q.Text or whose mobile or name
	// contains it (ASCII letters in any case), in brand q.BrandID when
	// set: those whose id, mobile or outer_id equals q.Text first, then by
	// brand, registration and id.
	SearchCustomers(ctx context.Context, q CustomerSearch) ([]ledger.Customer, error)
	// CustomersByID reads the customers of ids that exist, by id.
	CustomersByID(ctx context.Context, ids []string) ([]ledger.Customer, error)
	// RuleVersions lists up to limit (0: every) versions of the brand's
	// rule, newest first.
	RuleVersions(ctx context.Context, brandID string, limit int) ([]ledger.Rule, error)
	// CustomerHolds lists up to limit holds of the account, newest first.
	CustomerHolds(ctx context.Context, brandID, customerID string, limit int) ([]ledger.Hold, error)
	// OrderRows reads everything stored for the order (brand, outBizID),
	// from one snapshot. An order nothing was recorded for has no rows.
	OrderRows(ctx context.Context, brandID, outBizID string) (OrderRows, error)
	// EachFlow calls fn with every flow matching q (Offset and Limit are
	// ignored), newest first, from one snapshot.
	EachFlow(ctx context.Context, q points.FlowQuery, fn func(ledger.Flow) error) error
	// BrandTotals sums the brand's flows with from ≤ time < to by quarter
	// hour, shop and type, with the brand's balances now, from one snapshot.
	BrandTotals(ctx context.Context, brandID string, from, to time.Time) (BrandTotals, error)
	// SessionEnded reports whether the console session nonce was ended
	// (points.Tx.EndSession).
	SessionEnded(ctx context.Context, nonce string) (bool, error)
}

// CustomerSearch asks for customers by a piece of their id, mobile or name.
type CustomerSearch struct {
	BrandID string // "" searches every brand
	Text    string
	Limit   int
}

// OrderRows is everything stored for one order.
type OrderRows struct {
	Orders []ledger.Order // each customer's position, by customer
	Flows  []ledger.Flow  // flows naming the order, oldest first
	Hold   ledger.Hold    // Exists false: the order has no hold
	// The rows a Book needs of the accounts of the order's customers (those
	// in Orders or the hold): the accounts that exist, by customer; their
	// lots with points remaining and every lot the order's allocations
	// name, by customer and creation; the order's allocations, by customer
	// and writing order.
	Accounts    []ledger.Account
	Lots        []ledger.Lot
	Allocations []ledger.Allocation
}

// QuarterHour is the width of a FlowBucket: every time zone's midnight
// falls on one of its boundaries, so buckets add up to local days.
const QuarterHour = 15 * time.Minute

// FlowBucket sums the flows of one quarter hour, shop and type.
type FlowBucket struct {
	Start  time.Time // a multiple of QuarterHour since the Unix epoch
	ShopID string
	Type   ledger.FlowType
	Count  int64
	Amount int64 // Σ amount
	Net    int64 // Σ change to available + frozen (what the brand owes)
}

// BrandTotals are a brand's flow sums over a window and its balances now.
type BrandTotals struct {
	Buckets []FlowBucket
	// Available, Frozen and Debt sum the brand's accounts now.
	Available, Frozen, Debt int64
	// NetAfter sums the change to available + frozen of the flows at or
	// after the window's end.
	NetAfter int64
}

// ExpiringSoon is how close to its expiry a lot is shown as expiring soon.
const ExpiringSoon = 30 * 24 * time.Hour

// Office runs what operators do through the admin API and console: it
// reads across customers and orders, previews reversals without writing,
// and performs reversals, adjustments and hold releases in an operator's
// name through the same Service, rules and idempotency as the gateway.
type Office struct {
	svc  *points.Service
	read Reader
}

// New returns the operators' side of svc, reading through read, which
// must be the store svc writes to, or read replicas of it that send the
// reads of a ReadPrimary context to it: what an operator acts on is what
// the service decides on.
func New(svc *points.Service, read Reader) *Office {
	return &Office{svc: svc, read: read}
}

// Service is the service the Office acts through.
func (o *Office) Service() *points.Service { return o.svc }

// Reader is what the Office reads through.
func (o *Office) Reader() Reader { return o.read }

// brandOf loads a brand named by an operator.
func (o *Office) brandOf(ctx context.Context, id string) (ledger.Brand, error) {
	if err := points.Required("brand_id", id); err != nil {
		return ledger.Brand{}, err
	}
	id = strings.TrimSpace(id)
	b, err := o.svc.Brand(ctx, id)
	if errors.Is(err, points.ErrNotFound) {
		return b, notFoundErr(CodeBrandNotFound, "品牌不存在: %s", id)
	}
	return b, err
}

// Outcome codes of the operators' reads, beside ledger.CodeCustomerNotFound.
const (
	CodeBrandNotFound = "BRAND_NOT_FOUND"
	CodeOrderNotFound = "ORDER_NOT_FOUND"
	CodeAppNotFound   = "APP_NOT_FOUND"
)

// notFoundErr is the business outcome code (one of the *_NOT_FOUND codes)
// with a message that is also fit to show.
func notFoundErr(code, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &ledger.Error{Kind: ledger.KindBusiness, Code: code, Message: msg, View: msg}
}

// field is a request field by its wire name, for checkText.
type field struct{ name, v string }

// checkText runs points.CheckText on each field: what an operator types is
// refused in the same words as what a POS sends.
func checkText(fs ...field) error {
	for _, f := range fs {
		if err := points.CheckText(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// MaxSearch bounds one customer search.
const MaxSearch = 200

// SearchCustomers finds customers by a piece of their id, mobile or name,
// in one brand or every brand.
func (o *Office) SearchCustomers(ctx context.Context, brandID, text string, limit int) ([]ledger.Customer, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, ledger.Invalid("q", "不可为空: 请输入顾客编号、手机号或姓名")
	}
	if len(text) > 100 {
		return nil, ledger.Invalid("q", "过长: 最多 100 字节")
	}
	if err := points.CheckChars("q", text); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxSearch {
		limit = 50
	}
	if brandID = strings.TrimSpace(brandID); brandID != "" {
		if _, err := o.brandOf(ctx, brandID); err != nil {
			return nil, err
		}
	}
	return o.read.SearchCustomers(ctx, CustomerSearch{BrandID: brandID, Text: text, Limit: limit})
}

// CustomerBrand is the brand of customer id, for deciding whether an
// operator may act on them before acting.
func (o *Office) CustomerBrand(ctx context.Context, id string) (string, error) {
	if err := points.Required("customer_id", id); err != nil {
		return "", err
	}
	id = strings.TrimSpace(id)
	// Decides whether the operator may act: the customer as stored now.
	cust, err := o.read.Customer(ReadPrimary(ctx), id)
	if errors.Is(err, points.ErrNotFound) {
		return "", notFoundErr(ledger.CodeCustomerNotFound, "顾客不存在: %s", id)
	}
	return cust.BrandID, err
}

// LotView is a lot as shown to operators.
type LotView struct {
	ledger.Lot
	Expired      bool // expired at now (its points no longer count)
	ExpiringSoon bool // expires within ExpiringSoon
}

// CustomerView is one customer with their account, lots and holds.
type CustomerView struct {
	Brand   ledger.Brand
	Account points.AccountView
	Lots    []LotView // live lots, earliest expiry first, never-expiring last
	Holds   []ledger.Hold
	// Levels are the level ids the brand's rule in force names, for an
	// operator choosing a customer's level ("" the brand default is not
	// among them).
	Levels []string
	Now    time.Time
}

// maxHolds bounds the holds shown with a customer.
const maxHolds = 50

// Customer is a customer with their account: balances, lots (those
// expiring soon marked) and their latest holds.
func (o *Office) Customer(ctx context.Context, id string) (CustomerView, error) {
	var v CustomerView
	if err := points.Required("customer_id", id); err != nil {
		return v, err
	}
	id = strings.TrimSpace(id)
	cust, err := o.read.Customer(ctx, id)
	if errors.Is(err, points.ErrNotFound) {
		return v, notFoundErr(ledger.CodeCustomerNotFound, "顾客不存在: %s", id)
	}
	if err != nil {
		return v, err
	}
	if v.Brand, err = o.svc.Brand(ctx, cust.BrandID); err != nil {
		return v, err
	}
	if v.Account, err = o.svc.Account(ctx, cust); err != nil {
		return v, err
	}
	v.Now = o.svc.Now()
	for _, l := range v.Account.Lots {
		lv := LotView{Lot: l, Expired: l.Expired(v.Now)}
		lv.ExpiringSoon = !lv.Expired && !l.ExpiresAt.IsZero() && l.ExpiresAt.Sub(v.Now) <= ExpiringSoon
		v.Lots = append(v.Lots, lv)
	}
	sort.SliceStable(v.Lots, func(i, j int) bool {
		x, y := v.Lots[i].ExpiresAt, v.Lots[j].ExpiresAt
		if x.IsZero() != y.IsZero() {
			return y.IsZero()
		}
		return x.Before(y)
	})
	if v.Holds, err = o.read.CustomerHolds(ctx, cust.BrandID, cust.ID, maxHolds); err != nil {
		return v, err
	}
	rule, err := o.svc.Rule(ctx, cust.BrandID)
	if err != nil {
		return v, err
	}
	v.Levels = ruleLevels(rule)
	return v, nil
}

// ruleLevels lists the level ids r names in force (not logically
// deleted), sorted, without the brand default "".
func ruleLevels(r ledger.Rule) []string {
	seen := map[string]bool{"": true}
	var out []string
	add := func(level string, deleted bool) {
		if !deleted && !seen[level] {
			seen[level] = true
			out = append(out, level)
		}
	}
	for _, d := range r.Deduction {
		add(d.LevelID, d.Deleted)
	}
	for _, a := range r.Addition {
		add(a.LevelID, a.Deleted)
	}
	sort.Strings(out)
	return out
}

// UpdateCustomer changes a customer's record in the operator's name: the
// customer is named by id alone (operators act for every brand), the
// fields as points.UpdateCustomerRequest says (nil unchanged, "" cleared),
// idempotent by (points.AdminAppKey, request_id) like every operator's
// write.
func (o *Office) UpdateCustomer(ctx context.Context, by points.Actor, r points.UpdateCustomerRequest) (points.Outcome, error) {
	if err := points.CheckOperator(by.Name); err != nil {
		return points.Outcome{}, err
	}
	if err := points.Required("customer_id", r.CustomerID); err != nil {
		return points.Outcome{}, err
	}
	id := strings.TrimSpace(r.CustomerID)
	cust, err := o.read.Customer(ReadPrimary(ctx), id)
	if errors.Is(err, points.ErrNotFound) {
		return points.Outcome{}, notFoundErr(ledger.CodeCustomerNotFound, "顾客不存在: %s", id)
	}
	if err != nil {
		return points.Outcome{}, err
	}
	r.Target = points.Target{BrandID: cust.BrandID}
	c := points.OperatorCaller(by)
	r.OperatorID, r.OperatorName = c.OperatorID, c.Operator
	return o.svc.UpdateCustomer(ctx, c, r)
}

// FlowFilter filters flows across a brand's customers, like
// querypointflow without its customer_id requirement.
type FlowFilter struct {
	BrandID    string
	CustomerID string
	ShopID     string
	OutBizLike string
	Type       string
	Channel    string
	// Operator keeps the flows whose operator_id or operator_name is it.
	Operator   string
	Start, End time.Time
	PageNo     int64 // from 1; 0 means 1
	PageSize   int64 // 0 means 50
}

// query validates f and turns it into a store query (without paging).
func (o *Office) query(ctx context.Context, f FlowFilter) (points.FlowQuery, error) {
	if err := checkText(field{"shop_id", f.ShopID}, field{"out_biz_id", f.OutBizLike}, field{"operator", f.Operator}); err != nil {
		return points.FlowQuery{}, err
	}
	brand, err := o.brandOf(ctx, f.BrandID)
	if err != nil {
		return points.FlowQuery{}, err
	}
	t := ledger.FlowType(strings.TrimSpace(f.Type))
	if t != "" && !t.Valid() {
		return points.FlowQuery{}, ledger.Invalidf("type", "未知的积分流水类型 %q", f.Type)
	}
	if ch := strings.TrimSpace(f.Channel); ch != "" && !points.KnownChannel(ch) {
		return points.FlowQuery{}, ledger.Invalidf("channel", "未知渠道 %q", ch)
	}
	if !f.Start.IsZero() && !f.End.IsZero() && f.End.Before(f.Start) {
		return points.FlowQuery{}, ledger.Invalid("end", "截止时间早于开始时间")
	}
	q := points.FlowQuery{BrandID: brand.ID, OutBizLike: strings.TrimSpace(f.OutBizLike), Type: t,
		Channel: strings.TrimSpace(f.Channel), Operator: strings.TrimSpace(f.Operator), Start: f.Start, End: f.End}
	if id := strings.TrimSpace(f.ShopID); id != "" {
		sh, err := o.svc.Shop(ctx, id)
		if err != nil {
			if errors.Is(err, points.ErrNotFound) {
				err = ledger.Invalid("shop_id", "门店不存在: "+id)
			}
			return q, err
		}
		if sh.BrandID != brand.ID {
			return q, ledger.Invalidf("shop_id", "门店 %s 不属于品牌 %s", id, brand.ID)
		}
		q.ShopID = sh.ID
	}
	if id := strings.TrimSpace(f.CustomerID); id != "" {
		// A customer id, else a mobile of the brand's.
		if err := points.CheckText("customer_id", id); err != nil {
			return q, err
		}
		c, err := o.svc.CustomerOf(ctx, brand, id)
		if le, ok := ledger.AsError(err); ok && le.Kind == ledger.KindInvalid { // not found by id
			if byMobile, merr := o.svc.Store().CustomerByMobile(ctx, brand.ID, id); merr == nil {
				c, err = byMobile, nil
			} else if !errors.Is(merr, points.ErrNotFound) {
				err = merr
			}
		}
		if err != nil {
			return q, err
		}
		q.CustomerID = c.ID
	}
	return q, nil
}

// Flows lists one page of the flows matching f, newest first.
func (o *Office) Flows(ctx context.Context, f FlowFilter) (points.FlowPage, error) {
	if f.PageNo < 0 || f.PageNo > 1_000_000 {
		return points.FlowPage{}, ledger.Invalidf("page_no", "必须在 1 到 1000000 之间, 收到 %d", f.PageNo)
	}
	if f.PageSize < 0 || f.PageSize > points.MaxPageSize {
		return points.FlowPage{}, ledger.Invalidf("page_size", "必须在 1 到 %d 之间, 收到 %d", points.MaxPageSize, f.PageSize)
	}
	if f.PageNo == 0 {
		f.PageNo = 1
	}
	if f.PageSize == 0 {
		f.PageSize = 50
	}
	q, err := o.query(ctx, f)
	if err != nil {
		return points.FlowPage{}, err
	}
	q.Offset, q.Limit = int((f.PageNo-1)*f.PageSize), int(f.PageSize)
	flows, total, err := o.read.Flows(ctx, q)
	if err != nil {
		return points.FlowPage{}, err
	}
	return points.FlowPage{Flows: flows, PageNo: f.PageNo, PageSize: f.PageSize, Total: int64(total)}, nil
}

// Flow is one flow of a customer's, found by its id among the
// customer's flows (no index finds a flow by its id alone);
// points.ErrNotFound if the customer has no such flow.
func (o *Office) Flow(ctx context.Context, brandID, customerID, flowID string) (ledger.Flow, error) {
	if err := checkText(field{"customer_id", customerID}, field{"flow_id", flowID}); err != nil {
		return ledger.Flow{}, err
	}
	b, err := o.brandOf(ctx, brandID)
	if err != nil {
		return ledger.Flow{}, err
	}
	customerID, flowID = strings.TrimSpace(customerID), strings.TrimSpace(flowID)
	if customerID == "" || flowID == "" {
		return ledger.Flow{}, points.ErrNotFound
	}
	fs, _, err := o.read.Flows(ctx, points.FlowQuery{BrandID: b.ID, CustomerID: customerID, FlowID: flowID, Limit: 1})
	if err != nil {
		return ledger.Flow{}, err
	}
	if len(fs) == 0 {
		return ledger.Flow{}, points.ErrNotFound
	}
	return fs[0], nil
}

// CheckFlowFilter refuses a filter EachFlow would refuse, without reading
// any flow: an export checks it before its answer begins.
func (o *Office) CheckFlowFilter(ctx context.Context, f FlowFilter) error {
	_, err := o.query(ctx, f)
	return err
}

// EachFlow calls fn with every flow matching f (paging ignored), newest
// first: the export of a filtered list.
func (o *Office) EachFlow(ctx context.Context, f FlowFilter, fn func(ledger.Flow) error) error {
	q, err := o.query(ctx, f)
	if err != nil {
		return err
	}
	return o.read.EachFlow(ctx, q, fn)
}

// Brands lists every brand.
func (o *Office) Brands(ctx context.Context) ([]ledger.Brand, error) { return o.read.Brands(ctx) }

// BrandView is a brand with its shops and the rule in force.
type BrandView struct {
	Brand ledger.Brand
	Shops []ledger.Shop
	Rule  *ledger.Rule // nil: the brand has none (the built-in default applies)
}

// Brand is one brand with its shops and rule.
func (o *Office) Brand(ctx context.Context, id string) (BrandView, error) {
	var v BrandView
	if err := points.Required("brand_id", id); err != nil {
		return v, err
	}
	var err error
	// Read through the store, not the cache: an operator editing a brand
	// must see what was just applied.
	v.Brand, err = o.read.Brand(ctx, strings.TrimSpace(id))
	if errors.Is(err, points.ErrNotFound) {
		return v, notFoundErr(CodeBrandNotFound, "品牌不存在: %s", id)
	}
	if err != nil {
		return v, err
	}
	if v.Shops, err = o.read.Shops(ctx, v.Brand.ID); err != nil {
		return v, err
	}
	r, err := o.read.Rule(ctx, v.Brand.ID)
	switch {
	case err == nil:
		v.Rule = &r
	case !errors.Is(err, points.ErrNotFound):
		return v, err
	}
	return v, nil
}

// Apps lists every app, secrets included: the API decides what to show.
func (o *Office) Apps(ctx context.Context) ([]ledger.App, error) { return o.read.Apps(ctx) }

// Apply creates or updates tenant records with the validation of
// `jifen apply`, in one transaction.
func (o *Office) Apply(ctx context.Context, t points.Tenant) (points.ApplyReport, error) {
	return o.svc.Apply(ctx, t)
}

// ReleaseHold releases what is still frozen for an order, in the
// operator's name (UNFREEZE).
func (o *Office) ReleaseHold(ctx context.Context, by points.Actor, brandID, order string) error {
	if err := points.CheckOperator(by.Name); err != nil {
		return err
	}
	if err := points.Required("outer_order_id", order); err != nil {
		return err
	}
	brand, err := o.brandOf(ctx, brandID)
	if err != nil {
		return err
	}
	return o.svc.ReleaseHold(ctx, brand.ID, strings.TrimSpace(order), by)
}

// EndSession records that the console session nonce, valid until until,
// was ended (signed out): points.Service.EndSession.
func (o *Office) EndSession(ctx context.Context, nonce string, until time.Time) error {
	return o.svc.EndSession(ctx, nonce, until)
}

// SessionEnded reports whether the console session nonce was ended.
func (o *Office) SessionEnded(ctx context.Context, nonce string) (bool, error) {
	return o.read.SessionEnded(ReadPrimary(ctx), nonce) // a sign-out counts at once
}
