package metrics

import "testing"

func TestMetrics_NATS(t *testing.T) {
	m := New()
	fams := scrape(t, m)
	for _, name := range []string{"jifen_nats_publish_failures_total", "jifen_nats_published_position", "jifen_nats_lag_events"} {
		if v, ok := value(fams, name, nil); !ok || v != 0 {
			t.Errorf("%s = %v (found %v) before any publishing, want 0", name, v, ok)
		}
	}
	m.ObserveNATS(0, 0, 40, 40, false) // started at 40
	m.ObserveNATS(7, 3, 50, 90, false)
	m.ObserveNATS(0, 0, 50, 120, true)
	m.ObserveNATS(0, 0, 50, 120, true)
	fams = scrape(t, m)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"jifen_nats_published_total", map[string]string{"result": "stored"}, 7},
		{"jifen_nats_published_total", map[string]string{"result": "duplicate"}, 3},
		{"jifen_nats_publish_failures_total", nil, 2},
		{"jifen_nats_published_position", nil, 50},
		{"jifen_nats_lag_events", nil, 70},
	} {
		if got, ok := value(fams, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
}
