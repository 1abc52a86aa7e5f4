package postgres

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
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	a := ledger.App{Key: "k1", Secret: "s", Name: "晨森", Active: true, Channels: []string{"CS"},
		Brands: []string{"B1", "*"}, RateLimit: 12.5}
	b := ledger.App{Key: "k0", Secret: "t", Name: "Own"}
	mustWrite(t, s, func(tx points.Tx) error {
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
	mustWrite(t, s, func(tx points.Tx) error { return tx.PutApp(ctx, a) })
	apps, err := s.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []ledger.App{b, a}; !reflect.DeepEqual(apps, want) {
		t.Errorf("Apps = %+v, want %+v", apps, want)
	}
	mustWrite(t, s, func(tx points.Tx) error {
		got, err := tx.App(ctx, "k1")
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("Tx.App = %+v, %v; want %+v", got, err, a)
		}
		if _, err := tx.App(ctx, "nope"); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Tx.App(nope): %v, want ErrNotFound", err)
		}
		return nil
	})
	if _, err := s.App(ctx, "nope"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("App(nope): %v, want ErrNotFound", err)
	}
}

func TestStore_BrandsShops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	b1 := ledger.Brand{ID: "B1", Name: "One", TimeZone: "Asia/Tokyo",
		OutIDs: map[string]string{"CS": "cs-1", "KRY": "kry-1"},
		Settings: ledger.Settings{RefundOfExpired: ledger.RefundReissue, GraceDays: 7,
			ClawbackShortfall: ledger.ShortfallDebt, HoldTimeout: 90 * time.Second}}
	b2 := ledger.Brand{ID: "B2", Name: "Two", Settings: ledger.DefaultSettings()}
	s1 := ledger.Shop{ID: "S1", BrandID: "B1", Name: "西湖店", OutIDs: map[string]string{"KRY": "kry-s1"}}
	s2 := ledger.Shop{ID: "S2", BrandID: "B1", Name: "滨江店"}
	mustWrite(t, s, func(tx points.Tx) error {
		for _, b := range []ledger.Brand{b1, b2} {
			if err := tx.PutBrand(ctx, b); err != nil {
				return err
			}
		}
		for _, sh := range []ledger.Shop{s2, s1} {
			if err := tx.PutShop(ctx, sh); err != nil {
				return err
			}
		}
		return nil
	})
	if got, err := s.Brand(ctx, "B1"); err != nil || !reflect.DeepEqual(got, b1) {
		t.Errorf("Brand = %+v, %v; want %+v", got, err, b1)
	}
	if got, err := s.BrandByOutID(ctx, "KRY", "kry-1"); err != nil || !reflect.DeepEqual(got, b1) {
		t.Errorf("BrandByOutID = %+v, %v; want %+v", got, err, b1)
	}
	if got, err := s.Brands(ctx); err != nil || !reflect.DeepEqual(got, []ledger.Brand{b1, b2}) {
		t.Errorf("Brands = %+v, %v", got, err)
	}
	if got, err := s.Shop(ctx, "S1"); err != nil || !reflect.DeepEqual(got, s1) {
		t.Errorf("Shop = %+v, %v; want %+v", got, err, s1)
	}
	if got, err := s.ShopByOutID(ctx, "KRY", "kry-s1"); err != nil || !reflect.DeepEqual(got, s1) {
		t.Errorf("ShopByOutID = %+v, %v; want %+v", got, err, s1)
	}
	if got, err := s.Shops(ctx, "B1"); err != nil || !reflect.DeepEqual(got, []ledger.Shop{s1, s2}) {
		t.Errorf("Shops = %+v, %v", got, err)
	}
	// Putting again replaces the external ids.
	b1.OutIDs = map[string]string{"CS": "cs-new"}
	s1.OutIDs = nil
	mustWrite(t, s, func(tx points.Tx) error {
		if err := tx.PutBrand(ctx, b1); err != nil {
			return err
		}
		return tx.PutShop(ctx, s1)
	})
	if got, err := s.Brand(ctx, "B1"); err != nil || !reflect.DeepEqual(got, b1) {
		t.Errorf("Brand after put = %+v, %v; want %+v", got, err, b1)
	}
	if got, err := s.Shop(ctx, "S1"); err != nil || !reflect.DeepEqual(got, s1) {
		t.Errorf("Shop after put = %+v, %v; want %+v", got, err, s1)
	}
	for name, err := range map[string]error{
		"Brand":        second(s.Brand(ctx, "nope")),
		"BrandByOutID": second(s.BrandByOutID(ctx, "KRY", "kry-1")),
		"Shop":         second(s.Shop(ctx, "nope")),
		"ShopByOutID":  second(s.ShopByOutID(ctx, "KRY", "kry-s1")),
	} {
		if !errors.Is(err, points.ErrNotFound) {
			t.Errorf("%s of a missing key: %v, want ErrNotFound", name, err)
		}
	}
	if got, err := s.Shops(ctx, "B2"); err != nil || len(got) != 0 {
		t.Errorf("Shops(B2) = %+v, %v; want none", got, err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestStore_Customers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f := mustFixture(t, s)
	c := ledger.Customer{ID: "C2", BrandID: "B1", Mobile: "13900000000", Name: "李四", LevelID: "L1", CustomerType: 1,
		Channel: "KRY", OuterType: "wechat", OuterID: "wx-1", Gender: "F", Email: "l@example.com", Birthday: "1990-01-02",
		Address: "杭州", Remark: "r", ShopID: "S1", CreatedAt: ts(10)}
	later := c
	later.ID, later.CreatedAt = "C3", ts(20)
	mustWrite(t, s, func(tx points.Tx) error {
		if err := tx.PutCustomer(ctx, later); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, c)
	})
	if got, err := s.Customer(ctx, "C2"); err != nil || !reflect.DeepEqual(got, want(c)) {
		t.Errorf("Customer = %+v, %v; want %+v", got, err, c)
	}
	if got, err := s.CustomerByMobile(ctx, "B1", c.Mobile); err != nil || got.ID != "C2" {
		t.Errorf("CustomerByMobile = %+v, %v; want the earliest, C2", got.ID, err)
	}
	if got, err := s.CustomerByOuterID(ctx, "B1", "wechat", "wx-1"); err != nil || got.ID != "C2" {
		t.Errorf("CustomerByOuterID = %+v, %v; want the earliest, C2", got.ID, err)
	}
	mustWrite(t, s, func(tx points.Tx) error {
		if got, err := tx.Customer(ctx, f.customer.ID); err != nil || !reflect.DeepEqual(got, want(f.customer)) {
			t.Errorf("Tx.Customer = %+v, %v", got, err)
		}
		if got, err := tx.CustomerByOuterID(ctx, "B1", "wechat", "wx-1"); err != nil || got.ID != "C2" {
			t.Errorf("Tx.CustomerByOuterID = %+v, %v; want C2", got.ID, err)
		}
		if _, err := tx.CustomerByOuterID(ctx, "B1", "wechat", "nope"); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Tx.CustomerByOuterID(nope): %v, want ErrNotFound", err)
		}
		if _, err := tx.Customer(ctx, "nope"); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Tx.Customer(nope): %v, want ErrNotFound", err)
		}
		return nil
	})
	for name, err := range map[string]error{
		"Customer":          second(s.Customer(ctx, "nope")),
		"CustomerByMobile":  second(s.CustomerByMobile(ctx, "B2", c.Mobile)),
		"CustomerByOuterID": second(s.CustomerByOuterID(ctx, "B1", "alipay", "wx-1")),
	} {
		if !errors.Is(err, points.ErrNotFound) {
			t.Errorf("%s of a missing key: %v, want ErrNotFound", name, err)
		}
	}
}

// want is c as the store returns it: times in UTC.
func want(c ledger.Customer) ledger.Customer {
	c.CreatedAt = c.CreatedAt.UTC()
	return c
}

func TestStore_Rules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	mustFixture(t, s)
	if _, err := s.Rule(ctx, "B1"); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("Rule before any: %v, want ErrNotFound", err)
	}
	r1 := ledger.Rule{BrandID: "B1", RuleID: "R", Version: 1, Name: "v1",
		Clear:     ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 30},
		Deduction: []ledger.DeductionRule{{LevelID: "L1", DeductedPoint: 100, ConsumeMoney: 100, Enable: true, HasUpperLimit: true, MaxPoint: 500}},
		Addition:  []ledger.AdditionRule{{LevelID: "L1", ConsumeMoney: 100, RewardPoint: 1, Enable: true}},
		CreatedAt: ts(0).UTC(), UpdatedAt: ts(0).UTC(), CreatedBy: "op", UpdatedBy: "op"}
	r2 := r1
	r2.Version, r2.Name, r2.WithCoupon, r2.UpdatedAt = 2, "v2", true, ts(60).UTC()
	mustWrite(t, s, func(tx points.Tx) error {
		if err := tx.PutRule(ctx, r1); err != nil {
			return err
		}
		return tx.PutRule(ctx, r2)
	})
	if got, err := s.Rule(ctx, "B1"); err != nil || !reflect.DeepEqual(got, r2) {
		t.Errorf("Rule = %+v, %v; want %+v", got, err, r2)
	}
	mustWrite(t, s, func(tx points.Tx) error {
		if got, err := tx.Rule(ctx, "B1"); err != nil || !reflect.DeepEqual(got, r2) {
			t.Errorf("Tx.Rule = %+v, %v; want %+v", got, err, r2)
		}
		return nil
	})
	// A version stored twice is a conflict: another write stored it first.
	err := s.Write(ctx, func(tx points.Tx) error { return tx.PutRule(ctx, r2) })
	if e, ok := ledger.AsError(err); !ok || e.Kind != ledger.KindUnavailable || !errors.Is(err, points.ErrConflict) {
		t.Errorf("PutRule of a stored version: %v, want conflicts until KindUnavailable", err)
	}
}

// TestStore_Ledger writes one of everything an account has and reads it
// back through every reader.
func TestStore_Ledger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f := mustFixture(t, s)
	rule := ledger.Rule{BrandID: "B1", Version: 3, Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 1}}
	now := ts(0)
	var spend ledger.Flow
	var wantHold ledger.Hold
	var wantReversal ledger.Reversal
	var wantIdem ledger.Idempotency
	mustWrite(t, s, func(tx points.Tx) error {
		acct, err := tx.(*Tx).Account(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		if acct.Exists || acct.BrandID != "B1" || acct.CustomerID != "C1" {
			t.Errorf("missing account = %+v, want Exists false with its key", acct)
		}
		b := ledger.NewBook(ledger.State{Brand: f.brand, Rule: rule, Account: acct}, now, newID)
		info := ledger.Info{OutBizID: "G1", ShopID: "S1", ShopName: "西湖店", Channel: "KRY", AppKey: "pos",
			RequestID: "r1", OperatorID: "op", OperatorName: "小王", Reason: "why"}
		b.Grant(ledger.ExtraCharge, 100, info)
		return tx.(*Tx).ApplyChanges(ctx, b.Changes())
	})
	mustWrite(t, s, func(tx points.Tx) error {
		acct, err := tx.(*Tx).Account(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		lots, err := tx.(*Tx).LiveLots(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		b := ledger.NewBook(ledger.State{Brand: f.brand, Rule: rule, Account: acct, Lots: lots,
			Order: ledger.Order{BrandID: "B1", OutBizID: "O1", CustomerID: "C1"}}, now, newID)
		info := ledger.Info{OutBizID: "O1", ShopID: "S1", ShopName: "西湖店", Channel: "KRY", AppKey: "pos",
			RequestID: "r2", OperatorID: "op", OperatorName: "小王", Reason: "why"}
		if spend, err = b.Spend(ledger.DeductFromConsume, 30, info); err != nil {
			return err
		}
		return tx.(*Tx).ApplyChanges(ctx, b.Changes())
	})
	mustWrite(t, s, func(tx points.Tx) error {
		acct, err := tx.(*Tx).Account(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		lots, err := tx.(*Tx).LiveLots(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		hold, err := tx.(*Tx).Hold(ctx, "B1", "H1")
		if err != nil || hold.Exists || hold.OuterOrderID != "H1" {
			t.Errorf("missing hold = %+v, %v; want Exists false with its key", hold, err)
		}
		b := ledger.NewBook(ledger.State{Brand: f.brand, Rule: rule, Account: acct, Lots: lots, Hold: hold}, now.Add(time.Second), newID)
		if _, err = b.Freeze(20, time.Hour, ledger.Info{OutBizID: "H1"}); err != nil {
			return err
		}
		c := b.Changes()
		wantHold = *c.Hold
		return tx.(*Tx).ApplyChanges(ctx, c)
	})
	mustWrite(t, s, func(tx points.Tx) error {
		acct, err := tx.(*Tx).Account(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		lots, err := tx.(*Tx).LiveLots(ctx, "B1", "C1")
		if err != nil {
			return err
		}
		orders, err := tx.(*Tx).Orders(ctx, "B1", "O1")
		if err != nil || len(orders) != 1 || !orders[0].Exists || orders[0].Spent != 30 {
			t.Fatalf("Orders = %+v, %v", orders, err)
		}
		allocs, err := tx.(*Tx).OrderAllocations(ctx, "B1", "C1", "O1")
		if err != nil || len(allocs) != 1 || allocs[0].Amount != 30 || allocs[0].FlowID != spend.ID || allocs[0].Kind != ledger.AllocSpend {
			t.Fatalf("OrderAllocations = %+v, %v", allocs, err)
		}
		b := ledger.NewBook(ledger.State{Brand: f.brand, Rule: rule, Account: acct, Lots: lots, Order: orders[0], Allocs: allocs},
			now.Add(2*time.Second), newID)
		if _, err := b.ReverseSpend(10, ledger.Info{OutBizID: "O1", ReverseOrderID: "RV1"}); err != nil {
			return err
		}
		c := b.Changes()
		c.Reversal.Requested = 10
		wantReversal = *c.Reversal
		if err := tx.(*Tx).ApplyChanges(ctx, c); err != nil {
			return err
		}
		wantIdem = ledger.Idempotency{BrandID: "B1", AppKey: "pos", RequestID: "r9", Method: "reverse",
			Fingerprint: "fp", FlowID: c.Flows[0].ID, Result: "答案 " + c.Flows[0].ID, CreatedAt: now}
		return tx.(*Tx).PutIdempotency(ctx, wantIdem)
	})

	acct, err := s.Account(ctx, "B1", "C1")
	if err != nil {
		t.Fatal(err)
	}
	if acct.Available != 60 || acct.Frozen != 20 || acct.TotalEarned != 100 || acct.TotalUsed != 20 || acct.Seq != 4 ||
		acct.Version != 4 || !acct.Exists || acct.LastHash == "" {
		t.Errorf("Account = %+v", acct)
	}
	if _, err := s.Account(ctx, "B1", "C9"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("Account of a customer without flows: %v, want ErrNotFound", err)
	}
	lots, err := s.LiveLots(ctx, "B1", "C1")
	if err != nil || len(lots) != 1 {
		t.Fatalf("LiveLots = %+v, %v", lots, err)
	}
	l := lots[0]
	wantExpiry := ledger.EndOfDay(now.AddDate(0, 0, 1), ledger.Shanghai)
	if l.Granted != 100 || l.Remaining != 60 || l.LoadedRemaining() != 60 || l.IsNew() || l.Seq != 1 ||
		!l.EarnedAt.Equal(now) || !l.ExpiresAt.Equal(wantExpiry) || l.OutBizID != "G1" {
		t.Errorf("lot = %+v", l)
	}
	mustWrite(t, s, func(tx points.Tx) error {
		got, err := tx.(*Tx).Lots(ctx, []string{l.ID, l.ID})
		if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], l) {
			t.Errorf("Tx.Lots = %+v, %v; want %+v", got, err, l)
		}
		if _, err := tx.(*Tx).Lots(ctx, []string{l.ID, "nope"}); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Tx.Lots with a missing id: %v, want ErrNotFound", err)
		}
		// Stored rows come back as written, times in UTC, with Exists
		// set and their first version.
		wantHold.CreatedAt, wantHold.ExpiresAt = wantHold.CreatedAt.UTC(), wantHold.ExpiresAt.UTC()
		wantHold.Exists, wantHold.Version = true, 1
		h, err := tx.(*Tx).Hold(ctx, "B1", "H1")
		if err != nil || !reflect.DeepEqual(h, wantHold) || h.Remaining != 20 {
			t.Errorf("Tx.Hold = %+v, %v; want %+v", h, err, wantHold)
		}
		wantReversal.CreatedAt = wantReversal.CreatedAt.UTC()
		rv, err := tx.(*Tx).Reversal(ctx, "B1", "RV1")
		if err != nil || !reflect.DeepEqual(rv, wantReversal) || rv.Amount != 10 {
			t.Errorf("Tx.Reversal = %+v, %v; want %+v", rv, err, wantReversal)
		}
		if _, err := tx.(*Tx).Reversal(ctx, "B1", "nope"); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Tx.Reversal(nope): %v, want ErrNotFound", err)
		}
		wantIdem.CreatedAt = wantIdem.CreatedAt.UTC()
		rec, err := tx.(*Tx).Idempotency(ctx, "B1", "pos", "r9")
		if err != nil || !reflect.DeepEqual(rec, wantIdem) {
			t.Errorf("Tx.Idempotency = %+v, %v; want %+v", rec, err, wantIdem)
		}
		if _, err := tx.(*Tx).Idempotency(ctx, "B1", "pos", "nope"); !errors.Is(err, points.ErrNotFound) {
			t.Errorf("Tx.Idempotency(nope): %v, want ErrNotFound", err)
		}
		return nil
	})

	// Flows come back exactly as written, newest first: the hashes verify.
	flows, total, err := s.Flows(ctx, points.FlowQuery{BrandID: "B1", CustomerID: "C1"})
	if err != nil || total != 4 || len(flows) != 4 {
		t.Fatalf("Flows = %d of %d, %v", len(flows), total, err)
	}
	if flows[3].Type != ledger.ExtraCharge || flows[2].ID != spend.ID || flows[1].ID != wantHold.FlowID || flows[0].Type != ledger.DeductReverse {
		t.Errorf("flows not newest first: %v %v %v %v", flows[0].Type, flows[1].Type, flows[2].Type, flows[3].Type)
	}
	spend.CreatedAt = spend.CreatedAt.UTC()
	if !reflect.DeepEqual(flows[2], spend) {
		t.Errorf("flow = %+v\nwant %+v", flows[2], spend)
	}
	for _, fl := range flows {
		if !ledger.HashMatches(fl) {
			t.Errorf("flow %s does not match its hash after the round trip", fl.ID)
		}
	}

	// The Auditor sees the same, and every invariant holds.
	var rows []points.AccountRows
	if err := s.EachAccount(ctx, func(r points.AccountRows) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || len(rows[0].Flows) != 4 || len(rows[0].Lots) != 1 || len(rows[0].Allocations) != 3 ||
		len(rows[0].Holds) != 1 || len(rows[0].Orders) != 2 || !reflect.DeepEqual(rows[0].Account, acct) {
		t.Errorf("EachAccount = %+v", rows)
	}
	for i, a := range rows[0].Allocations {
		if a.Seq != int64(i+1) {
			t.Errorf("allocation %d has seq %d, want %d", i, a.Seq, i+1)
		}
	}
	if ok, err := flowExists(ctx, s, spend.ID); !ok || err != nil {
		t.Errorf("FlowExists(%s) = %v, %v", spend.ID, ok, err)
	}
	if ok, err := flowExists(ctx, s, "nope"); ok || err != nil {
		t.Errorf("FlowExists(nope) = %v, %v", ok, err)
	}
	var revs []ledger.Reversal
	if err := s.EachReversal(ctx, func(r ledger.Reversal) error { revs = append(revs, r); return nil }); err != nil || len(revs) != 1 {
		t.Errorf("EachReversal = %+v, %v", revs, err)
	}
	rep := mustVerify(t, s)
	if rep.Accounts != 1 || rep.Flows != 4 || rep.Idempotency != 1 || rep.Reversals != 1 {
		t.Errorf("Verify = %+v", rep)
	}

	// Due work: the lot expires at the end of the next day, the hold in
	// an hour.
	if keys, err := s.DueAccounts(ctx, wantExpiry.Add(-time.Microsecond), 0); err != nil || len(keys) != 0 {
		t.Errorf("DueAccounts before expiry = %v, %v", keys, err)
	}
	if keys, err := s.DueAccounts(ctx, wantExpiry, 10); err != nil || !reflect.DeepEqual(keys, []points.AccountKey{{BrandID: "B1", CustomerID: "C1"}}) {
		t.Errorf("DueAccounts at expiry = %v, %v", keys, err)
	}
	if holds, err := s.DueHolds(ctx, now.Add(time.Hour), 0); err != nil || len(holds) != 0 {
		t.Errorf("DueHolds before the timeout = %v, %v", holds, err)
	}
	if holds, err := s.DueHolds(ctx, now.Add(2*time.Hour), 0); err != nil || len(holds) != 1 || holds[0].OuterOrderID != "H1" {
		t.Errorf("DueHolds after the timeout = %v, %v", holds, err)
	}
}

func TestStore_EachIdempotencyPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	const n = auditPage*2 + 3
	mustWrite(t, s, func(tx points.Tx) error {
		for i := range n {
			if err := tx.(*Tx).PutIdempotency(ctx, ledger.Idempotency{BrandID: "B1", AppKey: "app", RequestID: string(rune('a'+i%26)) + newID(),
				Method: "m", CreatedAt: ts(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	var got []ledger.Idempotency
	err := s.EachIdempotency(ctx, func(r ledger.Idempotency) error {
		// fn may use the store: no connection is held while it runs.
		if _, err := flowExists(ctx, s, "x"); err != nil {
			return err
		}
		got = append(got, r)
		return nil
	})
	if err != nil || len(got) != n {
		t.Fatalf("EachIdempotency gave %d records, %v; want %d", len(got), err, n)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].RequestID >= got[i].RequestID {
			t.Fatalf("records out of order at %d: %s, %s", i, got[i-1].RequestID, got[i].RequestID)
		}
	}
}
