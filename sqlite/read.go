package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// The Reader runs on the read pool. WAL lets these reads proceed while the
// writer is in a transaction; they see the last committed state.

// App returns the app with key.
func (s *Store) App(ctx context.Context, key string) (ledger.App, error) {
	return loadApp(ctx, s.rdb, key)
}

// Apps lists every app by key.
func (s *Store) Apps(ctx context.Context) ([]ledger.App, error) {
	apps, err := all(ctx, s.rdb, scanApp, "SELECT "+appCols+" FROM apps ORDER BY app_key")
	if err != nil {
		return nil, fmt.Errorf("sqlite: apps: %w", err)
	}
	return apps, nil
}

// Brand returns the brand with id.
func (s *Store) Brand(ctx context.Context, id string) (ledger.Brand, error) {
	tx, err := s.readTx(ctx) // the row and its out ids from one snapshot
	if err != nil {
		return ledger.Brand{}, err
	}
	defer tx.Rollback()
	b, ok, err := loadBrand(ctx, tx, "SELECT "+brandCols+" FROM brands WHERE brand_id = +?", id)
	if err != nil {
		return b, fmt.Errorf("sqlite: brand %q: %w", id, err)
	}
	if !ok {
		return b, notFound("brand %q", id)
	}
	return b, nil
}

// Brands lists every brand by id.
func (s *Store) Brands(ctx context.Context) ([]ledger.Brand, error) {
	tx, err := s.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	brands, err := all(ctx, tx, scanBrand, "SELECT "+brandCols+" FROM brands ORDER BY brand_id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: brands: %w", err)
	}
	if err := brandOutIDs(ctx, tx, brands, "SELECT brand_id, channel, out_id FROM brand_out_ids"); err != nil {
		return nil, err
	}
	return brands, nil
}

// BrandByOutID resolves a channel's external brand id.
func (s *Store) BrandByOutID(ctx context.Context, channel, outID string) (ledger.Brand, error) {
	tx, err := s.readTx(ctx) // the row and its out ids from one snapshot
	if err != nil {
		return ledger.Brand{}, err
	}
	defer tx.Rollback()
	b, ok, err := loadBrand(ctx, tx, "SELECT "+prefixed("b.", brandCols)+
		" FROM brand_out_ids o JOIN brands b ON b.brand_id = o.brand_id WHERE o.channel = +? AND o.out_id = +?",
		channel, outID)
	if err != nil {
		return b, fmt.Errorf("sqlite: brand %s:%s: %w", channel, outID, err)
	}
	if !ok {
		return b, notFound("brand %s:%s", channel, outID)
	}
	return b, nil
}

// Shop returns the shop with id.
func (s *Store) Shop(ctx context.Context, id string) (ledger.Shop, error) {
	tx, err := s.readTx(ctx) // the row and its out ids from one snapshot
	if err != nil {
		return ledger.Shop{}, err
	}
	defer tx.Rollback()
	sh, ok, err := loadShop(ctx, tx, "SELECT "+shopCols+" FROM shops WHERE shop_id = +?", id)
	if err != nil {
		return sh, fmt.Errorf("sqlite: shop %q: %w", id, err)
	}
	if !ok {
		return sh, notFound("shop %q", id)
	}
	return sh, nil
}

// Shops lists the brand's shops by id.
func (s *Store) Shops(ctx context.Context, brandID string) ([]ledger.Shop, error) {
	tx, err := s.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	shops, err := all(ctx, tx, scanShop, "SELECT "+shopCols+" FROM shops WHERE brand_id = +? ORDER BY shop_id", brandID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: shops of brand %q: %w", brandID, err)
	}
	if err := shopOutIDs(ctx, tx, shops, "SELECT o.shop_id, o.channel, o.out_id FROM shop_out_ids o"+
		" JOIN shops s ON s.shop_id = o.shop_id WHERE s.brand_id = +?", brandID); err != nil {
		return nil, err
	}
	return shops, nil
}

// ShopByOutID resolves a channel's external shop id.
func (s *Store) ShopByOutID(ctx context.Context, channel, outID string) (ledger.Shop, error) {
	tx, err := s.readTx(ctx) // the row and its out ids from one snapshot
	if err != nil {
		return ledger.Shop{}, err
	}
	defer tx.Rollback()
	sh, ok, err := loadShop(ctx, tx, "SELECT "+prefixed("s.", shopCols)+
		" FROM shop_out_ids o JOIN shops s ON s.shop_id = o.shop_id WHERE o.channel = +? AND o.out_id = +?",
		channel, outID)
	if err != nil {
		return sh, fmt.Errorf("sqlite: shop %s:%s: %w", channel, outID, err)
	}
	if !ok {
		return sh, notFound("shop %s:%s", channel, outID)
	}
	return sh, nil
}

// Customer returns the customer with id.
func (s *Store) Customer(ctx context.Context, id string) (ledger.Customer, error) {
	return loadCustomer(ctx, s.rdb, id)
}

// CustomerByMobile returns the brand's earliest customer with mobile.
func (s *Store) CustomerByMobile(ctx context.Context, brandID, mobile string) (ledger.Customer, error) {
	c, ok, err := one(ctx, s.rdb, scanCustomer, "SELECT "+customerCols+
		" FROM customers WHERE brand_id = +? AND mobile = +? ORDER BY created_at, rowid LIMIT 1", brandID, mobile)
	if err != nil {
		return c, fmt.Errorf("sqlite: customer of brand %q by mobile: %w", brandID, err)
	}
	if !ok {
		return c, notFound("customer of brand %q with that mobile", brandID)
	}
	return c, nil
}

// CustomerByOuterID returns the brand's earliest customer known to an
// outside system as outerType/outerID.
func (s *Store) CustomerByOuterID(ctx context.Context, brandID, outerType, outerID string) (ledger.Customer, error) {
	return loadCustomerByOuterID(ctx, s.rdb, brandID, outerType, outerID)
}

// Rule is the brand's newest rule version.
func (s *Store) Rule(ctx context.Context, brandID string) (ledger.Rule, error) {
	return loadRule(ctx, s.rdb, brandID)
}

// Account returns the stored account; ErrNotFound before its first write.
func (s *Store) Account(ctx context.Context, brandID, customerID string) (ledger.Account, error) {
	a, ok, err := loadAccount(ctx, s.rdb, brandID, customerID)
	if err != nil {
		return a, err
	}
	if !ok {
		return a, notFound("account %s/%s", brandID, customerID)
	}
	return a, nil
}

// LiveLots are the account's lots with points remaining, by creation.
func (s *Store) LiveLots(ctx context.Context, brandID, customerID string) ([]ledger.Lot, error) {
	return loadLiveLots(ctx, s.rdb, brandID, customerID)
}

// Flows lists the flows matching q, newest first, and how many match in
// all. Both come from one snapshot.
func (s *Store) Flows(ctx context.Context, q points.FlowQuery) ([]ledger.Flow, int, error) {
	cond, args := flowWhere(q)
	tx, err := s.readTx(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	total, _, err := one(ctx, tx, scanInt, "SELECT COUNT(*) FROM "+flowsFor(q)+cond, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: count flows: %w", err)
	}
	limit := int64(-1)
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	// Newest first; ties broken by seq, then flow_id. One member's flows
	// are newest first in the order they were written (seq, which the
	// account's lock makes the order of commits; a clock that stepped back
	// cannot reorder them): the table's key gives that order without
	// sorting the member's every flow to return one page.
	order := " ORDER BY created_at DESC, seq DESC, flow_id DESC"
	if q.BrandID != "" && q.CustomerID != "" {
		order = " ORDER BY seq DESC"
	}
	flows, err := all(ctx, tx, scanFlow, "SELECT "+flowCols+" FROM "+flowsFor(q)+cond+order+" LIMIT +? OFFSET +?",
		append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: flows: %w", err)
	}
	return flows, int(total), nil
}

// flowWhere is the WHERE clause of a FlowQuery ("" when nothing filters)
// and its arguments; Flows and EachFlow share it.
// flowsFor names the flows table for q: a brand's flows across its
// members are read in time order from flows_brand_time (named: without
// statistics the planner prefers the table's key, which holds the brand's
// flows by member, and sorts every one of them to return one page).
func flowsFor(q points.FlowQuery) string {
	if q.BrandID != "" && q.CustomerID == "" {
		return "flows INDEXED BY flows_brand_time"
	}
	return "flows"
}

func flowWhere(q points.FlowQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if q.BrandID != "" {
		add("brand_id = +?", q.BrandID)
	}
	if q.CustomerID != "" {
		add("customer_id = +?", q.CustomerID)
	}
	if q.OutBizLike != "" {
		add(`out_biz_id LIKE +? ESCAPE '\'`, "%"+escapeLike(q.OutBizLike)+"%")
	}
	if q.Type != "" {
		add("type = +?", string(q.Type))
	}
	if q.ShopID != "" {
		add("shop_id = +?", q.ShopID)
	}
	if q.Channel != "" {
		add("channel = +?", q.Channel)
	}
	if q.Operator != "" {
		where = append(where, "(operator_id = +? OR operator_name = +?)")
		args = append(args, q.Operator, q.Operator)
	}
	if q.FlowID != "" {
		add("flow_id = +?", q.FlowID)
	}
	// One member's flows are a range of the table's key: the time bounds
	// only filter it (+created_at keeps the planner off the brand's time
	// index, which would read the whole brand's flows in the window).
	at := "created_at"
	if q.CustomerID != "" {
		at = "+created_at"
	}
	if !q.Start.IsZero() {
		add(at+" >= +?", unixMicrosCeil(q.Start))
	}
	if !q.End.IsZero() {
		add(at+" <= +?", q.End.UnixMicro())
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// escapeLike makes s match itself literally in a LIKE pattern with
// ESCAPE '\'. (SQLite's LIKE ignores ASCII case; PostgreSQL's does not.)
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// DueAccounts lists up to limit accounts holding points in lots whose
// expiry is at or before now, those with the oldest such expiry first.
func (s *Store) DueAccounts(ctx context.Context, now time.Time, limit int) ([]points.AccountKey, error) {
	keys, err := all(ctx, s.rdb, func(sc scanner) (points.AccountKey, error) {
		var k points.AccountKey
		err := sc.Scan(&k.BrandID, &k.CustomerID)
		return k, err
	}, `SELECT brand_id, customer_id FROM lots
		WHERE remaining > 0 AND expires_at > 0 AND expires_at <= +?
		GROUP BY brand_id, customer_id ORDER BY MIN(expires_at), brand_id, customer_id LIMIT +?`,
		now.UnixMicro(), limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: due accounts: %w", err)
	}
	return keys, nil
}

// DueHolds lists up to limit active holds whose timeout is at or before
// now, oldest timeout first. A hold without a timeout never comes due.
func (s *Store) DueHolds(ctx context.Context, now time.Time, limit int) ([]ledger.Hold, error) {
	holds, err := all(ctx, s.rdb, scanHold, "SELECT "+holdCols+` FROM holds
		WHERE status = +? AND expires_at > 0 AND expires_at <= +?
		ORDER BY expires_at, brand_id, outer_order_id LIMIT +?`,
		ledger.HoldActive, now.UnixMicro(), limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: due holds: %w", err)
	}
	return holds, nil
}

// limitOrAll turns "0: no limit" into SQLite's LIMIT -1.
func limitOrAll(n int) int64 {
	if n <= 0 {
		return -1
	}
	return int64(n)
}

// readTx starts a read transaction: one consistent snapshot for reads
// that take several statements.
func (s *Store) readTx(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin read: %w", err)
	}
	return tx, nil
}

// prefixed qualifies every column of a column list with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// Auditor.

// EachAccount calls fn with every account's rows, accounts in key order,
// all read from one snapshot.
func (s *Store) EachAccount(ctx context.Context, fn func(points.AccountRows) error) error {
	tx, err := s.readTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	err = each(ctx, tx, scanAccount, func(a ledger.Account) error {
		rows, err := accountRows(ctx, tx, a)
		if err == nil {
			rows.Events, err = all(ctx, tx, scanEvent, `SELECT e.pos, e.brand_id, e.event_id, e.type, e.subject, e.time, e.data
				FROM flows f JOIN events e ON e.brand_id = f.brand_id AND e.event_id = f.flow_id
				WHERE f.brand_id = +? AND f.customer_id = +? ORDER BY e.pos`, a.BrandID, a.CustomerID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: rows of account %s/%s: %w", a.BrandID, a.CustomerID, err)
		}
		return fn(rows)
	}, "SELECT "+accountCols+" FROM accounts ORDER BY brand_id, customer_id")
	if err != nil {
		return fmt.Errorf("sqlite: each account: %w", err)
	}
	return nil
}

func accountRows(ctx context.Context, q queryer, a ledger.Account) (points.AccountRows, error) {
	r := points.AccountRows{Account: a}
	var err error
	key := []any{a.BrandID, a.CustomerID}
	if r.Lots, err = all(ctx, q, scanLot, "SELECT "+lotCols+
		" FROM lots WHERE brand_id = +? AND customer_id = +? ORDER BY seq", key...); err != nil {
		return r, err
	}
	if r.Flows, err = all(ctx, q, scanFlow, "SELECT "+flowCols+
		" FROM flows WHERE brand_id = +? AND customer_id = +? ORDER BY seq", key...); err != nil {
		return r, err
	}
	if r.Allocations, err = all(ctx, q, scanAlloc, "SELECT "+allocCols+
		" FROM allocations WHERE brand_id = +? AND customer_id = +? ORDER BY seq", key...); err != nil {
		return r, err
	}
	if r.Holds, err = all(ctx, q, scanHold, "SELECT "+holdCols+
		" FROM holds WHERE brand_id = +? AND customer_id = +? ORDER BY outer_order_id", key...); err != nil {
		return r, err
	}
	if r.Orders, err = all(ctx, q, scanOrder, "SELECT "+orderCols+
		" FROM orders INDEXED BY orders_account WHERE brand_id = +? AND customer_id = +? ORDER BY out_biz_id", key...); err != nil {
		return r, err
	}
	return r, nil
}

// EachIdempotency calls fn with every idempotency record, by key.
func (s *Store) EachIdempotency(ctx context.Context, fn func(ledger.Idempotency) error) error {
	if err := each(ctx, s.rdb, scanIdem, fn, "SELECT "+idemCols+" FROM idempotency ORDER BY brand_id, app_key, request_id"); err != nil {
		return fmt.Errorf("sqlite: each idempotency record: %w", err)
	}
	return nil
}

// EachReversal calls fn with every reversal, by key.
func (s *Store) EachReversal(ctx context.Context, fn func(ledger.Reversal) error) error {
	if err := each(ctx, s.rdb, scanReversal, fn, "SELECT "+reversalCols+" FROM reversals ORDER BY brand_id, reverse_order_id"); err != nil {
		return fmt.Errorf("sqlite: each reversal: %w", err)
	}
	return nil
}

// SessionEnded reports whether the console session nonce was ended.
func (s *Store) SessionEnded(ctx context.Context, nonce string) (bool, error) {
	_, ok, err := one(ctx, s.rdb, scanInt, "SELECT 1 FROM console_sessions_ended WHERE nonce = ?", nonce)
	if err != nil {
		return false, fmt.Errorf("sqlite: session ended: %w", err)
	}
	return ok, nil
}

// EachMissingFlow calls fn with every idempotency record and refund that
// names a flow not stored. It reads the whole ledger, as verify does:
// the (brand, flow) pairs named less those stored, one sort each, then
// the few records left by their keys.
func (s *Store) EachMissingFlow(ctx context.Context, fn func(*ledger.Idempotency, *ledger.Reversal) error) error {
	err := each(ctx, s.rdb, scanIdem, func(rec ledger.Idempotency) error { return fn(&rec, nil) },
		"SELECT "+idemCols+` FROM idempotency WHERE flow_id <> '' AND (brand_id, flow_id) IN
		(SELECT brand_id, flow_id FROM idempotency /* whole ledger */ WHERE flow_id <> ''
		 EXCEPT SELECT brand_id, flow_id FROM flows) ORDER BY brand_id, app_key, request_id`)
	if err != nil {
		return fmt.Errorf("sqlite: idempotency records of missing flows: %w", err)
	}
	err = each(ctx, s.rdb, scanReversal, func(rv ledger.Reversal) error { return fn(nil, &rv) },
		"SELECT "+reversalCols+` FROM reversals WHERE (brand_id, customer_id, flow_id) IN
		(SELECT brand_id, customer_id, flow_id FROM reversals /* whole ledger */
		 EXCEPT SELECT brand_id, customer_id, flow_id FROM flows)
		ORDER BY brand_id, reverse_order_id`)
	if err != nil {
		return fmt.Errorf("sqlite: refunds of missing flows: %w", err)
	}
	return nil
}

// EachEventWithoutFlow calls fn with every point.flow.created event whose
// flow is not stored: the (brand, event) pairs of flow events less the
// (brand, flow) pairs stored, one sort each, then the few left by key.
func (s *Store) EachEventWithoutFlow(ctx context.Context, fn func(points.Event) error) error {
	err := each(ctx, s.rdb, scanEvent, fn, "SELECT "+eventCols+` FROM events WHERE (brand_id, event_id) IN
		(SELECT brand_id, event_id FROM events /* whole ledger */ WHERE type = +?
		 EXCEPT SELECT brand_id, flow_id FROM flows) ORDER BY pos`, points.EventFlowCreated)
	if err != nil {
		return fmt.Errorf("sqlite: flow events without their flows: %w", err)
	}
	return nil
}

// Size is the bytes the database's pages take (tables and indexes, free
// pages excluded), as of the latest commit, whether or not the WAL has
// been checkpointed into the file.
func (s *Store) Size(ctx context.Context) (int64, error) {
	n, _, err := one(ctx, s.rdb, scanInt,
		"SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()")
	if err != nil {
		return 0, fmt.Errorf("sqlite: size: %w", err)
	}
	return n, nil
}
