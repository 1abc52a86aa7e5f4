package metrics

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// replicaMetrics are the families of the read replicas (serve --read-db).
type replicaMetrics struct {
	lag, inUse *prometheus.GaugeVec
}

func newReplicaMetrics(reg *prometheus.Registry) *replicaMetrics {
	r := &replicaMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jifen_replica_lag_seconds",
			Help: "How far the read replica (host:port) was behind the primary when last measured: 0 when it has " +
				"replayed all it received and is streaming; NaN when unknown (not answering, not in recovery).",
		}, []string{"replica"}),
		inUse: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jifen_replica_in_use",
			Help: "1 if the read replica (host:port) serves the operators' reads, 0 if they go to the primary " +
				"instead (lag beyond --max-replica-lag, or not answering).",
		}, []string{"replica"}),
	}
	reg.MustRegister(r.lag, r.inUse)
	return r
}

// ObserveReplica records a measurement of the read replica named name
// (host:port, never a password): its lag if known, and whether it serves
// reads.
func (m *Metrics) ObserveReplica(name string, lag time.Duration, known, inUse bool) {
	v := math.NaN()
	if known {
		v = lag.Seconds()
	}
	m.replicas.lag.WithLabelValues(name).Set(v)
	in := 0.0
	if inUse {
		in = 1
	}
	m.replicas.inUse.WithLabelValues(name).Set(in)
}
