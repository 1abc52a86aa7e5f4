package sqlite

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

func TestStore_Apps(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	a := ledger.App{Key: "k1", Secret: "s", Name: "Chensen", Active: true, Channels: []string{"CS"},
		Brands: []string{"B1", "*"}, RateLimit: 12.5}
	b := ledger.App{Key: "k0", Secret: "t", Name: "Own"}
	MustWrite(t, s, func(tx points.Tx) error {
		if err := tx.PutApp(ctx, a); err != nil {
			return err
		}
		return tx.PutApp(ctx, b)
	})
	got, err := s.App(ctx, "k1")
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("App = %+v, %v; want %+v", got, err, a)
	}
	a.Active, a.Name, a.Channels = false, "renamed", nil
	MustWrite(t, s, func(tx points.Tx) error { return tx.PutApp(ctx, a) })
	apps, err := s.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []ledger.App{b, a}; !reflect.DeepEqual(apps, want) {
		t.Errorf("Apps = %+v, want %+v", apps, want)
	}
	MustWrite(t, s, func(tx points.Tx) error {
		got, err := tx.App(ctx, "k1")
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("Tx.App = %+v, %v; want %+v", got, err, a)
		}
		return nil
	})
	if _, err := s.App(ctx, "nope"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("App(nope): %v, want ErrNotFound", err)
	}
}

func TestStore_Brands(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	b1 := ledger.Brand{ID: "B1", Name: "One", TimeZone: "Asia/Tokyo",
		OutIDs: map[string]string{"CS": "cs-1", "KRY": "kry-1"},
		Settings: ledger.Settings{RefundOfExpired: ledger.RefundReissue, GraceDays: 7,
			ClawbackShortfall: ledger.ShortfallDebt, HoldTimeout: 90 * time.Second}}
	b2 := ledger.Brand{ID: "B2", Name: "Two", Settings: ledger.DefaultSettings()}
	MustWrite(t, s, func(tx points.Tx) error {
		if err := tx.PutBrand(ctx, b1); err != nil {
			return err
		}
		return tx.PutBrand(ctx, b2)
	})
	for _, tc := range []struct {
		name string
		get  func() (ledger.Brand, error)
		want ledger.Brand
	}{
		{"Brand", func() (ledger.Brand, error) { return s.Brand(ctx, "B1") }, b1},
		{"Brand without out ids", func() (ledger.Brand, error) { return s.Brand(ctx, "B2") }, b2},
		{"BrandByOutID", func() (ledger.Brand, error) { return s.BrandByOutID(ctx, "KRY", "kry-1") }, b1},
	} {
		got, err := tc.get()
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}

	// PutBrand replaces the external ids.
	b1.OutIDs = map[string]string{"CS": "cs-1b"}
	MustWrite(t, s, func(tx points.Tx) error { return tx.PutBrand(ctx, b1) })
	if _, err := s.BrandByOutID(ctx, "KRY", "kry-1"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("old external id: %v, want ErrNotFound", err)
	}
	brands, err := s.Brands(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []ledger.Brand{b1, b2}; !reflect.DeepEqual(brands, want) {
		t.Errorf("Brands = %+v, want %+v", brands, want)
	}
	// An external id names one brand only.
	b2.OutIDs = map[string]string{"CS": "cs-1b"}
	if err := s.Write(ctx, func(tx points.Tx) error { return tx.PutBrand(ctx, b2) }); err == nil {
		t.Error("two brands took one external id")
	}
	if _, err := s.Brand(ctx, "nope"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("Brand(nope): %v, want ErrNotFound", err)
	}
	if _, err := s.BrandByOutID(ctx, "CS", "nope"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("BrandByOutID(nope): %v, want ErrNotFound", err)
	}
}

func TestStore_Shops(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	f := mustFixture(t, s)
	s1 := ledger.Shop{ID: "S1", BrandID: f.brand.ID, Name: "外滩店", OutIDs: map[string]string{"CS": "cs-s1"}}
	s2 := ledger.Shop{ID: "S2", BrandID: f.brand.ID, Name: "Second"}
	MustWrite(t, s, func(tx points.Tx) error {
		if err := tx.PutShop(ctx, s1); err != nil {
			return err
		}
		return tx.PutShop(ctx, s2)
	})
	if got, err := s.Shop(ctx, "S1"); err != nil || !reflect.DeepEqual(got, s1) {
		t.Errorf("Shop = %+v, %v; want %+v", got, err, s1)
	}
	if got, err := s.ShopByOutID(ctx, "CS", "cs-s1"); err != nil || !reflect.DeepEqual(got, s1) {
		t.Errorf("ShopByOutID = %+v, %v; want %+v", got, err, s1)
	}
	s1.OutIDs = map[string]string{"KRY": "k"}
	MustWrite(t, s, func(tx points.Tx) error { return tx.PutShop(ctx, s1) })
	shops, err := s.Shops(ctx, f.brand.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []ledger.Shop{s1, s2}; !reflect.DeepEqual(shops, want) {
		t.Errorf("Shops = %+v, want %+v", shops, want)
	}
	if _, err := s.ShopByOutID(ctx, "CS", "cs-s1"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("replaced external id: %v, want ErrNotFound", err)
	}
	if _, err := s.Shop(ctx, "nope"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("Shop(nope): %v, want ErrNotFound", err)
	}
	// A shop belongs to a stored brand.
	if err := s.Write(ctx, func(tx points.Tx) error {
		return tx.PutShop(ctx, ledger.Shop{ID: "S9", BrandID: "nobrand"})
	}); err == nil {
		t.Error("stored a shop of a missing brand")
	}
}

func TestStore_Customers(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	f := mustFixture(t, s)
	full := ledger.Customer{ID: "C2", BrandID: f.brand.ID, Mobile: "13900000000", Name: "李雷", LevelID: "gold",
		CustomerType: 0, Channel: "CS", OuterType: "CS", OuterID: "cs-c2", Gender: "M", Email: "l@example.com",
		Birthday: "1990-01-02", Address: "上海", Remark: "r", ShopID: "S1", CreatedAt: ts(10)}
	// Same mobile, created later: lookups by mobile answer the earliest.
	later := ledger.Customer{ID: "C0", BrandID: f.brand.ID, Mobile: full.Mobile, OuterType: "CS", OuterID: "cs-c2",
		CreatedAt: ts(20)}
	MustWrite(t, s, func(tx points.Tx) error {
		if err := tx.PutCustomer(ctx, full); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, later)
	})
	for _, tc := range []struct {
		name string
		get  func() (ledger.Customer, error)
	}{
		{"Customer", func() (ledger.Customer, error) { return s.Customer(ctx, "C2") }},
		{"CustomerByMobile", func() (ledger.Customer, error) { return s.CustomerByMobile(ctx, f.brand.ID, full.Mobile) }},
		{"CustomerByOuterID", func() (ledger.Customer, error) { return s.CustomerByOuterID(ctx, f.brand.ID, "CS", "cs-c2") }},
	} {
		got, err := tc.get()
		if err != nil || !reflect.DeepEqual(got, withUTC(full)) {
			t.Errorf("%s = %+v, %v; want %+v", tc.name, got, err, full)
		}
	}
	MustWrite(t, s, func(tx points.Tx) error {
		got, err := tx.Customer(ctx, "C2")
		if err != nil || !got.CreatedAt.Equal(full.CreatedAt) {
			t.Errorf("Tx.Customer = %+v, %v", got, err)
		}
		got, err = tx.CustomerByOuterID(ctx, f.brand.ID, "CS", "cs-c2")
		if err != nil || got.ID != "C2" {
			t.Errorf("Tx.CustomerByOuterID = %+v, %v; want C2", got, err)
		}
		return nil
	})
	// Upsert.
	full.Name = "Li Lei"
	MustWrite(t, s, func(tx points.Tx) error { return tx.PutCustomer(ctx, full) })
	if got, _ := s.Customer(ctx, "C2"); got.Name != "Li Lei" {
		t.Errorf("after update Name = %q", got.Name)
	}
	if _, err := s.Customer(ctx, "nope"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("Customer(nope): %v, want ErrNotFound", err)
	}
	if _, err := s.CustomerByMobile(ctx, f.brand.ID, "0"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("CustomerByMobile(0): %v, want ErrNotFound", err)
	}
	if _, err := s.CustomerByOuterID(ctx, f.brand.ID, "CS", "0"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("CustomerByOuterID(0): %v, want ErrNotFound", err)
	}
}

func withUTC(c ledger.Customer) ledger.Customer { c.CreatedAt = c.CreatedAt.UTC(); return c }

func TestStore_Rules(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	f := mustFixture(t, s)
	if _, err := s.Rule(ctx, f.brand.ID); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("Rule before any: %v, want ErrNotFound", err)
	}
	v1 := ledger.Rule{BrandID: f.brand.ID, RuleID: "R", Version: 1, Name: "default",
		Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 30}, WithCoupon: true,
		Deduction: []ledger.DeductionRule{{LevelID: "", DeductedPoint: 100, ConsumeMoney: 100, Enable: true,
			HasUpperLimit: true, MaxPoint: 5000}},
		Addition:  []ledger.AdditionRule{{LevelID: "gold", ConsumeMoney: 100, RewardPoint: 2, Enable: true}},
		CreatedAt: ts(0).UTC(), UpdatedAt: ts(1).UTC(), CreatedBy: "ops", UpdatedBy: "ops2"}
	v2 := v1
	v2.Version, v2.Name, v2.Deduction, v2.Addition = 2, "second", nil, nil
	MustWrite(t, s, func(tx points.Tx) error {
		if err := tx.PutRule(ctx, v2); err != nil {
			return err
		}
		return tx.PutRule(ctx, v1)
	})
	got, err := s.Rule(ctx, f.brand.ID)
	if err != nil || !reflect.DeepEqual(got, v2) {
		t.Errorf("Rule = %+v, %v; want %+v", got, err, v2)
	}
	MustWrite(t, s, func(tx points.Tx) error {
		got, err := tx.Rule(ctx, f.brand.ID)
		if err != nil || got.Version != 2 {
			t.Errorf("Tx.Rule = v%d, %v; want v2", got.Version, err)
		}
		return nil
	})
	// Reading v1 back through the whole-row path too.
	r1, ok, err := one(ctx, s.rdb, scanRule, "SELECT "+ruleCols+" FROM rules WHERE version = 1")
	if err != nil || !ok || !reflect.DeepEqual(r1, v1) {
		t.Errorf("rule v1 = %+v, %v; want %+v", r1, err, v1)
	}
	err = s.Write(ctx, func(tx points.Tx) error { return tx.PutRule(ctx, v1) })
	if !errors.Is(err, points.ErrConflict) {
		t.Errorf("PutRule of a stored version: %v, want ErrConflict", err)
	}
}

func TestStore_Idempotency(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	rec := ledger.Idempotency{BrandID: "B1", AppKey: "k", RequestID: "r1", Method: "consume", Fingerprint: "fp", FlowID: "F1",
		Result: `{"flow_id":"F1"}`, CreatedAt: ts(0).UTC()}
	MustWrite(t, s, func(tx points.Tx) error {
		if _, err := tx.(*Tx).Idempotency(ctx, "B1", "k", "r1"); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Idempotency before: %v, want ErrNotFound", err)
		}
		if err := tx.(*Tx).PutIdempotency(ctx, rec); err != nil {
			return err
		}
		got, err := tx.(*Tx).Idempotency(ctx, "B1", "k", "r1")
		if err != nil || got != rec {
			t.Errorf("Idempotency = %+v, %v; want %+v", got, err, rec)
		}
		return nil
	})
	err := s.Write(ctx, func(tx points.Tx) error { return tx.(*Tx).PutIdempotency(ctx, rec) })
	if !errors.Is(err, points.ErrConflict) {
		t.Errorf("second PutIdempotency: %v, want ErrConflict", err)
	}
	var all []ledger.Idempotency
	if err := s.EachIdempotency(ctx, func(r ledger.Idempotency) error { all = append(all, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0] != rec {
		t.Errorf("EachIdempotency = %+v, want [%+v]", all, rec)
	}
}

// TestStore_Ledger writes a charge, a spend, a reversal and a hold through
// Apply and reads every row back.
func TestStore_Ledger(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	f := mustFixture(t, s)
	brand := f.brand
	rule := ledger.Rule{BrandID: brand.ID, Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 1}}
	cust := f.customer.ID
	now := ts(0)

	var flows []ledger.Flow
	step := func(now time.Time, orderRef string, op func(b *ledger.Book) error) ledger.Changes {
		t.Helper()
		var ch ledger.Changes
		MustWrite(t, s, func(tx points.Tx) error {
			st := ledger.State{Brand: brand, Rule: rule}
			var err error
			if st.Account, err = tx.(*Tx).Account(ctx, brand.ID, cust); err != nil {
				return err
			}
			if st.Lots, err = tx.(*Tx).LiveLots(ctx, brand.ID, cust); err != nil {
				return err
			}
			if orderRef != "" {
				st.Order = ledger.Order{BrandID: brand.ID, OutBizID: orderRef, CustomerID: cust}
				os, err := tx.(*Tx).Orders(ctx, brand.ID, orderRef)
				if err != nil {
					return err
				}
				if len(os) == 1 {
					st.Order = os[0]
				}
				if st.Allocs, err = tx.(*Tx).OrderAllocations(ctx, brand.ID, cust, orderRef); err != nil {
					return err
				}
				var ids []string
				for _, a := range st.Allocs {
					ids = append(ids, a.LotID)
				}
				more, err := tx.(*Tx).Lots(ctx, ids)
				if err != nil {
					return err
				}
				st.Lots = append(st.Lots, more...)
				if st.Hold, err = tx.(*Tx).Hold(ctx, brand.ID, orderRef); err != nil {
					return err
				}
			}
			b := ledger.NewBook(st, now, newID)
			b.ExpireDue()
			if err := op(b); err != nil {
				return err
			}
			ch = b.Changes()
			return tx.(*Tx).ApplyChanges(ctx, ch)
		})
		flows = append(flows, ch.Flows...)
		return ch
	}

	// A missing account reads as not existing, with its key.
	MustWrite(t, s, func(tx points.Tx) error {
		a, err := tx.(*Tx).Account(ctx, brand.ID, cust)
		if err != nil || a.Exists || a.BrandID != brand.ID || a.CustomerID != cust || a.Version != 0 {
			t.Errorf("Tx.Account of none = %+v, %v", a, err)
		}
		h, err := tx.(*Tx).Hold(ctx, brand.ID, "none")
		if err != nil || h.Exists || h.BrandID != brand.ID || h.OuterOrderID != "none" {
			t.Errorf("Tx.Hold of none = %+v, %v", h, err)
		}
		if _, err := tx.(*Tx).Reversal(ctx, brand.ID, "none"); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Tx.Reversal of none: %v, want ErrNotFound", err)
		}
		if _, err := tx.(*Tx).Lots(ctx, []string{"none"}); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Tx.Lots of none: %v, want ErrNotFound", err)
		}
		return nil
	})
	if _, err := s.Account(ctx, brand.ID, cust); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("Account before first flow: %v, want ErrNotFound", err)
	}

	step(now, "G1", func(b *ledger.Book) error { b.Grant(ledger.ExtraCharge, 100, ledger.Info{OutBizID: "G1"}); return nil })
	step(now.Add(time.Second), "O1", func(b *ledger.Book) error {
		_, err := b.Spend(ledger.DeductFromConsume, 60, ledger.Info{OutBizID: "O1", ShopID: "S1", Channel: "CS"})
		return err
	})
	rev := step(now.Add(2*time.Second), "O1", func(b *ledger.Book) error {
		_, err := b.ReverseSpend(20, ledger.Info{OutBizID: "O1", ReverseOrderID: "R1"})
		return err
	})
	hold := step(now.Add(3*time.Second), "H1", func(b *ledger.Book) error {
		_, err := b.Freeze(10, time.Hour, ledger.Info{OutBizID: "H1"})
		return err
	})
	// The lot expires at the end of the next day: an expiry sweep.
	later := ledger.EndOfDay(now.AddDate(0, 0, 1), ledger.Shanghai)
	due, err := s.DueAccounts(ctx, later, 10)
	if err != nil || len(due) != 1 || due[0] != (points.AccountKey{BrandID: brand.ID, CustomerID: cust}) {
		t.Errorf("DueAccounts at expiry = %v, %v", due, err)
	}
	if due, err := s.DueAccounts(ctx, later.Add(-time.Microsecond), 10); err != nil || len(due) != 0 {
		t.Errorf("DueAccounts before expiry = %v, %v", due, err)
	}
	holds, err := s.DueHolds(ctx, now.Add(3*time.Second+time.Hour), 10)
	if err != nil || len(holds) != 1 || holds[0].OuterOrderID != "H1" || !holds[0].Exists {
		t.Errorf("DueHolds = %+v, %v", holds, err)
	}
	if holds, _ := s.DueHolds(ctx, now.Add(3*time.Second+time.Hour-time.Microsecond), 10); len(holds) != 0 {
		t.Errorf("DueHolds before timeout = %+v", holds)
	}
	step(later, "", func(b *ledger.Book) error { return nil })

	// Read everything back.
	acct, err := s.Account(ctx, brand.ID, cust)
	if err != nil {
		t.Fatal(err)
	}
	if !acct.Exists || acct.Available != 0 || acct.Frozen != 10 || acct.Seq != int64(len(flows)) ||
		acct.LastHash != flows[len(flows)-1].Hash || acct.Version != 5 {
		t.Errorf("Account = %+v", acct)
	}
	if lots, err := s.LiveLots(ctx, brand.ID, cust); err != nil || len(lots) != 0 {
		t.Errorf("LiveLots after expiry = %+v, %v", lots, err)
	}
	var rows []points.AccountRows
	if err := s.EachAccount(ctx, func(r points.AccountRows) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("EachAccount gave %d accounts", len(rows))
	}
	r := rows[0]
	if r.Account != acct {
		t.Errorf("EachAccount account = %+v, want %+v", r.Account, acct)
	}
	if len(r.Flows) != len(flows) {
		t.Fatalf("%d flows stored, want %d", len(r.Flows), len(flows))
	}
	prev := ""
	for i, got := range r.Flows {
		want := flows[i]
		if !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("flow %d CreatedAt = %v, want %v", i, got.CreatedAt, want.CreatedAt)
		}
		got.CreatedAt = want.CreatedAt
		if got != want {
			t.Errorf("flow %d = %+v, want %+v", i, got, want)
		}
		if ledger.FlowHash(r.Flows[i]) != want.Hash || want.PrevHash != prev {
			t.Errorf("flow %d: hash chain broken", i)
		}
		prev = want.Hash
		if ok, err := flowExists(ctx, s, want.ID); !ok || err != nil {
			t.Errorf("FlowExists(%s) = %v, %v", want.ID, ok, err)
		}
	}
	if ok, err := flowExists(ctx, s, "nope"); ok || err != nil {
		t.Errorf("FlowExists(nope) = %v, %v", ok, err)
	}
	if len(r.Lots) != 1 || r.Lots[0].Granted != 100 || r.Lots[0].Remaining != 0 || r.Lots[0].LoadedRemaining() != 0 {
		t.Errorf("lots = %+v", r.Lots)
	}
	var taken int64
	for i, a := range r.Allocations {
		if a.Seq != int64(i+1) {
			t.Errorf("allocation %d has seq %d", i, a.Seq)
		}
		taken += a.Amount
	}
	if taken != r.Lots[0].Granted-r.Lots[0].Remaining {
		t.Errorf("allocations take %d, lot says %d", taken, r.Lots[0].Granted-r.Lots[0].Remaining)
	}
	wantOrders := []ledger.Order{
		{BrandID: brand.ID, OutBizID: "G1", CustomerID: cust, Granted: 100, Version: 1, Exists: true},
		{BrandID: brand.ID, OutBizID: "O1", CustomerID: cust, Spent: 60, Reversed: 20, Version: 2, Exists: true},
	}
	if !reflect.DeepEqual(r.Orders, wantOrders) {
		t.Errorf("orders = %+v, want %+v", r.Orders, wantOrders)
	}
	wantHold := *hold.Hold
	wantHold.Exists, wantHold.Version = true, 1
	wantHold.CreatedAt, wantHold.ExpiresAt = wantHold.CreatedAt.UTC(), wantHold.ExpiresAt.UTC()
	if len(r.Holds) != 1 || r.Holds[0] != wantHold {
		t.Errorf("holds = %+v, want %+v", r.Holds, wantHold)
	}
	var revs []ledger.Reversal
	if err := s.EachReversal(ctx, func(r ledger.Reversal) error { revs = append(revs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	wantRev := *rev.Reversal
	wantRev.CreatedAt = wantRev.CreatedAt.UTC()
	if len(revs) != 1 || revs[0] != wantRev {
		t.Errorf("reversals = %+v, want %+v", revs, wantRev)
	}
	MustWrite(t, s, func(tx points.Tx) error {
		got, err := tx.(*Tx).Reversal(ctx, brand.ID, "R1")
		if err != nil || got != wantRev {
			t.Errorf("Tx.Reversal = %+v, %v", got, err)
		}
		return nil
	})
}
