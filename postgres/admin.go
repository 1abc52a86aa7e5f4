package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

// The operators' reads (backoffice.Reader). Reads of several statements
// that must agree run in one read-only snapshot, in one round trip.

var _ backoffice.Reader = (*Store)(nil)

// SearchCustomers lists customers whose id or POS member id (outer_id)
// starts with q.Text or whose mobile or name contains it (ASCII letters
// in any case, as SQLite's LIKE matches them); exact id, mobile or
// outer_id matches first. A search reads the customers table (of the
// brand, when one is given): a piece of a name or mobile has no index to
// search.
func (s *Store) SearchCustomers(ctx context.Context, q backoffice.CustomerSearch) ([]ledger.Customer, error) {
	like := escapeLike(q.Text)
	args := []any{like + "%", "%" + like + "%", q.Text, limitOrAll(q.Limit)}
	brand := ""
	if q.BrandID != "" {
		args = append(args, q.BrandID)
		brand = "brand_id = $5 AND "
	}
	var cs []ledger.Customer
	err := s.read(ctx, all(d("search customers"), &cs, scanCustomer, "SELECT "+customerCols+" FROM customers WHERE "+brand+
		`(customer_id ILIKE $1 ESCAPE '\' OR outer_id ILIKE $1 ESCAPE '\' OR mobile ILIKE $2 ESCAPE '\' OR name ILIKE $2 ESCAPE '\')
		ORDER BY CASE WHEN customer_id = $3 OR mobile = $3 OR outer_id = $3 THEN 0 ELSE 1 END, brand_id, created_at, customer_id LIMIT $4`,
		args...))
	return cs, err
}

// CustomersByID reads the customers with the given ids (those that
// exist), by id.
func (s *Store) CustomersByID(ctx context.Context, ids []string) ([]ledger.Customer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var cs []ledger.Customer
	err := s.read(ctx, all(d("customers by id"), &cs, scanCustomer, "SELECT "+customerCols+
		` FROM customers WHERE customer_id = ANY($1) ORDER BY customer_id COLLATE "C"`, ids))
	return cs, err
}

// RuleVersions lists up to limit versions of the brand's rule, newest
// first.
func (s *Store) RuleVersions(ctx context.Context, brandID string, limit int) ([]ledger.Rule, error) {
	var rs []ledger.Rule
	err := s.read(ctx, all(d("rule versions of %s", brandID), &rs, scanRule, "SELECT "+ruleCols+
		" FROM rules WHERE brand_id = $1 ORDER BY version DESC LIMIT $2", brandID, limitOrAll(limit)))
	return rs, err
}

// CustomerHolds lists up to limit holds of the account, newest first.
func (s *Store) CustomerHolds(ctx context.Context, brandID, customerID string, limit int) ([]ledger.Hold, error) {
	var hs []ledger.Hold
	err := s.read(ctx, all(d("holds of %s/%s", brandID, customerID), &hs, scanHold, "SELECT "+holdCols+
		" FROM holds WHERE brand_id = $1 AND customer_id = $2 ORDER BY created_at DESC, outer_order_id LIMIT $3",
		brandID, customerID, limitOrAll(limit)))
	return hs, err
}

// orderCustomers selects the customers of order ($1, $2): those with a
// position in it or its hold.
const orderCustomers = `SELECT customer_id FROM orders WHERE brand_id = $1 AND out_biz_id = $2
	UNION SELECT customer_id FROM holds WHERE brand_id = $1 AND outer_order_id = $2`

// OrderRows reads everything stored for the order from one snapshot, in
// one round trip.
func (s *Store) OrderRows(ctx context.Context, brandID, outBizID string) (backoffice.OrderRows, error) {
	var r backoffice.OrderRows
	what := func(rows string) desc { return d("%s of order %s/%s", rows, brandID, outBizID) }
	err := s.readSnapshot(ctx,
		all(what("positions"), &r.Orders, scanOrder, "SELECT "+orderCols+
			" FROM orders WHERE brand_id = $1 AND out_biz_id = $2 ORDER BY customer_id", brandID, outBizID),
		all(what("flows"), &r.Flows, scanFlow, "SELECT "+flowCols+
			" FROM flows WHERE brand_id = $1 AND out_biz_id = $2 ORDER BY created_at, customer_id, seq", brandID, outBizID),
		one(what("hold"), &r.Hold, new(bool), scanHold, "SELECT "+holdCols+
			" FROM holds WHERE brand_id = $1 AND outer_order_id = $2", brandID, outBizID),
		all(what("accounts"), &r.Accounts, scanAccount, "SELECT "+accountCols+
			" FROM accounts WHERE brand_id = $1 AND customer_id IN ("+orderCustomers+") ORDER BY customer_id",
			brandID, outBizID),
		all(what("allocations"), &r.Allocations, scanAlloc, "SELECT "+allocCols+
			" FROM allocations WHERE brand_id = $1 AND order_ref = $2 AND customer_id IN ("+orderCustomers+
			") ORDER BY customer_id, seq", brandID, outBizID),
		all(what("lots"), &r.Lots, scanLot, "SELECT "+lotCols+
			" FROM lots WHERE brand_id = $1 AND customer_id IN ("+orderCustomers+") AND (remaining > 0 OR lot_id IN"+
			" (SELECT lot_id FROM allocations WHERE brand_id = $1 AND order_ref = $2 AND customer_id IN ("+orderCustomers+
			"))) ORDER BY customer_id, seq", brandID, outBizID),
	)
	return r, err
}

// EachFlow calls fn with every flow matching q, newest first, as one
// statement reads them (one snapshot). fn runs while the statement holds
// a pooled connection.
func (s *Store) EachFlow(ctx context.Context, q points.FlowQuery, fn func(ledger.Flow) error) error {
	cond, args := flowWhere(q)
	rows, err := s.pool.Query(ctx, "SELECT "+flowCols+" FROM flows"+cond+
		" ORDER BY created_at DESC, seq DESC, flow_id DESC", args...)
	if err != nil {
		return failure(err, "each flow")
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFlow(rows)
		if err != nil {
			return failure(err, "each flow")
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return failure(rows.Err(), "each flow")
}

// BrandTotals sums the brand's flows of [from, to) by quarter hour, shop
// and type, with its balances now, from one snapshot.
func (s *Store) BrandTotals(ctx context.Context, brandID string, from, to time.Time) (backoffice.BrandTotals, error) {
	var t backoffice.BrandTotals
	width := backoffice.QuarterHour.Microseconds()
	err := s.readSnapshot(ctx,
		all(d("totals of brand %q", brandID), &t.Buckets, func(r pgx.Rows) (backoffice.FlowBucket, error) {
			var b backoffice.FlowBucket
			var q int64
			var typ string
			err := r.Scan(&q, &b.ShopID, &typ, &b.Count, &b.Amount, &b.Net)
			b.Start, b.Type = time.UnixMicro(q*width).UTC(), ledger.FlowType(typ)
			return b, err
		}, `SELECT created_at / $1, shop_id, type, COUNT(*), SUM(amount)::bigint, SUM(delta_available + delta_frozen)::bigint
			FROM flows WHERE brand_id = $2 AND created_at >= $3 AND created_at < $4
			GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, width, brandID, from.UnixMicro(), to.UnixMicro()),
		rowsQuery(d("balances of brand %q", brandID), func(r pgx.Rows) error {
			return r.Scan(&t.Available, &t.Frozen, &t.Debt)
		}, `SELECT COALESCE(SUM(available), 0)::bigint, COALESCE(SUM(frozen), 0)::bigint, COALESCE(SUM(debt), 0)::bigint
			FROM accounts WHERE brand_id = $1`, brandID),
		rowsQuery(d("flows of brand %q after %s", brandID, to), func(r pgx.Rows) error {
			return r.Scan(&t.NetAfter)
		}, `SELECT COALESCE(SUM(delta_available + delta_frozen), 0)::bigint FROM flows WHERE brand_id = $1 AND created_at >= $2`,
			brandID, to.UnixMicro()),
	)
	return t, err
}
