package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"jifen/ledger"
	"jifen/points"
)

func init() {
	extra = append(extra,
		suiteTest{"EventsOfCustomersAndRules", testEventsOfCustomersAndRules},
		suiteTest{"EventsPaging", testEventsPaging},
		suiteTest{"EventsWhileWriting", func(t *testing.T, open Opener) {
			e := NewEnv(t, open)
			EventsExactlyOnce(t, e, e.Svc, points.New(e.Store, e.Clock, nil))
		}},
	)
}

// AllEvents reads every event through svc, limit at a time, checking that
// positions only grow.
func AllEvents(t testing.TB, ctx context.Context, svc *points.Service, q points.EventQuery) []points.Event {
	t.Helper()
	var all []points.Event
	for {
		evs, err := svc.Events(ctx, q)
		if err != nil {
			t.Fatalf("events after %d: %v", q.After, err)
		}
		if len(evs) == 0 {
			return all
		}
		for _, ev := range evs {
			if ev.Pos <= q.After {
				t.Fatalf("event %s at position %d after asking for those after %d", ev.ID, ev.Pos, q.After)
			}
			q.After = ev.Pos
		}
		all = append(all, evs...)
	}
}

// CheckFlowEvents checks the events against the ledger: every flow has
// exactly one point.flow.created event, with the flow's id; every such
// event has its flow (a write refused or rolled back left none); a
// member's events are in the order of its flows; and each event's data
// says what its flow did and the member's points right after it. Every
// test of the suite ends with it.
func CheckFlowEvents(t testing.TB, ctx context.Context, st Store, svc *points.Service) {
	t.Helper()
	evs := AllEvents(t, ctx, svc, points.EventQuery{Limit: 7})
	byID := map[string]points.Event{}
	for _, ev := range evs {
		if ev.Type != points.EventFlowCreated {
			continue
		}
		if _, dup := byID[ev.BrandID+"/"+ev.ID]; dup {
			t.Fatalf("event %s recorded twice", ev.ID)
		}
		byID[ev.BrandID+"/"+ev.ID] = ev
	}
	horizon, err := svc.EventHorizon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flows := 0
	err = st.EachAccount(ctx, func(r points.AccountRows) error {
		var frozen, debt, lastPos int64
		for _, f := range r.Flows {
			flows++
			frozen += f.DeltaFrozen
			debt += f.DeltaDebt
			ev, ok := byID[f.BrandID+"/"+f.ID]
			if !ok && horizon > 0 && lastPos == 0 {
				continue // removed after the retention period, as were any before it
			}
			if !ok {
				return fmt.Errorf("flow %s (%s #%d of %s) has no event", f.ID, f.Type, f.Seq, f.CustomerID)
			}
			if ev.Pos <= lastPos {
				return fmt.Errorf("flow %s of %s: event at %d, after the event of the flow before it at %d", f.ID, f.CustomerID, ev.Pos, lastPos)
			}
			lastPos = ev.Pos
			var d points.FlowEventData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return fmt.Errorf("event %s: %v", ev.ID, err)
			}
			want := points.FlowEventData{FlowID: f.ID, BrandID: f.BrandID, CustomerID: f.CustomerID, Seq: f.Seq,
				BizType: string(f.Type), ChangePoint: f.ChangePoint(), RemainPoint: f.RemainPoint, OutBizID: f.OutBizID,
				AvailablePoint: f.RemainPoint, FrozenPoint: frozen, DebtPoint: debt}
			got := d
			got.BizTypeDescription, got.ReverseOrderID, got.ShopID, got.ShopName, got.Channel = "", "", "", "", ""
			got.OperatorID, got.OperatorName, got.Reason, got.Time, got.Order = "", "", "", "", nil
			if got != want {
				return fmt.Errorf("event of flow %s says\n%+v\nwant\n%+v", f.ID, got, want)
			}
			if ev.Subject != f.CustomerID || !ev.Time.Equal(f.CreatedAt) {
				return fmt.Errorf("event of flow %s: subject %q time %v, want %q %v", f.ID, ev.Subject, ev.Time, f.CustomerID, f.CreatedAt)
			}
			delete(byID, f.BrandID+"/"+f.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id := range byID {
		t.Fatalf("event %s names no stored flow (%d flows, %d events)", id, flows, len(evs))
	}
}

// testEventsOfCustomersAndRules: a customer created or changed and a rule
// changed each say so once; storing what is stored already says nothing.
func testEventsOfCustomersAndRules(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	start := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{})
	created := map[string]bool{}
	for _, ev := range start {
		if ev.Type == points.EventCustomerCreated {
			created[ev.Subject] = true
		}
	}
	if len(created) != 4 || !created["C1"] || !created["X1"] {
		t.Fatalf("provisioning four customers: events %+v", start)
	}
	after := start[len(start)-1].Pos
	out, err := e.Svc.CreateCustomer(e.Ctx, e.Caller, points.CreateCustomerRequest{Target: points.Target{BrandID: "B1"}, RequestID: e.ReqID(),
		Customer: ledger.Customer{Channel: "KRY", CustomerType: 1, OuterType: "alipay", OuterID: "ali-7", Name: "赵六"}})
	if err != nil {
		t.Fatal(err)
	}
	// The same customer again (a duplicate) and a refused charge: nothing.
	_, err = e.Svc.CreateCustomer(e.Ctx, e.Caller, points.CreateCustomerRequest{Target: points.Target{BrandID: "B1"}, RequestID: e.ReqID(),
		Customer: ledger.Customer{Channel: "KRY", CustomerType: 1, OuterType: "alipay", OuterID: "ali-7"}})
	WantCode(t, err, ledger.CodeCustomerExists)
	c1, err := e.Store.Customer(e.Ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	c1.LevelID = "L2"
	c2, err := e.Store.Customer(e.Ctx, "C2")
	if err != nil {
		t.Fatal(err)
	}
	rule := &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearNever}, Deduction: []ledger.DeductionRule{
		{LevelID: "L1", DeductedPoint: 100, ConsumeMoney: 100, Enable: true}}}
	brand, err := e.Store.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	tenant := points.Tenant{Brands: []points.TenantBrand{{Brand: brand, Rule: rule}}, Customers: []ledger.Customer{c1, c2}}
	if _, err := e.Svc.Apply(e.Ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Apply(e.Ctx, tenant); err != nil { // the same again: nothing changes
		t.Fatal(err)
	}
	evs := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{After: after})
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type+" "+ev.Subject)
	}
	want := []string{points.EventCustomerCreated + " " + out.Result, points.EventRuleChanged + " ", points.EventCustomerUpdated + " C1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	var cd points.CustomerEventData
	if err := json.Unmarshal(evs[2].Data, &cd); err != nil || cd.LevelID != "L2" || cd.CustomerID != "C1" || cd.BrandID != "B1" {
		t.Fatalf("customer.updated data %s (%v)", evs[2].Data, err)
	}
	var rd points.RuleEventData
	if err := json.Unmarshal(evs[1].Data, &rd); err != nil || rd.Version != 1 || rd.BrandID != "B1" || len(rd.Rule.Deduction) != 1 {
		t.Fatalf("rule.changed data %s (%v)", evs[1].Data, err)
	}
	for _, ev := range evs {
		if ev.BrandID != "B1" || ev.ID == "" || ev.Time.IsZero() {
			t.Fatalf("event %+v", ev)
		}
		ce, err := ev.CloudEvent()
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]any
		if err := json.Unmarshal(ce, &env); err != nil {
			t.Fatal(err)
		}
		if env["specversion"] != "1.0" || env["source"] != "jifen/B1" || env["id"] != ev.ID || env["type"] != ev.Type ||
			env["datacontenttype"] != "application/json" || env["data"] == nil || env["time"] == "" {
			t.Fatalf("CloudEvent %s", ce)
		}
	}
}

// testEventsPaging: a cursor pages through events in order, and the
// brand and type filters select.
func testEventsPaging(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	e.MustCharge("C1", "g1", 100)
	e.MustConsume("C1", "o1", 30)
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r1", nil)); err != nil {
		t.Fatal(err)
	}
	all := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{})
	paged := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{Limit: 2})
	if len(all) != 7 || fmt.Sprint(all) != fmt.Sprint(paged) {
		t.Fatalf("all at once %d events, two at a time %d", len(all), len(paged))
	}
	flows := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{Types: []string{points.EventFlowCreated}})
	if len(flows) != 3 || flows[0].Subject != "C1" {
		t.Fatalf("flow events %+v", flows)
	}
	var d points.FlowEventData
	if err := json.Unmarshal(flows[2].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.BizType != string(ledger.DeductReverse) || d.ChangePoint != 30 || d.AvailablePoint != 100 || d.Order == nil ||
		*d.Order != (points.OrderTotals{OutBizID: "o1", Spent: 30, Reversed: 30}) {
		t.Fatalf("refund event data %+v", d)
	}
	b2 := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{BrandID: "B2"})
	if len(b2) != 1 || b2[0].Subject != "X1" {
		t.Fatalf("brand B2's events %+v", b2)
	}
	none := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{BrandID: "B2", Types: []string{points.EventFlowCreated}})
	if len(none) != 0 {
		t.Fatalf("B2 flow events %+v", none)
	}
}

// EventsExactlyOnce writes through a and b (two servers over one
// database) from many goroutines while a reader pages through the events
// with a cursor, as a consumer does: it must see every committed flow's
// event exactly once, each member's in the order of its flows.
func EventsExactlyOnce(t *testing.T, e *Env, a, b *points.Service) {
	t.Helper()
	members := []string{"C1", "C2", "C3"}
	for _, m := range members {
		e.MustCharge(m, "g-"+m, 1_000_000)
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	defer cancel()
	start := AllEvents(t, e.Ctx, a, points.EventQuery{})
	cursor := start[len(start)-1].Pos
	var seen []points.Event
	readerDone := make(chan error, 1)
	go func() {
		q := points.EventQuery{After: cursor, Limit: 5}
		for ctx.Err() == nil {
			evs, err := b.Events(e.Ctx, q)
			if err != nil {
				readerDone <- err
				return
			}
			for _, ev := range evs {
				q.After = ev.Pos
			}
			seen = append(seen, evs...)
		}
		readerDone <- nil
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	const perWorker = 25
	for w := range 6 {
		svc := a
		if w%2 == 1 {
			svc = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				r := e.Order(fmt.Sprintf("w%d-%d", w, i), 3)
				r.CustomerID = members[(w+i)%len(members)]
				if _, err := svc.Consume(e.Ctx, e.Caller, r); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	cancel()
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	last := cursor
	if len(seen) > 0 {
		last = seen[len(seen)-1].Pos
	}
	seen = append(seen, AllEvents(t, e.Ctx, a, points.EventQuery{After: last})...)
	ids := map[string]bool{}
	lastSeq := map[string]int64{}
	for _, ev := range seen {
		if ids[ev.ID] {
			t.Fatalf("event %s seen twice", ev.ID)
		}
		ids[ev.ID] = true
		var d points.FlowEventData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Seq <= lastSeq[d.CustomerID] {
			t.Fatalf("member %s: flow #%d seen after #%d", d.CustomerID, d.Seq, lastSeq[d.CustomerID])
		}
		lastSeq[d.CustomerID] = d.Seq
	}
	if len(ids) != 6*perWorker {
		t.Fatalf("saw %d events of %d payments", len(ids), 6*perWorker)
	}
	CheckFlowEvents(t, e.Ctx, e.Store, a)
}
