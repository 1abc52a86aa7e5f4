package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"jifen/points"
	"jifen/storetest"
	"jifen/top"
	"jifen/webhook"
)

// TestWebhooks_KillMidDelivery: `jifen apply` provisions a webhook and
// prints its generated secret; `jifen serve` delivers every flow to a
// real receiver. Killed with SIGKILL while the receiver holds a request
// open, then started again, it delivers everything — on PostgreSQL a
// second server, running all along, takes the dead one's delivery over
// once its lease runs out. Stopped with SIGTERM during an attempt, a
// server waits for it and records it.
func TestWebhooks_KillMidDelivery(t *testing.T) {
	for kind, mkdb := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			db := mkdb(t)
			app, secret := provision(t, db, 3, 1000)
			r := storetest.NewReceiver(t, "")
			applyWebhook(t, db, r, "b1")
			// The database as it is now, read by this process: a SQLite
			// store reads the events on disk when it opened.
			withStore := func(f func(ledgerStore)) {
				t.Helper()
				store, err := openStore(context.Background(), db)
				if err != nil {
					t.Fatal(err)
				}
				defer store.Close()
				f(store)
			}
			var ep webhook.Endpoint
			withStore(func(s ledgerStore) {
				var err error
				if ep, err = s.Webhook(context.Background(), "crm-sync"); err != nil {
					t.Fatal(err)
				}
			})
			events := func() (evs []points.Event) {
				withStore(func(s ledgerStore) {
					evs = storetest.EventsFor(t, &storetest.Env{T: t, Ctx: context.Background(), Svc: points.New(s, nil, nil)}, ep, ep.ScheduledPos)
				})
				return evs
			}

			// The first request is held open until its connection closes.
			var held atomic.Int32
			r.SetAnswer(func(n int, a storetest.Arrival) (int, time.Duration) {
				if n == 1 {
					held.Add(1)
					return http.StatusOK, time.Hour
				}
				return http.StatusOK, 0
			})
			flags := []string{"--webhook-allow-private", "--webhook-timeout", "2s"}
			a := startChild(t, db, flags...)
			var other *child
			if kind == "postgres" {
				other = startChild(t, db, flags...)
			}
			charge := func(c *child, n int) {
				t.Helper()
				client := c.client(app, secret)
				for i := range n {
					extraCharge(t, client, fmt.Sprintf("c%d", i%3), fmt.Sprintf("%s-%d-%d", c.url, n, i))
				}
			}
			charge(a, 6)
			deadline := time.Now().Add(30 * time.Second)
			for held.Load() == 0 || r.InFlight() == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("no request held open\n%s", a.logs)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Kill whichever server holds the request: on PostgreSQL both
			// deliver, and the other one must take over. Killing both
			// covers it.
			a.kill()
			if other != nil {
				charge(other, 3)
				if r.InFlight() > 0 {
					other.kill()
					other = startChild(t, db, flags...)
				}
			}
			a = startChild(t, db, flags...)
			charge(a, 3)

			want := events()
			if len(want) != 6+3+map[bool]int{true: 3}[other != nil] {
				t.Fatalf("%d events to deliver", len(want))
			}
			r.WaitAcked(t, want, 90*time.Second)
			r.Check(t, want)

			// SIGTERM during an attempt: the server waits for it and
			// records it before it exits.
			if other != nil {
				other.stop()
			}
			var slow atomic.Int32
			r.SetAnswer(func(n int, _ storetest.Arrival) (int, time.Duration) {
				slow.Add(1)
				return http.StatusOK, 700 * time.Millisecond
			})
			charge(a, 1)
			for slow.Load() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			a.stop()
			all := events()
			last := all[len(all)-1]
			withStore(func(s ledgerStore) {
				_, ds, err := s.EventDeliveries(context.Background(), last.BrandID, last.ID)
				if err != nil || len(ds) != 1 || ds[0].State != webhook.Delivered {
					b, _ := json.Marshal(ds)
					t.Fatalf("the delivery in flight at SIGTERM: %s, %v\n%s", b, err, a.logs)
				}
			})
		})
	}
}

// TestWebhooks_RetentionHoldsBack: with --event-retention, the events an
// active endpoint has not got stay while its receiver refuses them, then
// all arrive, in order, once it answers; only then do they go.
func TestWebhooks_RetentionHoldsBack(t *testing.T) {
	db := storeKinds["sqlite"](t)
	app, secret := provision(t, db, 3, 1000) // six events
	r := storetest.NewReceiver(t, "")
	applyWebhook(t, db, r, "")
	r.SetAnswer(func(int, storetest.Arrival) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
	s := startChild(t, db, "--webhook-allow-private", "--webhook-timeout", "2s", "--event-retention", "1s")
	client := s.client(app, secret)
	for i := range 6 {
		extraCharge(t, client, fmt.Sprintf("c%d", i%3), fmt.Sprintf("held-%d", i))
	}
	removed := func() float64 {
		v, _ := metricValue(scrapeMetrics(t, s.url), "jifen_events_removed_total", nil)
		return v
	}
	deadline := time.Now().Add(20 * time.Second)
	for removed() < 6 { // the six before the endpoint was added
		if time.Now().After(deadline) {
			t.Fatalf("%v events removed after 20 s, want the 6 before the endpoint\n%s", removed(), s.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // removals go on, every second
	if n := removed(); n != 6 {
		t.Fatalf("%v events removed while the receiver refused the endpoint's first, want 6", n)
	}
	store, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.AllEvents(t, context.Background(), points.New(store, nil, nil), points.EventQuery{After: 6})
	store.Close()
	if len(want) != 6 || want[0].Pos != 7 {
		t.Fatalf("the endpoint's events left: %+v", want)
	}
	r.SetAnswer(func(int, storetest.Arrival) (int, time.Duration) { return http.StatusOK, 0 })
	r.WaitAcked(t, want, 90*time.Second)
	r.Check(t, want)
	deadline = time.Now().Add(20 * time.Second)
	for removed() < 11 { // then all but the newest go
		if time.Now().After(deadline) {
			t.Fatalf("%v events removed after they were delivered, want 11\n%s", removed(), s.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// applyWebhook adds the webhook crm-sync of the flows' events (of brand,
// or every brand when it is "") to r with jifen apply, and hands r the
// secret apply generated and printed.
func applyWebhook(t *testing.T, db string, r *storetest.Receiver, brand string) {
	t.Helper()
	only := ""
	if brand != "" {
		only = fmt.Sprintf("\n    brands: [%q]", brand)
	}
	tf := filepath.Join(t.TempDir(), "tenant.yaml")
	if err := os.WriteFile(tf, []byte(fmt.Sprintf(`webhooks:
  - webhook_id: "crm-sync"
    url: %q%s
    events: ["point.flow.created"]
`, r.URL(), only)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"apply", "-f", tf, "--db", db}, &out, &errb); err != nil {
		t.Fatalf("apply: %v %s", err, errb.String())
	}
	m := regexp.MustCompile(`generated secret for webhook crm-sync: (whsec_\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("apply printed no webhook secret: %s", out.String())
	}
	r.SetSecret(m[1])
}

// extraCharge grants 5 points to customer of provision's brand through the
// gateway, under order as its out_biz_id and request id.
func extraCharge(t *testing.T, client *top.Client, customer, order string) {
	t.Helper()
	resp, err := client.Call(context.Background(), top.MethodExtraCharge, map[string]any{"param_extra_charge_point_open_req": map[string]any{
		"biz_channel": "KRY", "out_brand_id": "kry-b1", "out_shop_id": "kry-s1", "customer_id": customer,
		"change_point": 5, "out_biz_id": order, "operator_id": "op", "request_id": order}})
	if err != nil || resp.Err != nil {
		t.Fatalf("charge %s: %v %+v", order, err, resp)
	}
}
