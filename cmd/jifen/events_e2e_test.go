package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jifen/points"
	"jifen/top"
)

// TestEvents_PullExactlyOnceInOrder: a consumer that keeps its cursor and
// long-polls GET /admin/v1/events sees every committed flow's event
// exactly once, each member's in the order of its flows, while payments
// run — across a server SIGKILLed and started again and, on PostgreSQL,
// across two servers on one database (the consumer moves between them with
// its cursor).
func TestEvents_PullExactlyOnceInOrder(t *testing.T) {
	for name, dbFor := range storeKinds {
		t.Run(name, func(t *testing.T) {
			db := dbFor(t)
			const customers = 6
			app, secret := provision(t, db, customers, 1_000_000)
			token := "events-test-token-0123456789"
			servers := []*child{startChild(t, db, "--admin-token", token)}
			if name == "postgres" {
				servers = append(servers, startChild(t, db, "--admin-token", token))
			}
			var urls atomic.Pointer[[]string]
			setURLs := func() {
				var u []string
				for _, s := range servers {
					u = append(u, s.url+"/admin/v1/events")
				}
				urls.Store(&u)
			}
			setURLs()

			// The consumer: its cursor is the last position it received.
			var (
				seen    []json.RawMessage
				cursor  int64
				stopped = make(chan struct{})
				done    = make(chan struct{})
			)
			go func() {
				defer close(done)
				for i := 0; ; i++ {
					u := *urls.Load()
					wait := 2 * time.Second
					select {
					case <-stopped:
						wait = 0
					default:
					}
					evs, next, err := apiEvents(u[i%len(u)], token)(context.Background(), points.EventQuery{After: cursor, Limit: 50}, wait)
					if err != nil {
						time.Sleep(50 * time.Millisecond) // a server down: ask another, or the same once it is back
						continue
					}
					seen = append(seen, evs...)
					cursor = next
					if wait == 0 && len(evs) == 0 {
						return
					}
				}
			}()

			pay := func(phase, w, n int) {
				clients := make([]*top.Client, len(servers))
				for i, s := range servers {
					clients[i] = s.client(app, secret)
				}
				for i := range n {
					amount := 7
					if i%10 == 9 {
						amount = 5_000_000 // more than the member has: refused, no event
					}
					c := clients[(w+i)%len(clients)]
					resp, err := c.Call(context.Background(), top.MethodConsumePoint, map[string]any{"param_consume_point_open_req": map[string]any{
						"biz_channel": "KRY", "out_brand_id": "kry-b1", "out_shop_id": "kry-s1", "customer_id": fmt.Sprintf("c%d", (w+i)%customers),
						"operator_id": "op", "operator_name": "收银员", "change_point": amount, "out_biz_id": fmt.Sprintf("p%d-w%d-%d", phase, w, i),
						"request_id": fmt.Sprintf("p%d-w%d-%d", phase, w, i)}})
					if err == nil && resp.Err != nil {
						t.Errorf("payment refused at the gateway: %+v", resp.Err)
						return
					}
				}
			}
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() { pay(1, w, 40) })
			}
			time.Sleep(300 * time.Millisecond)
			servers[0].kill() // mid-load: some payments fail, or commit unanswered
			wg.Wait()
			servers[0] = startChild(t, db, "--admin-token", token)
			setURLs()
			for w := range 4 {
				wg.Go(func() { pay(2, w, 40) })
			}
			wg.Wait()
			close(stopped)
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the consumer did not catch up within a minute")
			}

			// Against the ledger: every flow's event once, in member order.
			store, err := openStore(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			want := map[string]int64{} // flow id → seq
			if err := store.EachAccount(context.Background(), func(r points.AccountRows) error {
				for _, f := range r.Flows {
					want[f.ID] = f.Seq
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			last := map[string]int64{}
			var lastPos int64
			for _, raw := range seen {
				var ce struct {
					ID, Type, Subject string
					Position          int64 `json:"jifenposition"`
					Data              points.FlowEventData
				}
				if err := json.Unmarshal(raw, &ce); err != nil {
					t.Fatal(err)
				}
				if ce.Position <= lastPos {
					t.Fatalf("event %s at position %d after position %d", ce.ID, ce.Position, lastPos)
				}
				lastPos = ce.Position
				if ce.Type != points.EventFlowCreated {
					continue
				}
				if got[ce.ID] {
					t.Fatalf("event %s received twice", ce.ID)
				}
				got[ce.ID] = true
				seq, ok := want[ce.ID]
				if !ok {
					t.Fatalf("event %s names no stored flow", ce.ID)
				}
				if seq <= last[ce.Subject] {
					t.Fatalf("member %s: flow #%d received after #%d", ce.Subject, seq, last[ce.Subject])
				}
				last[ce.Subject] = seq
			}
			for id := range want {
				if !got[id] {
					t.Fatalf("flow %s committed, its event never received (%d flows, %d flow events)", id, len(want), len(got))
				}
			}
			if len(want) < customers+100 {
				t.Fatalf("only %d flows: the load did not run", len(want))
			}
			t.Logf("%d flows, each event received once, in order (%d events in all)", len(want), len(seen))
		})
	}
}

// TestEventsTail: jifen events tail prints events a line each, from the
// database or from a server's admin API, and refuses an unknown type.
func TestEventsTail(t *testing.T) {
	db := t.TempDir() + "/jifen.db"
	provision(t, db, 3, 100) // three customers created, three charges
	lines := func(args ...string) []string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(context.Background(), append([]string{"events", "tail", "--no-follow"}, args...), &out, &errb); err != nil {
			t.Fatalf("events tail %v: %v\n%s", args, err, errb.String())
		}
		return strings.Split(strings.TrimSpace(out.String()), "\n")
	}
	all := lines("--db", db)
	flows := lines("--db", db, "--type", points.EventFlowCreated)
	if len(all) != 6 || len(flows) != 3 {
		t.Fatalf("%d events, %d of flows:\n%s", len(all), len(flows), strings.Join(all, "\n"))
	}
	var ce struct{ Type, Subject string }
	if err := json.Unmarshal([]byte(flows[0]), &ce); err != nil || ce.Type != points.EventFlowCreated || ce.Subject != "c0" {
		t.Fatalf("first flow event %s (%v)", flows[0], err)
	}
	after := lines("--db", db, "--after", "5")
	if len(after) != 1 || after[0] != all[5] {
		t.Fatalf("after 5: %q", after)
	}
	s := startChild(t, db, "--admin-token", "tail-test-token-0123456789")
	viaAPI := lines("--url", s.url+"/admin/v1/events", "--admin-token", "tail-test-token-0123456789")
	if strings.Join(viaAPI, "\n") != strings.Join(all, "\n") {
		t.Fatalf("through the API:\n%s\nfrom the database:\n%s", strings.Join(viaAPI, "\n"), strings.Join(all, "\n"))
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"events", "tail", "--db", db, "--type", "point.nope"}, &out, &errb); err == nil ||
		!strings.Contains(err.Error(), "point.nope") {
		t.Fatalf("unknown type: %v", err)
	}
	// A cursor beyond the newest event is refused, from the database and
	// through the API alike, rather than followed in silence.
	for _, src := range [][]string{{"--db", db}, {"--url", s.url + "/admin/v1/events", "--admin-token", "tail-test-token-0123456789"}} {
		err := run(context.Background(), append([]string{"events", "tail", "--after", "7"}, src...), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "after") || !strings.Contains(err.Error(), "本库没有位置 7 的事件") {
			t.Fatalf("events tail %v --after 7 with 6 events: %v", src, err)
		}
	}
}

// TestServe_EventRetention: `jifen serve --event-retention` removes the
// events older than the period (never the newest), counts them in its
// metrics, and a pull from before them is refused naming after, through
// the admin API and jifen events tail alike.
func TestServe_EventRetention(t *testing.T) {
	db := t.TempDir() + "/jifen.db"
	provision(t, db, 3, 100) // six events
	const token = "retention-test-token-0123456789"
	s := startChild(t, db, "--admin-token", token, "--event-retention", "2s")
	deadline := time.Now().Add(20 * time.Second)
	for {
		removed, _ := metricValue(scrapeMetrics(t, s.url), "jifen_events_removed_total", nil)
		if removed == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v events removed after 20 s, want 5 (all but the newest)\n%s", removed, s.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h, _ := metricValue(scrapeMetrics(t, s.url), "jifen_events_horizon_position", nil); h != 5 {
		t.Fatalf("horizon %v, want 5", h)
	}
	get := func(after string) (int, string) {
		t.Helper()
		return adminCall(t, s.url, token, http.MethodGet, "/admin/v1/events?after="+after, "")
	}
	if code, body := get("0"); code != http.StatusBadRequest || !strings.Contains(body, `"field":"after"`) ||
		!strings.Contains(body, "请从 5 起读取") {
		t.Fatalf("a pull from the start: %d %s", code, body)
	}
	if code, body := get("5"); code != http.StatusOK || !strings.Contains(body, `"next":"6"`) {
		t.Fatalf("a pull from the horizon: %d %s", code, body)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"events", "tail", "--no-follow", "--url", s.url + "/admin/v1/events",
		"--admin-token", token}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "请从 5 起读取") {
		t.Fatalf("events tail from the start: %v", err)
	}
}

// TestEventsPrune: `jifen events prune` removes, once, what
// --event-retention would: nothing too young, then all but the newest
// event once they are old enough (what holds events back is the stores'
// conformance test, TestWebhooks/Retention).
func TestEventsPrune(t *testing.T) {
	db := t.TempDir() + "/jifen.db"
	provision(t, db, 3, 100) // six events
	jifen := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append(args, "--db", db), &out, &errb)
		return out.String() + errb.String(), err
	}
	if out, err := jifen("events", "prune"); err == nil || !strings.Contains(out+err.Error(), "--older-than") {
		t.Fatalf("prune without --older-than: %v %s", err, out)
	}
	if out, err := jifen("events", "prune", "--older-than", "1h"); err != nil || !strings.Contains(out, "removed 0 events") {
		t.Fatalf("prune of young events: %v %s", err, out)
	}
	time.Sleep(10 * time.Millisecond)
	if out, err := jifen("events", "prune", "--older-than", "1ms"); err != nil ||
		!strings.Contains(out, "removed 5 events; events through position 5 are gone") {
		t.Fatalf("prune: %v %s", err, out)
	}
	lines := func() string {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"events", "tail", "--no-follow", "--after", "5", "--db", db}, &out, &errb); err != nil {
			t.Fatalf("tail after the horizon: %v %s", err, errb.String())
		}
		return out.String()
	}
	if n := strings.Count(lines(), "\n"); n != 1 {
		t.Fatalf("%d events left, want the newest", n)
	}
}
