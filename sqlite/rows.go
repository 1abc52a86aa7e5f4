package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// queryer runs a query on the read pool, a read transaction, or the
// writer's connection. The row loaders below take one, so the Reader and
// the Tx share them.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type scanner interface{ Scan(dest ...any) error }

// Every SELECT writes its parameters as "+?". With a plain "?", SQLite's
// planner may mark the statement for re-preparation when its parameters
// are rebound (it does for ORDER BY, LIMIT, MAX and joins, among others),
// and the driver rebinds on every run: each run would compile the
// statement again, the larger part of such a query's cost. The unary plus
// changes nothing else, and the same indexes are used (TestQueryPlans).
// TestNoReprepare guards this.

// queryHook, when a test sets it, sees every query the helpers below run
// (to check their plans). It is nil otherwise.
var queryHook func(query string)

// one runs query and scans its first row; ok is false when it has none.
func one[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), query string, args ...any) (v T, ok bool, err error) {
	if queryHook != nil {
		queryHook(query)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return v, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return v, false, rows.Err()
	}
	if v, err = scan(rows); err != nil {
		return v, false, err
	}
	return v, true, rows.Close()
}

// all runs query and scans every row.
func all[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	if queryHook != nil {
		queryHook(query)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// each runs query and calls fn with every row as it is read.
func each[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), fn func(T) error, query string, args ...any) error {
	if queryHook != nil {
		queryHook(query)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

func scanInt(sc scanner) (int64, error) {
	var n int64
	err := sc.Scan(&n)
	return n, err
}

func scanString(sc scanner) (string, error) {
	var s string
	err := sc.Scan(&s)
	return s, err
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("sqlite: "+format+": %w", append(args, points.ErrNotFound)...)
}

// Apps.

const appCols = "app_key, secret, name, active, channels, brands, rate_limit"

func scanApp(sc scanner) (ledger.App, error) {
	var a ledger.App
	var channels, brands string
	if err := sc.Scan(&a.Key, &a.Secret, &a.Name, &a.Active, &channels, &brands, &a.RateLimit); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(channels), &a.Channels); err != nil {
		return a, fmt.Errorf("app %q channels: %w", a.Key, err)
	}
	if err := json.Unmarshal([]byte(brands), &a.Brands); err != nil {
		return a, fmt.Errorf("app %q brands: %w", a.Key, err)
	}
	return a, nil
}

func loadApp(ctx context.Context, q queryer, key string) (ledger.App, error) {
	a, ok, err := one(ctx, q, scanApp, "SELECT "+appCols+" FROM apps WHERE app_key = +?", key)
	if err != nil {
		return a, fmt.Errorf("sqlite: app %q: %w", key, err)
	}
	if !ok {
		return a, notFound("app %q", key)
	}
	return a, nil
}

// Brands.

const brandCols = "brand_id, name, time_zone, settings"

func scanBrand(sc scanner) (ledger.Brand, error) {
	var b ledger.Brand
	var settings string
	if err := sc.Scan(&b.ID, &b.Name, &b.TimeZone, &settings); err != nil {
		return b, err
	}
	if err := json.Unmarshal([]byte(settings), &b.Settings); err != nil {
		return b, fmt.Errorf("brand %q settings: %w", b.ID, err)
	}
	return b, nil
}

type outID struct{ owner, channel, outID string }

func scanOutID(sc scanner) (outID, error) {
	var o outID
	err := sc.Scan(&o.owner, &o.channel, &o.outID)
	return o, err
}

// brandOutIDs fills in the external ids of brands.
func brandOutIDs(ctx context.Context, q queryer, brands []ledger.Brand, query string, args ...any) error {
	ids, err := all(ctx, q, scanOutID, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: brand external ids: %w", err)
	}
	at := make(map[string]int, len(brands))
	for i, b := range brands {
		at[b.ID] = i
	}
	for _, o := range ids {
		i, ok := at[o.owner]
		if !ok {
			continue
		}
		if brands[i].OutIDs == nil {
			brands[i].OutIDs = map[string]string{}
		}
		brands[i].OutIDs[o.channel] = o.outID
	}
	return nil
}

func loadBrand(ctx context.Context, q queryer, query string, args ...any) (ledger.Brand, bool, error) {
	b, ok, err := one(ctx, q, scanBrand, query, args...)
	if err != nil || !ok {
		return b, ok, err
	}
	bs := []ledger.Brand{b}
	err = brandOutIDs(ctx, q, bs, "SELECT brand_id, channel, out_id FROM brand_out_ids WHERE brand_id = +?", b.ID)
	return bs[0], true, err
}

// Shops.

const shopCols = "shop_id, brand_id, name"

func scanShop(sc scanner) (ledger.Shop, error) {
	var s ledger.Shop
	err := sc.Scan(&s.ID, &s.BrandID, &s.Name)
	return s, err
}

func shopOutIDs(ctx context.Context, q queryer, shops []ledger.Shop, query string, args ...any) error {
	ids, err := all(ctx, q, scanOutID, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: shop external ids: %w", err)
	}
	at := make(map[string]int, len(shops))
	for i, s := range shops {
		at[s.ID] = i
	}
	for _, o := range ids {
		i, ok := at[o.owner]
		if !ok {
			continue
		}
		if shops[i].OutIDs == nil {
			shops[i].OutIDs = map[string]string{}
		}
		shops[i].OutIDs[o.channel] = o.outID
	}
	return nil
}

func loadShop(ctx context.Context, q queryer, query string, args ...any) (ledger.Shop, bool, error) {
	s, ok, err := one(ctx, q, scanShop, query, args...)
	if err != nil || !ok {
		return s, ok, err
	}
	ss := []ledger.Shop{s}
	err = shopOutIDs(ctx, q, ss, "SELECT shop_id, channel, out_id FROM shop_out_ids WHERE shop_id = +?", s.ID)
	return ss[0], true, err
}

// Customers.

const customerCols = "customer_id, brand_id, mobile, name, level_id, customer_type, channel, outer_type, " +
	"outer_id, gender, email, birthday, address, remark, shop_id, created_at"

func scanCustomer(sc scanner) (ledger.Customer, error) {
	var c ledger.Customer
	var created int64
	err := sc.Scan(&c.ID, &c.BrandID, &c.Mobile, &c.Name, &c.LevelID, &c.CustomerType, &c.Channel, &c.OuterType,
		&c.OuterID, &c.Gender, &c.Email, &c.Birthday, &c.Address, &c.Remark, &c.ShopID, &created)
	c.CreatedAt = fromMicros(created)
	return c, err
}

func loadCustomer(ctx context.Context, q queryer, id string) (ledger.Customer, error) {
	c, ok, err := one(ctx, q, scanCustomer, "SELECT "+customerCols+" FROM customers WHERE customer_id = +?", id)
	if err != nil {
		return c, fmt.Errorf("sqlite: customer %q: %w", id, err)
	}
	if !ok {
		return c, notFound("customer %q", id)
	}
	return c, nil
}

func loadCustomerByOuterID(ctx context.Context, q queryer, brandID, outerType, outerID string) (ledger.Customer, error) {
	c, ok, err := one(ctx, q, scanCustomer, "SELECT "+customerCols+
		" FROM customers WHERE brand_id = +? AND outer_type = +? AND outer_id = +? ORDER BY created_at, rowid LIMIT 1",
		brandID, outerType, outerID)
	if err != nil {
		return c, fmt.Errorf("sqlite: customer of brand %q by %s %q: %w", brandID, outerType, outerID, err)
	}
	if !ok {
		return c, notFound("customer of brand %q by %s %q", brandID, outerType, outerID)
	}
	return c, nil
}

// Rules.

// ruleBody is the JSON stored for a rule's fields that are not columns.
type ruleBody struct {
	Name       string                 `json:"name"`
	Clear      ledger.ClearRule       `json:"clear"`
	WithCoupon bool                   `json:"with_coupon"`
	Deduction  []ledger.DeductionRule `json:"deduction"`
	Addition   []ledger.AdditionRule  `json:"addition"`
	CreatedBy  string                 `json:"created_by"`
	UpdatedBy  string                 `json:"updated_by"`
}

const ruleCols = "brand_id, version, rule_id, body, created_at, updated_at"

func scanRule(sc scanner) (ledger.Rule, error) {
	var r ledger.Rule
	var body string
	var created, updated int64
	if err := sc.Scan(&r.BrandID, &r.Version, &r.RuleID, &body, &created, &updated); err != nil {
		return r, err
	}
	var b ruleBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return r, fmt.Errorf("rule %s v%d: %w", r.BrandID, r.Version, err)
	}
	r.Name, r.Clear, r.WithCoupon, r.Deduction, r.Addition = b.Name, b.Clear, b.WithCoupon, b.Deduction, b.Addition
	r.CreatedBy, r.UpdatedBy = b.CreatedBy, b.UpdatedBy
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

func loadRule(ctx context.Context, q queryer, brandID string) (ledger.Rule, error) {
	r, ok, err := one(ctx, q, scanRule,
		"SELECT "+ruleCols+" FROM rules WHERE brand_id = +? ORDER BY version DESC LIMIT 1", brandID)
	if err != nil {
		return r, fmt.Errorf("sqlite: rule of brand %q: %w", brandID, err)
	}
	if !ok {
		return r, notFound("rule of brand %q", brandID)
	}
	return r, nil
}

// Accounts.

const accountCols = "brand_id, customer_id, available, frozen, debt, total_earned, total_used, total_expired, " +
	"seq, last_hash, lot_seq, alloc_seq, version"

func scanAccount(sc scanner) (ledger.Account, error) {
	var a ledger.Account
	err := sc.Scan(&a.BrandID, &a.CustomerID, &a.Available, &a.Frozen, &a.Debt, &a.TotalEarned, &a.TotalUsed,
		&a.TotalExpired, &a.Seq, &a.LastHash, &a.LotSeq, &a.AllocSeq, &a.Version)
	a.Exists = err == nil
	return a, err
}

func loadAccount(ctx context.Context, q queryer, brandID, customerID string) (ledger.Account, bool, error) {
	a, ok, err := one(ctx, q, scanAccount,
		"SELECT "+accountCols+" FROM accounts WHERE brand_id = +? AND customer_id = +?", brandID, customerID)
	if err != nil {
		return a, false, fmt.Errorf("sqlite: account %s/%s: %w", brandID, customerID, err)
	}
	return a, ok, nil
}

// Lots.

const lotCols = "lot_id, brand_id, customer_id, granted, remaining, earned_at, expires_at, flow_id, out_biz_id, seq"

// scanLot reads a lot as loaded: its LoadedRemaining is what was read.
func scanLot(sc scanner) (ledger.Lot, error) {
	var l ledger.Lot
	var earned, expires int64
	if err := sc.Scan(&l.ID, &l.BrandID, &l.CustomerID, &l.Granted, &l.Remaining, &earned, &expires,
		&l.FlowID, &l.OutBizID, &l.Seq); err != nil {
		return l, err
	}
	l.EarnedAt, l.ExpiresAt = fromMicros(earned), fromMicros(expires)
	return l.Loaded(), nil
}

func loadLiveLots(ctx context.Context, q queryer, brandID, customerID string) ([]ledger.Lot, error) {
	lots, err := all(ctx, q, scanLot, "SELECT "+lotCols+
		" FROM lots WHERE brand_id = +? AND customer_id = +? AND remaining > 0 ORDER BY seq", brandID, customerID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: live lots of %s/%s: %w", brandID, customerID, err)
	}
	return lots, nil
}

// Flows.

const flowCols = "flow_id, brand_id, customer_id, seq, type, amount, delta_available, delta_frozen, delta_debt, " +
	"remain_point, out_biz_id, reverse_order_id, shop_id, shop_name, channel, app_key, request_id, operator_id, " +
	"operator_name, reason, rule_version, policy, created_at, prev_hash, hash"

func scanFlow(sc scanner) (ledger.Flow, error) {
	var f ledger.Flow
	var created int64
	err := sc.Scan(&f.ID, &f.BrandID, &f.CustomerID, &f.Seq, &f.Type, &f.Amount, &f.DeltaAvailable, &f.DeltaFrozen,
		&f.DeltaDebt, &f.RemainPoint, &f.OutBizID, &f.ReverseOrderID, &f.ShopID, &f.ShopName, &f.Channel, &f.AppKey,
		&f.RequestID, &f.OperatorID, &f.OperatorName, &f.Reason, &f.RuleVersion, &f.Policy, &created,
		&f.PrevHash, &f.Hash)
	f.CreatedAt = fromMicros(created)
	return f, err
}

// Allocations.

const allocCols = "flow_id, lot_id, brand_id, customer_id, order_ref, kind, amount, seq"

func scanAlloc(sc scanner) (ledger.Allocation, error) {
	var a ledger.Allocation
	err := sc.Scan(&a.FlowID, &a.LotID, &a.BrandID, &a.CustomerID, &a.OrderRef, &a.Kind, &a.Amount, &a.Seq)
	return a, err
}

// Orders.

const orderCols = "brand_id, out_biz_id, customer_id, spent, reversed, granted, clawed_back, version"

func scanOrder(sc scanner) (ledger.Order, error) {
	var o ledger.Order
	err := sc.Scan(&o.BrandID, &o.OutBizID, &o.CustomerID, &o.Spent, &o.Reversed, &o.Granted, &o.ClawedBack, &o.Version)
	o.Exists = err == nil
	return o, err
}

// Holds.

const holdCols = "brand_id, outer_order_id, customer_id, amount, remaining, verified, status, created_at, " +
	"expires_at, flow_id, version"

func scanHold(sc scanner) (ledger.Hold, error) {
	var h ledger.Hold
	var created, expires int64
	err := sc.Scan(&h.BrandID, &h.OuterOrderID, &h.CustomerID, &h.Amount, &h.Remaining, &h.Verified, &h.Status,
		&created, &expires, &h.FlowID, &h.Version)
	h.CreatedAt, h.ExpiresAt = fromMicros(created), fromMicros(expires)
	h.Exists = err == nil
	return h, err
}

// Reversals.

const reversalCols = "brand_id, reverse_order_id, out_biz_id, customer_id, type, requested, amount, flow_id, created_at"

func scanReversal(sc scanner) (ledger.Reversal, error) {
	var r ledger.Reversal
	var created int64
	err := sc.Scan(&r.BrandID, &r.ReverseOrderID, &r.OutBizID, &r.CustomerID, &r.Type, &r.Requested, &r.Amount,
		&r.FlowID, &created)
	r.CreatedAt = fromMicros(created)
	return r, err
}

// Idempotency records.

const idemCols = "brand_id, app_key, request_id, method, fingerprint, flow_id, result, created_at"

func scanIdem(sc scanner) (ledger.Idempotency, error) {
	var r ledger.Idempotency
	var created int64
	err := sc.Scan(&r.BrandID, &r.AppKey, &r.RequestID, &r.Method, &r.Fingerprint, &r.FlowID, &r.Result, &created)
	r.CreatedAt = fromMicros(created)
	return r, err
}

// unixMicrosCeil is the first whole microsecond at or after t, for an
// inclusive lower bound.
func unixMicrosCeil(t time.Time) int64 {
	n := t.UnixMicro()
	if t.Sub(time.UnixMicro(n)) > 0 {
		n++
	}
	return n
}
