package ledger_test

import (
	"math"
	"math/big"
	"testing"

	"jifen/ledger"
	"jifen/points"
)

// deductionRule is a brand default level rule with the given values.
func deductionRule(dp, cm, maxPoint int64, limit, enable bool) ledger.Rule {
	return ledger.Rule{Clear: ledger.ClearRule{Type: ledger.ClearNever}, Deduction: []ledger.DeductionRule{{
		DeductedPoint: dp, ConsumeMoney: cm, Enable: enable, HasUpperLimit: limit, MaxPoint: maxPoint}}}
}

// checkDeduction holds Calculate to what point.cal promises for rule r
// and p points: never a negative or wrapped amount, never more points
// than asked, whole steps of deducted_point each worth consume_money;
// and, where the service accepts the rule and p, exactly
// floor(min(p, max_point) / deducted_point) × consume_money fen.
func checkDeduction(t *testing.T, r ledger.Rule, p int64) {
	t.Helper()
	d := r.Deduction[0]
	got := r.Calculate("", p)
	if got.ConsumePoint < 0 || got.DeductedMoney < 0 || got.ConsumePoint > max(p, 0) {
		t.Fatalf("rule %+v, %d points: %+v — negative, wrapped or more than asked", d, p, got)
	}
	if got.ConsumePoint != 0 || got.DeductedMoney != 0 {
		if d.DeductedPoint <= 0 {
			t.Fatalf("rule %+v, %d points: %+v from a rule that cannot deduct", d, p, got)
		}
		steps := got.ConsumePoint / d.DeductedPoint
		money := new(big.Int).Mul(big.NewInt(steps), big.NewInt(d.ConsumeMoney))
		if got.ConsumePoint%d.DeductedPoint != 0 || !money.IsInt64() || money.Int64() != got.DeductedMoney {
			t.Fatalf("rule %+v, %d points: %+v is not whole steps of %d points = %d fen", d, p, got, d.DeductedPoint, d.ConsumeMoney)
		}
	}
	if points.ValidateRule("rule", r) != nil || p < 0 || p > points.MaxPoints {
		return
	}
	want := ledger.Deduction{}
	if d.Enable && p > 0 {
		use := p
		if d.HasUpperLimit {
			use = min(use, d.MaxPoint)
		}
		steps := use / d.DeductedPoint
		money := new(big.Int).Mul(big.NewInt(steps), big.NewInt(d.ConsumeMoney))
		if !money.IsInt64() {
			t.Fatalf("accepted rule %+v and %d points: %s fen do not fit in int64", d, p, money)
		}
		want = ledger.Deduction{ConsumePoint: steps * d.DeductedPoint, DeductedMoney: money.Int64()}
	}
	if got != want {
		t.Fatalf("accepted rule %+v, %d points: %+v, want %+v", d, p, got, want)
	}
}

// TestCalculate_Bounds runs checkDeduction over the values at and around
// every bound: the service's (MaxPoints, MaxConsumeMoney) and int64's.
func TestCalculate_Bounds(t *testing.T) {
	const maxPoints, maxMoney = points.MaxPoints, points.MaxConsumeMoney
	dps := []int64{math.MinInt64, -1, 0, 1, 2, 3, 7, 100, maxPoints - 1, maxPoints, maxPoints + 1, math.MaxInt64}
	cms := []int64{math.MinInt64, -1, 0, 1, 50, 99, 5000, maxMoney - 1, maxMoney, maxMoney + 1, 10_000_000, 1 << 40, math.MaxInt64}
	ps := []int64{math.MinInt64, -1, 0, 1, 99, 100, 120, maxPoints - 1, maxPoints, maxPoints + 1, math.MaxInt64 - 1, math.MaxInt64}
	caps := []int64{math.MinInt64, -1, 0, 1, 500, maxPoints, math.MaxInt64}
	for _, dp := range dps {
		for _, cm := range cms {
			for _, p := range ps {
				for _, c := range caps {
					for _, limit := range []bool{false, true} {
						checkDeduction(t, deductionRule(dp, cm, c, limit, true), p)
					}
				}
				checkDeduction(t, deductionRule(dp, cm, 0, false, false), p)
			}
		}
	}
	// The rule of the report: 1 point = 100,000 yuan passed validation and
	// 10^12 points answered -8446744073709551616 fen.
	r := deductionRule(1, 10_000_000, 0, false, true)
	if err := points.ValidateRule("rule", r); err == nil {
		t.Fatal("1 point = 100,000 yuan was accepted")
	}
	if got := r.Calculate("", 1_000_000_000_000); got.DeductedMoney < 0 || got.ConsumePoint < 0 {
		t.Fatalf("a rule stored before the bounds: %+v", got)
	}
}

// TestValidateRule_Bounds: a deduction rule outside the bounds is refused
// naming its field.
func TestValidateRule_Bounds(t *testing.T) {
	const w = "rule.point_deduction_rule.member_point_deduction_rules[0]."
	for _, c := range []struct {
		dp, cm int64
		enable bool
		field  string
	}{
		{1, points.MaxConsumeMoney + 1, true, "consume_money"},
		{1, 10_000_000, false, "consume_money"},
		{1, -1, false, "consume_money"},
		{1, 0, true, "consume_money"},
		{points.MaxPoints + 1, 100, true, "deducted_point"},
		{-1, 100, false, "deducted_point"},
		{0, 100, true, "deducted_point"},
	} {
		err := points.ValidateRule("rule", deductionRule(c.dp, c.cm, 0, false, c.enable))
		e, ok := ledger.AsError(err)
		if !ok || e.Kind != ledger.KindInvalid || e.Field != w+c.field {
			t.Errorf("deducted_point %d, consume_money %d fen, enable %v: %v, want invalid %s", c.dp, c.cm, c.enable, err, w+c.field)
		}
	}
	for _, ok := range []ledger.Rule{
		deductionRule(1, points.MaxConsumeMoney, 0, false, true),
		deductionRule(points.MaxPoints, 1, 0, false, true),
		deductionRule(0, 0, 0, false, false),
	} {
		if err := points.ValidateRule("rule", ok); err != nil {
			t.Errorf("%+v: %v", ok.Deduction[0], err)
		}
	}
}

// FuzzDeduction runs checkDeduction over any rule and any number of
// points.
func FuzzDeduction(f *testing.F) {
	f.Add(int64(100), int64(5000), int64(500), true, true, int64(120))
	f.Add(int64(1), int64(10_000_000), int64(0), false, true, int64(1_000_000_000_000))
	f.Add(int64(1), int64(points.MaxConsumeMoney), int64(0), false, true, int64(points.MaxPoints))
	f.Add(int64(3), int64(math.MaxInt64), int64(-5), true, true, int64(math.MaxInt64))
	f.Add(int64(0), int64(0), int64(0), false, false, int64(-1))
	f.Fuzz(func(t *testing.T, dp, cm, maxPoint int64, limit, enable bool, p int64) {
		checkDeduction(t, deductionRule(dp, cm, maxPoint, limit, enable), p)
	})
}
