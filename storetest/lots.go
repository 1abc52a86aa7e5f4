package storetest

import (
	"fmt"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

func init() {
	extra = append(extra, suiteTest{"LotsToSpend", testLotsToSpend})
}

// testLotsToSpend: a member holding many lots of mixed expiry (some
// expired, some never expiring, ties on expiry): the store's
// LoadAccount reads exactly ledger.LotsToSpend over the live lots, for
// every need; and spends that cross many lots then take them in spend
// order (the suite verifies every invariant at the end).
func testLotsToSpend(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	setRule := func(c ledger.ClearRule) {
		t.Helper()
		_, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{
			Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: ledger.DefaultSettings()},
			Shops: []ledger.Shop{{ID: "S1", Name: "西湖店", OutIDs: map[string]string{"KRY": "kry-s1"}}, {ID: "S2", Name: "滨江店"}},
			Rule:  &ledger.Rule{Name: "r", Clear: c},
		}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	rules := []ledger.ClearRule{{Type: ledger.ClearNever}, {Type: ledger.ClearDaysAfterEarn, Days: 1},
		{Type: ledger.ClearDaysAfterEarn, Days: 3}, {Type: ledger.ClearDaysAfterEarn, Days: 1}, {Type: ledger.ClearNever}}
	for i := range 30 {
		setRule(rules[i%len(rules)])
		e.MustCharge("C1", fmt.Sprintf("g%d", i), int64(10+i))
		e.Clock.Advance(7 * time.Hour)
	}
	// Some lots have expired by now (not yet written off), others not.
	e.Clock.Advance(24 * time.Hour)
	now := e.Clock.Now()
	ids := func(ls []ledger.Lot) string {
		s := ""
		for _, l := range ls {
			s += l.ID + " "
		}
		return s
	}
	check := func() {
		t.Helper()
		err := e.Store.Write(e.Ctx, func(tx points.Tx) error {
			all, err := tx.LoadAccount(e.Ctx, points.AccountQuery{BrandID: "B1", CustomerID: "C1", Need: points.AllLots, Now: now})
			if err != nil {
				return err
			}
			live := all.Lots
			for _, need := range []int64{0, 1, 10, 11, 100, 250, 400, 1 << 40} {
				snap, err := tx.LoadAccount(e.Ctx, points.AccountQuery{BrandID: "B1", CustomerID: "C1", Need: need, Now: now})
				if err != nil {
					return err
				}
				if got, want := snap.Lots, ledger.LotsToSpend(live, need, now); ids(got) != ids(want) {
					return fmt.Errorf("need %d: store gives %s; the ledger's cut is %s", need, ids(got), ids(want))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check()
	// Spends that cross lots, through the service (which loads only the
	// cut), then the cut again on what is left.
	for i, n := range []int64{5, 60, 120, 33} {
		e.MustConsume("C1", fmt.Sprintf("o%d", i), n)
		now = e.Clock.Now()
		check()
	}
}

func init() {
	extra = append(extra, suiteTest{"ClawbackTakesTheGrantedLot", testClawbackTakesTheGrantedLot})
}

// testClawbackTakesTheGrantedLot: a claw-back of part of an order's grant
// takes from the lot that order granted (ledger rules §6), not from an
// older lot first in spend order — however the member's lots are loaded.
func testClawbackTakesTheGrantedLot(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C2", "other", 500)
	e.MustCharge("C2", "earn-1", 100)
	r := e.Reverse("earn-1", "cb1", P(100))
	r.Type = ledger.ExtraChargeReverse
	r.CustomerID = "C2"
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, r); err != nil {
		t.Fatal(err)
	}
	remaining := map[string]int64{}
	for _, l := range e.View("C2").Lots {
		remaining[l.OutBizID] = l.Remaining
	}
	if remaining["other"] != 500 || remaining["earn-1"] != 0 {
		t.Fatalf("after clawing back earn-1: lots hold %v; want other 500, earn-1 emptied", remaining)
	}
}
