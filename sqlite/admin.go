package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

// The operators' reads (backoffice.Reader), on the read pool. Reads of
// several statements that must agree run in one read transaction.

var _ backoffice.Reader = (*Store)(nil)

// SearchCustomers lists customers whose id or POS member id (outer_id)
// starts with q.Text or whose mobile or name contains it; exact id,
// mobile or outer_id matches first. A search reads the customers table
// (of the brand, when one is given): a piece of a name or mobile has no
// index to search.
func (s *Store) SearchCustomers(ctx context.Context, q backoffice.CustomerSearch) ([]ledger.Customer, error) {
	like := escapeLike(q.Text)
	query := "SELECT " + customerCols + " FROM customers WHERE "
	var args []any
	if q.BrandID != "" {
		query += "brand_id = +? AND "
		args = append(args, q.BrandID)
	}
	query += `(customer_id LIKE +? ESCAPE '\' OR outer_id LIKE +? ESCAPE '\' OR mobile LIKE +? ESCAPE '\' OR name LIKE +? ESCAPE '\')
		ORDER BY CASE WHEN customer_id = +? OR mobile = +? OR outer_id = +? THEN 0 ELSE 1 END, brand_id, created_at, customer_id LIMIT +?`
	args = append(args, like+"%", like+"%", "%"+like+"%", "%"+like+"%", q.Text, q.Text, q.Text, limitOrAll(q.Limit))
	cs, err := all(ctx, s.rdb, scanCustomer, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search customers: %w", err)
	}
	return cs, nil
}

// CustomersByID reads the customers with the given ids (those that
// exist), by id.
func (s *Store) CustomersByID(ctx context.Context, ids []string) ([]ledger.Customer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	cs, err := all(ctx, s.rdb, scanCustomer, "SELECT "+customerCols+" FROM customers WHERE customer_id IN (+?"+
		strings.Repeat(", +?", len(ids)-1)+") ORDER BY customer_id", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: customers by id: %w", err)
	}
	return cs, nil
}

// RuleVersions lists up to limit versions of the brand's rule, newest
// first.
func (s *Store) RuleVersions(ctx context.Context, brandID string, limit int) ([]ledger.Rule, error) {
	rs, err := all(ctx, s.rdb, scanRule, "SELECT "+ruleCols+" FROM rules WHERE brand_id = +? ORDER BY version DESC LIMIT +?",
		brandID, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: rule versions of %s: %w", brandID, err)
	}
	return rs, nil
}

// CustomerHolds lists up to limit holds of the account, newest first.
func (s *Store) CustomerHolds(ctx context.Context, brandID, customerID string, limit int) ([]ledger.Hold, error) {
	hs, err := all(ctx, s.rdb, scanHold, "SELECT "+holdCols+
		" FROM holds WHERE brand_id = +? AND customer_id = +? ORDER BY created_at DESC, outer_order_id LIMIT +?",
		brandID, customerID, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: holds of %s/%s: %w", brandID, customerID, err)
	}
	return hs, nil
}

// orderCustomers selects the customers of order (?1, ?2): those with a
// position in it or its hold.
const orderCustomers = `SELECT customer_id FROM orders WHERE brand_id = +?1 AND out_biz_id = +?2
	UNION SELECT customer_id FROM holds WHERE brand_id = +?1 AND outer_order_id = +?2`

// OrderRows reads everything stored for the order, in one read
// transaction.
func (s *Store) OrderRows(ctx context.Context, brandID, outBizID string) (backoffice.OrderRows, error) {
	var r backoffice.OrderRows
	tx, err := s.readTx(ctx)
	if err != nil {
		return r, err
	}
	defer tx.Rollback()
	key := []any{brandID, outBizID}
	var hold []ledger.Hold
	for _, q := range []func() error{
		func() (err error) {
			r.Orders, err = all(ctx, tx, scanOrder, "SELECT "+orderCols+
				" FROM orders WHERE brand_id = +?1 AND out_biz_id = +?2 ORDER BY customer_id", key...)
			return err
		},
		func() (err error) {
			// Named, or the planner may prefer the index that serves the
			// ORDER BY and read every flow of the brand.
			r.Flows, err = all(ctx, tx, scanFlow, "SELECT "+flowCols+" FROM flows INDEXED BY flows_out_biz"+
				" WHERE brand_id = +?1 AND out_biz_id = +?2 ORDER BY created_at, customer_id, seq", key...)
			return err
		},
		func() (err error) {
			hold, err = all(ctx, tx, scanHold, "SELECT "+holdCols+
				" FROM holds WHERE brand_id = +?1 AND outer_order_id = +?2", key...)
			return err
		},
		func() (err error) {
			r.Accounts, err = all(ctx, tx, scanAccount, "SELECT "+accountCols+
				" FROM accounts WHERE brand_id = +?1 AND customer_id IN ("+orderCustomers+") ORDER BY customer_id", key...)
			return err
		},
		func() (err error) {
			r.Allocations, err = all(ctx, tx, scanAlloc, "SELECT "+allocCols+
				" FROM allocations WHERE brand_id = +?1 AND order_ref = +?2 AND customer_id IN ("+orderCustomers+
				") ORDER BY customer_id, seq", key...)
			return err
		},
		func() (err error) {
			r.Lots, err = all(ctx, tx, scanLot, "SELECT "+lotCols+
				" FROM lots WHERE brand_id = +?1 AND customer_id IN ("+orderCustomers+") AND (remaining > 0 OR lot_id IN"+
				" (SELECT lot_id FROM allocations WHERE brand_id = +?1 AND order_ref = +?2 AND customer_id IN ("+orderCustomers+
				"))) ORDER BY customer_id, seq", key...)
			return err
		},
	} {
		if err := q(); err != nil {
			return r, fmt.Errorf("sqlite: order %s/%s: %w", brandID, outBizID, err)
		}
	}
	if len(hold) > 0 {
		r.Hold = hold[0]
	}
	return r, nil
}

// EachFlow calls fn with every flow matching q, newest first, as one
// statement reads them (one snapshot).
func (s *Store) EachFlow(ctx context.Context, q points.FlowQuery, fn func(ledger.Flow) error) error {
	cond, args := flowWhere(q)
	err := each(ctx, s.rdb, scanFlow, fn, "SELECT "+flowCols+" FROM "+flowsFor(q)+cond+
		" ORDER BY created_at DESC, seq DESC, flow_id DESC", args...)
	if err != nil {
		return fmt.Errorf("sqlite: each flow: %w", err)
	}
	return nil
}

// BrandTotals sums the brand's flows of [from, to) by quarter hour, shop
// and type, with its balances now, in one read transaction.
func (s *Store) BrandTotals(ctx context.Context, brandID string, from, to time.Time) (backoffice.BrandTotals, error) {
	var t backoffice.BrandTotals
	tx, err := s.readTx(ctx)
	if err != nil {
		return t, err
	}
	defer tx.Rollback()
	width := backoffice.QuarterHour.Microseconds()
	t.Buckets, err = all(ctx, tx, func(sc scanner) (backoffice.FlowBucket, error) {
		var b backoffice.FlowBucket
		var q int64
		err := sc.Scan(&q, &b.ShopID, &b.Type, &b.Count, &b.Amount, &b.Net)
		b.Start = time.UnixMicro(q * width).UTC()
		return b, err
	}, `SELECT created_at / +?, shop_id, type, COUNT(*), SUM(amount), SUM(delta_available + delta_frozen)
		FROM flows WHERE brand_id = +? AND created_at >= +? AND created_at < +?
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, width, brandID, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return t, fmt.Errorf("sqlite: totals of brand %q: %w", brandID, err)
	}
	_, _, err = one(ctx, tx, func(sc scanner) (int, error) {
		return 0, sc.Scan(&t.Available, &t.Frozen, &t.Debt)
	}, "SELECT COALESCE(SUM(available), 0), COALESCE(SUM(frozen), 0), COALESCE(SUM(debt), 0) FROM accounts WHERE brand_id = +?", brandID)
	if err != nil {
		return t, fmt.Errorf("sqlite: balances of brand %q: %w", brandID, err)
	}
	t.NetAfter, _, err = one(ctx, tx, scanInt,
		"SELECT COALESCE(SUM(delta_available + delta_frozen), 0) FROM flows WHERE brand_id = +? AND created_at >= +?",
		brandID, to.UnixMicro())
	if err != nil {
		return t, fmt.Errorf("sqlite: flows of brand %q after %s: %w", brandID, to, err)
	}
	return t, nil
}
