package points

import (
	"context"
	"math/big"
	"sort"
	"strings"
	"time"

	"jifen/ledger"
)

// DayTotal sums one day's flows (in the brand's time zone), in points.
type DayTotal struct {
	Day        string // 2006-01-02
	Issued     int64  // EXTRA_CHARGE, CHARGE
	Spent      int64  // DEDUCT_FROM_CONSUME, EXTRA_CONSUME, VERIFY, DECREASE
	Reversed   int64  // DEDUCT_FROM_CONSUME_REVERSE
	ClawedBack int64  // EXTRA_CHARGE_REVERSE
	Expired    int64  // EXPIRE
	Adjusted   int64  // ADJUST, signed
	DebtRepaid int64  // DEBT_REPAY
	Flows      int64  // how many flows
	// Liability is what the brand owes at the end of the day: available
	// plus frozen points over its customers, and its value in fen under
	// the brand's default deduction rule. Brand-wide rows only: points
	// belong to the brand, not to a shop.
	Liability, LiabilityFen int64
}

// ShopTotal is one shop's totals of one day. Flows without a shop
// (expiry, adjustments) count under ShopID "".
type ShopTotal struct {
	ShopID   string
	ShopName string
	DayTotal
}

// Totals are a brand's daily totals over a range of days.
type Totals struct {
	Brand    ledger.Brand
	From, To string     // first and last day, inclusive
	Days     []DayTotal // every day of the range, oldest first
	Shops    []ShopTotal
	// The brand's position now.
	Available, Frozen, Debt int64
	Liability, LiabilityFen int64
	// Valued says whether a deduction rule values points: DeductedPoint
	// points are worth ConsumeMoney fen (the brand's default level rule).
	Valued                      bool
	DeductedPoint, ConsumeMoney int64
	Now                         time.Time
}

// MaxTotalsDays bounds one totals range.
const MaxTotalsDays = 366

// DailyTotals sums a brand's flows per day and per day and shop, from day
// from to day to inclusive (2006-01-02 in the brand's time zone; "" for
// to is today, "" for from is 29 days before to), with the liability at
// the end of each day.
func (a *Admin) DailyTotals(ctx context.Context, brandID, from, to string) (Totals, error) {
	var t Totals
	brand, err := a.brandOf(ctx, brandID)
	if err != nil {
		return t, err
	}
	t.Brand, t.Now = brand, a.svc.Now()
	loc := brand.Location()
	last, err := parseDay("to", to, t.Now, loc)
	if err != nil {
		return t, err
	}
	first := last.AddDate(0, 0, -29)
	if strings.TrimSpace(from) != "" {
		if first, err = parseDay("from", from, t.Now, loc); err != nil {
			return t, err
		}
	}
	if last.Before(first) {
		return t, ledger.Invalid("to", "截止日期早于开始日期")
	}
	end := last.AddDate(0, 0, 1)
	n := 0
	for d := first; d.Before(end); d = d.AddDate(0, 0, 1) {
		if n++; n > MaxTotalsDays {
			return t, ledger.Invalidf("from", "最多 %d 天", MaxTotalsDays)
		}
		t.Days = append(t.Days, DayTotal{Day: d.Format(time.DateOnly)})
	}
	t.From, t.To = first.Format(time.DateOnly), last.Format(time.DateOnly)
	bt, err := a.read.BrandTotals(ctx, brand.ID, first, end)
	if err != nil {
		return t, err
	}
	rule, err := a.svc.rule(ctx, brand.ID)
	if err != nil {
		return t, err
	}
	if d, ok := rule.DeductionFor(""); ok && d.Enable && d.DeductedPoint > 0 {
		t.Valued, t.DeductedPoint, t.ConsumeMoney = true, d.DeductedPoint, d.ConsumeMoney
	}
	shops, err := a.svc.store.Shops(ctx, brand.ID)
	if err != nil {
		return t, err
	}
	names := map[string]string{"": "无门店"}
	for _, s := range shops {
		names[s.ID] = s.Name
	}
	at := map[string]int{}
	for i, d := range t.Days {
		at[d.Day] = i
	}
	net := make([]int64, len(t.Days))
	type shopDay struct{ day, shop string }
	byShop := map[shopDay]*ShopTotal{}
	for _, b := range bt.Buckets {
		day := b.Start.In(loc).Format(time.DateOnly)
		i, ok := at[day]
		if !ok {
			continue // outside the range: the store was asked for it only
		}
		net[i] += b.Net
		addToDay(&t.Days[i], b)
		k := shopDay{day, b.ShopID}
		s := byShop[k]
		if s == nil {
			name, ok := names[b.ShopID]
			if !ok {
				name = b.ShopID
			}
			s = &ShopTotal{ShopID: b.ShopID, ShopName: name, DayTotal: DayTotal{Day: day}}
			byShop[k] = s
		}
		addToDay(&s.DayTotal, b)
	}
	for _, s := range byShop {
		t.Shops = append(t.Shops, *s)
	}
	sort.Slice(t.Shops, func(i, j int) bool {
		if t.Shops[i].Day != t.Shops[j].Day {
			return t.Shops[i].Day < t.Shops[j].Day
		}
		return t.Shops[i].ShopID < t.Shops[j].ShopID
	})
	t.Available, t.Frozen, t.Debt = bt.Available, bt.Frozen, bt.Debt
	t.Liability = bt.Available + bt.Frozen
	t.LiabilityFen = t.value(t.Liability)
	// Walk back from now: the liability at the end of a day is today's
	// less everything that changed it since.
	cur := t.Liability - bt.NetAfter
	for i := len(t.Days) - 1; i >= 0; i-- {
		t.Days[i].Liability, t.Days[i].LiabilityFen = cur, t.value(cur)
		cur -= net[i]
	}
	return t, nil
}

// value is points in fen under the deduction rule, rounded down.
func (t Totals) value(points int64) int64 {
	if !t.Valued {
		return 0
	}
	v := new(big.Int).Mul(big.NewInt(points), big.NewInt(t.ConsumeMoney))
	v.Quo(v, big.NewInt(t.DeductedPoint))
	if !v.IsInt64() {
		return 0
	}
	return v.Int64()
}

func addToDay(d *DayTotal, b FlowBucket) {
	d.Flows += b.Count
	switch b.Type {
	case ledger.ExtraCharge, ledger.Charge:
		d.Issued += b.Amount
	case ledger.DeductFromConsume, ledger.ExtraConsume, ledger.Verify, ledger.Decrease:
		d.Spent += b.Amount
	case ledger.DeductReverse:
		d.Reversed += b.Amount
	case ledger.ExtraChargeReverse:
		d.ClawedBack += b.Amount
	case ledger.Expire:
		d.Expired += b.Amount
	case ledger.Adjust:
		d.Adjusted += b.Net
	case ledger.DebtRepay:
		d.DebtRepaid += b.Amount
	}
}

// parseDay reads a day in loc; "" is today.
func parseDay(field, s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		n := now.In(loc)
		return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return d, ledger.Invalidf(field, "应为日期如 2026-03-01, 收到 %q", s)
	}
	return d, nil
}
