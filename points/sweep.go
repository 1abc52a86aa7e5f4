package points

import (
	"context"
	"errors"
	"fmt"
	"time"

	"jifen/ledger"
)

// SweepResult counts what one sweep wrote.
type SweepResult struct {
	Expired  int // accounts whose expired lots were written off
	Released int // holds released on timeout
	// Lag is how far behind the oldest due item was when the sweep began.
	Lag time.Duration
	// Reminded counts the point.expiring events recorded.
	Reminded int
}

// sweepBatch bounds one sweep, so a large backlog is worked off in turns.
const sweepBatch = 500

// Sweep writes an EXPIRE flow for every lot that has expired and releases
// every hold that timed out (UNFREEZE), as of the ledger's now. Reads never
// count expired points whatever the sweeper's progress; the sweeper makes
// the flows appear soon after the fact.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := s.Now()
	keys, err := s.store.DueAccounts(ctx, now, sweepBatch)
	if err != nil {
		return res, err
	}
	for _, k := range keys {
		if err := s.expireAccount(ctx, k); err != nil {
			return res, err
		}
		res.Expired++
	}
	holds, err := s.store.DueHolds(ctx, now, sweepBatch)
	if err != nil {
		return res, err
	}
	for _, h := range holds {
		if d := now.Sub(h.ExpiresAt); d > res.Lag {
			res.Lag = d
		}
		err := s.releaseHold(ctx, h.BrandID, h.OuterOrderID, ledger.Info{OutBizID: h.OuterOrderID, Reason: "冻结超时自动释放"})
		if err != nil && !ledger.IsCode(err, ledger.CodeHoldNotFound) {
			return res, err
		}
		res.Released++
	}
	res.Reminded, err = s.remind(ctx, now)
	return res, err
}

func (s *Service) expireAccount(ctx context.Context, k AccountKey) error {
	brand, err := s.store.Brand(ctx, k.BrandID)
	if err != nil {
		return fmt.Errorf("sweep %s/%s: %w", k.BrandID, k.CustomerID, err)
	}
	return s.write(ctx, func(tx Tx) error {
		w := &write{s: s, ctx: ctx, tx: tx, key: Lookup{BrandID: brand.ID}, now: s.Now()}
		b, _, err := w.load(brand, AccountQuery{CustomerID: k.CustomerID, Need: AllLots})
		if err != nil {
			return err
		}
		return s.apply(ctx, tx, b.Changes(), nil)
	})
}

// releaseHold gives back what is frozen for an order.
func (s *Service) releaseHold(ctx context.Context, brandID, order string, info ledger.Info) error {
	brand, err := s.store.Brand(ctx, brandID)
	if err != nil {
		return notFound(err, "brand_id", "品牌不存在: "+brandID)
	}
	return s.write(ctx, func(tx Tx) error {
		q := Lookup{BrandID: brandID, HoldOrder: order}
		found, err := tx.Lookup(ctx, q)
		if err != nil {
			return err
		}
		if !found.Hold.Exists {
			return ledger.Business(ledger.CodeHoldNotFound, "未找到该订单的冻结积分", "order %s has no hold", order)
		}
		w := &write{s: s, ctx: ctx, tx: tx, key: q, found: found, now: s.Now()}
		b, snap, err := w.load(brand, AccountQuery{CustomerID: found.Hold.CustomerID, OrderRef: order, Hold: true, Need: AllLots})
		if err != nil {
			return err
		}
		if snap.Hold.CustomerID != found.Hold.CustomerID {
			return fmt.Errorf("points: hold %s/%s changed hands while its release waited: %w", brandID, order, ErrConflict)
		}
		if _, err := b.ReleaseHold(info); err != nil {
			return err
		}
		return s.apply(ctx, tx, b.Changes(), nil)
	})
}

// ReleaseHold is an operator's early release of an order's hold, recorded
// under a.
func (s *Service) ReleaseHold(ctx context.Context, brandID, order string, a Actor) error {
	if err := a.check(); err != nil {
		return err
	}
	if err := check([]field{{"brand_id", brandID}, {"outer_order_id", order}}); err != nil {
		return err
	}
	return s.releaseHold(ctx, brandID, order, ledger.Info{OutBizID: order, OperatorID: a.id(), OperatorName: a.Name, Reason: "操作员释放冻结"})
}

// SweepEvery runs Sweep every interval until ctx ends, reporting each
// result (or error) to report.
func (s *Service) SweepEvery(ctx context.Context, interval time.Duration, report func(SweepResult, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := s.Sweep(ctx)
			if errors.Is(err, context.Canceled) {
				return
			}
			if report != nil {
				report(res, err)
			}
		}
	}
}
