package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
	"jifen/webhook"
)

// testEventRetention: events go from the start of the log while they are
// older than the retention period and every consumer jifen knows of has
// passed them — an active endpoint's cursor and its pending deliveries, an
// output recorded within the period; not a disabled endpoint, nor an
// output no server has recorded within it — and never the newest; the
// horizon moves with them, the delivery records of their positions go,
// and a cursor below the horizon is refused.
func testEventRetention(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	ctx := e.Ctx
	const day = 24 * time.Hour
	last := func() int64 {
		t.Helper()
		evs := AllEvents(t, ctx, e.Svc, points.EventQuery{})
		return evs[len(evs)-1].Pos
	}
	first := func() int64 {
		t.Helper()
		evs, err := e.Svc.Events(ctx, points.EventQuery{Limit: 1})
		if err != nil || len(evs) == 0 {
			t.Fatalf("the first event: %v, %v", evs, err)
		}
		return evs[0].Pos
	}
	prune := func(wantRemoved int, wantHorizon int64) {
		t.Helper()
		p, err := e.Svc.PruneEvents(ctx, day)
		if err != nil || p.Removed != wantRemoved || p.Horizon != wantHorizon {
			t.Fatalf("prune: %+v, %v; want %d removed, horizon %d", p, err, wantRemoved, wantHorizon)
		}
		if h, err := e.Svc.EventHorizon(ctx); err != nil || h != wantHorizon {
			t.Fatalf("horizon %d, %v; want %d", h, err, wantHorizon)
		}
		if wantHorizon > 0 && first() != wantHorizon+1 {
			t.Fatalf("the first event is at %d after removing through %d", first(), wantHorizon)
		}
	}
	refused := func(after int64) {
		t.Helper()
		var inv *ledger.Error
		if err := e.Svc.CheckCursor(ctx, after); !errors.As(err, &inv) || inv.Kind != ledger.KindInvalid || inv.Field != "after" {
			t.Fatalf("cursor %d: %v, want it refused naming after", after, err)
		}
	}

	// A disabled endpoint whose cursor is at the start holds nothing back.
	e.MustApplyWebhook(ws, points.Webhook{ID: "off", URL: "https://off.example.com/e", Disabled: true})
	oldFlow := e.MustCharge("C1", "old", 10).FlowID
	for i := range 4 {
		e.MustCharge("C1", fmt.Sprintf("old-%d", i), 10)
	}
	oldEnd := last()
	crm := e.MustApplyWebhook(ws, points.Webhook{ID: "crm", URL: "https://crm.example.com/e"})
	if crm.ScheduledPos != oldEnd {
		t.Fatalf("crm's cursor %d, want %d", crm.ScheduledPos, oldEnd)
	}
	e.Clock.Advance(2 * day)
	for i := range 3 {
		e.MustCharge("C2", fmt.Sprintf("new-%d", i), 10)
	}
	end := last()

	// A stream that has published up to 3 holds back the rest.
	if err := e.Svc.RecordOutput(ctx, "nats:S:p", 3); err != nil {
		t.Fatal(err)
	}
	prune(3, 3)
	refused(0)
	refused(2)
	if err := e.Svc.CheckCursor(ctx, 3); err != nil {
		t.Fatalf("a cursor at the horizon: %v", err)
	}
	// Recorded lower (the stream purged and filled again from the start),
	// it holds back more; then it moves on: the old events go, up to
	// crm's cursor; the new ones are not old enough.
	if err := e.Svc.RecordOutput(ctx, "nats:S:p", 1); err != nil {
		t.Fatal(err)
	}
	prune(0, 3)
	if err := e.Svc.RecordOutput(ctx, "nats:S:p", end); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.RecordOutput(ctx, "nats:gone:p", oldEnd); err != nil {
		t.Fatal(err)
	}
	prune(int(oldEnd-3), oldEnd)
	if _, err := e.Svc.PruneEvents(ctx, day); err != nil {
		t.Fatal(err)
	}

	// crm's cursor moves past the new events, but the first of them is
	// pending: it holds them back once they are old.
	if ok, err := Schedule(ctx, ws, "crm", oldEnd, end, []webhook.Queued{{Pos: oldEnd + 1, BrandID: "B1", Subject: "C2"}},
		e.Clock.Now()); err != nil || !ok {
		t.Fatalf("schedule: %v, %v", ok, err)
	}
	e.Clock.Advance(2 * day)
	if err := e.Svc.RecordOutput(ctx, "nats:S:p", end); err != nil {
		t.Fatal(err)
	}
	prune(0, oldEnd)

	// crm disabled: its pending delivery holds nothing back and goes; the
	// output "gone", not recorded for two days, holds nothing back either;
	// the newest event stays.
	e.MustApplyWebhook(ws, points.Webhook{ID: "crm", URL: "https://crm.example.com/e", Disabled: true})
	prune(int(end-1-oldEnd), end-1)
	if first() != end {
		t.Fatalf("the newest event, at %d, is not the first left (%d)", end, first())
	}
	ds, err := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm", State: webhook.Pending})
	if err != nil || len(ds) != 0 {
		t.Fatalf("crm's deliveries after their events went: %+v, %v", ds, err)
	}
	refused(oldEnd)
	// A removed flow's event is not found, and the answer says why it may
	// not be.
	if _, _, err := webhook.NewAdmin(e.Svc, ws).EventDeliveries(ctx, "B1", oldFlow); err == nil ||
		!strings.Contains(err.Error(), "removed after the retention period") {
		t.Fatalf("a removed flow's event: %v", err)
	}
}

// testEventRetentionUnread: events no one has read yet (on PostgreSQL,
// not yet numbered: numbering is the readers') are removed once old all
// the same, but the newest.
func testEventRetentionUnread(t *testing.T, open WebhookOpener) {
	e, _ := webhookEnv(t, open)
	for i := range 5 {
		e.MustCharge("C1", fmt.Sprintf("old-%d", i), 10)
	}
	e.Clock.Advance(48 * time.Hour)
	newest := e.MustCharge("C2", "new", 10).FlowID
	p, err := e.Svc.PruneEvents(e.Ctx, 24*time.Hour)
	if err != nil || p.Removed < 5 {
		t.Fatalf("prune: %+v, %v; want every event but the newest removed", p, err)
	}
	evs := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{})
	if len(evs) != 1 || evs[0].ID != newest || evs[0].Pos != p.Horizon+1 {
		t.Fatalf("left %+v after removing through %d; want the newest only", evs, p.Horizon)
	}
}

// testEventRetentionShort: with a period shorter than a minute, an
// output recorded a few seconds ago (servers record every few seconds)
// still holds back what it has not published.
func testEventRetentionShort(t *testing.T, open WebhookOpener) {
	e, _ := webhookEnv(t, open)
	for i := range 5 {
		e.MustCharge("C1", fmt.Sprintf("c-%d", i), 10)
	}
	if err := e.Svc.RecordOutput(e.Ctx, "nats:S:p", 2); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(5 * time.Second)
	p, err := e.Svc.PruneEvents(e.Ctx, time.Second)
	if err != nil || p.Horizon != 2 {
		t.Fatalf("prune: %+v, %v; want events through 2 removed, the stream's position", p, err)
	}
}
