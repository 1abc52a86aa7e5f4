package metrics

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads m's /metrics as a Prometheus server would.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the value of the series of family name whose labels include
// want (a counter, gauge, or a histogram's count); found is false when
// there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, found bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetrics_Families(t *testing.T) {
	m := New()
	m.ObserveRequest("alibaba.alsc.crm.point.consumepoint", "ok", 3*time.Millisecond)
	m.ObserveRequest("alibaba.alsc.crm.point.consumepoint", "ok", 5*time.Millisecond)
	m.ObserveRequest("alibaba.alsc.crm.point.consumepoint", "POINT_NOT_ENOUGH", time.Millisecond)
	m.ObserveRequest("unknown", "22", time.Microsecond)
	m.ObserveCommit(7, time.Millisecond, 2*time.Millisecond)
	m.StoreRetry("deadlock")
	m.StoreError("unavailable")
	var commitErrors uint64 = 3
	m.CountStoreErrors("commit", func() uint64 { return commitErrors })
	m.Replayed("consume")
	m.ObserveSweep(2, 1, 1500*time.Millisecond, nil)
	m.ObserveSweep(0, 0, 0, errors.New("database is locked"))
	m.ObserveWebhookAttempt("delivered", 30*time.Millisecond)
	m.ObserveWebhookAttempt("pending", 10*time.Second)

	fams := scrape(t, m)
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"jifen_top_requests_total", map[string]string{"method": "alibaba.alsc.crm.point.consumepoint", "outcome": "ok"}, 2},
		{"jifen_top_requests_total", map[string]string{"method": "alibaba.alsc.crm.point.consumepoint", "outcome": "POINT_NOT_ENOUGH"}, 1},
		{"jifen_top_requests_total", map[string]string{"method": "unknown", "outcome": "22"}, 1},
		{"jifen_top_request_duration_seconds", map[string]string{"method": "alibaba.alsc.crm.point.consumepoint"}, 3},
		{"jifen_group_commit_batch_requests", nil, 1},
		{"jifen_group_commit_wait_seconds", nil, 1},
		{"jifen_group_commit_duration_seconds", nil, 1},
		{"jifen_store_retries_total", map[string]string{"reason": "deadlock"}, 1},
		{"jifen_store_retries_total", map[string]string{"reason": "serialization_failure"}, 0},
		{"jifen_store_errors_total", map[string]string{"kind": "unavailable"}, 1},
		{"jifen_store_errors_total", map[string]string{"kind": "internal"}, 0},
		{"jifen_store_errors_total", map[string]string{"kind": "commit"}, 3},
		{"jifen_idempotent_replays_total", map[string]string{"method": "consume"}, 1},
		{"jifen_sweep_lag_seconds", nil, 1.5},
		{"jifen_sweeps_total", map[string]string{"result": "ok"}, 1},
		{"jifen_sweeps_total", map[string]string{"result": "error"}, 1},
		{"jifen_sweep_items_total", map[string]string{"kind": "expired_account"}, 2},
		{"jifen_sweep_items_total", map[string]string{"kind": "released_hold"}, 1},
		{"jifen_webhook_attempts_total", map[string]string{"result": "delivered"}, 1},
		{"jifen_webhook_attempts_total", map[string]string{"result": "pending"}, 1},
		{"jifen_webhook_attempts_total", map[string]string{"result": "failed"}, 0},
		{"jifen_webhook_attempt_duration_seconds", nil, 2},
	}
	for _, tt := range tests {
		got, ok := value(fams, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if s := fams["jifen_group_commit_batch_requests"].Metric[0].Histogram.GetSampleSum(); s != 7 {
		t.Errorf("batch size sum = %v, want 7", s)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("%s missing: the Go and process collectors are not registered", name)
		}
	}
}

// TestMetrics_Lint checks jifen's families against the Prometheus naming
// conventions (units in names, _total on counters, help on everything).
func TestMetrics_Lint(t *testing.T) {
	m := New()
	m.ObserveRequest("m", "ok", time.Millisecond)
	m.Replayed("consume")
	m.CountStoreErrors("commit", func() uint64 { return 0 })
	var ours []*dto.MetricFamily
	for name, f := range scrape(t, m) {
		if strings.HasPrefix(name, "jifen_") {
			ours = append(ours, f)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestMetrics_ObserveRequestAllocs holds the gateway's per-request hook to
// no allocation once a (method, outcome) pair has been seen.
func TestMetrics_ObserveRequestAllocs(t *testing.T) {
	m := New()
	method := strings.Repeat("x", 3) + ".consumepoint" // not a constant: as from a request
	m.ObserveRequest(method, "ok", time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { m.ObserveRequest(method, "ok", time.Millisecond) }); n != 0 {
		t.Errorf("ObserveRequest allocates %v times per call, want 0", n)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	methods := []string{"alibaba.alsc.crm.point.consumepoint", "alibaba.alsc.crm.point.reversepoint", "alibaba.alsc.crm.point.cal"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.ObserveRequest(methods[i%len(methods)], "ok", time.Millisecond)
			i++
		}
	})
}
