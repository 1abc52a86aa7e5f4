package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"jifen/points"
	"jifen/storetest"
	"jifen/top"
)

// TestServe_MetricsAndLogs drives real signed TOP traffic through `jifen
// serve` — successful calls, an idempotent replay, a business failure, a
// bad signature — then scrapes /metrics and reads the log: every metric
// family is there with the expected labels and counts, and there is one
// log line per call that ties the gateway's request_id to the business
// one and leaks neither secret, signature nor parameters.
func TestServe_MetricsAndLogs(t *testing.T) {
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			db := newDB(t)
			app, secret := provision(t, db, 2, 1000)
			srv := startChild(t, db, "--sweep-interval", "20ms")
			client := srv.client(app, secret)

			type sent struct {
				rid, method, bizRID, outcome string
			}
			var calls []sent
			call := func(c *top.Client, method, param string, obj map[string]any) {
				t.Helper()
				resp, err := c.Call(context.Background(), method, map[string]any{param: obj})
				if err != nil {
					t.Fatalf("%s: %v", method, err)
				}
				s := sent{rid: resp.RequestID, method: method, bizRID: obj["request_id"].(string), outcome: "ok"}
				if resp.Err != nil {
					s.outcome, s.bizRID = strconv.Itoa(resp.Err.Code), ""
				} else {
					var res struct {
						BizSuccess bool   `json:"biz_success"`
						ResultCode string `json:"result_code"`
					}
					if err := json.Unmarshal(resp.Result, &res); err != nil {
						t.Fatalf("%s: %s: %v", method, resp.Result, err)
					}
					if !res.BizSuccess {
						s.outcome = res.ResultCode
					}
				}
				calls = append(calls, s)
			}
			order := func(customer, points any, orderID, requestID string) map[string]any {
				return map[string]any{"biz_channel": "KRY", "out_brand_id": "kry-b1", "out_shop_id": "kry-s1",
					"customer_id": customer, "change_point": points, "out_biz_id": orderID,
					"operator_id": "op", "operator_name": "收银员", "request_id": requestID}
			}
			call(client, top.MethodExtraCharge, "param_extra_charge_point_open_req", order("c0", 100, "m-charge", "m-1"))
			call(client, top.MethodConsumePoint, "param_consume_point_open_req", order("c0", 50, "m-pay", "m-2"))
			call(client, top.MethodConsumePoint, "param_consume_point_open_req", order("c0", 50, "m-pay", "m-2")) // replay
			call(client, top.MethodConsumePoint, "param_consume_point_open_req", order("c1", 999_999, "m-big", "m-3"))
			forged := srv.client(app, "not-the-secret")
			call(forged, top.MethodConsumePoint, "param_consume_point_open_req", order("c1", 10, "m-forged", "m-4"))
			want := []string{"ok", "ok", "ok", "", "25"}
			for i, c := range calls {
				if want[i] != "" && c.outcome != want[i] {
					t.Fatalf("call %d (%s %s): outcome %s, want %s", i, c.method, c.bizRID, c.outcome, want[i])
				}
			}
			if short := calls[3].outcome; short == "ok" || short == "" || short[0] < 'A' || short[0] > 'Z' {
				t.Fatalf("consuming 999999 points: outcome %q, want a business result_code", short)
			}

			// The gateway counts a call after answering it, and the
			// sweeper runs on its own clock: wait for both.
			var fams map[string]*dto.MetricFamily
			deadline := time.Now().Add(30 * time.Second)
			for {
				fams = scrapeMetrics(t, srv.url)
				n, _ := metricSum(fams, "jifen_top_requests_total", nil)
				sweeps, _ := metricValue(fams, "jifen_sweeps_total", map[string]string{"result": "ok"})
				if n >= float64(len(calls)) && sweeps >= 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 30s /metrics counts %v calls of %d and %v sweeps", n, len(calls), sweeps)
				}
				time.Sleep(20 * time.Millisecond)
			}

			exact := []wantSeries{
				{"jifen_top_requests_total", map[string]string{"method": top.MethodExtraCharge, "outcome": "ok"}, 1},
				{"jifen_top_requests_total", map[string]string{"method": top.MethodConsumePoint, "outcome": "ok"}, 2},
				{"jifen_top_requests_total", map[string]string{"method": top.MethodConsumePoint, "outcome": calls[3].outcome}, 1},
				{"jifen_top_requests_total", map[string]string{"method": top.MethodConsumePoint, "outcome": "25"}, 1},
				{"jifen_top_request_duration_seconds", map[string]string{"method": top.MethodConsumePoint}, 4},
				{"jifen_top_request_duration_seconds", map[string]string{"method": top.MethodExtraCharge}, 1},
				{"jifen_idempotent_replays_total", map[string]string{"method": "consume"}, 1},
				{"jifen_sweeps_total", map[string]string{"result": "error"}, 0},
			}
			errorKinds := []string{"unavailable", "internal"}
			if kind == "sqlite" {
				errorKinds = append(errorKinds, "commit")
				for _, r := range []string{"serialization_failure", "deadlock", "unique_violation", "conflict"} {
					exact = append(exact, wantSeries{"jifen_store_retries_total", map[string]string{"reason": r}, 0}) // it never retries
				}
			}
			for _, k := range errorKinds {
				exact = append(exact, wantSeries{"jifen_store_errors_total", map[string]string{"kind": k}, 0})
			}
			for _, tt := range exact {
				if got, ok := metricValue(fams, tt.name, tt.labels); !ok || got != tt.want {
					t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
				}
			}
			present := []string{"jifen_store_retries_total", "jifen_sweep_lag_seconds", "jifen_sweep_items_total",
				"jifen_group_commit_batch_requests", "jifen_group_commit_wait_seconds", "jifen_group_commit_duration_seconds",
				"go_goroutines", "process_cpu_seconds_total"}
			for _, name := range present {
				if fams[name] == nil {
					t.Errorf("/metrics has no %s", name)
				}
			}
			if kind == "sqlite" {
				// At least the charge and the payment were committed.
				batches, _ := metricValue(fams, "jifen_group_commit_batch_requests", nil)
				requests := fams["jifen_group_commit_batch_requests"].GetMetric()[0].GetHistogram().GetSampleSum()
				if batches < 1 || requests < 2 {
					t.Errorf("group commits: %v batches of %v requests, want at least 2 requests", batches, requests)
				}
				// Background writers (the sweeper, the event scheduler)
				// commit too, and a scrape can fall between a commit's
				// observations: the counts must agree once they are still.
				for waitUntil := time.Now().Add(10 * time.Second); ; {
					waits, _ := metricValue(fams, "jifen_group_commit_wait_seconds", nil)
					if waits == batches {
						break
					}
					if time.Now().After(waitUntil) {
						t.Errorf("group commit waits observed %v times, want once per batch (%v)", waits, batches)
						break
					}
					time.Sleep(20 * time.Millisecond)
					fams = scrapeMetrics(t, srv.url)
					batches, _ = metricValue(fams, "jifen_group_commit_batch_requests", nil)
				}
			}
			for _, path := range []string{"/healthz", "/readyz"} {
				if code, body := get(t, srv.url+path); code != http.StatusOK {
					t.Errorf("GET %s: %d %s", path, code, body)
				}
			}

			// One log line per call, with what ties it together.
			lines := map[string]map[string]any{}
			for _, l := range strings.Split(srv.logs.String(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "top call" {
					rid, _ := rec["request_id"].(string)
					if lines[rid] != nil {
						t.Errorf("two log lines for request_id %s", rid)
					}
					lines[rid] = rec
				}
			}
			for _, c := range calls {
				rec := lines[c.rid]
				if rec == nil {
					t.Errorf("no log line for %s %s (request_id %s)", c.method, c.bizRID, c.rid)
					continue
				}
				for k, v := range map[string]string{"app_key": app, "method": c.method, "biz_request_id": c.bizRID, "outcome": c.outcome} {
					if rec[k] != v {
						t.Errorf("log line of %s: %s = %v, want %q", c.rid, k, rec[k], v)
					}
				}
				if _, ok := rec["duration"].(float64); !ok {
					t.Errorf("log line of %s has no duration: %v", c.rid, rec)
				}
			}
			if logs := srv.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, "not-the-secret") {
				t.Errorf("the log holds an app secret:\n%s", logs)
			}
		})
	}
}

// TestServe_LogLine_NoSecrets sends hand-signed calls, one with a good
// signature and one with a forged one, to a gateway logging in text: each
// is one line with the request's ids, outcome and duration, and neither
// the secret, the sign values nor the business parameters appear.
func TestServe_LogLine_NoSecrets(t *testing.T) {
	ctx := context.Background()
	store, err := openStore(ctx, t.TempDir()+"/jifen.db")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := points.New(store, nil, nil)
	d, err := setupDemo(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	var logs storetest.LockedBuffer
	ts := httptest.NewServer(newHandler(handlerConfig{svc: svc, log: newLogger(&logs, "text")}))
	defer ts.Close()

	const marker = "参数不入日志-7f3a"
	obj, _ := json.Marshal(map[string]any{"biz_channel": "KRY", "out_brand_id": "kry-demo", "out_shop_id": "kry-shop-1",
		"customer_id": "demo-c1", "change_point": 10, "out_biz_id": "log-order", "operator_id": "op1",
		"operator_name": marker, "request_id": "log-req-1"})
	params := map[string]string{"method": top.MethodConsumePoint, "app_key": d.appKey, "v": "2.0", "format": "json",
		"sign_method": "md5", "timestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"param_consume_point_open_req": string(obj)}
	sign, err := top.Sign(params, d.secret, "md5")
	if err != nil {
		t.Fatal(err)
	}
	const forged = "5EC0FFEE5EC0FFEE5EC0FFEE5EC0FFEE"
	for _, tt := range []struct{ sign, outcome, bizRID string }{{sign, "ok", "log-req-1"}, {forged, "25", ""}} {
		form := url.Values{"sign": {tt.sign}}
		for k, v := range params {
			form.Set(k, v)
		}
		resp, err := http.PostForm(ts.URL+"/router/rest", form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`"request_id":"([0-9a-z]{12,13})"`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no request_id in %s", body)
		}
		rid := string(m[1])
		// The line is written once the answer is: wait for it.
		var line string
		for deadline := time.Now().Add(10 * time.Second); line == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			for l := range strings.SplitSeq(logs.String(), "\n") {
				if strings.Contains(l, "request_id="+rid) {
					line = l
				}
			}
		}
		want := []string{`msg="top call"`, "app_key=" + d.appKey, "method=" + top.MethodConsumePoint,
			"biz_request_id=" + tt.bizRID, "outcome=" + tt.outcome, "duration="}
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("log line %q lacks %q", line, w)
			}
		}
	}
	if n := strings.Count(logs.String(), `msg="top call"`); n != 2 {
		t.Errorf("%d log lines for 2 calls:\n%s", n, logs.String())
	}
	for what, s := range map[string]string{"secret": d.secret, "sign": sign, "forged sign": forged, "parameters": marker} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds the %s %q:\n%s", what, s, logs.String())
		}
	}
}

// TestServe_Readyz: 200 on a live store with current migrations; 503 with
// the reason when the schema is not the program's, or the store is gone.
func TestServe_Readyz(t *testing.T) {
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db := newDB(t)
			store, err := openStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			ts := httptest.NewServer(newHandler(handlerConfig{svc: points.New(store, nil, nil), log: discardLogger()}))
			defer ts.Close()
			expect := func(code int, reason string) {
				t.Helper()
				got, body := get(t, ts.URL+"/readyz")
				if got != code || !strings.Contains(body, reason) {
					t.Errorf("GET /readyz: %d %q, want %d with %q", got, body, code, reason)
				}
			}
			expect(http.StatusOK, "ok")

			// A newer server migrated the database further.
			exec := execOn(t, kind, db)
			exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)")
			expect(http.StatusServiceUnavailable, "version 9999")
			exec("DELETE FROM schema_migrations WHERE version = 9999")
			expect(http.StatusOK, "ok")

			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			expect(http.StatusServiceUnavailable, "not ready: ")
			if got, _ := get(t, ts.URL+"/healthz"); got != http.StatusOK {
				t.Errorf("GET /healthz with the store closed: %d, want 200 (the process is up)", got)
			}
		})
	}
}

type wantSeries struct {
	name   string
	labels map[string]string
	want   float64
}

// execOn returns a function that runs SQL on db behind the store's back.
func execOn(t *testing.T, kind, db string) func(string) {
	ctx := context.Background()
	if kind == "postgres" {
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		return func(q string) {
			t.Helper()
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	sdb, err := sql.Open("sqlite3", "file:"+db+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sdb.Close() })
	return func(q string) {
		t.Helper()
		if _, err := sdb.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrapeMetrics reads base's /metrics as a Prometheus server would.
func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewBufferString(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// metricValue is the value (a histogram's count) of the one series of
// family name whose labels include want.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	v, n := metricSum(fams, name, want)
	return v, n == 1
}

// metricSum adds the values (histograms' counts) of the series of family
// name whose labels include want, and says how many there were.
func metricSum(fams map[string]*dto.MetricFamily, name string, want map[string]string) (sum float64, n int) {
next:
	for _, m := range fams[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		n++
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		default:
			panic(fmt.Sprintf("%s: unexpected metric type", name))
		}
	}
	return sum, n
}
