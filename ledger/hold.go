package ledger

import "time"

// Freeze moves amount points from available to frozen for the order
// (open.point.operate type 2), pinned to the lots they came from
// (ledger rules §7). The hold times out after timeout.
func (b *Book) Freeze(amount int64, timeout time.Duration, info Info) (Flow, error) {
	if b.hold.Exists || b.holdSet {
		return Flow{}, Business(CodeHoldConflict, "该订单已有冻结记录",
			"order %s already has a hold (%s, %d points)", info.OutBizID, b.hold.Status, b.hold.Amount)
	}
	if amount > b.acct.Available {
		return Flow{}, Business(CodePointNotEnough, "积分不足",
			"available points %d are fewer than the %d asked for", b.acct.Available, amount)
	}
	f := b.flow(Freeze, amount, -amount, amount, 0, info)
	b.take(f, amount, info.OutBizID, AllocHold)
	b.hold = Hold{BrandID: b.acct.BrandID, OuterOrderID: info.OutBizID, CustomerID: b.acct.CustomerID,
		Amount: amount, Remaining: amount, Status: HoldActive, CreatedAt: b.now, ExpiresAt: b.now.Add(timeout), FlowID: f.ID}
	b.holdSet = true
	return *f, nil
}

func (b *Book) activeHold(orderRef string) error {
	if !b.hold.Exists && !b.holdSet {
		return Business(CodeHoldNotFound, "未找到该订单的冻结积分", "order %s has no hold", orderRef)
	}
	if b.hold.Status != HoldActive {
		return Business(CodeHoldNotFound, "该订单的冻结积分已处理",
			"the hold of order %s is %s, not active", orderRef, b.hold.Status)
	}
	return nil
}

// VerifyHold turns amount frozen points of the order into a spend (VERIFY)
// and releases the rest of the hold (ledger rules §7). Earliest-taken
// pinned points are spent; the latest-taken are released. A hold past its
// timeout is no longer verifiable, even before the sweeper has released
// it (HOLD_EXPIRED; nothing is written).
func (b *Book) VerifyHold(amount int64, info Info) (Flow, error) {
	if err := b.activeHold(info.OutBizID); err != nil {
		return Flow{}, err
	}
	if h := b.hold; !h.ExpiresAt.IsZero() && !b.now.Before(h.ExpiresAt) {
		return Flow{}, Business(CodeHoldExpired, "冻结积分已超时",
			"the hold of order %s timed out at %s: it can no longer be verified and is being released", info.OutBizID,
			h.ExpiresAt.In(b.st.Brand.Location()).Format(time.DateTime))
	}
	if amount > b.hold.Remaining {
		return Flow{}, Business(CodeHoldExceeded, "核销积分超过冻结积分",
			"order %s has %d points frozen, %d asked to verify", info.OutBizID, b.hold.Remaining, amount)
	}
	f := b.flow(Verify, amount, 0, -amount, 0, info)
	pins := outstanding(b.orderAllocs(), AllocHold)
	need := amount
	for _, a := range pins {
		if need == 0 {
			break
		}
		n := min(a.Amount, need)
		l := b.lots[a.LotID]
		b.alloc(f, l, info.OutBizID, AllocHold, -n)
		b.alloc(f, l, info.OutBizID, AllocSpend, n)
		need -= n
	}
	if need != 0 {
		panic("ledger: hold allocations hold less than the hold")
	}
	b.acct.TotalUsed += amount
	b.touchOrder(info.OutBizID)
	b.ord.Spent += amount
	b.hold.Remaining -= amount
	b.hold.Verified += amount
	b.hold.Status = HoldVerified
	b.holdSet = true
	verified := *f
	if b.hold.Remaining > 0 {
		b.releaseRest(info)
	}
	return verified, nil
}

// ReleaseHold gives back every point still frozen for the order
// (UNFREEZE): on timeout, or by an operator.
func (b *Book) ReleaseHold(info Info) (Flow, error) {
	if err := b.activeHold(info.OutBizID); err != nil {
		return Flow{}, err
	}
	f := b.releaseRest(info)
	b.hold.Status = HoldReleased
	return f, nil
}

func (b *Book) releaseRest(info Info) Flow {
	rest := b.hold.Remaining
	f := b.flow(Unfreeze, rest, rest, -rest, 0, info)
	pins := outstanding(b.orderAllocs(), AllocHold)
	need := rest
	var expired []*Lot
	for i := len(pins) - 1; i >= 0 && need > 0; i-- {
		a := pins[i]
		n := min(a.Amount, need)
		l := b.lots[a.LotID]
		b.alloc(f, l, info.OutBizID, AllocHold, -n)
		if l.Expired(b.now) {
			expired = append(expired, l)
		}
		need -= n
	}
	if need != 0 {
		panic("ledger: hold allocations hold less than the hold")
	}
	b.hold.Remaining = 0
	b.holdSet = true
	released := *f
	// A pinned lot that expired during the hold expires now (§7).
	for _, l := range expired {
		if l.Remaining > 0 {
			n := l.Remaining
			x := b.flow(Expire, n, -n, 0, 0, Info{OutBizID: l.OutBizID, Reason: "冻结期间积分到期"})
			b.alloc(x, l, "", AllocExpire, n)
			b.acct.TotalExpired += n
		}
	}
	return released
}

// orderAllocs is every allocation of the order so far: loaded and new.
func (b *Book) orderAllocs() []Allocation {
	all := append([]Allocation(nil), b.st.Allocs...)
	for _, a := range b.allocs {
		if a.OrderRef != "" && (a.OrderRef == b.ord.OutBizID || a.OrderRef == b.hold.OuterOrderID) {
			all = append(all, a)
		}
	}
	return all
}
