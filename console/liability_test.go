package console

import (
	"math"
	"strings"
	"testing"

	"jifen/backoffice"
	"jifen/points"
)

// TestLiabilityBeyondInt64: a liability whose value in fen was capped is
// shown as beyond counting, not as the capped number; the largest totals
// still get an axis above them and a well-formed amount.
func TestLiabilityBeyondInt64(t *testing.T) {
	if got := fmtLiability(math.MaxInt64, true); !strings.HasPrefix(got, "超出可计范围") {
		t.Errorf("capped: %q", got)
	}
	if got := fmtLiability(5000, false); got != "¥50.00" {
		t.Errorf("5000 fen: %q", got)
	}
	if got := fmtYuan(math.MinInt64); got != "-¥92,233,720,368,547,758.08" {
		t.Errorf("fmtYuan(MinInt64) = %q", got)
	}
	for _, v := range []int64{9, 11, 1e18, 5e18 + 1, math.MaxInt64} {
		if got := niceCeil(v); got < v {
			t.Errorf("niceCeil(%d) = %d, below it", v, got)
		}
	}
	tt := backoffice.Totals{Valued: true, DeductedPoint: 1, ConsumeMoney: points.MaxConsumeMoney,
		Days: []backoffice.DayTotal{{Day: "2026-03-01", Liability: math.MaxInt64, LiabilityFen: math.MaxInt64, LiabilityFenCapped: true}}}
	c := liabilityChart(tt)
	if len(c.Dots) != 1 || !strings.Contains(c.Dots[0].Title, "超出可计范围") || c.Dots[0].Y < 0 {
		t.Errorf("chart of the largest liability: %+v", c.Dots)
	}
}
