package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jifen/top"
)

// runBench runs `jifen bench` briefly against s and returns its report.
func runBench(t *testing.T, s *server, extra ...string) (benchReport, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bench.json")
	args := append([]string{"bench", "--url", s.url + "/router/rest", "--db", s.db, "--workers", "4", "--customers", "20",
		"--duration", "1s", "--ceiling", "300ms", "--json", out}, extra...)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("jifen bench: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, data)
	}
	return rep, stdout.String()
}

// TestBench_ReportsItsOwnCPU: the load tool reports the CPU it used per
// operation in each phase (on a shared machine that CPU is taken from the
// server) and the server's CPU per durable write over the mix, and
// --cpuprofile writes a profile of the phases.
func TestBench_ReportsItsOwnCPU(t *testing.T) {
	s := startServer(t)
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	rep, stdout := runBench(t, s, "--cpuprofile", prof)
	if rep.Verify != "all invariants hold" || rep.Ceiling == nil {
		t.Fatalf("verify %q, ceiling %v", rep.Verify, rep.Ceiling)
	}
	for name, ph := range map[string]phaseReport{"ceiling": *rep.Ceiling, "write mix": rep.Mix} {
		if len(ph.Errors) != 0 || ph.All.Count == 0 {
			t.Errorf("%s: %d ops, errors %v %v", name, ph.All.Count, ph.Errors, ph.ErrorExamples)
		}
		if ph.LoadToolCPUSeconds <= 0 || ph.LoadToolCPUPerOpUs <= 0 ||
			ph.LoadToolCPUPerOpUs > 1e6*ph.LoadToolCPUSeconds/float64(ph.All.Count)+1 {
			t.Errorf("%s: load tool CPU %v s, %v µs per op over %d ops", name, ph.LoadToolCPUSeconds, ph.LoadToolCPUPerOpUs, ph.All.Count)
		}
	}
	if n := strings.Count(stdout, "load tool CPU per op: "); n != 2 {
		t.Errorf("%d \"load tool CPU per op\" lines, want 2:\n%s", n, stdout)
	}
	// The server's CPU per durable write, from its /metrics: here the
	// server is this process, so the mix's CPU is at least a part of it.
	writes := rep.Mix.WritesPerSec * rep.Mix.Seconds
	if rep.ServerCPUSeconds <= 0 || writes == 0 ||
		math.Abs(rep.ServerCPUPerWriteUs-1e6*rep.ServerCPUSeconds/writes) > 1 {
		t.Errorf("server CPU %v s, %v µs per write over %v writes", rep.ServerCPUSeconds, rep.ServerCPUPerWriteUs, writes)
	}
	if !strings.Contains(stdout, "server CPU per durable write: ") {
		t.Errorf("no server CPU line:\n%s", stdout)
	}
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	// A pprof profile is gzipped protobuf.
	if len(data) < 100 || data[0] != 0x1f || data[1] != 0x8b {
		t.Errorf("--cpuprofile wrote %d bytes, not a gzipped profile", len(data))
	}
}

// TestBench_RequestsAsBefore: the bench's pre-encoded object parameters
// are the bytes encoding/json made of the maps it built before, so the
// server receives the same requests.
func TestBench_RequestsAsBefore(t *testing.T) {
	run := "mx1"
	b := newBench(&benchCmd{customers: 5, seed: 1}, &top.Client{}, run)
	base := func(customer string) map[string]any {
		return map[string]any{"biz_channel": "KRY", "out_brand_id": "kry-bench-" + run, "out_shop_id": "kry-bench-" + run + "-shop",
			"customer_id": customer, "operator_id": "bench", "operator_name": "压测"}
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cust := b.customer()
	if !strings.HasPrefix(cust, "bench-"+run+"-c") {
		t.Fatalf("customer %q", cust)
	}
	if got, want := b.id("o"), fmt.Sprintf("%s-%s-%d", "o", run, 1); got != want {
		t.Fatalf("id %q, want %q", got, want)
	}
	tests := []struct {
		name          string
		got           benchRequest
		method, param string
		want          map[string]any
		write         bool
	}{
		{"charge", b.chargeRequest(cust, "seed-1", "seed-2", 1_000_000_000), top.MethodExtraCharge, "param_extra_charge_point_open_req",
			with(base(cust), "change_point", 1_000_000_000, "out_biz_id", "seed-1", "request_id", "seed-2"), true},
		{"pay", b.payRequest(cust, "o-1", "p-2"), top.MethodConsumePoint, "param_consume_point_open_req",
			with(base(cust), "change_point", 100, "out_biz_id", "o-1", "request_id", "p-2"), true},
		{"partial reversal", b.reverseRequest(cust, "o-1", "o-1-a", "r-3", 30), top.MethodReversePoint, "param_reverse_consume_point_open_req",
			with(base(cust), "biz_type", "DEDUCT_FROM_CONSUME_REVERSE", "out_biz_id", "o-1", "reverse_order_id", "o-1-a", "request_id", "r-3", "change_point", 30), true},
		{"reverse the rest", b.reverseRequest(cust, "o-1", "o-1-b", "r-4", -1), top.MethodReversePoint, "param_reverse_consume_point_open_req",
			with(base(cust), "biz_type", "DEDUCT_FROM_CONSUME_REVERSE", "out_biz_id", "o-1", "reverse_order_id", "o-1-b", "request_id", "r-4"), true},
		{"query", b.queryRequest(cust), top.MethodQueryPointFlow, "param_page_query_point_flow_open_req",
			map[string]any{"biz_channel": "KRY", "out_brand_id": "kry-bench-" + run, "customer_id": cust, "page_size": 10}, false},
		{"cal", b.calRequest(cust), top.MethodCal, "param_calculate_deducted_money_open_req",
			map[string]any{"out_brand_id": "kry-bench-" + run, "customer_id": cust, "consume_point": 120}, false},
	}
	for _, tt := range tests {
		want, err := json.Marshal(tt.want)
		if err != nil {
			t.Fatal(err)
		}
		if tt.got.object != string(want) || tt.got.method != tt.method || tt.got.param != tt.param || tt.got.write != tt.write {
			t.Errorf("%s: got %s %s %v %s\nwant %s %s %v %s", tt.name, tt.got.method, tt.got.param, tt.got.write, tt.got.object,
				tt.method, tt.param, tt.write, want)
		}
	}
	// Strings that need escaping are escaped as encoding/json escapes them.
	odd := []string{"", `a"b\c`, "<tag>&amp;", "tab\tnl\n\x00\x1f\x7f", "压测 ü", "\u2028\u2029", "bad \xff utf-8", "-_.~ 09AZaz"}
	fields := []jsonField{jsonNum("n", -42)}
	m := map[string]any{"n": -42}
	for i, s := range odd {
		key := fmt.Sprintf("k%d%s", i, s)
		fields = append(fields, jsonStr(key, s))
		m[key] = s
	}
	want, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonObject(fields...); got != string(want) {
		t.Errorf("jsonObject:\n got %s\nwant %s", got, want)
	}
}

// TestBench_OpenLoop: at an offered rate, calls in flight take their
// connections from the same pool, and the run ends clean.
func TestBench_OpenLoop(t *testing.T) {
	s := startServer(t)
	rep, _ := runBench(t, s, "--rate", "400", "--ceiling", "0")
	if rep.Verify != "all invariants hold" || rep.Mix.All.Count == 0 || rep.Mix.OfferedPerS <= 0 || len(rep.Mix.Errors) != 0 {
		t.Fatalf("verify %q, %d ops, offered %v/s, errors %v %v", rep.Verify, rep.Mix.All.Count, rep.Mix.OfferedPerS, rep.Mix.Errors, rep.Mix.ErrorExamples)
	}
}

// TestBench_Webhook: with --webhook the bench subscribes a receiver of
// its own to its brand's events and reports what arrived: every durable
// write of the mix is a flow, so at least as many events.
func TestBench_Webhook(t *testing.T) {
	s := startServerWith(t, true)
	rep, stdout := runBench(t, s, "--webhook", "127.0.0.1:0")
	w := rep.Webhook
	if w == nil || len(rep.Mix.Errors) != 0 {
		t.Fatalf("webhook report %+v, mix errors %v\n%s", w, rep.Mix.Errors, stdout)
	}
	writes := int(rep.Mix.WritesPerSec*rep.Mix.Seconds + 0.5)
	if writes == 0 || w.Total < writes || w.DuringMix > w.Total {
		t.Errorf("%d durable writes, events received %d during the mix and %d in all\n%s", writes, w.DuringMix, w.Total, stdout)
	}
	if !strings.Contains(stdout, "webhook: ") {
		t.Errorf("no webhook line:\n%s", stdout)
	}
}
