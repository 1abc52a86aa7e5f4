package backoffice

import (
	"context"
	"fmt"
	"math"
	"math/bits"
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
	// LiabilityFenCapped says the value in fen does not fit in int64 and
	// LiabilityFen is math.MaxInt64 (math.MinInt64 if negative) instead.
	LiabilityFenCapped bool
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
	LiabilityFenCapped      bool // as DayTotal's
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
func (o *Office) DailyTotals(ctx context.Context, brandID, from, to string) (Totals, error) {
	var t Totals
	brand, err := o.brandOf(ctx, brandID)
	if err != nil {
		return t, err
	}
	t.Brand, t.Now = brand, o.svc.Now()
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
	bt, err := o.read.BrandTotals(ctx, brand.ID, first, end)
	if err != nil {
		return t, err
	}
	rule, err := o.svc.Rule(ctx, brand.ID)
	if err != nil {
		return t, err
	}
	if d, ok := rule.DeductionFor(""); ok && d.Enable && d.DeductedPoint > 0 && d.ConsumeMoney > 0 {
		t.Valued, t.DeductedPoint, t.ConsumeMoney = true, d.DeductedPoint, d.ConsumeMoney
	}
	shops, err := o.read.Shops(ctx, brand.ID)
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
	// Points are bounded per request, not per brand: every sum below is
	// checked, so one that leaves int64 fails the read rather than showing
	// a wrapped number (the stores' SUMs fail the same way).
	var sum checkedSum
	net := make([]int64, len(t.Days))
	type shopDay struct{ day, shop string }
	byShop := map[shopDay]*ShopTotal{}
	for _, b := range bt.Buckets {
		day := b.Start.In(loc).Format(time.DateOnly)
		i, ok := at[day]
		if !ok {
			continue // outside the range: the store was asked for it only
		}
		net[i] = sum.add(net[i], b.Net)
		sum.addToDay(&t.Days[i], b)
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
		sum.addToDay(&s.DayTotal, b)
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
	t.Liability = sum.add(bt.Available, bt.Frozen)
	t.LiabilityFen, t.LiabilityFenCapped = t.value(t.Liability)
	// Walk back from now: the liability at the end of a day is today's
	// less everything that changed it since.
	cur := sum.sub(t.Liability, bt.NetAfter)
	for i := len(t.Days) - 1; i >= 0; i-- {
		d := &t.Days[i]
		d.Liability = cur
		d.LiabilityFen, d.LiabilityFenCapped = t.value(cur)
		cur = sum.sub(cur, net[i])
	}
	if sum.overflow {
		return t, fmt.Errorf("backoffice: the totals of brand %s leave the range of int64 points", brand.ID)
	}
	return t, nil
}

// value is points in fen under the deduction rule, rounded toward zero,
// computed in 128 bits. A brand's points times consume_money can exceed
// int64 fen (its points are bounded per request, not in sum); the value
// is then saturated at math.MaxInt64 (math.MinInt64 when negative) and
// capped is true, never wrapped.
func (t Totals) value(points int64) (fen int64, capped bool) {
	if !t.Valued {
		return 0, false
	}
	u := uint64(points)
	if points < 0 {
		u = -u // two's complement: right for math.MinInt64 too
	}
	hi, lo := bits.Mul64(u, uint64(t.ConsumeMoney))
	limit := uint64(math.MaxInt64)
	if points < 0 {
		limit++ // |math.MinInt64|
	}
	// The quotient fits in 64 bits only when hi < DeductedPoint.
	if hi >= uint64(t.DeductedPoint) {
		return saturate(points), true
	}
	q, _ := bits.Div64(hi, lo, uint64(t.DeductedPoint))
	if q > limit {
		return saturate(points), true
	}
	if points < 0 {
		return int64(-q), false // -q of 1<<63 is math.MinInt64
	}
	return int64(q), false
}

func saturate(sign int64) int64 {
	if sign < 0 {
		return math.MinInt64
	}
	return math.MaxInt64
}

// checkedSum adds int64s and remembers whether any sum left int64.
type checkedSum struct{ overflow bool }

func (s *checkedSum) add(a, b int64) int64 {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		s.overflow = true
	}
	return c
}

func (s *checkedSum) sub(a, b int64) int64 {
	c := a - b
	if (b > 0 && c > a) || (b < 0 && c < a) {
		s.overflow = true
	}
	return c
}

func (s *checkedSum) addToDay(d *DayTotal, b FlowBucket) {
	d.Flows = s.add(d.Flows, b.Count)
	switch b.Type {
	case ledger.ExtraCharge, ledger.Charge:
		d.Issued = s.add(d.Issued, b.Amount)
	case ledger.DeductFromConsume, ledger.ExtraConsume, ledger.Verify, ledger.Decrease:
		d.Spent = s.add(d.Spent, b.Amount)
	case ledger.DeductReverse:
		d.Reversed = s.add(d.Reversed, b.Amount)
	case ledger.ExtraChargeReverse:
		d.ClawedBack = s.add(d.ClawedBack, b.Amount)
	case ledger.Expire:
		d.Expired = s.add(d.Expired, b.Amount)
	case ledger.Adjust:
		d.Adjusted = s.add(d.Adjusted, b.Net)
	case ledger.DebtRepay:
		d.DebtRepaid = s.add(d.DebtRepaid, b.Amount)
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
