package postgres

import (
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"jifen/ledger"
	"jifen/points"
)

// Every statement is built as a pgx.QueuedQuery whose callback scans its
// rows (or checks its command tag) and describes its error. The Reader
// sends them on the pool, a Tx on its connection, several at a time where
// they do not depend on one another: one round trip for the lot.

// desc describes a statement for its errors; it is formatted only for
// an error.
type desc struct {
	format string
	args   []any
}

func d(format string, args ...any) desc { return desc{format, args} }

func (d desc) String() string { return fmt.Sprintf(d.format, d.args...) }

// rowsQuery queues sql; each is called with every row it returns.
func rowsQuery(what desc, each func(pgx.Rows) error, sql string, args ...any) *pgx.QueuedQuery {
	qq := &pgx.QueuedQuery{SQL: sql, Arguments: args}
	qq.Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				return fmt.Errorf("postgres: %s: %w", what, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: %s: %w", what, err)
		}
		return nil
	}
	return qq
}

// one queues sql and scans its first row into dst; found says whether it
// had one.
// scanInt64 scans one integer column.
func scanInt64(r pgx.Rows) (int64, error) {
	var n int64
	err := r.Scan(&n)
	return n, err
}

func one[T any](what desc, dst *T, found *bool, scan func(pgx.Rows) (T, error), sql string, args ...any) *pgx.QueuedQuery {
	return rowsQuery(what, func(r pgx.Rows) error {
		if *found {
			return nil
		}
		v, err := scan(r)
		if err != nil {
			return err
		}
		*dst, *found = v, true
		return nil
	}, sql, args...)
}

// all queues sql and appends every row to dst.
func all[T any](what desc, dst *[]T, scan func(pgx.Rows) (T, error), sql string, args ...any) *pgx.QueuedQuery {
	return rowsQuery(what, func(r pgx.Rows) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		*dst = append(*dst, v)
		return nil
	}, sql, args...)
}

// exists queues sql; found says whether it returned a row.
func exists(what desc, found *bool, sql string, args ...any) *pgx.QueuedQuery {
	return rowsQuery(what, func(pgx.Rows) error { *found = true; return nil }, sql, args...)
}

// execQuery queues a statement that returns no rows; check, if set, is
// called with its command tag. Errors are described by describe.
func execQuery(describe func(error) error, check func(pgconn.CommandTag) error, sql string, args ...any) *pgx.QueuedQuery {
	qq := &pgx.QueuedQuery{SQL: sql, Arguments: args}
	qq.Fn = func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return describe(err)
		}
		if check != nil {
			if err := check(tag); err != nil {
				return describe(err)
			}
		}
		return nil
	}
	return qq
}

// failedTo describes an error of a statement that was to do what.
func failedTo(format string, args ...any) func(error) error {
	return func(err error) error {
		return fmt.Errorf("postgres: %s: %w", fmt.Sprintf(format, args...), err)
	}
}

// insertFailed describes a failed INSERT of a row the write read as
// absent: finding it present (a unique violation) means another write
// created it since: ErrConflict, and the whole write runs again.
func insertFailed(format string, args ...any) func(error) error {
	return func(err error) error {
		what := fmt.Sprintf(format, args...)
		if isCode(err, codeUniqueViolation) {
			return fmt.Errorf("postgres: insert %s: %w (%w)", what, points.ErrConflict, err)
		}
		return fmt.Errorf("postgres: insert %s: %w", what, err)
	}
}

// changedOne checks a conditional UPDATE: no row matched means the row is
// no longer as read, ErrConflict.
func changedOne(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return points.ErrConflict
	}
	return nil
}

func notFound(format string, args ...any) error {
	return fmt.Errorf("postgres: "+format+": %w", append(args, points.ErrNotFound)...)
}

// Apps.

const appCols = "app_key, secret, name, active, channels, brands, rate_limit"

func scanApp(r pgx.Rows) (ledger.App, error) {
	var a ledger.App
	var channels, brands []byte
	if err := r.Scan(&a.Key, &a.Secret, &a.Name, &a.Active, &channels, &brands, &a.RateLimit); err != nil {
		return a, err
	}
	if err := json.Unmarshal(channels, &a.Channels); err != nil {
		return a, fmt.Errorf("app %q channels: %w", a.Key, err)
	}
	if err := json.Unmarshal(brands, &a.Brands); err != nil {
		return a, fmt.Errorf("app %q brands: %w", a.Key, err)
	}
	return a, nil
}

func appQuery(key string, dst *ledger.App, found *bool) *pgx.QueuedQuery {
	return one(d("app %q", key), dst, found, scanApp, "SELECT "+appCols+" FROM apps WHERE app_key = $1", key)
}

// Brands. A brand's external ids come with it, as two parallel arrays.

const brandCols = `b.brand_id, b.name, b.time_zone, b.settings,
	ARRAY(SELECT o.channel FROM brand_out_ids o WHERE o.brand_id = b.brand_id ORDER BY o.channel),
	ARRAY(SELECT o.out_id FROM brand_out_ids o WHERE o.brand_id = b.brand_id ORDER BY o.channel)`

func scanBrand(r pgx.Rows) (ledger.Brand, error) {
	var b ledger.Brand
	var settings []byte
	var channels, outIDs []string
	if err := r.Scan(&b.ID, &b.Name, &b.TimeZone, &settings, &channels, &outIDs); err != nil {
		return b, err
	}
	if err := json.Unmarshal(settings, &b.Settings); err != nil {
		return b, fmt.Errorf("brand %q settings: %w", b.ID, err)
	}
	b.OutIDs = outIDMap(channels, outIDs)
	return b, nil
}

// outIDMap pairs channels with external ids; nil for none, as the SQLite
// store answers.
func outIDMap(channels, outIDs []string) map[string]string {
	if len(channels) == 0 {
		return nil
	}
	m := make(map[string]string, len(channels))
	for i, ch := range channels {
		if i < len(outIDs) {
			m[ch] = outIDs[i]
		}
	}
	return m
}

// Shops.

const shopCols = `s.shop_id, s.brand_id, s.name,
	ARRAY(SELECT o.channel FROM shop_out_ids o WHERE o.shop_id = s.shop_id ORDER BY o.channel),
	ARRAY(SELECT o.out_id FROM shop_out_ids o WHERE o.shop_id = s.shop_id ORDER BY o.channel)`

func scanShop(r pgx.Rows) (ledger.Shop, error) {
	var s ledger.Shop
	var channels, outIDs []string
	if err := r.Scan(&s.ID, &s.BrandID, &s.Name, &channels, &outIDs); err != nil {
		return s, err
	}
	s.OutIDs = outIDMap(channels, outIDs)
	return s, nil
}

// Customers.

const customerCols = "customer_id, brand_id, mobile, name, level_id, customer_type, channel, outer_type, " +
	"outer_id, gender, email, birthday, address, remark, shop_id, created_at"

func scanCustomer(r pgx.Rows) (ledger.Customer, error) {
	var c ledger.Customer
	var created int64
	err := r.Scan(&c.ID, &c.BrandID, &c.Mobile, &c.Name, &c.LevelID, &c.CustomerType, &c.Channel, &c.OuterType,
		&c.OuterID, &c.Gender, &c.Email, &c.Birthday, &c.Address, &c.Remark, &c.ShopID, &created)
	c.CreatedAt = fromMicros(created)
	return c, err
}

func customerQuery(id string, dst *ledger.Customer, found *bool) *pgx.QueuedQuery {
	return one(d("customer %q", id), dst, found, scanCustomer,
		"SELECT "+customerCols+" FROM customers WHERE customer_id = $1", id)
}

// Several customers may share an outer id or a mobile: the earliest wins
// (customer ids are time-ordered, so they break ties by creation too).
func customerByOuterIDQuery(brandID, outerType, outerID string, dst *ledger.Customer, found *bool) *pgx.QueuedQuery {
	return one(d("customer of brand %q by %s %q", brandID, outerType, outerID), dst, found, scanCustomer,
		"SELECT "+customerCols+` FROM customers WHERE brand_id = $1 AND outer_type = $2 AND outer_id = $3
		ORDER BY created_at, customer_id LIMIT 1`, brandID, outerType, outerID)
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

func scanRule(r pgx.Rows) (ledger.Rule, error) {
	var rule ledger.Rule
	var body []byte
	var created, updated int64
	if err := r.Scan(&rule.BrandID, &rule.Version, &rule.RuleID, &body, &created, &updated); err != nil {
		return rule, err
	}
	var b ruleBody
	if err := json.Unmarshal(body, &b); err != nil {
		return rule, fmt.Errorf("rule %s v%d: %w", rule.BrandID, rule.Version, err)
	}
	rule.Name, rule.Clear, rule.WithCoupon, rule.Deduction, rule.Addition = b.Name, b.Clear, b.WithCoupon, b.Deduction, b.Addition
	rule.CreatedBy, rule.UpdatedBy = b.CreatedBy, b.UpdatedBy
	rule.CreatedAt, rule.UpdatedAt = fromMicros(created), fromMicros(updated)
	return rule, nil
}

func ruleQuery(brandID string, dst *ledger.Rule, found *bool) *pgx.QueuedQuery {
	return one(d("rule of brand %q", brandID), dst, found, scanRule,
		"SELECT "+ruleCols+" FROM rules WHERE brand_id = $1 ORDER BY version DESC LIMIT 1", brandID)
}

// Accounts.

const accountCols = "brand_id, customer_id, available, frozen, debt, total_earned, total_used, total_expired, " +
	"seq, last_hash, lot_seq, alloc_seq, version"

func scanAccount(r pgx.Rows) (ledger.Account, error) {
	var a ledger.Account
	err := r.Scan(&a.BrandID, &a.CustomerID, &a.Available, &a.Frozen, &a.Debt, &a.TotalEarned, &a.TotalUsed,
		&a.TotalExpired, &a.Seq, &a.LastHash, &a.LotSeq, &a.AllocSeq, &a.Version)
	a.Exists = err == nil
	return a, err
}

// Lots.

const lotCols = "lot_id, brand_id, customer_id, granted, remaining, earned_at, expires_at, flow_id, out_biz_id, seq"

// scanLot reads a lot as loaded: its LoadedRemaining is what was read.
func scanLot(r pgx.Rows) (ledger.Lot, error) {
	var l ledger.Lot
	var earned, expires int64
	if err := r.Scan(&l.ID, &l.BrandID, &l.CustomerID, &l.Granted, &l.Remaining, &earned, &expires,
		&l.FlowID, &l.OutBizID, &l.Seq); err != nil {
		return l, err
	}
	l.EarnedAt, l.ExpiresAt = fromMicros(earned), fromMicros(expires)
	return l.Loaded(), nil
}

func liveLotsQuery(brandID, customerID string, dst *[]ledger.Lot) *pgx.QueuedQuery {
	return all(d("live lots of %s/%s", brandID, customerID), dst, scanLot, "SELECT "+lotCols+
		" FROM lots WHERE brand_id = $1 AND customer_id = $2 AND remaining > 0 ORDER BY seq", brandID, customerID)
}

// Flows.

const flowCols = "flow_id, brand_id, customer_id, seq, type, amount, delta_available, delta_frozen, delta_debt, " +
	"remain_point, out_biz_id, reverse_order_id, shop_id, shop_name, channel, app_key, request_id, operator_id, " +
	"operator_name, reason, rule_version, policy, created_at, prev_hash, hash"

func scanFlow(r pgx.Rows) (ledger.Flow, error) {
	var f ledger.Flow
	var typ string
	var created int64
	err := r.Scan(&f.ID, &f.BrandID, &f.CustomerID, &f.Seq, &typ, &f.Amount, &f.DeltaAvailable, &f.DeltaFrozen,
		&f.DeltaDebt, &f.RemainPoint, &f.OutBizID, &f.ReverseOrderID, &f.ShopID, &f.ShopName, &f.Channel, &f.AppKey,
		&f.RequestID, &f.OperatorID, &f.OperatorName, &f.Reason, &f.RuleVersion, &f.Policy, &created,
		&f.PrevHash, &f.Hash)
	f.Type = ledger.FlowType(typ)
	f.CreatedAt = fromMicros(created)
	return f, err
}

// Allocations.

const allocCols = "flow_id, lot_id, brand_id, customer_id, order_ref, kind, amount, seq"

func scanAlloc(r pgx.Rows) (ledger.Allocation, error) {
	var a ledger.Allocation
	err := r.Scan(&a.FlowID, &a.LotID, &a.BrandID, &a.CustomerID, &a.OrderRef, &a.Kind, &a.Amount, &a.Seq)
	return a, err
}

// Orders.

const orderCols = "brand_id, out_biz_id, customer_id, spent, reversed, granted, clawed_back, version"

func scanOrder(r pgx.Rows) (ledger.Order, error) {
	var o ledger.Order
	err := r.Scan(&o.BrandID, &o.OutBizID, &o.CustomerID, &o.Spent, &o.Reversed, &o.Granted, &o.ClawedBack, &o.Version)
	o.Exists = err == nil
	return o, err
}

// Holds.

const holdCols = "brand_id, outer_order_id, customer_id, amount, remaining, verified, status, created_at, " +
	"expires_at, flow_id, version"

func scanHold(r pgx.Rows) (ledger.Hold, error) {
	var h ledger.Hold
	var created, expires int64
	err := r.Scan(&h.BrandID, &h.OuterOrderID, &h.CustomerID, &h.Amount, &h.Remaining, &h.Verified, &h.Status,
		&created, &expires, &h.FlowID, &h.Version)
	h.CreatedAt, h.ExpiresAt = fromMicros(created), fromMicros(expires)
	h.Exists = err == nil
	return h, err
}

// Reversals.

const reversalCols = "brand_id, reverse_order_id, out_biz_id, customer_id, type, requested, amount, flow_id, created_at"

func scanReversal(r pgx.Rows) (ledger.Reversal, error) {
	var rv ledger.Reversal
	var typ string
	var created int64
	err := r.Scan(&rv.BrandID, &rv.ReverseOrderID, &rv.OutBizID, &rv.CustomerID, &typ, &rv.Requested, &rv.Amount,
		&rv.FlowID, &created)
	rv.Type = ledger.FlowType(typ)
	rv.CreatedAt = fromMicros(created)
	return rv, err
}

// Idempotency records.

const idemCols = "brand_id, app_key, request_id, method, fingerprint, flow_id, result, created_at"

func scanIdem(r pgx.Rows) (ledger.Idempotency, error) {
	var rec ledger.Idempotency
	var created int64
	err := r.Scan(&rec.BrandID, &rec.AppKey, &rec.RequestID, &rec.Method, &rec.Fingerprint, &rec.FlowID, &rec.Result, &created)
	rec.CreatedAt = fromMicros(created)
	return rec, err
}

func idemQuery(brandID, appKey, requestID string, dst *ledger.Idempotency, found *bool) *pgx.QueuedQuery {
	return one(d("idempotency %s/%s/%s", brandID, appKey, requestID), dst, found, scanIdem,
		"SELECT "+idemCols+" FROM idempotency WHERE brand_id = $1 AND app_key = $2 AND request_id = $3",
		brandID, appKey, requestID)
}
