package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"jifen/ledger"
	"jifen/points"
)

// The ledger's three calls (see points.Tx), one round trip each:
//
//  1. Lookup: the idempotency record, the refund of the same name, the
//     order's positions and the hold, none locked, before the transaction
//     begins (a replay ends there).
//  2. LoadAccount: BEGIN, the account's lock (SELECT … FOR UPDATE) and, read
//     after the lock is granted, the rule, the lots, the order and its
//     allocations, the hold, the customer, and again what Lookup found
//     absent (another server may have stored it while this one waited).
//  3. Apply queues the changes and the idempotency record; they travel
//     with COMMIT. A conditional update that finds its row changed fails
//     its own statement (see guarded), so the COMMIT behind it in the
//     same round trip cannot commit a partial write.
//
// The account's lock is held for the last round trip and the commit.

var _ points.Tx = (*Tx)(nil)

// Lookup reads what q names, without locking.
func (t *Tx) Lookup(ctx context.Context, q points.Lookup) (points.Found, error) {
	var f points.Found
	var rec ledger.Idempotency
	var rv ledger.Reversal
	var h ledger.Hold
	var recFound, rvFound, hFound bool
	var qs []*pgx.QueuedQuery
	if q.RequestID != "" {
		qs = append(qs, idemQuery(q.BrandID, q.AppKey, q.RequestID, &rec, &recFound))
	}
	if q.ReverseOrderID != "" {
		qs = append(qs, reversalQuery(q.BrandID, q.ReverseOrderID, &rv, &rvFound))
	}
	if q.OutBizID != "" {
		qs = append(qs, all(d("order %s/%s", q.BrandID, q.OutBizID), &f.Orders, scanOrder,
			"SELECT "+orderCols+" FROM orders WHERE brand_id = $1 AND out_biz_id = $2 ORDER BY customer_id",
			q.BrandID, q.OutBizID))
	}
	if q.HoldOrder != "" {
		qs = append(qs, holdQuery(q.BrandID, q.HoldOrder, &h, &hFound))
	}
	if len(qs) == 0 {
		return f, nil
	}
	// Outside a transaction: in READ COMMITTED a statement sees what is
	// committed when it runs, in a transaction or not, and a replay then
	// needs no BEGIN, no COMMIT, and this one round trip.
	if err := t.sendAlone(ctx, qs...); err != nil {
		return f, err
	}
	if recFound {
		f.Idempotency = &rec
	} else if q.RequestID != "" {
		t.absent = &[3]string{q.BrandID, q.AppKey, q.RequestID}
	}
	if rvFound {
		f.Reversal = &rv
	}
	if hFound {
		f.Hold = h
	} else {
		f.Hold = ledger.Hold{BrandID: q.BrandID, OuterOrderID: q.HoldOrder}
	}
	return f, nil
}

func reversalQuery(brandID, reverseOrderID string, dst *ledger.Reversal, found *bool) *pgx.QueuedQuery {
	return one(d("reversal %s/%s", brandID, reverseOrderID), dst, found, scanReversal,
		"SELECT "+reversalCols+" FROM reversals WHERE brand_id = $1 AND reverse_order_id = $2", brandID, reverseOrderID)
}

func holdQuery(brandID, outerOrderID string, dst *ledger.Hold, found *bool) *pgx.QueuedQuery {
	return one(d("hold %s/%s", brandID, outerOrderID), dst, found, scanHold,
		"SELECT "+holdCols+" FROM holds WHERE brand_id = $1 AND outer_order_id = $2", brandID, outerOrderID)
}

// LoadAccount locks the account and reads what q asks of it, in one round
// trip. A missing account cannot be locked: there the accounts primary
// key serializes (of two writes creating it, the second fails at commit
// and runs again).
func (t *Tx) LoadAccount(ctx context.Context, q points.AccountQuery) (points.Snapshot, error) {
	var s points.Snapshot
	var acctFound, orderFound, holdFound, custFound, recFound, rvFound bool
	var rec ledger.Idempotency
	var rv ledger.Reversal
	var lots []ledger.Lot
	qs := []*pgx.QueuedQuery{
		one(d("lock account %s/%s", q.BrandID, q.CustomerID), &s.Account, &acctFound, scanAccount,
			"SELECT "+accountCols+" FROM accounts WHERE brand_id = $1 AND customer_id = $2 FOR UPDATE", q.BrandID, q.CustomerID),
		ruleQuery(q.BrandID, &s.Rule, &s.RuleFound),
	}
	if q.OrderRef == "" {
		qs = append(qs, liveLotsQuery(q.BrandID, q.CustomerID, &lots))
	} else {
		// The live lots and those the order's allocations name.
		qs = append(qs,
			all(d("lots of %s/%s for order %q", q.BrandID, q.CustomerID, q.OrderRef), &lots, scanLot, "SELECT "+lotCols+
				` FROM lots WHERE brand_id = $1 AND customer_id = $2 AND (remaining > 0 OR lot_id IN
				(SELECT lot_id FROM allocations WHERE brand_id = $1 AND customer_id = $2 AND order_ref = $3)) ORDER BY seq`,
				q.BrandID, q.CustomerID, q.OrderRef),
			one(d("order %s/%s of %s", q.BrandID, q.OrderRef, q.CustomerID), &s.Order, &orderFound, scanOrder,
				"SELECT "+orderCols+" FROM orders WHERE brand_id = $1 AND out_biz_id = $2 AND customer_id = $3",
				q.BrandID, q.OrderRef, q.CustomerID),
			orderAllocsQuery([3]string{q.BrandID, q.CustomerID, q.OrderRef}, &s.Allocs))
		if q.Hold {
			qs = append(qs, holdQuery(q.BrandID, q.OrderRef, &s.Hold, &holdFound))
		}
	}
	if q.Customer {
		qs = append(qs, customerQuery(q.CustomerID, &s.Customer, &custFound))
	}
	if r := q.Recheck; r.RequestID != "" {
		qs = append(qs, idemQuery(r.BrandID, r.AppKey, r.RequestID, &rec, &recFound))
	}
	if r := q.Recheck; r.ReverseOrderID != "" {
		qs = append(qs, reversalQuery(r.BrandID, r.ReverseOrderID, &rv, &rvFound))
	}
	if err := t.send(ctx, qs...); err != nil {
		return s, err
	}
	if !acctFound {
		s.Account = ledger.Account{BrandID: q.BrandID, CustomerID: q.CustomerID}
	}
	if q.Hold && !holdFound {
		s.Hold = ledger.Hold{BrandID: q.BrandID, OuterOrderID: q.OrderRef}
	}
	if q.Customer && !custFound {
		return s, notFound("customer %q", q.CustomerID)
	}
	if recFound {
		s.Idempotency = &rec
	}
	if rvFound {
		s.Reversal = &rv
	}
	s.Lots = lotsFor(lots, s.Allocs, q)
	return s, nil
}

// lotsFor cuts the lots read to what q needs: the live lots a spend of
// q.Need touches (all for points.AllLots) and the lots allocs name, by
// creation.
func lotsFor(read []ledger.Lot, allocs []ledger.Allocation, q points.AccountQuery) []ledger.Lot {
	live := make([]ledger.Lot, 0, len(read))
	for _, l := range read {
		if l.Remaining > 0 {
			live = append(live, l)
		}
	}
	if q.Need == points.AllLots && len(live) == len(read) {
		return read
	}
	keep := make(map[string]bool, len(read))
	if q.Need == points.AllLots {
		for _, l := range live {
			keep[l.ID] = true
		}
	} else {
		for _, l := range ledger.LotsToSpend(live, q.Need, q.Now) {
			keep[l.ID] = true
		}
	}
	for _, a := range allocs {
		keep[a.LotID] = true
	}
	out := make([]ledger.Lot, 0, len(keep))
	for _, l := range read {
		if keep[l.ID] {
			out = append(out, l)
		}
	}
	return out
}

// Apply queues c and rec to travel with COMMIT (see ApplyChanges for the
// statements); a conditional update that finds its row changed fails the
// commit with points.ErrConflict, and Write runs the write again.
func (t *Tx) Apply(ctx context.Context, c ledger.Changes, rec *ledger.Idempotency) error {
	if t.done {
		return errTxDone
	}
	t.pending = append(t.pending, applyQueries(c, true)...)
	if rec != nil {
		t.pending = append(t.pending, putIdemQuery(*rec))
	}
	return nil
}

// guarded makes a conditional UPDATE that matches no row fail with an
// error of its own (division by zero, which conflictGuard reads as
// ErrConflict), instead of reporting zero rows to a client that has
// already sent the COMMIT behind it.
func guarded(update string) string {
	return "WITH changed AS (" + update + " RETURNING 1) SELECT 1 / count(*) FROM changed"
}

// conflictGuard describes the failure of a guarded update.
func conflictGuard(format string, args ...any) func(error) error {
	return func(err error) error {
		what := fmt.Sprintf(format, args...)
		if isCode(err, codeDivisionByZero) {
			return fmt.Errorf("postgres: %s: the row changed since it was read: %w", what, points.ErrConflict)
		}
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
}
