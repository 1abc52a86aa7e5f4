package ledger

import (
	"sort"
	"time"
)

// State is what a Book needs to know of one account to decide a write.
// The service loads it inside the write transaction.
type State struct {
	Brand   Brand
	Rule    Rule // the rule version in force (expiry of new lots, deduction)
	Account Account
	// Lots holds every lot of the account with points remaining, plus every
	// lot that Allocs refers to (a reversal may restore into an empty lot).
	Lots []Lot
	// Order is the account's position in the order being acted on, if any.
	Order Order
	// Allocs are the allocations of that order for this account, in
	// writing order.
	Allocs []Allocation
	// Hold is the hold of that order, if any.
	Hold Hold
}

// Info is what a flow carries besides its amounts.
type Info struct {
	OutBizID       string
	ReverseOrderID string
	ShopID         string
	ShopName       string
	Channel        string
	AppKey         string
	RequestID      string
	OperatorID     string
	OperatorName   string
	Reason         string
}

// Changes are what a Book decided, for the store to write atomically.
type Changes struct {
	Account     Account // new values; Version is the version that was loaded
	Lots        []Lot   // created (IsNew) or changed lots
	Flows       []Flow
	Allocations []Allocation
	Order       *Order
	Hold        *Hold
	Reversal    *Reversal
}

// Book performs operations on one account's State and records the Changes.
// It is not safe for concurrent use; make one per transaction.
type Book struct {
	st      State
	now     time.Time
	newID   func() string
	lots    map[string]*Lot
	order   []string // lot ids in load/creation order
	dirty   map[string]bool
	flows   []Flow
	allocs  []Allocation
	acct    Account
	ord     Order
	ordSet  bool
	hold    Hold
	holdSet bool
	rev     *Reversal
	seqLots int64
	seqAll  int64
}

// NewBook starts a Book over st at now; newID makes flow and lot ids.
func NewBook(st State, now time.Time, newID func() string) *Book {
	b := &Book{st: st, now: now, newID: newID, lots: map[string]*Lot{}, dirty: map[string]bool{},
		acct: st.Account, ord: st.Order, hold: st.Hold}
	if b.acct.BrandID == "" {
		b.acct.BrandID, b.acct.CustomerID = st.Order.BrandID, st.Order.CustomerID
	}
	// New lots and allocations are numbered after the account's counters,
	// which count every row of the account, not only those loaded.
	b.seqLots, b.seqAll = b.acct.LotSeq, b.acct.AllocSeq
	for i := range st.Lots {
		l := st.Lots[i]
		if _, dup := b.lots[l.ID]; dup {
			continue
		}
		b.lots[l.ID] = &l
		b.order = append(b.order, l.ID)
		b.seqLots = max(b.seqLots, l.Seq)
	}
	for _, a := range st.Allocs {
		b.seqAll = max(b.seqAll, a.Seq)
	}
	return b
}

// Now is the Book's clock reading, taken once for the whole transaction.
func (b *Book) Now() time.Time { return b.now }

// Account is the account as the Book has left it so far.
func (b *Book) Account() Account { return b.acct }

// Order is the order position as the Book has left it so far.
func (b *Book) Order() Order { return b.ord }

// Hold is the hold as the Book has left it so far.
func (b *Book) Hold() Hold { return b.hold }

// Changes returns everything the Book decided.
func (b *Book) Changes() Changes {
	c := Changes{Account: b.acct, Flows: b.flows, Allocations: b.allocs, Reversal: b.rev}
	c.Account.Version = b.st.Account.Version
	c.Account.LotSeq, c.Account.AllocSeq = b.seqLots, b.seqAll
	for _, id := range b.order {
		if b.dirty[id] {
			c.Lots = append(c.Lots, *b.lots[id])
		}
	}
	if b.ordSet {
		o := b.ord
		c.Order = &o
	}
	if b.holdSet {
		h := b.hold
		c.Hold = &h
	}
	return c
}

// Lots returns the account's lots as the Book has left them.
func (b *Book) Lots() []Lot {
	out := make([]Lot, 0, len(b.order))
	for _, id := range b.order {
		out = append(out, *b.lots[id])
	}
	return out
}

func (b *Book) flow(t FlowType, amount, dAvail, dFrozen, dDebt int64, info Info) *Flow {
	b.acct.Available += dAvail
	b.acct.Frozen += dFrozen
	b.acct.Debt += dDebt
	b.acct.Seq++
	f := Flow{
		ID: b.newID(), BrandID: b.acct.BrandID, CustomerID: b.acct.CustomerID, Seq: b.acct.Seq,
		Type: t, Amount: amount, DeltaAvailable: dAvail, DeltaFrozen: dFrozen, DeltaDebt: dDebt,
		RemainPoint: b.acct.Available, OutBizID: info.OutBizID, ReverseOrderID: info.ReverseOrderID,
		ShopID: info.ShopID, ShopName: info.ShopName, Channel: info.Channel, AppKey: info.AppKey,
		RequestID: info.RequestID, OperatorID: info.OperatorID, OperatorName: info.OperatorName,
		Reason: info.Reason, RuleVersion: b.st.Rule.Version, CreatedAt: b.now, PrevHash: b.acct.LastHash,
	}
	f.Hash = FlowHash(f)
	b.acct.LastHash = f.Hash
	b.flows = append(b.flows, f)
	return &b.flows[len(b.flows)-1]
}

func (b *Book) alloc(f *Flow, l *Lot, orderRef, kind string, amount int64) {
	b.seqAll++
	l.Remaining -= amount
	b.dirty[l.ID] = true
	b.allocs = append(b.allocs, Allocation{FlowID: f.ID, LotID: l.ID, BrandID: b.acct.BrandID,
		CustomerID: b.acct.CustomerID, OrderRef: orderRef, Kind: kind, Amount: amount, Seq: b.seqAll})
}

// rehash recomputes the hash of f after a field (its policy) was set. f
// must still be the Book's newest flow: the next flow links to this hash.
func (b *Book) rehash(f *Flow) {
	f.Hash = FlowHash(*f)
	b.acct.LastHash = f.Hash
}

// Spendable is the available balance at now: what the account row says,
// less points of lots that expired but are not yet written off.
func Spendable(acct Account, lots []Lot, now time.Time) int64 {
	n := acct.Available
	for _, l := range lots {
		if l.Remaining > 0 && l.Expired(now) {
			n -= l.Remaining
		}
	}
	return n
}

// ExpireDue writes one EXPIRE flow for each lot whose expiry has passed and
// that still holds points. Every write calls it first, so a spend never
// touches an expired point.
func (b *Book) ExpireDue() {
	for _, id := range b.spendOrder(true) {
		l := b.lots[id]
		if l.Remaining <= 0 || !l.Expired(b.now) {
			continue
		}
		n := l.Remaining
		f := b.flow(Expire, n, -n, 0, 0, Info{OutBizID: l.OutBizID, Reason: "积分到期"})
		b.alloc(f, l, "", AllocExpire, n)
		b.acct.TotalExpired += n
	}
}

// spendOrder lists lot ids by earliest expiry, then oldest; never-expiring
// lots last.
func (b *Book) spendOrder(includeExpired bool) []string {
	ids := make([]string, 0, len(b.order))
	for _, id := range b.order {
		l := b.lots[id]
		if l.Remaining > 0 && (includeExpired || !l.Expired(b.now)) {
			ids = append(ids, id)
		}
	}
	sort.SliceStable(ids, func(i, j int) bool { return spendsBefore(b.lots[ids[i]], b.lots[ids[j]]) })
	return ids
}

// spendsBefore is the spend order: earliest expiry first, never-expiring
// lots last, then oldest (by Seq).
func spendsBefore(a, c *Lot) bool {
	if a.ExpiresAt.IsZero() != c.ExpiresAt.IsZero() {
		return c.ExpiresAt.IsZero()
	}
	if !a.ExpiresAt.Equal(c.ExpiresAt) {
		return a.ExpiresAt.Before(c.ExpiresAt)
	}
	if a.Seq != c.Seq {
		return a.Seq < c.Seq
	}
	return a.ID < c.ID
}

// LotsToSpend cuts an account's live lots to those an operation taking
// need points at now touches: every lot expired at now (expiry writes it
// off), then lots in spend order until their points reach need. A Book
// opened on the cut decides as one opened on every live lot, for
// operations that take at most need points in spend order. The result
// keeps the input's order.
func LotsToSpend(live []Lot, need int64, now time.Time) []Lot {
	idx := make([]int, len(live))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return spendsBefore(&live[idx[i]], &live[idx[j]]) })
	keep := make([]bool, len(live))
	var have int64
	for _, i := range idx {
		l := live[i]
		if l.Remaining <= 0 {
			continue
		}
		expired := l.Expired(now)
		if !expired && have >= need {
			break
		}
		keep[i] = true
		if !expired {
			have += l.Remaining
		}
	}
	var out []Lot
	for i, l := range live {
		if keep[i] {
			out = append(out, l)
		}
	}
	return out
}

// Grant creates a lot of amount points (EXTRA_CHARGE, CHARGE) with the
// expiry of the rule in force, and pays off debt from it first.
func (b *Book) Grant(t FlowType, amount int64, info Info) Flow {
	f := b.flow(t, amount, amount, 0, 0, info)
	b.seqLots++
	l := &Lot{ID: b.newID(), BrandID: b.acct.BrandID, CustomerID: b.acct.CustomerID, Granted: amount,
		Remaining: amount, EarnedAt: b.now, ExpiresAt: b.st.Rule.Clear.ExpiresAt(b.now, b.st.Brand.Location()),
		FlowID: f.ID, OutBizID: info.OutBizID, Seq: b.seqLots, new: true}
	b.lots[l.ID] = l
	b.order = append(b.order, l.ID)
	b.dirty[l.ID] = true
	b.acct.TotalEarned += amount
	if info.OutBizID != "" {
		b.touchOrder(info.OutBizID)
		b.ord.Granted += amount
	}
	granted := *f
	if b.acct.Debt > 0 {
		pay := min(b.acct.Debt, amount)
		d := b.flow(DebtRepay, pay, -pay, 0, -pay, Info{OutBizID: info.OutBizID, ShopID: info.ShopID,
			ShopName: info.ShopName, Channel: info.Channel, AppKey: info.AppKey, RequestID: info.RequestID,
			OperatorID: info.OperatorID, OperatorName: info.OperatorName, Reason: "偿还欠分"})
		b.alloc(d, l, "", AllocOther, pay)
	}
	return granted
}

func (b *Book) touchOrder(outBizID string) {
	if !b.ordSet && !b.ord.Exists && b.ord.OutBizID == "" {
		b.ord = Order{BrandID: b.acct.BrandID, OutBizID: outBizID, CustomerID: b.acct.CustomerID}
	}
	b.ordSet = true
}

// Spend takes amount points from the account's lots, earliest expiry first,
// for a DEDUCT_FROM_CONSUME, EXTRA_CONSUME or DECREASE flow. Spending for
// an order counts toward what that order may have reversed.
func (b *Book) Spend(t FlowType, amount int64, info Info) (Flow, error) {
	if avail := b.acct.Available; amount > avail {
		return Flow{}, Business(CodePointNotEnough, "积分不足",
			"available points %d are fewer than the %d asked for", avail, amount)
	}
	f := b.flow(t, amount, -amount, 0, 0, info)
	kind := AllocOther
	if t == DeductFromConsume || t == ExtraConsume {
		kind = AllocSpend
	}
	b.take(f, amount, info.OutBizID, kind)
	b.acct.TotalUsed += amount
	if kind == AllocSpend && info.OutBizID != "" {
		b.touchOrder(info.OutBizID)
		b.ord.Spent += amount
	}
	return *f, nil
}

func (b *Book) take(f *Flow, amount int64, orderRef, kind string) {
	left := amount
	for _, id := range b.spendOrder(false) {
		if left == 0 {
			break
		}
		l := b.lots[id]
		n := min(l.Remaining, left)
		b.alloc(f, l, orderRef, kind, n)
		left -= n
	}
	if left != 0 {
		// The account row said the points were there but the lots do not
		// hold them: the row and the lots disagree, which the store's
		// invariants forbid. Refuse rather than write a wrong ledger.
		panic("ledger: account available exceeds its lots")
	}
}

// outstanding returns, per allocation still in force for the order and
// kind, the lot and amount, in taking order (last taken last).
func outstanding(allocs []Allocation, kind string) []Allocation {
	var stack []Allocation
	for _, a := range allocs {
		if a.Kind != kind {
			continue
		}
		if a.Amount > 0 {
			stack = append(stack, a)
			continue
		}
		give := -a.Amount
		// Restores undo the newest takes of the same lot first; a restore
		// written by this ledger always names the lot it undoes.
		for i := len(stack) - 1; i >= 0 && give > 0; i-- {
			if stack[i].LotID != a.LotID {
				continue
			}
			n := min(stack[i].Amount, give)
			stack[i].Amount -= n
			give -= n
		}
	}
	out := stack[:0]
	for _, a := range stack {
		if a.Amount > 0 {
			out = append(out, a)
		}
	}
	return out
}

// ReverseSpend reverses amount points of the order's spending (amount 0:
// everything still reversible), restoring them to the lots they came from,
// last taken first (ledger rules §5). The caller has checked the order and
// replays; this checks the amount.
func (b *Book) ReverseSpend(amount int64, info Info) (Flow, error) {
	left := b.ord.Reversible()
	if left <= 0 {
		return Flow{}, Business(CodeAlreadyFullyReversed, "该订单积分已全部退回",
			"order %s has no points left to reverse: %d spent, %d already reversed", b.ord.OutBizID, b.ord.Spent, b.ord.Reversed)
	}
	if amount == 0 {
		amount = left
	}
	if amount > left {
		return Flow{}, Business(CodeReverseExceedsSpent, "退回积分超过订单可退积分",
			"order %s can have at most %d points reversed (%d spent, %d already reversed), %d asked",
			b.ord.OutBizID, left, b.ord.Spent, b.ord.Reversed, amount)
	}
	// Points go back last taken first (§5.7). Which lots they go to is
	// decided before the flow is written, so the flow can name the
	// refund-of-expired policy it applies (§5.8) in its own hash.
	type give struct {
		lot *Lot
		n   int64
	}
	var gives []give
	policy := ""
	stack := outstanding(b.orderAllocs(), AllocSpend)
	need := amount
	for i := len(stack) - 1; i >= 0 && need > 0; i-- {
		a := stack[i]
		n := min(a.Amount, need)
		need -= n
		l, ok := b.lots[a.LotID]
		if !ok {
			panic("ledger: reversal lot not loaded")
		}
		if l.Expired(b.now) {
			policy = b.refundPolicy()
		}
		gives = append(gives, give{l, n})
	}
	if need != 0 {
		panic("ledger: order allocations hold less than the order's reversible amount")
	}
	f := b.flow(DeductReverse, amount, amount, 0, 0, info)
	if policy != "" {
		f.Policy = policy
		b.rehash(f)
	}
	id := f.ID
	for _, g := range gives {
		wasExpired := g.lot.Expired(b.now)
		b.alloc(b.flowByID(id), g.lot, b.ord.OutBizID, AllocSpend, -g.n)
		if wasExpired {
			b.refundExpired(id, g.lot, g.n, info)
		}
	}
	b.acct.TotalUsed -= amount
	b.ord.Reversed += amount
	b.ordSet = true
	f = b.flowByID(id)
	b.rev = &Reversal{BrandID: b.acct.BrandID, ReverseOrderID: info.ReverseOrderID, OutBizID: b.ord.OutBizID,
		CustomerID: b.acct.CustomerID, Type: DeductReverse, Amount: amount, FlowID: f.ID, CreatedAt: b.now}
	return *f, nil
}

func (b *Book) flowByID(id string) *Flow {
	for i := range b.flows {
		if b.flows[i].ID == id {
			return &b.flows[i]
		}
	}
	panic("ledger: flow not in book")
}

// refundExpired applies the brand's refund_of_expired policy to n points
// just restored to lot l, which had expired (ledger rules §5.8).
func (b *Book) refundExpired(flowID string, l *Lot, n int64, info Info) {
	switch b.refundPolicy() {
	case RefundForfeit:
		// The refund is recorded, then the points expire at once.
		x := b.flow(Expire, n, -n, 0, 0, Info{OutBizID: info.OutBizID, ReverseOrderID: info.ReverseOrderID, Reason: "退回的积分已过期"})
		x.Policy = RefundForfeit
		b.rehash(x)
		b.alloc(x, l, "", AllocExpire, n)
		b.acct.TotalExpired += n
	case RefundReissue:
		// The points leave the expired lot again and arrive in a new lot
		// with the expiry a fresh charge would get.
		b.alloc(b.flowByID(flowID), l, "", AllocOther, n)
		b.seqLots++
		nl := &Lot{ID: b.newID(), BrandID: b.acct.BrandID, CustomerID: b.acct.CustomerID, Granted: n, Remaining: n,
			EarnedAt: b.now, ExpiresAt: b.st.Rule.Clear.ExpiresAt(b.now, b.st.Brand.Location()), FlowID: flowID,
			OutBizID: l.OutBizID, Seq: b.seqLots, new: true}
		b.lots[nl.ID] = nl
		b.order = append(b.order, nl.ID)
		b.dirty[nl.ID] = true
	default:
		days := b.st.Brand.Settings.GraceDays
		if days <= 0 {
			days = DefaultSettings().GraceDays
		}
		l.ExpiresAt = EndOfDay(b.now.AddDate(0, 0, days), b.st.Brand.Location())
	}
}

// refundPolicy is the brand's refund_of_expired setting, grace by default.
func (b *Book) refundPolicy() string {
	switch p := b.st.Brand.Settings.RefundOfExpired; p {
	case RefundForfeit, RefundReissue:
		return p
	}
	return RefundGrace
}

// Clawback takes back amount points that the order granted (amount 0: all
// still granted and not yet clawed back), from the order's own lots first,
// then from other lots earliest expiry first (ledger rules §6). Where the
// available balance is short, the brand's clawback_shortfall decides:
// reject (POINT_NOT_ENOUGH) or book the rest as debt.
func (b *Book) Clawback(amount int64, info Info) (Flow, error) {
	left := b.ord.Granted - b.ord.ClawedBack
	if left <= 0 {
		return Flow{}, Business(CodeAlreadyFullyReversed, "该订单发放的积分已全部收回",
			"order %s has no granted points left to claw back: %d granted, %d already clawed back", b.ord.OutBizID, b.ord.Granted, b.ord.ClawedBack)
	}
	if amount == 0 {
		amount = left
	}
	if amount > left {
		return Flow{}, Business(CodeReverseExceedsGranted, "收回积分超过订单发放积分",
			"order %s can have at most %d points clawed back (%d granted, %d already clawed back), %d asked",
			b.ord.OutBizID, left, b.ord.Granted, b.ord.ClawedBack, amount)
	}
	take := min(amount, b.acct.Available)
	short := amount - take
	if short > 0 && b.st.Brand.Settings.ClawbackShortfall != ShortfallDebt {
		return Flow{}, Business(CodePointNotEnough, "积分不足, 无法收回",
			"claw-back of %d points needs %d available, the customer has %d", amount, amount, b.acct.Available)
	}
	f := b.flow(ExtraChargeReverse, amount, -take, 0, short, info)
	need := take
	own, other := []string{}, []string{}
	for _, id := range b.spendOrder(false) {
		if b.lots[id].OutBizID == b.ord.OutBizID {
			own = append(own, id)
		} else {
			other = append(other, id)
		}
	}
	for _, id := range append(own, other...) {
		if need == 0 {
			break
		}
		l := b.lots[id]
		n := min(l.Remaining, need)
		b.alloc(f, l, b.ord.OutBizID, AllocClawback, n)
		need -= n
	}
	if need != 0 {
		panic("ledger: account available exceeds its lots")
	}
	b.acct.TotalEarned -= amount
	b.ord.ClawedBack += amount
	b.ordSet = true
	b.rev = &Reversal{BrandID: b.acct.BrandID, ReverseOrderID: info.ReverseOrderID, OutBizID: b.ord.OutBizID,
		CustomerID: b.acct.CustomerID, Type: ExtraChargeReverse, Amount: amount, FlowID: f.ID, CreatedAt: b.now}
	return *f, nil
}
