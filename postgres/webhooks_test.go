package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"jifen/points"
	"jifen/storetest"
)

// TestWebhooks_TwoDispatchers: two servers (two stores on one schema,
// two services, two dispatchers) write and deliver at once; each event
// reaches the endpoint exactly once — the receiver counts every request
// — never twice at once, a member's in order.
func TestWebhooks_TwoDispatchers(t *testing.T) {
	t.Parallel()
	a := OpenTest(t)
	b, err := Open(context.Background(), testDSN(t), Options{Schema: a.schema, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	e := storetest.NewEnv(t, func(testing.TB) storetest.Store { return a })
	svcB := points.New(b, e.Clock, nil)
	r := storetest.NewReceiver(t, "")
	secret := points.NewWebhookSecret()
	r.SetSecret(secret)
	// Answers take a moment, so that the servers' attempts overlap.
	r.SetAnswer(func(n int, _ storetest.Arrival) (int, time.Duration) {
		return 204, time.Duration(n%5) * 5 * time.Millisecond
	})
	ep := e.MustApplyWebhook(a, points.Webhook{ID: "h", URL: r.URL(), Secret: secret})
	o := storetest.FastDelivery()
	o.Workers = 4
	storetest.StartDispatcher(t, e.Svc, a, o)
	storetest.StartDispatcher(t, svcB, b, o)

	members := []string{"C1", "C2", "C3"}
	for _, m := range members {
		e.MustCharge(m, "g-"+m, 1_000_000)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		svc := e.Svc
		if w%2 == 1 {
			svc = svcB
		}
		wg.Go(func() {
			for i := range 15 {
				req := e.Order(fmt.Sprintf("w%d-%d", w, i), 3)
				req.CustomerID = members[(w+i)%len(members)]
				if _, err := svc.Consume(e.Ctx, e.Caller, req); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := storetest.EventsFor(t, e, ep, ep.ScheduledPos)
	if len(want) != 3+4*15 {
		t.Fatalf("%d events", len(want))
	}
	r.WaitAcked(t, want, 60*time.Second)
	r.Check(t, want)
	// Give a stray duplicate time to arrive, then count.
	time.Sleep(300 * time.Millisecond)
	requests := map[string]int{}
	for _, ar := range r.Arrivals() {
		requests[ar.ID]++
	}
	for _, ev := range want {
		if n := requests[ev.ID]; n != 1 {
			t.Errorf("event %s (at %d) sent %d times, want once", ev.ID, ev.Pos, n)
		}
	}
}
