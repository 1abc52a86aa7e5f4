package backoffice

import (
	"context"
	"sort"
	"strings"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// OrderView is everything recorded for one order (brand, out_biz_id):
// each customer's position in it, its hold, and the flows that made them.
type OrderView struct {
	Brand    ledger.Brand
	OutBizID string
	Parts    []OrderPart // one per customer with a position or a hold in the order
	Hold     ledger.Hold // Exists false: the order has no hold
	// HoldVerify and HoldRelease are the flows that ended the hold, nil
	// until one did: its VERIFY, and its UNFREEZE (what a verify left, an
	// operator's release, or the timeout's). They say when and how it
	// ended, which the hold row does not keep.
	HoldVerify, HoldRelease *ledger.Flow
	Flows                   []ledger.Flow // every flow naming the order, oldest first
	// ShopID is the shop the order was paid (else earned) at: where an
	// operator's reversal is booked unless another shop is named.
	ShopID string
	// Sums over the parts.
	Spent, Reversed, Reversible, Granted, ClawedBack, Reclaimable int64
}

// OrderPart is one customer's position in an order, with the flows that
// caused each figure.
type OrderPart struct {
	CustomerID  string
	Order       ledger.Order
	Reversible  int64         // spent and not yet reversed
	Reclaimable int64         // granted and not yet clawed back
	Spends      []ledger.Flow // DEDUCT_FROM_CONSUME, EXTRA_CONSUME, VERIFY
	Reversals   []ledger.Flow // DEDUCT_FROM_CONSUME_REVERSE
	Earns       []ledger.Flow // EXTRA_CHARGE, CHARGE
	Clawbacks   []ledger.Flow // EXTRA_CHARGE_REVERSE
	HoldFlows   []ledger.Flow // FREEZE, UNFREEZE
	Others      []ledger.Flow // expiry of the order's lots, debt repaid from them, adjustments
}

// Order shows everything recorded for (brand, outBizID). An order nothing
// was recorded for is ORDER_NOT_FOUND.
func (o *Office) Order(ctx context.Context, brandID, outBizID string) (OrderView, error) {
	v := OrderView{OutBizID: strings.TrimSpace(outBizID)}
	var err error
	if v.Brand, err = o.brandOf(ctx, brandID); err != nil {
		return v, err
	}
	if err := points.Required("out_biz_id", outBizID); err != nil {
		return v, err
	}
	rows, err := o.read.OrderRows(ctx, v.Brand.ID, v.OutBizID)
	if err != nil {
		return v, err
	}
	if len(rows.Orders) == 0 && len(rows.Flows) == 0 && !rows.Hold.Exists {
		return v, notFoundErr(CodeOrderNotFound, "品牌 %s 没有订单 %s 的积分记录", v.Brand.ID, v.OutBizID)
	}
	v.Hold, v.Flows = rows.Hold, rows.Flows
	parts := map[string]*OrderPart{}
	part := func(customer string) *OrderPart {
		p, ok := parts[customer]
		if !ok {
			p = &OrderPart{CustomerID: customer, Order: ledger.Order{BrandID: v.Brand.ID, OutBizID: v.OutBizID, CustomerID: customer}}
			parts[customer] = p
		}
		return p
	}
	for _, ord := range rows.Orders {
		p := part(ord.CustomerID)
		p.Order = ord
		p.Reversible, p.Reclaimable = ord.Reversible(), ord.Granted-ord.ClawedBack
	}
	if rows.Hold.Exists {
		part(rows.Hold.CustomerID)
	}
	spendShop, earnShop := "", ""
	for _, f := range rows.Flows {
		p := part(f.CustomerID)
		switch f.Type {
		case ledger.DeductFromConsume, ledger.ExtraConsume, ledger.Verify:
			p.Spends = append(p.Spends, f)
			if f.Type == ledger.Verify && v.Hold.Exists && f.CustomerID == v.Hold.CustomerID {
				v.HoldVerify = &f
			}
			if spendShop == "" {
				spendShop = f.ShopID
			}
		case ledger.DeductReverse:
			p.Reversals = append(p.Reversals, f)
		case ledger.ExtraCharge, ledger.Charge:
			p.Earns = append(p.Earns, f)
			if earnShop == "" {
				earnShop = f.ShopID
			}
		case ledger.ExtraChargeReverse:
			p.Clawbacks = append(p.Clawbacks, f)
		case ledger.Freeze, ledger.Unfreeze:
			p.HoldFlows = append(p.HoldFlows, f)
			if f.Type == ledger.Unfreeze && v.Hold.Exists && f.CustomerID == v.Hold.CustomerID {
				v.HoldRelease = &f
			}
		default:
			p.Others = append(p.Others, f)
		}
	}
	v.ShopID = spendShop
	if v.ShopID == "" {
		v.ShopID = earnShop
	}
	// Parts in customer order, as the store lists orders.
	ids := make([]string, 0, len(parts))
	for id := range parts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := parts[id]
		v.Parts = append(v.Parts, *p)
		v.Spent += p.Order.Spent
		v.Reversed += p.Order.Reversed
		v.Reversible += p.Reversible
		v.Granted += p.Order.Granted
		v.ClawedBack += p.Order.ClawedBack
		v.Reclaimable += p.Reclaimable
	}
	return v, nil
}

// ReverseRequest is an operator's reversal of an order: a refund of points
// spent (DEDUCT_FROM_CONSUME_REVERSE, the default) or a claw-back of
// points earned (EXTRA_CHARGE_REVERSE).
type ReverseRequest struct {
	BrandID    string
	OutBizID   string
	Type       ledger.FlowType // "" means DEDUCT_FROM_CONSUME_REVERSE
	CustomerID string          // required when several customers are in the order
	Points     *int64          // nil: everything still reversible
	// ReverseOrderID names the refund; "" names it after the request id.
	ReverseOrderID string
	ShopID         string // "" books it at the order's shop
	Reason         string
	RequestID      string
}

func (r *ReverseRequest) normalize() error {
	if err := checkText(field{"brand_id", r.BrandID}, field{"out_biz_id", r.OutBizID}, field{"customer_id", r.CustomerID},
		field{"shop_id", r.ShopID}, field{"reverse_order_id", r.ReverseOrderID}, field{"reason", r.Reason},
		field{"request_id", r.RequestID}); err != nil {
		return err
	}
	r.BrandID, r.OutBizID = strings.TrimSpace(r.BrandID), strings.TrimSpace(r.OutBizID)
	r.CustomerID, r.ShopID = strings.TrimSpace(r.CustomerID), strings.TrimSpace(r.ShopID)
	r.ReverseOrderID, r.RequestID = strings.TrimSpace(r.ReverseOrderID), strings.TrimSpace(r.RequestID)
	if r.Type == "" {
		r.Type = ledger.DeductReverse
	}
	switch r.Type {
	case ledger.DeductReverse, ledger.ExtraChargeReverse:
	default:
		return ledger.Invalidf("type", "应为 DEDUCT_FROM_CONSUME_REVERSE 或 EXTRA_CHARGE_REVERSE, 收到 %q", string(r.Type))
	}
	if r.OutBizID == "" {
		return ledger.Invalid("out_biz_id", "不可为空")
	}
	if r.Points != nil {
		return points.CheckPoints(*r.Points)
	}
	return nil
}

// ReversalPreview is what a reversal would do, computed by the ledger over
// the current state and not written.
type ReversalPreview struct {
	CustomerID string
	Type       ledger.FlowType
	Points     int64 // points the reversal would move
	// Replay is set when ReverseOrderID names a refund already made with
	// the same order, type and amount: performing it writes nothing and
	// answers that refund's flow.
	Replay *ledger.Reversal
	// The customer's position in the order, and their balances, before
	// and after.
	Before, After             ledger.Order
	Available, AvailableAfter int64
	Debt, DebtAfter           int64
	// Policy is the refund-of-expired policy that would apply, if any.
	Policy string
	// Lots lists each lot the reversal would touch, in the order it would.
	Lots []LotChange
	// Flows are the flows it would write (their ids are not kept).
	Flows []ledger.Flow
	Now   time.Time
}

// LotChange is what a reversal would do to one lot.
type LotChange struct {
	LotID    string
	OutBizID string // the order that granted the lot
	New      bool   // a lot the reversal would create (refund_of_expired: reissue)
	// Points is restored to (+) or taken from (−) the lot by the reversal.
	Points        int64
	Before, After int64 // remaining
	// ExpiresAt before and after (a grace refund extends an expired lot).
	ExpiresAt, ExpiresAfter time.Time
	Expired                 bool // the lot had expired before the reversal
}

// PreviewReversal computes what r would do, lot by lot, by running the
// ledger over the order's state as read now, and writes nothing. Errors
// are those the reversal itself would meet.
func (o *Office) PreviewReversal(ctx context.Context, r ReverseRequest) (ReversalPreview, error) {
	p := ReversalPreview{Type: r.Type}
	if err := r.normalize(); err != nil {
		return p, err
	}
	p.Type = r.Type
	brand, err := o.brandOf(ctx, r.BrandID)
	if err != nil {
		return p, err
	}
	if r.CustomerID != "" {
		if _, err := o.svc.CustomerOf(ctx, brand, r.CustomerID); err != nil {
			return p, err
		}
	}
	rr := points.ReverseRequest{Target: points.Target{BrandID: brand.ID, ShopID: r.ShopID}, Type: r.Type, CustomerID: r.CustomerID,
		Points: r.Points, OutBizID: r.OutBizID, ReverseOrderID: r.ReverseOrderID, Reason: r.Reason, RequestID: r.RequestID}
	res := points.Resolved{Brand: brand, Shop: ledger.Shop{ID: r.ShopID}}
	// The write's own decision over the same reads, rolled back.
	d, err := o.svc.PreviewReverse(ctx, points.OperatorCaller(points.Actor{}), res, rr)
	if err != nil {
		return p, err
	}
	if d.Outcome.Replayed {
		prev := *d.Replay
		p.Replay, p.CustomerID, p.Points = &prev, prev.CustomerID, prev.Amount
		return p, nil
	}
	snap, ch := d.Snapshot, d.Changes
	p.CustomerID = snap.Account.CustomerID
	if ch.Reversal != nil {
		p.CustomerID = ch.Reversal.CustomerID
	}
	p.Now = d.Now
	p.Before = snap.Order
	if !p.Before.Exists {
		p.Before = ledger.Order{BrandID: brand.ID, OutBizID: r.OutBizID, CustomerID: p.CustomerID}
	}
	p.Available, p.Debt = ledger.Spendable(snap.Account, snap.Lots, p.Now), snap.Account.Debt
	var f ledger.Flow
	for _, fl := range ch.Flows {
		if fl.ID == d.Outcome.FlowID {
			f = fl
		}
	}
	p.Points, p.Policy, p.Flows = f.Amount, f.Policy, ch.Flows
	p.After = d.OrderAfter
	p.AvailableAfter, p.DebtAfter = ch.Account.Available, ch.Account.Debt
	p.Lots = lotChanges(snap.Lots, ch, f.ID, p.Now)
	return p, nil
}

// lotChanges lists the lots a reversal's changes touch: those its flow
// allocates from or to, in that order, then any other lot written.
func lotChanges(loaded []ledger.Lot, ch ledger.Changes, flowID string, now time.Time) []LotChange {
	before := map[string]ledger.Lot{}
	for _, l := range loaded {
		before[l.ID] = l
	}
	after := map[string]ledger.Lot{}
	for _, l := range ch.Lots {
		after[l.ID] = l
	}
	var out []LotChange
	at := map[string]int{}
	add := func(id string) *LotChange {
		if i, ok := at[id]; ok {
			return &out[i]
		}
		l, ok := after[id]
		if !ok {
			l = before[id]
		}
		b, had := before[id]
		c := LotChange{LotID: id, OutBizID: l.OutBizID, New: !had, After: l.Remaining, ExpiresAfter: l.ExpiresAt}
		if had {
			c.Before, c.ExpiresAt, c.Expired = b.Remaining, b.ExpiresAt, b.Expired(now)
		}
		at[id] = len(out)
		out = append(out, c)
		return &out[len(out)-1]
	}
	for _, al := range ch.Allocations {
		if al.FlowID == flowID {
			add(al.LotID).Points -= al.Amount
		}
	}
	for _, l := range ch.Lots {
		c := add(l.ID)
		if c.New && c.Points == 0 {
			c.Points = l.Granted
		}
	}
	return out
}

// Reverse performs an operator's reversal through the service's own
// Reverse: the same rules, the same database guarantees, idempotent by
// (points.AdminAppKey, request_id), the flow attributed to the operator.
func (o *Office) Reverse(ctx context.Context, by points.Actor, r ReverseRequest) (points.Outcome, error) {
	if err := points.CheckOperator(by.Name); err != nil {
		return points.Outcome{}, err
	}
	if err := r.normalize(); err != nil {
		return points.Outcome{}, err
	}
	if err := points.Required("request_id", r.RequestID); err != nil {
		return points.Outcome{}, err
	}
	if r.ShopID == "" {
		v, err := o.Order(ctx, r.BrandID, r.OutBizID)
		if ledger.IsCode(err, CodeOrderNotFound) {
			if r.Type == ledger.DeductReverse {
				return points.Outcome{}, ledger.Business(ledger.CodeConsumeOrderNotFound, "未找到该订单的积分消费",
					"no points were spent for order %s", r.OutBizID)
			}
			return points.Outcome{}, ledger.Business(ledger.CodeChargeOrderNotFound, "未找到该订单的积分发放",
				"no points were granted for order %s", r.OutBizID)
		}
		if err != nil {
			return points.Outcome{}, err
		}
		if r.ShopID = v.ShopID; r.ShopID == "" {
			return points.Outcome{}, ledger.Invalidf("shop_id", "订单 %s 没有门店记录, 请指明 shop_id", r.OutBizID)
		}
	}
	if r.ReverseOrderID == "" {
		r.ReverseOrderID = "admin-" + r.RequestID
	}
	c := points.OperatorCaller(by)
	return o.svc.Reverse(ctx, c, points.ReverseRequest{
		Target: points.Target{BrandID: r.BrandID, ShopID: r.ShopID}, Type: r.Type, CustomerID: r.CustomerID,
		Points: r.Points, OutBizID: r.OutBizID, ReverseOrderID: r.ReverseOrderID,
		OperatorID: c.OperatorID, OperatorName: c.Operator, Reason: r.Reason, RequestID: r.RequestID,
	})
}

// Adjust performs an ADJUST in the operator's name through the service
// (points.Service.Adjust): idempotent by (points.AdminAppKey,
// request_id), a reason required.
func (o *Office) Adjust(ctx context.Context, by points.Actor, r points.AdjustRequest) (points.Outcome, error) {
	return o.svc.Adjust(ctx, points.OperatorCaller(by), r)
}
