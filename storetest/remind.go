package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

func init() {
	extra = append(extra, suiteTest{"ExpiryReminders", testExpiryReminders})
}

// testExpiryReminders: with expiry_reminders [7, 1], a lot's points
// expiring are told once on each reminder day (its start in the brand's
// time zone), with what remains in it then; a lot spent before its
// reminder, or expired, is not; the ledger's clock drives it, and a
// restarted service does not tell again.
func testExpiryReminders(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	brand, err := e.Store.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	rule := &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 30}}
	for i, bad := range [][]int{{0}, {7, 400}, {7, 7}} {
		b := brand
		b.Settings.ExpiryReminders = bad
		_, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: b, Rule: rule}}})
		field := map[int]string{0: "brands[0].settings.expiry_reminders[0]", 1: "brands[0].settings.expiry_reminders[1]",
			2: "brands[0].settings.expiry_reminders[1]"}[i]
		WantInvalid(t, err, field)
	}
	brand.Settings.ExpiryReminders = []int{7, 1}
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: brand, Rule: rule}}}); err != nil {
		t.Fatal(err)
	}
	reminders := func() []points.ExpiringEventData {
		t.Helper()
		var out []points.ExpiringEventData
		for _, ev := range AllEvents(t, e.Ctx, e.Svc, points.EventQuery{Types: []string{points.EventPointExpiring}}) {
			var d points.ExpiringEventData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			if ev.Subject != d.CustomerID || ev.BrandID != "B1" {
				t.Fatalf("event %+v", ev)
			}
			out = append(out, d)
		}
		return out
	}
	sweep := func(svc *points.Service) {
		t.Helper()
		if _, err := svc.Sweep(e.Ctx); err != nil {
			t.Fatal(err)
		}
	}
	lotOf := func(customer string) ledger.Lot {
		t.Helper()
		lots, err := e.Store.LiveLots(e.Ctx, "B1", customer)
		if err != nil || len(lots) != 1 {
			t.Fatalf("lots of %s: %+v %v", customer, lots, err)
		}
		return lots[0]
	}
	// The start of the day, in Shanghai, days before the lot's expiry day.
	dayBefore := func(l ledger.Lot, days int) time.Time {
		y, m, d := l.ExpiresAt.In(ledger.Shanghai).Date()
		return time.Date(y, m, d-days, 0, 0, 0, 0, ledger.Shanghai)
	}
	e.MustCharge("C1", "g1", 100)
	a := lotOf("C1")
	e.Clock.Advance(5 * 24 * time.Hour)
	e.MustCharge("C2", "g2", 50)
	b := lotOf("C2")
	e.MustCharge("C3", "g3", 30)
	e.MustConsume("C3", "o3", 30) // spent: never reminded
	sweep(e.Svc)
	if r := reminders(); len(r) != 0 {
		t.Fatalf("reminders a month ahead: %+v", r)
	}
	e.Clock.Advance(dayBefore(a, 7).Sub(e.Clock.Now()) - time.Microsecond)
	sweep(e.Svc)
	if r := reminders(); len(r) != 0 {
		t.Fatalf("reminders before the day: %+v", r)
	}
	e.Clock.Advance(time.Microsecond)
	sweep(e.Svc)
	sweep(e.Svc)
	sweep(points.New(e.Store, e.Clock, nil)) // another server, or a restart: nothing twice
	r := reminders()
	if len(r) != 1 || r[0] != (points.ExpiringEventData{BrandID: "B1", CustomerID: "C1", LotID: a.ID, Points: 100,
		ExpiresAt: a.ExpiresAt.UTC().Format(time.RFC3339Nano), DaysBefore: 7, OutBizID: "g1"}) {
		t.Fatalf("on the seventh day before: %+v", r)
	}
	e.MustConsume("C1", "o1", 40)
	e.Clock.Advance(dayBefore(a, 1).Sub(e.Clock.Now()))
	sweep(e.Svc)
	r = reminders()
	if len(r) != 3 || r[1].LotID != b.ID || r[1].DaysBefore != 7 || r[1].Points != 50 ||
		r[2].LotID != a.ID || r[2].DaysBefore != 1 || r[2].Points != 60 {
		t.Fatalf("on the day before: %+v", r)
	}
	// Past b's expiry: it expires, and its one-day reminder is never sent.
	e.Clock.Advance(b.ExpiresAt.Sub(e.Clock.Now()) + time.Hour)
	sweep(e.Svc)
	sweep(e.Svc)
	if got := reminders(); len(got) != 3 {
		t.Fatalf("after the lots expired: %+v", got)
	}
	if v := e.View("C2"); v.Available != 0 || v.TotalExpired != 50 {
		t.Fatalf("C2 after expiry: %+v", v)
	}
	// A lot that lives three days: its 7-day reminder day began before
	// it was granted (none), its 1-day one comes.
	rule.Clear.Days = 3
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: brand, Rule: rule}}}); err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C3", "g4", 20)
	short := lotOf("C3")
	sweep(e.Svc)
	sweep(points.New(e.Store, e.Clock, nil)) // a fresh server reads the whole window
	if got := reminders(); len(got) != 3 {
		t.Fatalf("a lot granted after its 7-day reminder day: %+v", got)
	}
	e.Clock.Advance(dayBefore(short, 1).Sub(e.Clock.Now()))
	sweep(e.Svc)
	if got := reminders(); len(got) != 4 || got[3].LotID != short.ID || got[3].DaysBefore != 1 || got[3].Points != 20 {
		t.Fatalf("the three-day lot's reminders: %+v", got)
	}
}
