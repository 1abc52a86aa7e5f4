package sqlite

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
	"jifen/storetest"
	"jifen/webhook"
)

// TestQueryPlans runs the service's operations and every read, then asks
// SQLite how it runs each query seen: every key the query names must be
// used by the index it searches, and no query with a WHERE clause may scan
// a whole table. Without statistics SQLite's planner may prefer an index
// that serves the ORDER BY over one that serves the WHERE; on a ledger
// that grows, such a plan gets slower with every write.
func TestQueryPlans(t *testing.T) {
	s, seen := exercise(t)

	// Keys a query names that its index need not use: they only narrow
	// rows the index found (a version checked, a filter on a page).
	notKeys := map[string]bool{"version": true, "remaining": true, "type": true, "shop_id": true, "channel": true, "flow_id": true,
		"operator_id": true, "operator_name": true}
	eq := regexp.MustCompile(`(\w+) = \+?\?`)
	params := regexp.MustCompile(`SCAN \w+ VIRTUAL TABLE INDEX \d+:`)
	if len(seen) < 30 {
		t.Errorf("only %d queries seen", len(seen))
	}
	for q := range seen {
		plan := explain(t, s, q)
		short := strings.Join(strings.Fields(q), " ")
		// A query marked as reading the whole ledger (verify) may scan;
		// any may scan its parameters (json_each of a list).
		if strings.Contains(q, "WHERE") && strings.Contains(params.ReplaceAllString(plan, ""), "SCAN ") &&
			!strings.Contains(q, "/* whole ledger */") {
			t.Errorf("plan scans a table:\n  %s\n  %s", short, plan)
		}
		// A page of one account's flows comes off the index in order, not
		// from a sort of all the account's flows.
		if strings.Contains(q, "FROM flows WHERE brand_id = +? AND customer_id = +?") && strings.Contains(q, "LIMIT") &&
			strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("plan sorts an account's flows:\n  %s\n  %s", short, plan)
		}
		// Nor does a page of a brand's flows come from a sort of all of
		// them (ties on the time may be sorted).
		if strings.Contains(q, "FROM flows") && strings.Contains(q, "LIMIT") &&
			strings.Contains(plan, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("plan sorts a brand's flows:\n  %s\n  %s", short, plan)
		}
		for _, m := range eq.FindAllStringSubmatch(q, -1) {
			if col := m[1]; !notKeys[col] && !strings.Contains(plan, col+"=?") {
				t.Errorf("plan does not search by %s:\n  %s\n  %s", col, short, plan)
			}
		}
	}
}

func explain(t *testing.T, s *Store, q string) string {
	t.Helper()
	rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, make([]any, strings.Count(q, "?"))...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return strings.Join(out, "; ")
}

// exercise runs the service's operations and every read on a new store,
// and returns the store (open) and every query the row helpers ran.
func exercise(t *testing.T) (*Store, map[string]bool) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	queryHook = func(q string) { mu.Lock(); seen[q] = true; mu.Unlock() }

	path := filepath.Join(t.TempDir(), "jifen.db")
	e := storetest.NewEnv(t, func(t testing.TB) storetest.Store { return MustOpenAt(t, path, Options{}) })
	ctx := e.Ctx
	e.MustCharge("C1", "G1", 100)
	e.MustConsume("C1", "O1", 50)
	if _, err := e.Svc.Reverse(ctx, e.Caller, e.Reverse("O1", "R1", storetest.P(10))); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []int64{2, 3} {
		if _, err := e.Svc.Operate(ctx, e.Caller, points.OperateRequest{Target: storetest.B1S1, Type: typ, Points: 5,
			OuterOrderID: "H1", Customer: points.CustomerLookup{Mobile: "13800000001"}, CustomerKey: "13800000001", OperatorID: "op1",
			RequestID: e.ReqID()}); err != nil {
			t.Fatalf("operate %d: %v", typ, err)
		}
	}
	for _, q := range []points.FlowsRequest{
		{Target: storetest.B1S1, CustomerID: "C1"},
		{Target: points.Target{BrandID: "B1", Channel: "KRY"}, CustomerID: "C1", OutBizLike: "O", Type: string(ledger.DeductFromConsume),
			Start: storetest.Start.Add(-time.Hour), End: storetest.Start.Add(time.Hour), PageNo: 2, PageSize: 5},
	} {
		if _, err := e.Svc.QueryFlows(ctx, e.Caller, q); err != nil {
			t.Fatalf("QueryFlows: %v", err)
		}
	}
	if _, err := e.Svc.FindCustomer(ctx, e.Caller, points.CustomerLookup{Target: storetest.B1S1, OuterType: "x", OuterID: "y"}); err == nil {
		t.Error("found a customer by an unknown outer id")
	}
	e.Clock.Advance(400 * 24 * time.Hour)
	if _, err := e.Svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.Store.(*Store)
	for _, read := range []func() error{
		func() error { _, err := s.Apps(ctx); return err },
		func() error { _, err := s.Brands(ctx); return err },
		func() error { _, err := s.BrandByOutID(ctx, "KRY", "kry-b1"); return err },
		func() error { _, err := s.Shops(ctx, "B1"); return err },
		func() error { _, err := s.ShopByOutID(ctx, "KRY", "kry-s1"); return err },
		func() error { _, err := s.CustomerByMobile(ctx, "B1", "13800000001"); return err },
		func() error {
			return s.EachMissingFlow(ctx, func(*ledger.Idempotency, *ledger.Reversal) error { return nil })
		},
		func() error {
			_, _, err := s.Flows(ctx, points.FlowQuery{BrandID: "B1", Start: storetest.Start, Limit: 10})
			return err
		},
		func() error {
			_, _, err := s.Flows(ctx, points.FlowQuery{BrandID: "B1", Type: ledger.DeductFromConsume, Limit: 10})
			return err
		},
		func() error {
			_, _, err := s.Flows(ctx, points.FlowQuery{BrandID: "B1", Operator: "op1", Limit: 10})
			return err
		},
		func() error { _, err := s.CustomersByID(ctx, []string{"C1", "C2"}); return err },
		func() error { _, err := s.RuleVersions(ctx, "B1", 10); return err },
		func() error { _, err := s.OrderRows(ctx, "B1", "o1"); return err },
		func() error {
			return s.EachFlow(ctx, points.FlowQuery{BrandID: "B1", Type: ledger.DeductFromConsume}, func(ledger.Flow) error { return nil })
		},
		func() error { _, err := s.DueAccounts(ctx, time.Now(), 10); return err },
		func() error { _, err := s.DueHolds(ctx, time.Now(), 10); return err },
		func() error { return s.EachReversal(ctx, func(ledger.Reversal) error { return nil }) },
		func() error { return s.EachIdempotency(ctx, func(ledger.Idempotency) error { return nil }) },
	} {
		if err := read(); err != nil {
			t.Fatal(err)
		}
	}
	exerciseWebhooks(t, e, s)
	e.MustVerify()
	queryHook = nil
	return s, seen
}

// exerciseWebhooks runs every read and write of the webhooks' state.
func exerciseWebhooks(t *testing.T, e *storetest.Env, s *Store) {
	t.Helper()
	ctx := e.Ctx
	ep := e.MustApplyWebhook(s, points.Webhook{ID: "h", URL: "https://example.com/h"})
	flow := e.MustCharge("C2", "G2", 10)
	evs := storetest.EventsFor(t, e, ep, ep.ScheduledPos)
	now := time.Now()
	if ok, err := storetest.Schedule(ctx, s, "h", ep.ScheduledPos, evs[0].Pos,
		[]webhook.Queued{{Pos: evs[0].Pos, BrandID: "B1", Subject: "C2"}}, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// A batch of the cursor: one event delivered, one queued.
	flow2 := e.MustCharge("C3", "G3", 10)
	e.MustCharge("C1", "G4", 10)
	more := storetest.EventsFor(t, e, ep, evs[0].Pos)
	if _, ok, err := s.LeaseEndpoint(ctx, "h", "o", now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if got, err := s.QueuedMembers(ctx, "h", []webhook.Queue{{BrandID: "B1", Subject: "C2"}, {BrandID: "B1", Subject: "C3"}}); err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	if ok, err := s.CommitBatch(ctx, webhook.Batch{WebhookID: "h", Owner: "o", From: evs[0].Pos, To: more[1].Pos, Start: now,
		Delivered: []webhook.BatchItem{{Pos: more[0].Pos, At: now, Status: 200}},
		Queued: []webhook.Queued{{Pos: more[1].Pos, BrandID: "B1", Subject: "C1", State: webhook.Pending, NextAt: now.Add(time.Hour),
			Attempt: &webhook.Attempt{N: 1, At: now, Status: 500, Error: "x"}}},
		LeaseUntil: now.Add(time.Minute)}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	cs, err := s.ClaimDeliveries(ctx, "o", now, now.Add(time.Minute), 10)
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	if oks, err := s.RecordAttempts(ctx, []webhook.Outcome{{WebhookID: "h", Pos: evs[0].Pos, BrandID: "B1", Subject: "C2", Owner: "o",
		State: webhook.Failed, Attempt: webhook.Attempt{At: now, Error: "x"}, DisableBefore: now.Add(-time.Hour)}}); err != nil || !oks[0] {
		t.Fatal(oks, err)
	}
	for _, read := range []func() error{
		func() error { _, err := s.Webhooks(ctx); return err },
		func() error {
			_, err := s.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "h", Limit: 10})
			return err
		},
		func() error {
			_, err := s.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "h", State: webhook.Failed, Before: 1 << 40, Limit: 10})
			return err
		},
		func() error { _, _, err := s.CountDeliveries(ctx, "h", 10); return err },
		func() error { _, _, err := s.EventDeliveries(ctx, "B1", flow.FlowID); return err },
		func() error { _, _, err := s.EventDeliveries(ctx, "B1", flow2.FlowID); return err },
		func() error {
			_, err := s.Deliveries(ctx, webhook.DeliveryQuery{WebhookID: "h", Before: more[1].Pos, Limit: 10})
			return err
		},
		func() error { return s.Redeliver(ctx, "h", more[0].Pos, now) },
		func() error { _, err := s.RedeliverFailed(ctx, "h", now); return err },
		func() error { return s.Redeliver(ctx, "h", evs[0].Pos, now) },
	} {
		if err := read(); err != nil {
			t.Fatal(err)
		}
	}
}
