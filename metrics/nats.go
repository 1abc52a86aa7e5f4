package metrics

import "github.com/prometheus/client_golang/prometheus"

// natsMetrics are the families of the NATS JetStream publisher.
type natsMetrics struct {
	stored, duplicate prometheus.Counter
	failures          prometheus.Counter
	position, lag     prometheus.Gauge
}

func newNATSMetrics(reg *prometheus.Registry) *natsMetrics {
	published := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jifen_nats_published_total",
		Help: "Events the NATS JetStream stream acknowledged, by result: stored, duplicate (it held the event already: " +
			"sent again after a failure or a restart, or by another server).",
	}, []string{"result"})
	n := &natsMetrics{
		stored: published.WithLabelValues("stored"), duplicate: published.WithLabelValues("duplicate"),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jifen_nats_publish_failures_total",
			Help: "Attempts at publishing to NATS that failed (the server unreachable, the stream refusing, the store failing); each is retried.",
		}),
		position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jifen_nats_published_position",
			Help: "Position of the last event the NATS stream holds.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jifen_nats_lag_events",
			Help: "Events committed but not yet in the NATS stream: the newest event's position less the published one.",
		}),
	}
	reg.MustRegister(published, n.failures, n.position, n.lag)
	return n
}

// ObserveNATS records what the NATS publisher did: events the stream
// stored and already held, the position it holds, the newest event
// committed, and whether an attempt failed. Its arguments are those of
// natsout.Progress.
func (m *Metrics) ObserveNATS(stored, duplicates int, position, newest int64, failed bool) {
	n := m.nats
	n.stored.Add(float64(stored))
	n.duplicate.Add(float64(duplicates))
	if failed {
		n.failures.Inc()
	}
	n.position.Set(float64(position))
	n.lag.Set(float64(max(0, newest-position)))
}
