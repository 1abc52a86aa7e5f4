// Package metrics is jifen's Prometheus instrumentation: the metric
// families served at /metrics, kept on a registry of their own, and the
// hooks that feed them. The gateway, the service, the stores and the
// sweeper know nothing of Prometheus; each offers a small hook (a func
// field or a one-method interface) and cmd/jifen connects them to a
// *Metrics.
//
// Every hook is safe for concurrent use and cheap: the per-request hook
// of the gateway looks its two series up in a map that is only copied
// when a new (method, outcome) pair appears, so a request costs one
// atomic load, one map lookup and two atomic updates, and allocates
// nothing.
package metrics

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Store error kinds and retry reasons that are known in advance, so that
// their series are exported (at zero) before the first occurrence.
var (
	storeErrorKinds   = []string{"unavailable", "internal"}
	storeRetryReasons = []string{"serialization_failure", "deadlock", "unique_violation", "conflict"}
)

// Histogram buckets, in the metrics' units.
var (
	// A TOP call is a read or one durable write: sub-millisecond to the
	// statement timeout.
	requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// A group commit runs 1 to MaxBatch (default 256) requests.
	batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}
	// Queue waits and fsyncs: from a tenth of a millisecond (NVMe) up.
	commitBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	// A webhook's answer: a few milliseconds up to the 10 s timeout.
	webhookBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// webhookResults are the results of a webhook attempt: the delivery's
// state after it.
var webhookResults = []string{"delivered", "pending", "failed"}

// Metrics holds jifen's metric families on a private registry.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// series caches the children of requests and duration by method and
	// outcome; it is replaced, never changed, under seriesMu.
	series   atomic.Pointer[map[requestKey]requestSeries]
	seriesMu sync.Mutex

	batchSize      prometheus.Histogram
	commitWait     prometheus.Histogram
	commitDuration prometheus.Histogram

	storeErrors  *storeErrors
	storeRetries *prometheus.CounterVec
	replays      *prometheus.CounterVec

	sweepLag      prometheus.Gauge
	sweepOK       prometheus.Counter
	sweepFailed   prometheus.Counter
	sweptExpired  prometheus.Counter
	sweptReleased prometheus.Counter

	nats     *natsMetrics
	replicas *replicaMetrics

	webhookAttempts *prometheus.CounterVec
	webhookDuration prometheus.Histogram

	eventsRemoved prometheus.Counter
	eventHorizon  prometheus.Gauge
}

type requestKey struct{ method, outcome string }

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New returns the metric families, registered with the Go runtime and
// process collectors on a new registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jifen_top_requests_total",
			Help: "TOP calls answered, by method (\"unknown\" for a name jifen does not serve) and outcome " +
				"(\"ok\", the result_code of a business failure, or the error_response code).",
		}, []string{"method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jifen_top_request_duration_seconds",
			Help:    "Time from receiving a TOP call to having written its answer, by method.",
			Buckets: requestBuckets,
		}, []string{"method"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jifen_group_commit_batch_requests",
			Help:    "SQLite: write requests that shared one durable commit.",
			Buckets: batchBuckets,
		}),
		commitWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jifen_group_commit_wait_seconds",
			Help:    "SQLite: how long the oldest request of a batch waited in the writer's queue.",
			Buckets: commitBuckets,
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jifen_group_commit_duration_seconds",
			Help:    "SQLite: how long a batch's COMMIT (its fsync) took.",
			Buckets: commitBuckets,
		}),
		storeErrors: newStoreErrors(),
		storeRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jifen_store_retries_total",
			Help: "PostgreSQL: writes run again in a fresh transaction, by reason " +
				"(serialization_failure, deadlock, unique_violation, conflict).",
		}, []string{"reason"}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jifen_idempotent_replays_total",
			Help: "Writes answered with the stored result of an earlier request (same app_key and request_id, " +
				"or same reverse_order_id) without writing again, by the service's operation.",
		}, []string{"method"}),
		sweepLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jifen_sweep_lag_seconds",
			Help: "How far behind the oldest due item was when the last successful sweep began.",
		}),
		webhookAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jifen_webhook_attempts_total",
			Help: "Webhook delivery attempts, by result: delivered (a 2xx), pending (not acknowledged, to be retried), " +
				"failed (not acknowledged at the end of its retry window).",
		}, []string{"result"}),
		webhookDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jifen_webhook_attempt_duration_seconds",
			Help:    "How long a webhook delivery attempt took, to its answer or its failure.",
			Buckets: webhookBuckets,
		}),
		eventsRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jifen_events_removed_total",
			Help: "Events this server removed after the retention period (--event-retention).",
		}),
		eventHorizon: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jifen_events_horizon_position",
			Help: "The highest event position removed after the retention period (0: none), as of this server's last removal.",
		}),
	}
	sweeps := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jifen_sweeps_total",
		Help: "Sweeps of expired lots and timed-out holds, by result (ok, error).",
	}, []string{"result"})
	m.sweepOK, m.sweepFailed = sweeps.WithLabelValues("ok"), sweeps.WithLabelValues("error")
	swept := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jifen_sweep_items_total",
		Help: "What sweeps wrote, by kind: expired_account (an account's expired lots written off), " +
			"released_hold (a hold released on timeout).",
	}, []string{"kind"})
	m.sweptExpired, m.sweptReleased = swept.WithLabelValues("expired_account"), swept.WithLabelValues("released_hold")
	for _, k := range storeErrorKinds {
		m.storeErrors.vec.WithLabelValues(k)
	}
	for _, r := range storeRetryReasons {
		m.storeRetries.WithLabelValues(r)
	}
	for _, r := range webhookResults {
		m.webhookAttempts.WithLabelValues(r)
	}
	m.series.Store(&map[requestKey]requestSeries{})
	m.nats = newNATSMetrics(m.reg)
	m.replicas = newReplicaMetrics(m.reg)

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration,
		m.batchSize, m.commitWait, m.commitDuration,
		m.storeErrors, m.storeRetries, m.replays,
		m.sweepLag, sweeps, swept,
		m.webhookAttempts, m.webhookDuration,
		m.eventsRemoved, m.eventHorizon,
	)
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts one answered TOP call and its duration. Its
// signature is top.Gateway's Observe.
func (m *Metrics) ObserveRequest(method, outcome string, d time.Duration) {
	s, ok := (*m.series.Load())[requestKey{method, outcome}]
	if !ok {
		s = m.addSeries(method, outcome)
	}
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// addSeries makes the series of a (method, outcome) pair seen for the
// first time and publishes a copy of the cache that holds them.
func (m *Metrics) addSeries(method, outcome string) requestSeries {
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	old := *m.series.Load()
	k := requestKey{method, outcome}
	if s, ok := old[k]; ok {
		return s
	}
	// The strings may be slices of a request's buffers: keep copies only.
	k = requestKey{strings.Clone(method), strings.Clone(outcome)}
	s := requestSeries{count: m.requests.WithLabelValues(k.method, k.outcome), duration: m.duration.WithLabelValues(k.method)}
	next := make(map[requestKey]requestSeries, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = s
	m.series.Store(&next)
	return s
}

// ObserveCommit records one SQLite group commit. Its signature is
// sqlite.Options' OnCommit.
func (m *Metrics) ObserveCommit(batchSize int, wait, commit time.Duration) {
	m.batchSize.Observe(float64(batchSize))
	m.commitWait.Observe(wait.Seconds())
	m.commitDuration.Observe(commit.Seconds())
}

// StoreError counts a failed store operation of kind (see
// jifen_store_errors_total). Its signature is postgres.Options' OnError.
func (m *Metrics) StoreError(kind string) { m.storeErrors.vec.WithLabelValues(kind).Inc() }

// StoreRetry counts a write run again for reason. Its signature is
// postgres.Options' OnRetry.
func (m *Metrics) StoreRetry(reason string) { m.storeRetries.WithLabelValues(reason).Inc() }

// CountStoreErrors exports total, a count of errors of kind that the
// store keeps itself (SQLite's failed commits), as
// jifen_store_errors_total{kind=kind}, read at each scrape.
func (m *Metrics) CountStoreErrors(kind string, total func() uint64) {
	c := m.storeErrors
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kept = append(c.kept, keptCount{kind, total})
}

// storeErrors collects jifen_store_errors_total: the kinds counted by
// hooks, and the kinds whose counts the stores keep themselves.
type storeErrors struct {
	vec  *prometheus.CounterVec
	desc *prometheus.Desc

	mu   sync.Mutex
	kept []keptCount
}

type keptCount struct {
	kind  string
	total func() uint64
}

func newStoreErrors() *storeErrors {
	const name, help = "jifen_store_errors_total", "Store operations that failed for the database's sake rather than the request's, by kind: " +
		"commit (SQLite: a group commit failed and its whole batch was answered unavailable), " +
		"unavailable (PostgreSQL: unreachable, timed out, or still conflicting after every retry), " +
		"internal (PostgreSQL: any other database error)."
	return &storeErrors{
		vec:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"kind"}),
		desc: prometheus.NewDesc(name, help, []string{"kind"}, nil),
	}
}

func (c *storeErrors) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *storeErrors) Collect(ch chan<- prometheus.Metric) {
	c.vec.Collect(ch)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.kept {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(k.total()), k.kind)
	}
}

// Replayed counts a write answered from its stored result; it makes
// *Metrics a points.Observer.
func (m *Metrics) Replayed(method string) { m.replays.WithLabelValues(method).Inc() }

// ObserveSweep records one sweep: what it wrote, and its lag unless it
// failed.
func (m *Metrics) ObserveSweep(expired, released int, lag time.Duration, err error) {
	m.sweptExpired.Add(float64(expired))
	m.sweptReleased.Add(float64(released))
	if err != nil {
		m.sweepFailed.Inc()
		return
	}
	m.sweepOK.Inc()
	m.sweepLag.Set(lag.Seconds())
}

// ObserveEventsRemoved records a removal of events after the retention
// period: how many went and the horizon after it.
func (m *Metrics) ObserveEventsRemoved(removed int, horizon int64) {
	m.eventsRemoved.Add(float64(removed))
	m.eventHorizon.Set(float64(horizon))
}

// ObserveWebhookAttempt records one webhook delivery attempt: the
// delivery's state after it (delivered, pending or failed) and how long
// it took. Its signature is webhook.Options' OnAttempt.
func (m *Metrics) ObserveWebhookAttempt(state string, d time.Duration) {
	m.webhookAttempts.WithLabelValues(state).Inc()
	m.webhookDuration.Observe(d.Seconds())
}
