package metrics

import (
	"math"
	"testing"
	"time"
)

func TestMetrics_Replicas(t *testing.T) {
	m := New()
	m.ObserveReplica("10.0.0.2:5432", 1500*time.Millisecond, true, true)
	m.ObserveReplica("10.0.0.3:5432", 0, false, false)
	fams := scrape(t, m)
	a, b := map[string]string{"replica": "10.0.0.2:5432"}, map[string]string{"replica": "10.0.0.3:5432"}
	if v, ok := value(fams, "jifen_replica_lag_seconds", a); !ok || v != 1.5 {
		t.Errorf("lag of a = %v (found %v), want 1.5", v, ok)
	}
	if v, ok := value(fams, "jifen_replica_in_use", a); !ok || v != 1 {
		t.Errorf("in use of a = %v (found %v), want 1", v, ok)
	}
	if v, ok := value(fams, "jifen_replica_lag_seconds", b); !ok || !math.IsNaN(v) {
		t.Errorf("lag of b (down) = %v (found %v), want NaN", v, ok)
	}
	if v, ok := value(fams, "jifen_replica_in_use", b); !ok || v != 0 {
		t.Errorf("in use of b = %v (found %v), want 0", v, ok)
	}
}
