package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"jifen/points"
	"jifen/top"
)

// The crash test: run load against a real server, SIGKILL it at a random
// moment, start it again on the same database, and prove that every
// acknowledged write is there with its flow, that no request_id had two
// effects, and that `jifen verify` passes. JIFEN_CRASH_KILLS sets how many
// kills per store (scripts/crash runs it long).

// op is one request of the crash load and what became of it.
type op struct {
	method, param string
	obj           map[string]any
	requestID     string
	state         opState
	result        string // the flow id of an accepted write
}

type opState int

const (
	opUnknown  opState = iota // no answer: the server died, or answered "unavailable"
	opAcked                   // biz_success true: durable, must survive anything
	opBusiness                // a business refusal: nothing written
)

type crashLoad struct {
	t      *testing.T
	client *top.Client
	run    string
	mu     sync.Mutex
	ops    []*op
	seq    int
}

func (l *crashLoad) id(prefix string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return fmt.Sprintf("%s-%s-%d", prefix, l.run, l.seq)
}

// send sends o and records what came of it; false when there was no answer.
func (l *crashLoad) send(ctx context.Context, o *op) bool {
	resp, err := l.client.Call(ctx, o.method, map[string]any{o.param: o.obj})
	if err != nil {
		o.state = opUnknown
		return false
	}
	if resp.Err != nil {
		// A store closing under us answers "unavailable"; anything else
		// is a bug in the load.
		if resp.Err.Code != top.CodeRemoteService {
			l.t.Errorf("%s %s: error_response %+v", o.method, o.requestID, resp.Err)
		}
		o.state = opUnknown
		return false
	}
	return o.answered(l.t, resp)
}

// answered records resp, the service's answer to o: refused
// (opBusiness) or acknowledged with its flow — and a replay of an
// acknowledged write must answer the same flow. False if the answer
// cannot be read.
func (o *op) answered(t *testing.T, resp *top.Response) bool {
	var res struct {
		BizSuccess bool   `json:"biz_success"`
		Result     string `json:"result"`
	}
	if err := json.Unmarshal(resp.Result, &res); err != nil {
		t.Errorf("%s %s: %s: %v", o.method, o.requestID, resp.Result, err)
		return false
	}
	if !res.BizSuccess {
		o.state = opBusiness
		return true
	}
	if o.state == opAcked && res.Result != o.result {
		t.Errorf("%s %s: acknowledged flow %s, replay answers %s", o.method, o.requestID, o.result, res.Result)
	}
	o.state, o.result = opAcked, res.Result
	return true
}

// worker runs order life cycles until ctx ends or the server stops
// answering.
func (l *crashLoad) worker(ctx context.Context, customers int, rng *rand.Rand) {
	for ctx.Err() == nil {
		for _, o := range l.lifeCycle(customers, rng) {
			l.track(o)
			if !l.send(context.Background(), o) {
				return
			}
		}
	}
}

// lifeCycle is one order's operations, each with its request id: pay
// with points, refund part, refund the rest, and now and then a charge.
func (l *crashLoad) lifeCycle(customers int, rng *rand.Rand) []*op {
	base := func() map[string]any {
		return map[string]any{"biz_channel": "KRY", "out_brand_id": "kry-b1", "out_shop_id": "kry-s1",
			"customer_id": fmt.Sprintf("c%d", rng.IntN(customers)), "operator_id": "op", "operator_name": "收银员"}
	}
	b := base()
	order := l.id("order")
	steps := []*op{
		{method: top.MethodConsumePoint, param: "param_consume_point_open_req", obj: with(b, "change_point", 10, "out_biz_id", order)},
		{method: top.MethodReversePoint, param: "param_reverse_consume_point_open_req", obj: with(b, "biz_type", "DEDUCT_FROM_CONSUME_REVERSE",
			"change_point", 3, "out_biz_id", order, "reverse_order_id", order+"-r1")},
		{method: top.MethodReversePoint, param: "param_reverse_consume_point_open_req", obj: with(b, "biz_type", "DEDUCT_FROM_CONSUME_REVERSE",
			"out_biz_id", order, "reverse_order_id", order+"-r2")},
	}
	if rng.IntN(3) == 0 {
		steps = append(steps, &op{method: top.MethodExtraCharge, param: "param_extra_charge_point_open_req",
			obj: with(base(), "change_point", 5, "out_biz_id", order+"-earn")})
	}
	for _, o := range steps {
		o.requestID = l.id("req")
		o.obj["request_id"] = o.requestID
	}
	return steps
}

// track records o, about to be sent, for the checks.
func (l *crashLoad) track(o *op) {
	l.mu.Lock()
	l.ops = append(l.ops, o)
	l.mu.Unlock()
}

// load runs workers until each has stopped (ctx ended, or no answer).
func (l *crashLoad) load(ctx context.Context, workers, customers int, seed uint64) {
	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() { l.worker(ctx, customers, rng) })
	}
	wg.Wait()
}

// settle sends again every request of the load that was acknowledged or
// had no answer: an acknowledged one must replay its flow id; one without
// an answer now gets its one effect (or the replay of it).
func (l *crashLoad) settle(t *testing.T) {
	t.Helper()
	for _, o := range l.ops {
		if o.state == opBusiness {
			continue
		}
		was := o.state
		if !l.send(context.Background(), o) {
			t.Fatalf("%s %s: no answer from the restarted server", o.method, o.requestID)
		}
		if was == opAcked && o.state != opAcked {
			t.Errorf("%s %s: acknowledged, but the restarted server answers a refusal", o.method, o.requestID)
		}
	}
}

// check proves on the database that each accepted request has exactly one
// flow, the one it was answered with, and that nothing else was written.
func (l *crashLoad) check(t *testing.T, db string) {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	flows := map[string][]string{} // request_id → flow ids
	err = store.EachAccount(ctx, func(rows points.AccountRows) error {
		for _, f := range rows.Flows {
			if f.AppKey == "pos" && f.RequestID != "" {
				flows[f.RequestID] = append(flows[f.RequestID], f.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for _, o := range l.ops {
		got := flows[o.requestID]
		delete(flows, o.requestID)
		switch o.state {
		case opAcked:
			accepted++
			if len(got) != 1 || got[0] != o.result {
				t.Errorf("%s %s answered flow %s; stored flows %v", o.method, o.requestID, o.result, got)
			}
		default:
			if len(got) != 0 {
				t.Errorf("%s %s was not accepted but has flows %v", o.method, o.requestID, got)
			}
		}
	}
	for id, f := range flows {
		if len(id) < 5 || id[:5] != "seed-" {
			t.Errorf("flows %v for request_id %s that no client sent", f, id)
		}
	}
	rep, err := points.Verify(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Errorf("verify: %s", v)
	}
	t.Logf("%d requests accepted, each with exactly one flow; verify: %d violations", accepted, len(rep.Violations))
}

func crashKills(t *testing.T) int {
	if s := os.Getenv("JIFEN_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("JIFEN_CRASH_KILLS=%q: want a positive number", s)
		}
		return n
	}
	return 3
}

func TestCrash_KillUnderLoad(t *testing.T) {
	kills := crashKills(t)
	for name, newDB := range storeKinds {
		t.Run(name, func(t *testing.T) {
			db := newDB(t)
			app, secret := provision(t, db, 20, 1_000_000)
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d, %d kills", seed, kills)
			rng := rand.New(rand.NewPCG(seed, 0))
			l := &crashLoad{t: t, run: strconv.FormatUint(seed, 36)}
			for k := range kills {
				srv := startChild(t, db)
				l.client = srv.client(app, secret)
				l.settle(t)
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					defer cancel() // also when kill fails the test
					time.Sleep(time.Duration(50+rng.IntN(450)) * time.Millisecond)
					srv.kill()
				}()
				l.load(ctx, 16, 20, seed+uint64(k))
				<-ctx.Done()
				if t.Failed() {
					return
				}
			}
			// Graceful shutdown under load: SIGTERM, and the server
			// finishes what it has, answers it, and exits cleanly.
			srv := startChild(t, db)
			l.client = srv.client(app, secret)
			l.settle(t)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				defer cancel() // also when stop fails the test
				time.Sleep(200 * time.Millisecond)
				srv.stop()
			}()
			l.load(ctx, 16, 20, seed+uint64(kills))
			<-ctx.Done()
			if t.Failed() {
				return
			}
			srv = startChild(t, db)
			l.client = srv.client(app, secret)
			l.settle(t)
			srv.stop()
			l.check(t, db)
		})
	}
}
