package storetest

import (
	"fmt"
	"math"
	"testing"

	"jifen/ledger"
	"jifen/points"
)

func init() {
	extra = append(extra, suiteTest{"TotalsLiabilityBeyondInt64Fen", testTotalsLiabilityBeyondInt64Fen})
}

// testTotalsLiabilityBeyondInt64Fen: at the highest value a rule may give
// a point (10,000 yuan), ten of the largest charges make a liability of
// 10^13 points = 10^19 fen, past int64. The totals say so — the largest
// int64 and capped — instead of a wrapped or zero amount, on the brand and
// on each day it holds.
func testTotalsLiabilityBeyondInt64Fen(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	_, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{
		Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: ledger.DefaultSettings()},
		Rule: &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearNever},
			Deduction: []ledger.DeductionRule{{DeductedPoint: 1, ConsumeMoney: points.MaxConsumeMoney, Enable: true}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C2", "small", 9)
	small, err := e.Admin().DailyTotals(e.Ctx, "B1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if small.LiabilityFen != 9*points.MaxConsumeMoney || small.LiabilityFenCapped {
		t.Fatalf("9 points: %d fen (capped %v), want %d", small.LiabilityFen, small.LiabilityFenCapped, 9*points.MaxConsumeMoney)
	}
	for i := range 10 {
		e.MustCharge("C1", fmt.Sprintf("g%d", i), points.MaxPoints)
	}
	tt, err := e.Admin().DailyTotals(e.Ctx, "B1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	const liability = 10*points.MaxPoints + 9
	if !tt.Valued || tt.Liability != liability || tt.LiabilityFen != math.MaxInt64 || !tt.LiabilityFenCapped {
		t.Fatalf("brand: %d points = %d fen (capped %v), want %d points = the largest int64, capped",
			tt.Liability, tt.LiabilityFen, tt.LiabilityFenCapped, int64(liability))
	}
	today := tt.Days[len(tt.Days)-1]
	if today.Liability != liability || today.LiabilityFen != math.MaxInt64 || !today.LiabilityFenCapped {
		t.Fatalf("today: %+v, want %d points = the largest int64, capped", today, int64(liability))
	}
	if before := tt.Days[0]; before.Liability != 0 || before.LiabilityFen != 0 || before.LiabilityFenCapped {
		t.Fatalf("before any flow: %+v", before)
	}
}
