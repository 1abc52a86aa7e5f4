package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
	"jifen/webhook"
)

// WebhookStore is a store that keeps the webhooks' state too.
type WebhookStore interface {
	Store
	webhook.Store
}

// WebhookOpener opens a fresh, empty store for one test.
type WebhookOpener func(t testing.TB) WebhookStore

// RunWebhooks runs the webhooks' tests against stores made by open: what
// a store keeps of endpoints and deliveries, and deliveries to a real
// receiver.
func RunWebhooks(t *testing.T, open WebhookOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, WebhookOpener)
	}{
		{"Storage", testWebhookStorage},
		{"Queues", testWebhookQueues},
		{"Batches", testWebhookBatches},
		{"LeaseTries", testWebhookLeaseTries},
		{"BatchPaging", testWebhookBatchPaging},
		{"Restart", testWebhookRestart},
		{"Redeliver", testWebhookRedeliver},
		{"Tenant", testWebhookTenant},
		{"MixedWrites", testWebhookMixedWrites},
		{"ReceiverTrouble", testWebhookReceiverTrouble},
		{"AddressGuard", testWebhookAddressGuard},
		{"Redirect", testWebhookRedirect},
		{"RetryWindow", testWebhookRetryWindow},
		{"Retention", testEventRetention},
		{"RetentionUnread", testEventRetentionUnread},
		{"RetentionShort", testEventRetentionShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// webhookEnv is the standard world over a store that keeps webhooks.
func webhookEnv(t *testing.T, open WebhookOpener) (*Env, webhook.Store) {
	t.Helper()
	var ws webhook.Store
	e := NewEnv(t, func(tb testing.TB) Store {
		s := open(tb)
		ws = s
		return s
	})
	return e, ws
}

// MustApplyWebhook applies w (through the tenant, as jifen apply does)
// and returns it as stored.
func (e *Env) MustApplyWebhook(ws webhook.Store, w points.Webhook) webhook.Endpoint {
	e.T.Helper()
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Webhooks: []points.Webhook{w}}); err != nil {
		e.T.Fatalf("apply webhook %s: %v", w.ID, err)
	}
	ep, err := ws.Webhook(e.Ctx, w.ID)
	if err != nil {
		e.T.Fatal(err)
	}
	return ep
}

// FastDelivery are dispatcher options for tests: quick polls and
// backoff, deliveries to the test's own receivers on 127.0.0.1 allowed.
func FastDelivery() webhook.Options {
	return webhook.Options{Poll: 20 * time.Millisecond, BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		Timeout: 5 * time.Second, AllowPrivate: true}
}

// StartDispatcher runs a dispatcher of svc's events over ws until the
// test ends (or the returned stop is called), and checks that it ends.
func StartDispatcher(t testing.TB, svc *points.Service, ws webhook.Store, o webhook.Options) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := webhook.NewDispatcher(svc, ws, o)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("dispatcher: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("dispatcher did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// EventsFor are the events after pos that w subscribes to.
func EventsFor(t testing.TB, e *Env, ep webhook.Endpoint, after int64) []points.Event {
	t.Helper()
	var out []points.Event
	for _, ev := range AllEvents(t, e.Ctx, e.Svc, points.EventQuery{After: after}) {
		if ep.Wants(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// testWebhookStorage: an endpoint as stored, queueing rows guarded by the
// position read, claims leased, records guarded by the lease, the
// endpoint's failing streak and its disablement, deletion.
func testWebhookStorage(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	ctx := e.Ctx
	before := AllEvents(t, ctx, e.Svc, points.EventQuery{})
	rep, err := e.Svc.Apply(ctx, points.Tenant{Webhooks: []points.Webhook{
		{ID: "crm", URL: "https://crm.example.com/jifen/events", Brands: []string{"B1"}, Events: []string{points.EventFlowCreated}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	secret := rep.WebhookSecrets["crm"]
	if _, err := points.WebhookKey(secret); err != nil || rep.Webhooks != 1 {
		t.Fatalf("generated secret %q (%v), %d webhooks applied", secret, err, rep.Webhooks)
	}
	ep, err := ws.Webhook(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if ep.URL != "https://crm.example.com/jifen/events" || ep.Secret != secret || fmt.Sprint(ep.Brands) != "[B1]" ||
		fmt.Sprint(ep.Events) != "[point.flow.created]" || !ep.Active() || ep.Disabled || !ep.FailingSince.IsZero() ||
		ep.ScheduledPos != before[len(before)-1].Pos || ep.CreatedAt.IsZero() {
		t.Fatalf("stored %+v; want it active, at position %d", ep, before[len(before)-1].Pos)
	}
	// Applying it again without a secret keeps the secret.
	ep2 := e.MustApplyWebhook(ws, points.Webhook{ID: "crm", URL: "https://crm.example.com/v2", Brands: []string{"B1"},
		Events: []string{points.EventFlowCreated}})
	if ep2.Secret != secret || ep2.URL != "https://crm.example.com/v2" || ep2.ScheduledPos != ep.ScheduledPos {
		t.Fatalf("applied again: %+v", ep2)
	}
	if _, err := ws.Webhook(ctx, "nope"); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("unknown webhook: %v, want ErrNotFound", err)
	}

	f1 := e.MustCharge("C1", "g1", 100)
	f2 := e.MustCharge("C2", "g2", 100)
	evs := EventsFor(t, e, ep, ep.ScheduledPos)
	if len(evs) != 2 || evs[0].ID != f1.FlowID || evs[1].ID != f2.FlowID {
		t.Fatalf("events %+v", evs)
	}
	ds := []webhook.Queued{{Pos: evs[0].Pos, BrandID: "B1", Subject: "C1"}, {Pos: evs[1].Pos, BrandID: "B1", Subject: "C2"}}
	now := time.Now().UTC().Truncate(time.Microsecond)
	to := evs[1].Pos
	if ok, err := Schedule(ctx, ws, "crm", ep.ScheduledPos+1, to, ds, now); err != nil || ok {
		t.Fatalf("schedule from a position not the endpoint's: %v, %v; want false", ok, err)
	}
	if ok, err := Schedule(ctx, ws, "crm", ep.ScheduledPos, to, ds, now); err != nil || !ok {
		t.Fatalf("schedule: %v, %v", ok, err)
	}
	if ok, err := Schedule(ctx, ws, "crm", ep.ScheduledPos, to, ds, now); err != nil || ok {
		t.Fatalf("schedule again from the old position: %v, %v; want false", ok, err)
	}
	if ep, _ = ws.Webhook(ctx, "crm"); ep.ScheduledPos != to {
		t.Fatalf("position %d, want %d", ep.ScheduledPos, to)
	}

	// Claims: both due (two members), leased once.
	cs, err := ws.ClaimDeliveries(ctx, "A", now, now.Add(time.Minute), 10)
	if err != nil || len(cs) != 2 {
		t.Fatalf("claim: %d, %v; want 2", len(cs), err)
	}
	if cs[0].Event.Pos > cs[1].Event.Pos {
		cs[0], cs[1] = cs[1], cs[0]
	}
	c := cs[0]
	if c.WebhookID != "crm" || c.URL != "https://crm.example.com/v2" || c.Secret != secret || c.Owner != "A" ||
		c.Event.ID != f1.FlowID || c.Event.Pos != evs[0].Pos || string(c.Event.Data) != string(evs[0].Data) ||
		!c.Event.Time.Equal(evs[0].Time) || c.Attempts != 0 || !c.Since.IsZero() {
		t.Fatalf("claimed %+v", c)
	}
	if more, err := ws.ClaimDeliveries(ctx, "B", now, now.Add(time.Minute), 10); err != nil || len(more) != 0 {
		t.Fatalf("claimed again while leased: %d, %v", len(more), err)
	}
	// A record under another lease changes nothing.
	out := webhook.Outcome{WebhookID: "crm", Pos: c.Event.Pos, BrandID: "B1", Subject: "C1", Owner: "B",
		Attempt: webhook.Attempt{N: 1, At: now, Status: 204, Latency: 3 * time.Millisecond}, State: webhook.Delivered}
	// Recorded with others in one transaction, each outcome is checked
	// against its own lease.
	mine := out
	mine.Owner = "A"
	if oks, err := ws.RecordAttempts(ctx, []webhook.Outcome{out, mine}); err != nil || len(oks) != 2 || oks[0] || !oks[1] {
		t.Fatalf("record under another lease, then under its own: %v, %v; want [false true]", oks, err)
	}
	out = mine
	if ok, err := recordAttempt(ctx, ws, out); err != nil || ok {
		t.Fatalf("record twice: %v, %v; want false", ok, err)
	}
	// The other one fails; its endpoint starts failing.
	later := now.Add(time.Second)
	fail := webhook.Outcome{WebhookID: "crm", Pos: cs[1].Event.Pos, BrandID: "B1", Subject: "C2", Owner: "A",
		Attempt: webhook.Attempt{N: 1, At: later, Status: 500, Latency: time.Millisecond, Error: "HTTP 500: boom"},
		State:   webhook.Pending, NextAt: later.Add(time.Second), DisableBefore: later.Add(-time.Hour), DisableReason: "r"}
	if ok, err := recordAttempt(ctx, ws, fail); err != nil || !ok {
		t.Fatalf("record failure: %v, %v", ok, err)
	}
	if ep, _ = ws.Webhook(ctx, "crm"); !ep.FailingSince.Equal(later) || !ep.Active() {
		t.Fatalf("after a failure: failing since %v, active %v", ep.FailingSince, ep.Active())
	}
	list, err := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm"})
	if err != nil || len(list) != 2 {
		t.Fatalf("deliveries: %d, %v", len(list), err)
	}
	d2, d1 := list[0], list[1] // newest first
	if d1.State != webhook.Delivered || d1.Attempts != 1 || !d1.Since.Equal(now) || d1.EventID != f1.FlowID || d1.EventType != points.EventFlowCreated ||
		d1.LastStatus != 204 || d1.LastLatency != 3*time.Millisecond || !d1.DoneAt.Equal(now) || len(d1.Log) != 1 ||
		d1.Log[0] != (webhook.Attempt{N: 1, At: now, Status: 204, Latency: 3 * time.Millisecond}) || !d1.LeaseUntil.IsZero() {
		t.Fatalf("delivered %+v", d1)
	}
	if d2.State != webhook.Pending || d2.Attempts != 1 || !d2.Since.Equal(later) || !d2.NextAt.Equal(later.Add(time.Second)) || d2.LastError != "HTTP 500: boom" ||
		len(d2.Log) != 1 || d2.Log[0].Status != 500 || d2.Subject != "C2" || d2.BrandID != "B1" {
		t.Fatalf("failed once %+v", d2)
	}
	if got, _ := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm", State: webhook.Pending}); len(got) != 1 || got[0].Pos != d2.Pos {
		t.Fatalf("pending deliveries %+v", got)
	}
	if got, _ := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm", Before: d2.Pos, Limit: 1}); len(got) != 1 || got[0].Pos != d1.Pos {
		t.Fatalf("deliveries before %d: %+v", d2.Pos, got)
	}
	if p, f, err := ws.CountDeliveries(ctx, "crm", 100); err != nil || p != 1 || f != 0 {
		t.Fatalf("counts %d pending, %d failed, %v", p, f, err)
	}
	if ev, got, err := ws.EventDeliveries(ctx, "B1", f1.FlowID); err != nil || ev.ID != f1.FlowID || ev.Pos != d1.Pos ||
		string(ev.Data) != string(evs[0].Data) || len(got) != 1 || got[0].State != webhook.Delivered || got[0].WebhookID != "crm" {
		t.Fatalf("deliveries of flow %s: %+v %+v, %v", f1.FlowID, ev, got, err)
	}
	if _, _, err := ws.EventDeliveries(ctx, "B1", "no-such-event"); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("deliveries of no event: %v", err)
	}
	// Not due before its next attempt; due then.
	if got, _ := ws.ClaimDeliveries(ctx, "A2", later, later.Add(time.Minute), 10); len(got) != 0 {
		t.Fatalf("claimed before it was due: %+v", got)
	}
	at := later.Add(2 * time.Second)
	got, err := ws.ClaimDeliveries(ctx, "A2", at, at.Add(time.Second), 10)
	if err != nil || len(got) != 1 || got[0].Attempts != 1 || !got[0].Since.Equal(later) {
		t.Fatalf("claim when due: %+v, %v", got, err)
	}
	// The lease runs out: another server takes the delivery, and the
	// first one's record is refused.
	at2 := at.Add(2 * time.Second)
	got2, err := ws.ClaimDeliveries(ctx, "B2", at2, at2.Add(time.Minute), 10)
	if err != nil || len(got2) != 1 || got2[0].Owner != "B2" {
		t.Fatalf("claim after the lease ran out: %+v, %v", got2, err)
	}
	fail.Owner, fail.Attempt.At = "A2", at2
	if ok, err := recordAttempt(ctx, ws, fail); err != nil || ok {
		t.Fatalf("record after the lease ran out: %v, %v; want false", ok, err)
	}
	// Failing since before the window: the endpoint is disabled.
	fail.Owner, fail.DisableBefore, fail.DisableReason = "B2", at2, "failed for the whole window"
	fail.State, fail.NextAt = webhook.Failed, time.Time{}
	if ok, err := recordAttempt(ctx, ws, fail); err != nil || !ok {
		t.Fatalf("record: %v, %v", ok, err)
	}
	ep, _ = ws.Webhook(ctx, "crm")
	if ep.Active() || !ep.DisabledAt.Equal(at2) || ep.DisabledReason != "failed for the whole window" || !ep.FailingSince.Equal(later) || !ep.Disabled {
		t.Fatalf("after failing for the window: %+v", ep)
	}
	if p, f, _ := ws.CountDeliveries(ctx, "crm", 100); p != 0 || f != 1 {
		t.Fatalf("counts %d pending, %d failed", p, f)
	}
	// A disabled endpoint gets no deliveries and schedules none.
	f3 := e.MustCharge("C3", "g3", 100)
	ev3 := EventsFor(t, e, ep, ep.ScheduledPos)
	if ok, err := Schedule(ctx, ws, "crm", ep.ScheduledPos, ev3[0].Pos,
		[]webhook.Queued{{Pos: ev3[0].Pos, BrandID: "B1", Subject: "C3"}}, at2); err != nil || ok {
		t.Fatalf("scheduled for a disabled endpoint: %v, %v", ok, err)
	}
	if err := ws.Redeliver(ctx, "crm", d2.Pos, at2); err != nil {
		t.Fatal(err)
	}
	if got, _ := ws.ClaimDeliveries(ctx, "C", at2, at2.Add(time.Minute), 10); len(got) != 0 {
		t.Fatalf("claimed for a disabled endpoint: %+v", got)
	}
	// Applied again, it is active, its streak forgotten; the redelivered
	// one is due.
	ep = e.MustApplyWebhook(ws, ep2.Webhook)
	if !ep.Active() || !ep.FailingSince.IsZero() || ep.DisabledReason != "" {
		t.Fatalf("enabled again: %+v", ep)
	}
	if got, _ := ws.ClaimDeliveries(ctx, "C", at2, at2.Add(time.Minute), 10); len(got) != 1 || got[0].Event.Pos != d2.Pos {
		t.Fatalf("claim of the redelivered one: %+v", got)
	}
	// Disabled by an operator.
	w := ep.Webhook
	w.Disabled = true
	ep = e.MustApplyWebhook(ws, w)
	if ep.Active() || ep.DisabledReason != points.WebhookDisabledByOperator {
		t.Fatalf("disabled by an operator: %+v", ep)
	}
	if err := ws.Redeliver(ctx, "crm", 1<<40, at2); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("redeliver of no delivery: %v", err)
	}
	// Deleted with its deliveries.
	if err := ws.DeleteWebhook(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if err := ws.DeleteWebhook(ctx, "crm"); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, got, err := ws.EventDeliveries(ctx, "B1", f1.FlowID); err != nil || len(got) != 0 {
		t.Fatalf("deliveries of a deleted endpoint: %+v, %v", got, err)
	}
	if all, err := ws.Webhooks(ctx); err != nil || len(all) != 0 {
		t.Fatalf("webhooks after delete: %+v, %v", all, err)
	}
	_ = f3
}

// testWebhookQueues: a member's deliveries are attempted one at a time,
// oldest first; the next becomes due when the one before it ends
// (delivered or failed); members do not wait for each other; a brand's
// own events form a queue of their own.
func testWebhookQueues(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	ctx := e.Ctx
	ep := e.MustApplyWebhook(ws, points.Webhook{ID: "all", URL: "https://example.com/h", Secret: points.NewWebhookSecret()})
	for i := range 3 {
		e.MustCharge("C1", fmt.Sprintf("a%d", i), 10)
	}
	e.MustCharge("C2", "b0", 10)
	rule := &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearNever}}
	brand, err := e.Store.Brand(ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Apply(ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: brand, Rule: rule}}}); err != nil {
		t.Fatal(err)
	}
	evs := EventsFor(t, e, ep, ep.ScheduledPos)
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
	var ds []webhook.Queued
	for _, ev := range evs {
		ds = append(ds, webhook.Queued{Pos: ev.Pos, BrandID: ev.BrandID, Subject: ev.Subject})
	}
	// Scheduled in two steps: the queue carries across.
	now := time.Now().Truncate(time.Microsecond)
	if ok, err := Schedule(ctx, ws, "all", ep.ScheduledPos, evs[1].Pos, ds[:2], now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := Schedule(ctx, ws, "all", evs[1].Pos, evs[4].Pos, ds[2:], now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	heads := func(owner string, at time.Time) map[string]int64 {
		t.Helper()
		cs, err := ws.ClaimDeliveries(ctx, owner, at, at.Add(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int64{}
		for _, c := range cs {
			m[c.Event.BrandID+"/"+c.Event.Subject] = c.Event.Pos
		}
		return m
	}
	got := heads("o1", now)
	want := map[string]int64{"B1/C1": evs[0].Pos, "B1/C2": evs[3].Pos, "B1/": evs[4].Pos}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first claim %v, want the oldest of each queue %v", got, want)
	}
	list, _ := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "all"})
	for _, dl := range list {
		waiting := dl.Pos == evs[1].Pos || dl.Pos == evs[2].Pos
		if waiting != dl.NextAt.IsZero() {
			t.Fatalf("delivery at %d: next at %v (waiting: %v)", dl.Pos, dl.NextAt, waiting)
		}
	}
	record := func(pos int64, owner, state string, at time.Time) {
		t.Helper()
		o := webhook.Outcome{WebhookID: "all", Pos: pos, BrandID: "B1", Subject: "C1", Owner: owner, State: state,
			Attempt: webhook.Attempt{At: at, Status: 500, Error: "x"}, DisableBefore: at.Add(-time.Hour)}
		if state == webhook.Pending {
			o.NextAt = at
		}
		if state == webhook.Delivered {
			o.Attempt.Status, o.Attempt.Error = 200, ""
		}
		if ok, err := recordAttempt(ctx, ws, o); err != nil || !ok {
			t.Fatalf("record %d: %v, %v", pos, ok, err)
		}
	}
	// C1's head to be retried: it is due again, the next still waits.
	record(evs[0].Pos, "o1", webhook.Pending, now)
	if got := heads("o2", now); fmt.Sprint(got) != fmt.Sprint(map[string]int64{"B1/C1": evs[0].Pos}) {
		t.Fatalf("after a retry: %v", got)
	}
	// It fails for good: the next is due.
	record(evs[0].Pos, "o2", webhook.Failed, now)
	if got := heads("o3", now); fmt.Sprint(got) != fmt.Sprint(map[string]int64{"B1/C1": evs[1].Pos}) {
		t.Fatalf("after a failure: %v", got)
	}
	record(evs[1].Pos, "o3", webhook.Delivered, now)
	if got := heads("o4", now); fmt.Sprint(got) != fmt.Sprint(map[string]int64{"B1/C1": evs[2].Pos}) {
		t.Fatalf("after a delivery: %v", got)
	}
	// A later event scheduled while its queue has one pending waits.
	e.MustCharge("C1", "a3", 10)
	more := EventsFor(t, e, ep, evs[4].Pos)
	if ok, err := Schedule(ctx, ws, "all", evs[4].Pos, more[0].Pos,
		[]webhook.Queued{{Pos: more[0].Pos, BrandID: "B1", Subject: "C1"}}, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	record(evs[2].Pos, "o4", webhook.Delivered, now)
	if got := heads("o5", now); fmt.Sprint(got) != fmt.Sprint(map[string]int64{"B1/C1": more[0].Pos}) {
		t.Fatalf("after the third: %v", got)
	}
}

// testWebhookRedeliver: a failed delivery redelivered is due again and
// holds back the later events of its member not yet acknowledged;
// redelivering every failed one makes each queue's oldest due.
func testWebhookRedeliver(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	ctx := e.Ctx
	ep := e.MustApplyWebhook(ws, points.Webhook{ID: "h", URL: "https://example.com/h"})
	for i := range 2 {
		e.MustCharge("C1", fmt.Sprintf("a%d", i), 10)
		e.MustCharge("C2", fmt.Sprintf("b%d", i), 10)
	}
	evs := EventsFor(t, e, ep, ep.ScheduledPos)
	var ds []webhook.Queued
	for _, ev := range evs {
		ds = append(ds, webhook.Queued{Pos: ev.Pos, BrandID: ev.BrandID, Subject: ev.Subject})
	}
	now := time.Now().Truncate(time.Microsecond)
	if ok, err := Schedule(ctx, ws, "h", ep.ScheduledPos, evs[len(evs)-1].Pos, ds, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// Everything fails for good, one after the other.
	for range len(evs) {
		cs, err := ws.ClaimDeliveries(ctx, "o", now, now.Add(time.Minute), 1)
		if err != nil || len(cs) != 1 {
			t.Fatalf("claim: %+v, %v", cs, err)
		}
		c := cs[0]
		if ok, err := recordAttempt(ctx, ws, webhook.Outcome{WebhookID: "h", Pos: c.Event.Pos, BrandID: "B1", Subject: c.Event.Subject,
			Owner: "o", State: webhook.Failed, Attempt: webhook.Attempt{At: now, Error: "down"}, DisableBefore: now.Add(-time.Hour)}); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if _, f, _ := ws.CountDeliveries(ctx, "h", 10); f != 4 {
		t.Fatalf("%d failed, want 4", f)
	}
	// One redelivered: due at once, its window to start again.
	later := now.Add(time.Minute)
	if err := ws.Redeliver(ctx, "h", evs[0].Pos, later); err != nil {
		t.Fatal(err)
	}
	cs, _ := ws.ClaimDeliveries(ctx, "o", later, later.Add(time.Minute), 10)
	if len(cs) != 1 || cs[0].Event.Pos != evs[0].Pos || !cs[0].Since.IsZero() || cs[0].Attempts != 1 {
		t.Fatalf("claimed after redelivering one: %+v", cs)
	}
	// Every failed one: each queue's oldest is due; the rest wait.
	n, err := ws.RedeliverFailed(ctx, "h", later)
	if err != nil || n != 3 {
		t.Fatalf("redelivered %d, %v; want 3", n, err)
	}
	cs, _ = ws.ClaimDeliveries(ctx, "p", later, later.Add(time.Minute), 10)
	var got []int64
	for _, c := range cs {
		got = append(got, c.Event.Pos)
	}
	// C1's oldest is leased to "o"; C2's oldest is due.
	if fmt.Sprint(got) != fmt.Sprint([]int64{evs[1].Pos}) {
		t.Fatalf("claimed %v after redelivering every failed one, want [%d]", got, evs[1].Pos)
	}
	if n, err := ws.RedeliverFailed(ctx, "h", later); err != nil || n != 0 {
		t.Fatalf("redelivered again: %d, %v", n, err)
	}
}

// testWebhookTenant: a webhook in the tenant is refused, naming the
// field, when any of it is wrong, and then nothing of the tenant is
// written.
func testWebhookTenant(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	ok := points.Webhook{ID: "crm-sync", URL: "https://crm.example.com/jifen/events", Brands: []string{"B1"}, Events: []string{"*"}}
	for _, c := range []struct {
		field string
		edit  func(*points.Webhook)
	}{
		{"webhooks[0].webhook_id", func(w *points.Webhook) { w.ID = "" }},
		{"webhooks[0].webhook_id", func(w *points.Webhook) { w.ID = " crm" }},
		{"webhooks[0].url", func(w *points.Webhook) { w.URL = "" }},
		{"webhooks[0].url", func(w *points.Webhook) { w.URL = "ftp://crm.example.com/x" }},
		{"webhooks[0].url", func(w *points.Webhook) { w.URL = "crm.example.com/x" }},
		{"webhooks[0].url", func(w *points.Webhook) { w.URL = "https:///x" }},
		{"webhooks[0].url", func(w *points.Webhook) { w.URL = "https://user:pw@crm.example.com/x" }},
		{"webhooks[0].url", func(w *points.Webhook) { w.URL = "https://crm.example.com/\x00" }},
		{"webhooks[0].url", func(w *points.Webhook) { w.URL = "https://crm.example.com/" + strings.Repeat("a", 3000) }},
		{"webhooks[0].secret", func(w *points.Webhook) { w.Secret = "not-a-secret" }},
		{"webhooks[0].secret", func(w *points.Webhook) { w.Secret = "whsec_c2hvcnQ=" }},
		{"webhooks[0].brands[1]", func(w *points.Webhook) { w.Brands = []string{"B1", "B404"} }},
		{"webhooks[0].brands[1]", func(w *points.Webhook) { w.Brands = []string{"B1", "B1"} }},
		{"webhooks[0].events[0]", func(w *points.Webhook) { w.Events = []string{"point.flow.deleted"} }},
	} {
		w := ok
		c.edit(&w)
		_, err := e.Svc.Apply(e.Ctx, points.Tenant{
			Customers: []ledger.Customer{{ID: "NEW", BrandID: "B1", Name: "新"}},
			Webhooks:  []points.Webhook{w}})
		WantInvalid(t, err, c.field)
		if _, err := e.Store.Customer(e.Ctx, "NEW"); !errors.Is(err, points.ErrNotFound) {
			t.Fatalf("%s refused, yet the customer was written: %v", c.field, err)
		}
	}
	_, err := e.Svc.Apply(e.Ctx, points.Tenant{Webhooks: []points.Webhook{ok, ok}})
	WantInvalid(t, err, "webhooks[1].webhook_id")
	// Refused inside the write (a customer of another brand), after the
	// webhook and a new customer were written: all of it is rolled back,
	// and no event is left.
	before := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{})
	_, err = e.Svc.Apply(e.Ctx, points.Tenant{Webhooks: []points.Webhook{ok},
		Customers: []ledger.Customer{{ID: "NEW", BrandID: "B1", Name: "新"}, {ID: "X1", BrandID: "B1", Name: "换品牌"}}})
	WantInvalid(t, err, "customers.X1.brand_id")
	if after := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{}); len(after) != len(before) {
		t.Fatalf("%d events after a rolled-back write, %d before", len(after), len(before))
	}
	if _, err := e.Store.Customer(e.Ctx, "NEW"); !errors.Is(err, points.ErrNotFound) {
		t.Fatalf("a rolled-back write stored its customer: %v", err)
	}
	if all, err := ws.Webhooks(e.Ctx); err != nil || len(all) != 0 {
		t.Fatalf("webhooks after refusals: %+v, %v", all, err)
	}
	// A brand created in the same tenant may be named.
	brand, _ := e.Store.Brand(e.Ctx, "B1")
	brand.ID, brand.Name, brand.OutIDs = "B3", "Brand 3", nil
	w := ok
	w.Brands = []string{"B3"}
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: brand}}, Webhooks: []points.Webhook{w}}); err != nil {
		t.Fatal(err)
	}
}

// mixedWrites runs workers goroutines of writes over B1's members and
// X1 (B2): grants, payments, refunds, operators' adjustments, replays of
// a request, payments refused for want of points and requests refused as
// bad input; and one worker changes the brand's rule and a member.
func mixedWrites(t testing.TB, e *Env, workers, rounds int) {
	t.Helper()
	members := []string{"C1", "C2", "C3"}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) { errc <- err }
			for i := range rounds {
				c := members[(w+i)%len(members)]
				g := e.Order(fmt.Sprintf("g-%d-%d", w, i), 50)
				g.CustomerID = c
				if _, err := e.Svc.ExtraCharge(e.Ctx, e.Caller, g); err != nil {
					fail(err)
					return
				}
				p := e.Order(fmt.Sprintf("p-%d-%d", w, i), 20)
				p.CustomerID = c
				if _, err := e.Svc.Consume(e.Ctx, e.Caller, p); err != nil {
					fail(err)
					return
				}
				// The same request again: a replay, no new flow.
				if out, err := e.Svc.Consume(e.Ctx, e.Caller, p); err != nil || !out.Replayed {
					fail(fmt.Errorf("replay: %+v, %v", out, err))
					return
				}
				r := e.Reverse(p.OutBizID, fmt.Sprintf("r-%d-%d", w, i), P(5))
				r.CustomerID = c
				if _, err := e.Svc.Reverse(e.Ctx, e.Caller, r); err != nil {
					fail(err)
					return
				}
				big := e.Order(fmt.Sprintf("big-%d-%d", w, i), 1_000_000_000)
				big.CustomerID = c
				if _, err := e.Svc.Consume(e.Ctx, e.Caller, big); !ledger.IsCode(err, ledger.CodePointNotEnough) {
					fail(fmt.Errorf("a payment of more than held: %v", err))
					return
				}
				bad := e.Order(fmt.Sprintf("bad-%d-%d", w, i), 0)
				bad.CustomerID = c
				if _, err := e.Svc.Consume(e.Ctx, e.Caller, bad); err == nil {
					fail(errors.New("a payment of 0 points was accepted"))
					return
				}
				if i%3 == 0 {
					_, err := e.Svc.Adjust(e.Ctx, points.OperatorCaller(points.Actor{Name: "小李"}), points.AdjustRequest{CustomerID: "X1",
						Points: 7, Reason: "补偿", RequestID: fmt.Sprintf("adj-%d-%d", w, i)})
					if err != nil {
						fail(err)
						return
					}
				}
				if w == 0 && i == rounds/2 {
					brand, err := e.Store.Brand(e.Ctx, "B1")
					if err != nil {
						fail(err)
						return
					}
					rule := &ledger.Rule{Name: "新规则", Clear: ledger.ClearRule{Type: ledger.ClearNever}}
					if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: brand, Rule: rule}},
						Customers: []ledger.Customer{{ID: "C3", BrandID: "B1", Mobile: "13800000003", Name: "王五五", LevelID: "L2"}}}); err != nil {
						fail(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// testWebhookMixedWrites: two consumers (every event of every brand; B1's
// flows) get every committed event they subscribe to while writes run
// from several goroutines: each exactly once after de-duplicating by
// event id, a member's in order; refused and replayed writes send
// nothing. Signatures verify, and a tampered body or a wrong secret do
// not.
func testWebhookMixedWrites(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	all := NewReceiver(t, "")
	flows := NewReceiver(t, "")
	rep, err := e.Svc.Apply(e.Ctx, points.Tenant{Webhooks: []points.Webhook{
		{ID: "all", URL: all.URL(), Events: []string{"*"}},
		{ID: "b1-flows", URL: flows.URL(), Brands: []string{"B1"}, Events: []string{points.EventFlowCreated}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	all.SetSecret(rep.WebhookSecrets["all"])
	flows.SetSecret(rep.WebhookSecrets["b1-flows"])
	epAll, _ := ws.Webhook(e.Ctx, "all")
	epFlows, _ := ws.Webhook(e.Ctx, "b1-flows")
	// Two servers' dispatchers: an endpoint's cursor is one server's at a
	// time.
	StartDispatcher(t, e.Svc, ws, FastDelivery())
	StartDispatcher(t, e.Svc, ws, FastDelivery())
	mixedWrites(t, e, 4, 6)

	wantAll := EventsFor(t, e, epAll, epAll.ScheduledPos)
	wantFlows := EventsFor(t, e, epFlows, epFlows.ScheduledPos)
	if len(wantFlows) < 4*6*3 || len(wantAll) <= len(wantFlows) {
		t.Fatalf("%d events, %d of B1's flows", len(wantAll), len(wantFlows))
	}
	all.WaitAcked(t, wantAll, 60*time.Second)
	flows.WaitAcked(t, wantFlows, 60*time.Second)
	all.Check(t, wantAll)
	flows.Check(t, wantFlows)
	// Every flow of the ledger reached the flows' consumer.
	n := 0
	if err := e.Store.EachAccount(e.Ctx, func(r points.AccountRows) error {
		for _, f := range r.Flows {
			if f.BrandID == "B1" {
				n++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := len(flows.Acked()); got != n {
		t.Fatalf("%d flows acknowledged, %d stored", got, n)
	}
	// The signature of the last request verifies; with its body changed,
	// or with another secret, it does not.
	h, body := flows.Last()
	secret := rep.WebhookSecrets["b1-flows"]
	if err := VerifySignature(secret, h, body, time.Now()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), `"change_point":`, `"change_point":1`, 1))
	if string(tampered) == string(body) {
		t.Fatal("could not tamper with the body")
	}
	if err := VerifySignature(secret, h, tampered, time.Now()); err == nil {
		t.Fatal("a tampered body verified")
	}
	if err := VerifySignature(points.NewWebhookSecret(), h, body, time.Now()); err == nil {
		t.Fatal("a wrong secret verified")
	}
	if h.Get("Content-Type") != "application/cloudevents+json; charset=utf-8" || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
		t.Fatalf("headers %v", h)
	}
	// The deliveries say so, once recorded: an outcome is recorded after
	// the receiver's answer, with others in a batch.
	ids := make([]string, len(wantFlows))
	for i, ev := range wantFlows {
		ids[i] = ev.ID
	}
	ds := RecordedDeliveries(t, e.Ctx, ws, "b1-flows", ids, 30*time.Second)
	for _, d := range ds {
		if d.State != webhook.Delivered || d.Attempts != 1 || d.LastStatus != http.StatusNoContent || len(d.Log) != 1 {
			t.Fatalf("delivery %+v", d)
		}
		// A receiver that acknowledges everything costs no delivery row:
		// the batches' records say what was delivered.
		if !d.Batched {
			t.Fatalf("delivery of %s (position %d) has a row of its own", d.EventID, d.Pos)
		}
	}
	if len(ds) != len(wantFlows) {
		t.Fatalf("%d deliveries, %d events", len(ds), len(wantFlows))
	}
	// Nothing failed, so nothing was sent twice: one cursor, one server.
	for _, r := range []*Receiver{all, flows} {
		if n, acked := len(r.Arrivals()), len(r.Acked()); n != acked {
			t.Errorf("%d arrivals of %d events: an endpoint's batches were sent by two servers", n, acked)
		}
	}
}

// testWebhookBatches: an endpoint's cursor leased to one owner at a time;
// a batch committed under its lease from the cursor it read, once; what it
// delivered listed among the deliveries (and an event's), the rest
// queued as delivery rows behind their member's pending one; a batch
// with nothing delivered makes the endpoint failing, and in time
// disabled.
func testWebhookBatches(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	ctx := e.Ctx
	ep := e.MustApplyWebhook(ws, points.Webhook{ID: "crm", URL: "https://crm.example.com/e", Brands: []string{"B1"}})
	start := ep.ScheduledPos
	f1 := e.MustCharge("C1", "g1", 100)
	f2 := e.MustCharge("C2", "g2", 100)
	f3 := e.MustCharge("C2", "g3", 100)
	evs := EventsFor(t, e, ep, start)
	if len(evs) != 3 || evs[0].ID != f1.FlowID || evs[2].ID != f3.FlowID {
		t.Fatalf("events %+v", evs)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if le, ok, err := ws.LeaseEndpoint(ctx, "crm", "A", now, now.Add(time.Minute)); err != nil || !ok || le.ScheduledPos != start {
		t.Fatalf("lease: %v, %v, cursor %d", ok, err, le.ScheduledPos)
	}
	if _, ok, err := ws.LeaseEndpoint(ctx, "crm", "B", now.Add(time.Second), now.Add(time.Minute)); err != nil || ok {
		t.Fatalf("leased to B while A holds it: %v, %v", ok, err)
	}
	if _, ok, err := ws.LeaseEndpoint(ctx, "crm", "A", now.Add(time.Second), now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("A renews its lease: %v, %v", ok, err)
	}
	if got, err := ws.QueuedMembers(ctx, "crm", []webhook.Queue{{BrandID: "B1", Subject: "C1"}, {BrandID: "B1", Subject: "C2"}}); err != nil || len(got) != 0 {
		t.Fatalf("queued members before any row: %+v, %v", got, err)
	}
	later := now.Add(time.Second)
	b := webhook.Batch{WebhookID: "crm", Owner: "A", From: start, To: evs[2].Pos, Start: now,
		Delivered: []webhook.BatchItem{{Pos: evs[0].Pos, At: now.Add(time.Millisecond), Status: 200, Latency: 2 * time.Millisecond}},
		Queued: []webhook.Queued{
			{Pos: evs[1].Pos, BrandID: "B1", Subject: "C2", State: webhook.Pending, NextAt: later,
				Attempt: &webhook.Attempt{N: 1, At: now, Status: 500, Latency: time.Millisecond, Error: "HTTP 500: boom"}},
			{Pos: evs[2].Pos, BrandID: "B1", Subject: "C2", State: webhook.Pending, NextAt: now},
		},
		LeaseUntil: now.Add(time.Minute)}
	for _, bad := range []func(*webhook.Batch){
		func(b *webhook.Batch) { b.Owner = "B" },
		func(b *webhook.Batch) { b.From++ },
	} {
		bb := b
		bad(&bb)
		if ok, err := ws.CommitBatch(ctx, bb); err != nil || ok {
			t.Fatalf("commit of %s from %d under %s's lease: %v, %v; want false", bb.WebhookID, bb.From, bb.Owner, ok, err)
		}
	}
	if ok, err := ws.CommitBatch(ctx, b); err != nil || !ok {
		t.Fatalf("commit: %v, %v", ok, err)
	}
	if ok, err := ws.CommitBatch(ctx, b); err != nil || ok {
		t.Fatalf("commit again from the old cursor: %v, %v; want false", ok, err)
	}
	if ep, _ = ws.Webhook(ctx, "crm"); ep.ScheduledPos != evs[2].Pos || !ep.FailingSince.IsZero() {
		t.Fatalf("after the batch: cursor %d (want %d), failing since %v", ep.ScheduledPos, evs[2].Pos, ep.FailingSince)
	}
	if got, err := ws.QueuedMembers(ctx, "crm", []webhook.Queue{{BrandID: "B1", Subject: "C1"}, {BrandID: "B1", Subject: "C2"}}); err != nil ||
		len(got) != 1 || got[0] != (webhook.Queue{BrandID: "B1", Subject: "C2"}) {
		t.Fatalf("queued members: %+v, %v", got, err)
	}
	list, err := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm"})
	if err != nil || len(list) != 3 {
		t.Fatalf("deliveries: %+v, %v", list, err)
	}
	d3, d2, d1 := list[0], list[1], list[2]
	if d1.Pos != evs[0].Pos || !d1.Batched || d1.State != webhook.Delivered || d1.EventID != f1.FlowID || d1.Subject != "C1" ||
		d1.BrandID != "B1" || d1.EventType != points.EventFlowCreated || d1.LastStatus != 200 || d1.LastLatency != 2*time.Millisecond ||
		!d1.DoneAt.Equal(now.Add(time.Millisecond)) || len(d1.Log) != 1 || d1.Log[0].Status != 200 {
		t.Fatalf("delivered in the batch: %+v", d1)
	}
	if d2.Pos != evs[1].Pos || d2.Batched || d2.State != webhook.Pending || d2.Attempts != 1 || !d2.Since.Equal(now) ||
		!d2.NextAt.Equal(later) || len(d2.Log) != 1 || d2.Log[0].Error != "HTTP 500: boom" || d2.EventID != f2.FlowID {
		t.Fatalf("failed in the batch: %+v", d2)
	}
	if d3.Pos != evs[2].Pos || d3.State != webhook.Pending || d3.Attempts != 0 || !d3.NextAt.IsZero() || len(d3.Log) != 0 {
		t.Fatalf("queued behind it (waiting): %+v", d3)
	}
	if got, _ := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm", State: webhook.Delivered}); len(got) != 1 || got[0].Pos != d1.Pos {
		t.Fatalf("delivered ones: %+v", got)
	}
	if got, _ := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm", State: webhook.Pending}); len(got) != 2 || got[0].Pos != d3.Pos {
		t.Fatalf("pending ones: %+v", got)
	}
	if got, _ := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm", Before: d2.Pos, Limit: 1}); len(got) != 1 || got[0].Pos != d1.Pos {
		t.Fatalf("before %d: %+v", d2.Pos, got)
	}
	if got, _ := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm", Limit: 2}); len(got) != 2 || got[1].Pos != d2.Pos {
		t.Fatalf("the newest two: %+v", got)
	}
	if p, f, err := ws.CountDeliveries(ctx, "crm", 100); err != nil || p != 2 || f != 0 {
		t.Fatalf("counts %d pending, %d failed, %v", p, f, err)
	}
	if _, got, err := ws.EventDeliveries(ctx, "B1", f1.FlowID); err != nil || len(got) != 1 || !got[0].Batched || got[0].WebhookID != "crm" ||
		got[0].EventID != f1.FlowID || got[0].LastStatus != 200 {
		t.Fatalf("deliveries of %s: %+v, %v", f1.FlowID, got, err)
	}
	// Claims take the failed one when due; the one behind it waits.
	if got, err := ws.ClaimDeliveries(ctx, "X", later, later.Add(time.Minute), 10); err != nil || len(got) != 1 || got[0].Event.Pos != d2.Pos ||
		got[0].Attempts != 1 || !got[0].Since.Equal(now) {
		t.Fatalf("claim: %+v, %v", got, err)
	}
	// A batch-delivered event redelivered gets a row, with its attempt.
	if err := ws.Redeliver(ctx, "crm", d1.Pos, later); err != nil {
		t.Fatal(err)
	}
	got, err := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm", State: webhook.Pending})
	if err != nil || len(got) != 3 || got[2].Pos != d1.Pos || got[2].Batched || got[2].Attempts != 1 || len(got[2].Log) != 1 ||
		!got[2].NextAt.Equal(later) {
		t.Fatalf("redelivered: %+v, %v", got, err)
	}
	if all, _ := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "crm"}); len(all) != 3 {
		t.Fatalf("after the redelivery, %d deliveries listed, want 3 (the row replaces the batch's): %+v", len(all), all)
	}
	// Batches that deliver nothing: the endpoint is failing from the
	// first, and disabled by one failing since before the window.
	f4 := e.MustCharge("C3", "g4", 100)
	f5 := e.MustCharge("C1", "g5", 100)
	ev45 := EventsFor(t, e, ep, evs[2].Pos)
	if len(ev45) != 2 || ev45[0].ID != f4.FlowID || ev45[1].ID != f5.FlowID {
		t.Fatalf("events %+v", ev45)
	}
	t2 := later.Add(time.Second)
	fail := func(q webhook.Queued, from int64, at, before time.Time) bool {
		q.Attempt = &webhook.Attempt{N: 1, At: at, Error: "connection refused"}
		q.State, q.NextAt = webhook.Pending, at.Add(time.Second)
		ok, err := ws.CommitBatch(ctx, webhook.Batch{WebhookID: "crm", Owner: "A", From: from, To: q.Pos, Start: at,
			Queued: []webhook.Queued{q}, LeaseUntil: at.Add(time.Minute), FailedAt: at, DisableBefore: before, DisableReason: "down"})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !fail(webhook.Queued{Pos: ev45[0].Pos, BrandID: "B1", Subject: "C3"}, evs[2].Pos, t2, t2.Add(-time.Hour)) {
		t.Fatal("commit of a failing batch refused")
	}
	if ep, _ = ws.Webhook(ctx, "crm"); !ep.FailingSince.Equal(t2) || !ep.Active() {
		t.Fatalf("after a batch that delivered nothing: %+v", ep)
	}
	t3 := t2.Add(time.Minute)
	if !fail(webhook.Queued{Pos: ev45[1].Pos, BrandID: "B1", Subject: "C1"}, ev45[0].Pos, t3, t3) {
		t.Fatal("commit of a failing batch refused")
	}
	if ep, _ = ws.Webhook(ctx, "crm"); ep.Active() || !ep.DisabledAt.Equal(t3) || ep.DisabledReason != "down" {
		t.Fatalf("failing for the window: %+v", ep)
	}
	if le, ok, err := ws.LeaseEndpoint(ctx, "crm", "A", t3, t3.Add(time.Minute)); err != nil || ok || le.Active() {
		t.Fatalf("lease of a disabled endpoint: %v, %v, %+v", ok, err, le)
	}
	// Enabled again, its lease still A's until it runs out; then B's.
	w := ep.Webhook
	w.Disabled = false
	if ep = e.MustApplyWebhook(ws, w); !ep.Active() {
		t.Fatalf("enabled again: %+v", ep)
	}
	if _, ok, _ := ws.LeaseEndpoint(ctx, "crm", "B", t3, t3.Add(time.Minute)); ok {
		t.Fatal("B took a lease A holds")
	}
	if _, ok, err := ws.LeaseEndpoint(ctx, "crm", "B", t3.Add(2*time.Minute), t3.Add(3*time.Minute)); err != nil || !ok {
		t.Fatalf("B takes the lease A let run out: %v, %v", ok, err)
	}
	if _, _, err := ws.LeaseEndpoint(ctx, "nope", "A", t3, t3); err != nil {
		t.Fatalf("lease of no endpoint: %v", err)
	}
	// Deleted with its batches.
	if err := ws.DeleteWebhook(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if _, got, err := ws.EventDeliveries(ctx, "B1", f1.FlowID); err != nil || len(got) != 0 {
		t.Fatalf("deliveries of a deleted endpoint: %+v, %v", got, err)
	}
}

// testWebhookReceiverTrouble: the receiver answers 500 for a while, then
// sleeps past the timeout, then is down, then healthy: everything
// arrives, each member's events in order.
func testWebhookReceiverTrouble(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	r := NewReceiver(t, "")
	secret := points.NewWebhookSecret()
	r.SetSecret(secret)
	ep := e.MustApplyWebhook(ws, points.Webhook{ID: "h", URL: r.URL(), Secret: secret})
	o := FastDelivery()
	o.Timeout = 300 * time.Millisecond
	o.Lease = 2 * time.Second
	StartDispatcher(t, e.Svc, ws, o)

	var mu sync.Mutex
	phase := "500"
	r.SetAnswer(func(n int, a Arrival) (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		switch phase {
		case "500":
			return http.StatusInternalServerError, 0
		case "slow":
			return http.StatusOK, time.Second // past the timeout: not acknowledged
		}
		return http.StatusOK, 0
	})
	set := func(p string) { mu.Lock(); phase = p; mu.Unlock() }
	for i := range 3 {
		for _, c := range []string{"C1", "C2", "C3"} {
			e.MustCharge(c, fmt.Sprintf("g-%s-%d", c, i), 10)
		}
	}
	waitFor(t, 30*time.Second, "requests answered 500", func() bool { return len(r.Arrivals()) >= 6 })
	set("slow")
	for _, c := range []string{"C1", "C2"} {
		e.MustCharge(c, "slow-"+c, 10)
	}
	n := len(r.Arrivals())
	waitFor(t, 30*time.Second, "requests timed out", func() bool { return len(r.Arrivals()) >= n+4 })
	r.Down()
	for _, c := range []string{"C1", "C3"} {
		e.MustCharge(c, "down-"+c, 10)
	}
	waitFor(t, 30*time.Second, "attempts while down", func() bool {
		ds, err := ws.Deliveries(e.Ctx, webhook.DeliveryQuery{WebhookID: "h", State: webhook.Pending})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if strings.Contains(d.LastError, "connection refused") {
				return true
			}
		}
		return false
	})
	set("ok")
	r.Up()
	want := EventsFor(t, e, ep, ep.ScheduledPos)
	r.WaitAcked(t, want, 60*time.Second)
	r.Check(t, want)
	var statuses, timeouts int
	for _, a := range r.Arrivals() {
		if a.Status == http.StatusInternalServerError {
			statuses++
		}
		if a.Status == http.StatusOK && a.AckSeq == 0 {
			timeouts++
		}
	}
	if statuses == 0 || timeouts == 0 {
		t.Fatalf("%d answers of 500, %d timed out: the receiver's trouble did not happen", statuses, timeouts)
	}
	ds, _ := ws.Deliveries(e.Ctx, webhook.DeliveryQuery{WebhookID: "h"})
	var sawTimeout, saw500 bool
	for _, d := range ds {
		for _, a := range d.Log {
			sawTimeout = sawTimeout || strings.HasPrefix(a.Error, "no answer within the timeout")
			saw500 = saw500 || a.Status == 500 && strings.HasPrefix(a.Error, "HTTP 500")
		}
	}
	if !sawTimeout || !saw500 {
		t.Fatalf("attempts record a timeout %v, a 500 %v", sawTimeout, saw500)
	}
	if ep, _ := ws.Webhook(e.Ctx, "h"); !ep.Active() || !ep.FailingSince.IsZero() {
		t.Fatalf("endpoint after recovering: %+v", ep)
	}
}

// testWebhookAddressGuard: by default a delivery refuses loopback,
// link-local (cloud metadata), private and unspecified addresses — the
// attempt records why — and a name that resolves to loopback likewise;
// AllowPrivate delivers to the same receiver.
func testWebhookAddressGuard(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	r := NewReceiver(t, "")
	secret := points.NewWebhookSecret()
	r.SetSecret(secret)
	port := strings.TrimPrefix(r.URL(), "http://127.0.0.1:")
	port = strings.TrimSuffix(port, "/hooks")
	targets := map[string]string{
		"loopback":    r.URL(),
		"localhost":   "http://localhost:" + port + "/hooks",
		"metadata":    "http://169.254.169.254/latest/meta-data/",
		"private":     "http://10.0.0.1:" + port + "/hooks",
		"unspecified": "http://0.0.0.0:" + port + "/hooks",
		"v6loopback":  "http://[::1]:" + port + "/hooks",
	}
	for id, u := range targets {
		e.MustApplyWebhook(ws, points.Webhook{ID: id, URL: u, Secret: secret})
	}
	o := FastDelivery()
	o.AllowPrivate = false
	o.Timeout = 2 * time.Second
	stop := StartDispatcher(t, e.Svc, ws, o)
	e.MustCharge("C1", "g1", 10)
	for id := range targets {
		waitFor(t, 30*time.Second, id+": an attempt refused", func() bool {
			ds, err := ws.Deliveries(e.Ctx, webhook.DeliveryQuery{WebhookID: id})
			if err != nil {
				t.Fatal(err)
			}
			return len(ds) == 1 && ds[0].Attempts > 0
		})
		ds, _ := ws.Deliveries(e.Ctx, webhook.DeliveryQuery{WebhookID: id})
		if d := ds[0]; d.State != webhook.Pending || d.LastStatus != 0 || !strings.Contains(d.LastError, "refused to connect to") ||
			!strings.Contains(d.LastError, "--webhook-allow-private") {
			t.Fatalf("%s: %+v", id, d)
		}
	}
	if n := len(r.Arrivals()); n != 0 {
		t.Fatalf("%d requests reached the receiver", n)
	}
	stop()
	o.AllowPrivate = true
	StartDispatcher(t, e.Svc, ws, o)
	want := EventsFor(t, e, webhook.Endpoint{}, 0)
	want = want[len(want)-1:]
	r.WaitAcked(t, want, 30*time.Second)
}

// testWebhookRedirect: a 3xx is an answer that does not acknowledge; its
// Location is not requested.
func testWebhookRedirect(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	target := NewReceiver(t, "")
	r := NewReceiver(t, "")
	secret := points.NewWebhookSecret()
	r.SetSecret(secret)
	target.SetSecret(secret)
	r.SetAnswer(func(int, Arrival) (int, time.Duration) { return http.StatusFound, 0 })
	e.MustApplyWebhook(ws, points.Webhook{ID: "h", URL: r.URL(), Secret: secret})
	StartDispatcher(t, e.Svc, ws, FastDelivery())
	e.MustCharge("C1", "g1", 10)
	waitFor(t, 30*time.Second, "redirects answered", func() bool { return len(r.Arrivals()) >= 2 })
	ds, _ := ws.Deliveries(e.Ctx, webhook.DeliveryQuery{WebhookID: "h"})
	if len(ds) != 1 || ds[0].State != webhook.Pending || ds[0].LastStatus != http.StatusFound ||
		!strings.Contains(ds[0].LastError, "not followed") {
		t.Fatalf("deliveries %+v", ds)
	}
	if n := len(target.Arrivals()); n != 0 {
		t.Fatalf("the redirect was followed: %d requests", n)
	}
	_ = target
}

// testWebhookRetryWindow: with a short retry window a delivery the
// receiver never acknowledges fails, and its endpoint, failing for the
// whole window, is disabled; the member's later event then proceeds once
// the endpoint is enabled again, and redelivering brings the failed one.
func testWebhookRetryWindow(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	r := NewReceiver(t, "")
	secret := points.NewWebhookSecret()
	r.SetSecret(secret)
	r.SetAnswer(func(int, Arrival) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
	ep := e.MustApplyWebhook(ws, points.Webhook{ID: "h", URL: r.URL(), Secret: secret})
	o := FastDelivery()
	o.RetryWindow = 400 * time.Millisecond
	StartDispatcher(t, e.Svc, ws, o)
	first := e.MustCharge("C1", "g1", 10)
	waitFor(t, 30*time.Second, "the endpoint disabled", func() bool {
		got, err := ws.Webhook(e.Ctx, "h")
		if err != nil {
			t.Fatal(err)
		}
		return !got.Active()
	})
	got, _ := ws.Webhook(e.Ctx, "h")
	if !strings.Contains(got.DisabledReason, "every attempt failed for the retry window") || !strings.Contains(got.DisabledReason, "HTTP 503") {
		t.Fatalf("disabled: %q", got.DisabledReason)
	}
	waitFor(t, 30*time.Second, "the delivery failed", func() bool {
		ds, _ := ws.Deliveries(e.Ctx, webhook.DeliveryQuery{WebhookID: "h", State: webhook.Failed})
		return len(ds) == 1
	})
	ds, _ := ws.Deliveries(e.Ctx, webhook.DeliveryQuery{WebhookID: "h", State: webhook.Failed})
	if d := ds[0]; d.EventID != first.FlowID || d.Attempts < 2 || len(d.Log) != d.Attempts || d.DoneAt.IsZero() ||
		d.Log[len(d.Log)-1].At.Sub(d.Since) < o.RetryWindow {
		t.Fatalf("failed delivery %+v", d)
	}
	// While disabled, nothing is sent.
	second := e.MustCharge("C1", "g2", 10)
	n := len(r.Arrivals())
	time.Sleep(200 * time.Millisecond)
	if len(r.Arrivals()) != n {
		t.Fatal("a disabled endpoint got requests")
	}
	// Enabled again and healthy: the later event proceeds (the failed one
	// does not hold it back); redelivering brings the failed one.
	r.SetAnswer(nil)
	e.MustApplyWebhook(ws, ep.Webhook)
	r.WaitAcked(t, EventsFor(t, e, ep, ep.ScheduledPos)[1:], 30*time.Second)
	if r.Acked()[first.FlowID] {
		t.Fatal("the failed event was delivered before it was redelivered")
	}
	if n, err := ws.RedeliverFailed(e.Ctx, "h", time.Now()); err != nil || n != 1 {
		t.Fatalf("redelivered %d, %v", n, err)
	}
	r.WaitAcked(t, EventsFor(t, e, ep, ep.ScheduledPos), 30*time.Second)
	_ = second
}

// recordAttempt records one outcome.
func recordAttempt(ctx context.Context, ws webhook.Store, o webhook.Outcome) (bool, error) {
	oks, err := ws.RecordAttempts(ctx, []webhook.Outcome{o})
	if err != nil {
		return false, err
	}
	return oks[0], nil
}

// RecordedDeliveries waits up to wait until endpoint id's deliveries
// list every event of ids (a batch is recorded after the receiver's
// answers) and none is leased (an attempt's outcome is recorded after
// the answer, in a batch of outcomes), and returns them.
func RecordedDeliveries(t testing.TB, ctx context.Context, ws webhook.Store, id string, ids []string, wait time.Duration) []webhook.Delivery {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ds, err := ws.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		listed := make(map[string]bool, len(ds))
		for _, d := range ds {
			listed[d.EventID] = true
		}
		missing := slices.ContainsFunc(ids, func(id string) bool { return !listed[id] })
		leased := slices.ContainsFunc(ds, func(d webhook.Delivery) bool { return !d.LeaseUntil.IsZero() })
		if !missing && !leased || time.Now().After(deadline) {
			return ds
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Schedule hands ds (events after from, up to to, of endpoint id) to
// delivery rows, due at now unless they wait for their queue, as a batch
// of the endpoint's cursor that attempted none: false where the cursor is
// not at from, or the endpoint is disabled or its cursor leased.
func Schedule(ctx context.Context, ws webhook.Store, id string, from, to int64, ds []webhook.Queued, now time.Time) (bool, error) {
	const owner = "storetest-schedule"
	if _, ok, err := ws.LeaseEndpoint(ctx, id, owner, now, now.Add(time.Minute)); err != nil || !ok {
		return false, err
	}
	b := webhook.Batch{WebhookID: id, Owner: owner, From: from, To: to, Start: now}
	for _, d := range ds {
		if d.State == "" {
			d.State = webhook.Pending
		}
		if d.NextAt.IsZero() {
			d.NextAt = now
		}
		b.Queued = append(b.Queued, d)
	}
	return ws.CommitBatch(ctx, b)
}

// leaseCounter counts the tries of an endpoint's lease.
type leaseCounter struct {
	webhook.Store
	tries atomic.Int64
}

func (c *leaseCounter) LeaseEndpoint(ctx context.Context, id, owner string, now, until time.Time) (webhook.Endpoint, bool, error) {
	c.tries.Add(1)
	return c.Store.LeaseEndpoint(ctx, id, owner, now, until)
}

// testWebhookLeaseTries: of two servers, the one without an endpoint's
// lease tries it again once a poll, not at every event committed (each
// try is a write).
func testWebhookLeaseTries(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	r, ep := subscribed(t, e, ws)
	counted := &leaseCounter{Store: ws}
	o := FastDelivery()
	o.Poll = 250 * time.Millisecond
	start := time.Now()
	StartDispatcher(t, e.Svc, counted, o)
	StartDispatcher(t, e.Svc, counted, o)
	mixedWrites(t, e, 4, 6)
	want := EventsFor(t, e, ep, ep.ScheduledPos)
	r.WaitAcked(t, want, 30*time.Second)
	polls := int64(time.Since(start)/o.Poll) + 1
	if n := counted.tries.Load(); n > 2*polls+4 {
		t.Errorf("%d tries of the lease in %d polls for %d events: tried at every event", n, polls, len(want))
	}
}

// testWebhookBatchPaging: events delivered one a batch are listed page
// after page with no gap; one redelivered is listed by its row's state
// only, not also as delivered by its batch.
func testWebhookBatchPaging(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	ctx := e.Ctx
	ep := e.MustApplyWebhook(ws, points.Webhook{ID: "h", URL: "https://h.example.com/e"})
	for i := range 5 {
		e.MustCharge("C1", fmt.Sprint("p", i), 10)
	}
	evs := EventsFor(t, e, ep, ep.ScheduledPos)
	if len(evs) != 5 {
		t.Fatalf("%d events", len(evs))
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	from := ep.ScheduledPos
	for _, ev := range evs {
		if _, ok, err := ws.LeaseEndpoint(ctx, "h", "A", now, now.Add(time.Minute)); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if ok, err := ws.CommitBatch(ctx, webhook.Batch{WebhookID: "h", Owner: "A", From: from, To: ev.Pos, Start: now,
			Delivered: []webhook.BatchItem{{Pos: ev.Pos, At: now, Status: 200}}, LeaseUntil: now.Add(time.Minute)}); err != nil || !ok {
			t.Fatal(ok, err)
		}
		from = ev.Pos
	}
	page := func(q webhook.DeliveryQuery) []int64 {
		t.Helper()
		var ps []int64
		for {
			ds, err := ws.Deliveries(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				ps = append(ps, d.Pos)
			}
			if len(ds) < q.Limit {
				return ps
			}
			q.Before = ds[len(ds)-1].Pos
		}
	}
	want := []int64{evs[4].Pos, evs[3].Pos, evs[2].Pos, evs[1].Pos, evs[0].Pos}
	if got := page(webhook.DeliveryQuery{WebhookID: "h", Limit: 2}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages of 2: %v, want %v", got, want)
	}
	if err := ws.Redeliver(ctx, "h", evs[2].Pos, now); err != nil {
		t.Fatal(err)
	}
	delivered := []int64{evs[4].Pos, evs[3].Pos, evs[1].Pos, evs[0].Pos}
	if got := page(webhook.DeliveryQuery{WebhookID: "h", State: webhook.Delivered, Limit: 2}); fmt.Sprint(got) != fmt.Sprint(delivered) {
		t.Fatalf("delivered, pages of 2, one redelivered: %v, want %v", got, delivered)
	}
	if got := page(webhook.DeliveryQuery{WebhookID: "h", State: webhook.Pending, Limit: 2}); fmt.Sprint(got) != fmt.Sprint([]int64{evs[2].Pos}) {
		t.Fatalf("pending: %v, want the redelivered one", got)
	}
	if got := page(webhook.DeliveryQuery{WebhookID: "h", Limit: 2}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("every state, one redelivered: %v, want %v", got, want)
	}
}

// testWebhookRestart: a dispatcher that stops gives up its endpoints'
// leases, so one started in its place delivers at once, not when the
// lease would have run out.
func testWebhookRestart(t *testing.T, open WebhookOpener) {
	e, ws := webhookEnv(t, open)
	r, ep := subscribed(t, e, ws)
	o := FastDelivery() // a lease of 3 × 5 s
	stop := StartDispatcher(t, e.Svc, ws, o)
	e.MustCharge("C1", "r1", 10)
	r.WaitAcked(t, EventsFor(t, e, ep, ep.ScheduledPos), 30*time.Second)
	stop()
	StartDispatcher(t, e.Svc, ws, o)
	e.MustCharge("C1", "r2", 10)
	r.WaitAcked(t, EventsFor(t, e, ep, ep.ScheduledPos), 3*time.Second)
}

// subscribed is a receiver subscribed to every event as endpoint "h".
func subscribed(t *testing.T, e *Env, ws webhook.Store) (*Receiver, webhook.Endpoint) {
	t.Helper()
	r := NewReceiver(t, "")
	rep, err := e.Svc.Apply(e.Ctx, points.Tenant{Webhooks: []points.Webhook{{ID: "h", URL: r.URL()}}})
	if err != nil {
		t.Fatal(err)
	}
	r.SetSecret(rep.WebhookSecrets["h"])
	ep, err := ws.Webhook(e.Ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	return r, ep
}
