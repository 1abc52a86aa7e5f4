package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"jifen/ledger"
	"jifen/points"
	"jifen/postgres"
	"jifen/top"
)

// TestTwoServers_OneDatabase runs two `jifen serve` processes on one
// PostgreSQL database, as behind a load balancer, and drives the same
// orders through both at once: refunds that together ask for more than
// was spent, the same request_id sent to both servers, the same
// reverse_order_id under different request_ids, one request_id that only
// one run can afford. No order may be
// over-reversed, each request_id has at most one effect, and every
// invariant holds.
func TestTwoServers_OneDatabase(t *testing.T) {
	db := postgres.TestDSN(t)
	const customers, orders = 4, 12
	app, secret := provision(t, db, customers, 1000)
	a, b := startChild(t, db), startChild(t, db)
	clients := []*top.Client{a.client(app, secret), b.client(app, secret)}

	type answer struct {
		ok     bool
		result string
		code   string
	}
	call := func(c *top.Client, method, param string, obj map[string]any) answer {
		resp, err := c.Call(context.Background(), method, map[string]any{param: obj})
		if err != nil {
			t.Errorf("%s %v: %v", method, obj["request_id"], err)
			return answer{}
		}
		if resp.Err != nil {
			t.Errorf("%s %v: error_response %+v", method, obj["request_id"], resp.Err)
			return answer{}
		}
		var res struct {
			BizSuccess bool   `json:"biz_success"`
			Result     string `json:"result"`
			ResultCode string `json:"result_code"`
		}
		if err := json.Unmarshal(resp.Result, &res); err != nil {
			t.Errorf("%s: %s: %v", method, resp.Result, err)
		}
		return answer{res.BizSuccess, res.Result, res.ResultCode}
	}
	base := func(order int) map[string]any {
		return map[string]any{"biz_channel": "KRY", "out_brand_id": "kry-b1", "out_shop_id": "kry-s1",
			"customer_id": fmt.Sprintf("c%d", order%customers), "operator_id": "op", "operator_name": "收银员"}
	}
	reverse := func(order int, points any, reverseID, requestID string) map[string]any {
		obj := with(base(order), "biz_type", "DEDUCT_FROM_CONSUME_REVERSE", "out_biz_id", fmt.Sprintf("o%d", order),
			"reverse_order_id", reverseID, "request_id", requestID)
		if points != nil {
			obj["change_point"] = points
		}
		return obj
	}

	// Every order pays 10 points, half through each server, all at once.
	var wg sync.WaitGroup
	for o := range orders {
		wg.Go(func() {
			if r := call(clients[o%2], top.MethodConsumePoint, "param_consume_point_open_req",
				with(base(o), "change_point", 10, "out_biz_id", fmt.Sprintf("o%d", o), "request_id", fmt.Sprintf("pay-%d", o))); !r.ok {
				t.Errorf("pay o%d: %+v", o, r)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Then, per order and all orders at once: four refunds of 4 points
	// (16 > 10) alternating servers; one request_id sent to both
	// servers; one reverse_order_id sent to both under two request_ids.
	var mu sync.Mutex
	refunded := map[int]int{}        // order → points answered as refunded by the 4-point refunds
	sameReq := map[int][]answer{}    // order → both answers to one request_id
	sameRefund := map[int][]answer{} // order → both answers to one reverse_order_id
	for o := range orders {
		for i := range 4 {
			wg.Go(func() {
				r := call(clients[i%2], top.MethodReversePoint, "param_reverse_consume_point_open_req",
					reverse(o, 4, fmt.Sprintf("o%d-r%d", o, i), fmt.Sprintf("rev-%d-%d", o, i)))
				if r.ok {
					mu.Lock()
					refunded[o] += 4
					mu.Unlock()
				} else if r.code == "" {
					t.Errorf("refund o%d-r%d: no result code", o, i)
				}
			})
		}
		for i := range 2 {
			wg.Go(func() {
				r := call(clients[i], top.MethodReversePoint, "param_reverse_consume_point_open_req",
					reverse(o, 1, fmt.Sprintf("o%d-dup", o), fmt.Sprintf("dup-%d", o)))
				mu.Lock()
				sameReq[o] = append(sameReq[o], r)
				mu.Unlock()
			})
			wg.Go(func() {
				r := call(clients[i], top.MethodReversePoint, "param_reverse_consume_point_open_req",
					reverse(o, 1, fmt.Sprintf("o%d-same", o), fmt.Sprintf("same-%d-%d", o, i)))
				mu.Lock()
				sameRefund[o] = append(sameRefund[o], r)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for o := range orders {
		for what, rs := range map[string][]answer{"one request_id": sameReq[o], "one reverse_order_id": sameRefund[o]} {
			if len(rs) != 2 || rs[0] != rs[1] {
				t.Errorf("o%d, %s sent to both servers: answers differ: %+v", o, what, rs)
			}
		}
	}
	// One request_id sent to both servers that only one of its runs can
	// afford (600 of ~1000 points): both must answer the one effect.
	for c := range customers {
		twins := make([]answer, 2)
		for i := range 2 {
			wg.Go(func() {
				twins[i] = call(clients[i], top.MethodConsumePoint, "param_consume_point_open_req",
					with(base(c), "change_point", 600, "out_biz_id", fmt.Sprintf("big-%d", c), "request_id", fmt.Sprintf("big-%d", c)))
			})
		}
		wg.Wait()
		if !twins[0].ok || twins[0] != twins[1] {
			t.Errorf("c%d: one request_id through both servers answered %+v", c, twins)
		}
	}
	a.stop()
	b.stop()

	ctx := context.Background()
	store, err := openStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	effects := map[string]int{}
	byOrder := map[string]ledger.Order{}
	err = store.EachAccount(ctx, func(rows points.AccountRows) error {
		for _, f := range rows.Flows {
			effects[f.RequestID]++
		}
		for _, o := range rows.Orders {
			byOrder[o.OutBizID] = o
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range effects {
		if n != 1 {
			t.Errorf("request_id %s has %d flows", id, n)
		}
	}
	for o := range orders {
		ord := byOrder[fmt.Sprintf("o%d", o)]
		if ord.Spent != 10 || ord.Reversed > ord.Spent {
			t.Errorf("o%d: spent %d, reversed %d", o, ord.Spent, ord.Reversed)
		}
		// What was answered as refunded is exactly what the order shows
		// (4-point refunds plus the two 1-point ones when they fit).
		extra := int64(0)
		for _, rs := range [][]answer{sameReq[o], sameRefund[o]} {
			if len(rs) > 0 && rs[0].ok {
				extra++
			}
		}
		if got := int64(refunded[o]) + extra; got != ord.Reversed {
			t.Errorf("o%d: answers say %d points refunded, the order says %d", o, got, ord.Reversed)
		}
	}
	rep, err := points.Verify(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Errorf("verify: %s", v)
	}
}
