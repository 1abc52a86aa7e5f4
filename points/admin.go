package points

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"jifen/ledger"
)

// AdminReader is what the operators' views need of a store beyond Reader:
// searches across customers, everything recorded for one order from one
// snapshot, a streamed flow export and a brand's daily sums. Both stores
// implement it; it is declared here, beside its only consumer, Admin.
type AdminReader interface {
	// SearchCustomers lists up to q.Limit customers whose id starts with
	// q.Text or whose mobile or name contains it (ASCII letters in any
	// case), in brand q.BrandID when set: those whose id or mobile equals
	// q.Text first, then by brand, registration and id.
	SearchCustomers(ctx context.Context, q CustomerSearch) ([]ledger.Customer, error)
	// CustomerHolds lists up to limit holds of the account, newest first.
	CustomerHolds(ctx context.Context, brandID, customerID string, limit int) ([]ledger.Hold, error)
	// OrderRows reads everything stored for the order (brand, outBizID),
	// from one snapshot. An order nothing was recorded for has no rows.
	OrderRows(ctx context.Context, brandID, outBizID string) (OrderRows, error)
	// ReversalByID returns the refund named reverseOrderID in the brand;
	// ErrNotFound if none.
	ReversalByID(ctx context.Context, brandID, reverseOrderID string) (ledger.Reversal, error)
	// EachFlow calls fn with every flow matching q (Offset and Limit are
	// ignored), newest first, from one snapshot.
	EachFlow(ctx context.Context, q FlowQuery, fn func(ledger.Flow) error) error
	// BrandTotals sums the brand's flows with from ≤ time < to by quarter
	// hour, shop and type, with the brand's balances now, from one snapshot.
	BrandTotals(ctx context.Context, brandID string, from, to time.Time) (BrandTotals, error)
	// SessionEnded reports whether the console session nonce was ended
	// (Tx.EndSession).
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

// AdminAppKey is the app key on operators' writes: their idempotency keys
// are (AdminAppKey, request_id) and their flows carry it as app_key. It
// is in the reserved namespace, so it is told apart from every app.
const AdminAppKey = "@admin"

// ReservedAppKey reports whether key is in the namespace jifen keeps for
// its own callers: every key starting with "@". No app may have one — an
// app "@admin" would write as if it were the operators, under their
// idempotency keys — so the tenant file, the admin API and an import
// refuse it, and the gateway treats a stored one as unknown.
func ReservedAppKey(key string) bool { return strings.HasPrefix(key, "@") }

// ExpiringSoon is how close to its expiry a lot is shown as expiring soon.
const ExpiringSoon = 30 * 24 * time.Hour

// Admin runs what operators do through the admin API and console: it
// reads across customers and orders, previews reversals without writing,
// and performs reversals, adjustments and hold releases in an operator's
// name through the same Service, rules and idempotency as the gateway.
type Admin struct {
	svc  *Service
	read AdminReader
}

// NewAdmin returns the operators' side of s; its store must implement
// AdminReader.
func NewAdmin(s *Service) (*Admin, error) {
	r, ok := s.store.(AdminReader)
	if !ok {
		return nil, fmt.Errorf("points: store %T does not serve the admin reads", s.store)
	}
	return &Admin{svc: s, read: r}, nil
}

// Service is the service the Admin acts through.
func (a *Admin) Service() *Service { return a.svc }

// caller is who an operator's write is attributed to.
func (a *Admin) caller(operator string) Caller {
	return Caller{App: ledger.App{Key: AdminAppKey, Name: "运营后台", Active: true}, Operator: operator}
}

// CheckOperator refuses an operator name that writes could not be
// recorded under: blank, longer than 64 bytes, or with characters
// CheckChars refuses (it is the flows' operator_id as well as their
// operator_name). The console checks it at sign-in.
func CheckOperator(operator string) error {
	if strings.TrimSpace(operator) == "" {
		return ledger.Invalid("operator", "不可为空: 请填写操作员")
	}
	if len(operator) > 64 {
		return ledger.Invalid("operator", "过长: 最多 64 字节")
	}
	return CheckChars("operator", operator)
}

// brandOf loads a brand named by an operator.
func (a *Admin) brandOf(ctx context.Context, id string) (ledger.Brand, error) {
	if err := required("brand_id", id); err != nil {
		return ledger.Brand{}, err
	}
	id = strings.TrimSpace(id)
	b, err := a.svc.brand(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return b, notFoundErr(CodeBrandNotFound, "品牌不存在: %s", id)
	}
	return b, err
}

// Outcome codes of the operators' reads, beside ledger.CodeCustomerNotFound.
const (
	CodeBrandNotFound = "BRAND_NOT_FOUND"
	CodeOrderNotFound = "ORDER_NOT_FOUND"
)

// notFoundErr is the business outcome code (one of the *_NOT_FOUND codes)
// with a message that is also fit to show.
func notFoundErr(code, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &ledger.Error{Kind: ledger.KindBusiness, Code: code, Message: msg, View: msg}
}

// MaxSearch bounds one customer search.
const MaxSearch = 200

// SearchCustomers finds customers by a piece of their id, mobile or name,
// in one brand or every brand.
func (a *Admin) SearchCustomers(ctx context.Context, brandID, text string, limit int) ([]ledger.Customer, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, ledger.Invalid("q", "不可为空: 请输入顾客编号、手机号或姓名")
	}
	if len(text) > 100 {
		return nil, ledger.Invalid("q", "过长: 最多 100 字节")
	}
	if err := CheckChars("q", text); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxSearch {
		limit = 50
	}
	if brandID = strings.TrimSpace(brandID); brandID != "" {
		if _, err := a.brandOf(ctx, brandID); err != nil {
			return nil, err
		}
	}
	return a.read.SearchCustomers(ctx, CustomerSearch{BrandID: brandID, Text: text, Limit: limit})
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
	Account AccountView
	Lots    []LotView // live lots, earliest expiry first, never-expiring last
	Holds   []ledger.Hold
	Now     time.Time
}

// maxHolds bounds the holds shown with a customer.
const maxHolds = 50

// Customer is a customer with their account: balances, lots (those
// expiring soon marked) and their latest holds.
func (a *Admin) Customer(ctx context.Context, id string) (CustomerView, error) {
	var v CustomerView
	if err := required("customer_id", id); err != nil {
		return v, err
	}
	id = strings.TrimSpace(id)
	cust, err := a.svc.store.Customer(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return v, notFoundErr(ledger.CodeCustomerNotFound, "顾客不存在: %s", id)
	}
	if err != nil {
		return v, err
	}
	if v.Brand, err = a.svc.brand(ctx, cust.BrandID); err != nil {
		return v, err
	}
	if v.Account, err = a.svc.Account(ctx, cust); err != nil {
		return v, err
	}
	v.Now = a.svc.Now()
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
	v.Holds, err = a.read.CustomerHolds(ctx, cust.BrandID, cust.ID, maxHolds)
	return v, err
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
	Start, End time.Time
	PageNo     int64 // from 1; 0 means 1
	PageSize   int64 // 0 means 50
}

// query validates f and turns it into a store query (without paging).
func (a *Admin) query(ctx context.Context, f FlowFilter) (FlowQuery, error) {
	if err := check(nil, field{"shop_id", f.ShopID}, field{"out_biz_id", f.OutBizLike}); err != nil {
		return FlowQuery{}, err
	}
	brand, err := a.brandOf(ctx, f.BrandID)
	if err != nil {
		return FlowQuery{}, err
	}
	t := ledger.FlowType(strings.TrimSpace(f.Type))
	if t != "" && !t.Valid() {
		return FlowQuery{}, ledger.Invalidf("type", "未知的积分流水类型 %q", f.Type)
	}
	if ch := strings.TrimSpace(f.Channel); ch != "" && !knownChannel(ch) {
		return FlowQuery{}, ledger.Invalidf("channel", "未知渠道 %q", ch)
	}
	if !f.Start.IsZero() && !f.End.IsZero() && f.End.Before(f.Start) {
		return FlowQuery{}, ledger.Invalid("end", "截止时间早于开始时间")
	}
	q := FlowQuery{BrandID: brand.ID, OutBizLike: strings.TrimSpace(f.OutBizLike), Type: t,
		Channel: strings.TrimSpace(f.Channel), Start: f.Start, End: f.End}
	if id := strings.TrimSpace(f.ShopID); id != "" {
		sh, err := a.svc.shop(ctx, id)
		if err != nil {
			return q, notFound(err, "shop_id", "门店不存在: "+id)
		}
		if sh.BrandID != brand.ID {
			return q, ledger.Invalidf("shop_id", "门店 %s 不属于品牌 %s", id, brand.ID)
		}
		q.ShopID = sh.ID
	}
	if id := strings.TrimSpace(f.CustomerID); id != "" {
		c, err := a.svc.customerOf(ctx, brand, id)
		if err != nil {
			return q, err
		}
		q.CustomerID = c.ID
	}
	return q, nil
}

// Flows lists one page of the flows matching f, newest first.
func (a *Admin) Flows(ctx context.Context, f FlowFilter) (FlowPage, error) {
	if f.PageNo < 0 || f.PageNo > 1_000_000 {
		return FlowPage{}, ledger.Invalidf("page_no", "必须在 1 到 1000000 之间, 收到 %d", f.PageNo)
	}
	if f.PageSize < 0 || f.PageSize > MaxPageSize {
		return FlowPage{}, ledger.Invalidf("page_size", "必须在 1 到 %d 之间, 收到 %d", MaxPageSize, f.PageSize)
	}
	if f.PageNo == 0 {
		f.PageNo = 1
	}
	if f.PageSize == 0 {
		f.PageSize = 50
	}
	q, err := a.query(ctx, f)
	if err != nil {
		return FlowPage{}, err
	}
	q.Offset, q.Limit = int((f.PageNo-1)*f.PageSize), int(f.PageSize)
	flows, total, err := a.svc.store.Flows(ctx, q)
	if err != nil {
		return FlowPage{}, err
	}
	return FlowPage{Flows: flows, PageNo: f.PageNo, PageSize: f.PageSize, Total: int64(total)}, nil
}

// EachFlow calls fn with every flow matching f (paging ignored), newest
// first: the export of a filtered list.
func (a *Admin) EachFlow(ctx context.Context, f FlowFilter, fn func(ledger.Flow) error) error {
	q, err := a.query(ctx, f)
	if err != nil {
		return err
	}
	return a.read.EachFlow(ctx, q, fn)
}

// Brands lists every brand.
func (a *Admin) Brands(ctx context.Context) ([]ledger.Brand, error) { return a.svc.store.Brands(ctx) }

// BrandView is a brand with its shops and the rule in force.
type BrandView struct {
	Brand ledger.Brand
	Shops []ledger.Shop
	Rule  *ledger.Rule // nil: the brand has none (the built-in default applies)
}

// Brand is one brand with its shops and rule.
func (a *Admin) Brand(ctx context.Context, id string) (BrandView, error) {
	var v BrandView
	if err := required("brand_id", id); err != nil {
		return v, err
	}
	var err error
	// Read through the store, not the cache: an operator editing a brand
	// must see what was just applied.
	v.Brand, err = a.svc.store.Brand(ctx, strings.TrimSpace(id))
	if errors.Is(err, ErrNotFound) {
		return v, notFoundErr(CodeBrandNotFound, "品牌不存在: %s", id)
	}
	if err != nil {
		return v, err
	}
	if v.Shops, err = a.svc.store.Shops(ctx, v.Brand.ID); err != nil {
		return v, err
	}
	r, err := a.svc.store.Rule(ctx, v.Brand.ID)
	switch {
	case err == nil:
		v.Rule = &r
	case !errors.Is(err, ErrNotFound):
		return v, err
	}
	return v, nil
}

// Apps lists every app, secrets included: the API decides what to show.
func (a *Admin) Apps(ctx context.Context) ([]ledger.App, error) { return a.svc.store.Apps(ctx) }

// Apply creates or updates tenant records with the validation of
// `jifen apply`, in one transaction.
func (a *Admin) Apply(ctx context.Context, t Tenant) (ApplyReport, error) { return a.svc.Apply(ctx, t) }

// ReleaseHold releases what is still frozen for an order, in the
// operator's name (UNFREEZE).
func (a *Admin) ReleaseHold(ctx context.Context, operator, brandID, order string) error {
	if err := CheckOperator(operator); err != nil {
		return err
	}
	if err := required("outer_order_id", order); err != nil {
		return err
	}
	brand, err := a.brandOf(ctx, brandID)
	if err != nil {
		return err
	}
	return a.svc.ReleaseHold(ctx, brand.ID, strings.TrimSpace(order), operator)
}

// EndSession records that the console session nonce, valid until until,
// was ended (signed out), so that its cookie is refused from now on even
// where it is still kept; ended sessions past their expiry (by the wall
// clock, not the ledger's, which a sandbox moves) are forgotten.
func (a *Admin) EndSession(ctx context.Context, nonce string, until time.Time) error {
	return a.svc.store.Write(ctx, func(tx Tx) error { return tx.EndSession(ctx, nonce, until, time.Now()) })
}

// SessionEnded reports whether the console session nonce was ended.
func (a *Admin) SessionEnded(ctx context.Context, nonce string) (bool, error) {
	return a.read.SessionEnded(ctx, nonce)
}
