package backoffice

import (
	"math"
	"math/big"
	"testing"

	"jifen/points"
)

// TestTotals_Value: a liability in fen is points × consume_money /
// deducted_point, rounded toward zero, exact wherever it fits in int64 and
// otherwise the nearest int64 with capped set — never wrapped or zeroed.
func TestTotals_Value(t *testing.T) {
	pts := []int64{math.MinInt64, math.MinInt64 + 1, -1e13, -3, -1, 0, 1, 3, 1e12, 1e13, math.MaxInt64 / 2, math.MaxInt64 - 1, math.MaxInt64}
	dps := []int64{1, 2, 3, 100, points.MaxPoints, math.MaxInt64}
	cms := []int64{1, 50, 99, points.MaxConsumeMoney, 1e7, math.MaxInt64}
	for _, p := range pts {
		for _, dp := range dps {
			for _, cm := range cms {
				tt := Totals{Valued: true, DeductedPoint: dp, ConsumeMoney: cm}
				got, capped := tt.value(p)
				exact := new(big.Int).Mul(big.NewInt(p), big.NewInt(cm))
				exact.Quo(exact, big.NewInt(dp)) // truncates toward zero
				switch {
				case exact.IsInt64() && (got != exact.Int64() || capped):
					t.Errorf("%d points at %d/%d: %d (capped %v), want %s", p, cm, dp, got, capped, exact)
				case !exact.IsInt64() && (!capped || (p > 0 && got != math.MaxInt64) || (p < 0 && got != math.MinInt64)):
					t.Errorf("%d points at %d/%d: %d (capped %v), want %s saturated and capped", p, cm, dp, got, capped, exact)
				}
			}
		}
	}
	if got, capped := (Totals{}).value(1e13); got != 0 || capped {
		t.Errorf("no rule: %d %v", got, capped)
	}
}

// TestTotals_CheckedSum: sums that leave int64 are noticed, not wrapped.
func TestTotals_CheckedSum(t *testing.T) {
	for _, c := range []struct {
		a, b     int64
		sub      bool
		overflow bool
	}{
		{math.MaxInt64, 1, false, true},
		{math.MinInt64, -1, false, true},
		{math.MaxInt64, -1, false, false},
		{math.MinInt64, 1, true, true},
		{0, math.MinInt64, true, true},
		{-1, math.MinInt64, true, false},
		{math.MaxInt64, math.MaxInt64, true, false},
		{1e13, 1e12, false, false},
	} {
		var s checkedSum
		if c.sub {
			s.sub(c.a, c.b)
		} else {
			s.add(c.a, c.b)
		}
		if s.overflow != c.overflow {
			t.Errorf("%d, %d (subtract %v): overflow %v, want %v", c.a, c.b, c.sub, s.overflow, c.overflow)
		}
	}
}
