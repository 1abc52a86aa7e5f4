package sqlite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"jifen/ledger"
	"jifen/points"
)

// The ledger's three calls (see points.Tx). The writer's connection is
// the only one that writes and runs one transaction at a time, so Lookup
// and LoadAccount read one state that nothing else can change before the
// commit: LoadAccount has nothing to lock and nothing to read again.

var _ points.Tx = (*Tx)(nil)

// Lookup reads what q names. A stored answer for the key is all a replay
// needs: the rest is then left unread.
func (t *Tx) Lookup(ctx context.Context, q points.Lookup) (points.Found, error) {
	var f points.Found
	if q.RequestID != "" {
		rec, err := t.Idempotency(ctx, q.BrandID, q.AppKey, q.RequestID)
		switch {
		case err == nil:
			f.Idempotency = &rec
			return f, nil
		case !errors.Is(err, points.ErrNotFound):
			return f, err
		}
	}
	if q.ReverseOrderID != "" {
		rv, err := t.Reversal(ctx, q.BrandID, q.ReverseOrderID)
		switch {
		case err == nil:
			f.Reversal = &rv
		case !errors.Is(err, points.ErrNotFound):
			return f, err
		}
	}
	if q.OutBizID != "" {
		os, err := t.Orders(ctx, q.BrandID, q.OutBizID)
		if err != nil {
			return f, err
		}
		f.Orders = os
	}
	if q.HoldOrder != "" {
		h, err := t.Hold(ctx, q.BrandID, q.HoldOrder)
		if err != nil {
			return f, err
		}
		f.Hold = h
	}
	return f, nil
}

// LoadAccount reads the account and what q asks of it.
func (t *Tx) LoadAccount(ctx context.Context, q points.AccountQuery) (points.Snapshot, error) {
	var s points.Snapshot
	var err error
	if s.Account, err = t.Account(ctx, q.BrandID, q.CustomerID); err != nil {
		return s, err
	}
	s.Rule, err = t.Rule(ctx, q.BrandID)
	switch {
	case err == nil:
		s.RuleFound = true
	case !errors.Is(err, points.ErrNotFound):
		return s, err
	}
	if q.Need == points.AllLots {
		s.Lots, err = t.LiveLots(ctx, q.BrandID, q.CustomerID)
	} else {
		s.Lots, err = t.LotsToSpend(ctx, q.BrandID, q.CustomerID, q.Need, q.Now)
	}
	if err != nil {
		return s, err
	}
	if q.OrderRef != "" {
		o, ok, err := one(ctx, t.w, scanOrder, "SELECT "+orderCols+
			" FROM orders WHERE brand_id = +? AND out_biz_id = +? AND customer_id = +?", q.BrandID, q.OrderRef, q.CustomerID)
		if err != nil {
			return s, fmt.Errorf("sqlite: order %s/%s of %s: %w", q.BrandID, q.OrderRef, q.CustomerID, err)
		}
		if ok {
			s.Order = o
		}
		if s.Allocs, err = t.OrderAllocations(ctx, q.BrandID, q.CustomerID, q.OrderRef); err != nil {
			return s, err
		}
		have := make(map[string]bool, len(s.Lots))
		for _, l := range s.Lots {
			have[l.ID] = true
		}
		var missing []string
		for _, a := range s.Allocs {
			if !have[a.LotID] {
				have[a.LotID] = true
				missing = append(missing, a.LotID)
			}
		}
		if len(missing) > 0 {
			more, err := t.Lots(ctx, missing)
			if err != nil {
				return s, err
			}
			s.Lots = append(s.Lots, more...)
			slices.SortFunc(s.Lots, func(a, b ledger.Lot) int { return cmp.Compare(a.Seq, b.Seq) })
		}
		if q.Hold {
			if s.Hold, err = t.Hold(ctx, q.BrandID, q.OrderRef); err != nil {
				return s, err
			}
		}
	}
	if q.Customer {
		if s.Customer, err = t.Customer(ctx, q.CustomerID); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Apply writes c (see ApplyChanges) and then rec, if any. A record
// already stored under rec's key is a conflict: it appeared after this
// write looked.
func (t *Tx) Apply(ctx context.Context, c ledger.Changes, rec *ledger.Idempotency) error {
	if err := t.ApplyChanges(ctx, c); err != nil {
		return err
	}
	if rec == nil {
		return nil
	}
	return t.PutIdempotency(ctx, *rec)
}
