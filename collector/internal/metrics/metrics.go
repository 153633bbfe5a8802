// Package metrics is the collector's Prometheus instrumentation. The
// metrics live on a registry of their own, so that tests can build as many
// as they like, and are served by Handler. Every method is safe on a nil
// *Metrics (a no-op): pipelines built without metrics need no guard.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name: meterline_collector_….
const namespace = "meterline_collector"

// Duplicate levels, the values of the level label.
const (
	LevelBatch = "batch"
	LevelRead  = "read"
)

// Metrics holds the collector's metrics.
type Metrics struct {
	registry *prometheus.Registry

	messagesReceived   *prometheus.CounterVec
	readsStored        prometheus.Counter
	duplicatesBatch    prometheus.Counter
	duplicatesRead     prometheus.Counter
	deadLetters        *prometheus.CounterVec
	deadLetterRepeats  prometheus.Counter
	readsRefused       prometheus.Counter
	sequencesReused    prometheus.Counter
	deadLettersStored  prometheus.Gauge
	deadLettersPruned  *prometheus.CounterVec
	writeBatchMessages prometheus.Histogram
	writeBatchReads    prometheus.Histogram
	commitSeconds      prometheus.Histogram
	writeRetries       prometheus.Counter
	agentsOnline       prometheus.Gauge

	// queueDepth is read at each scrape; nil until SetQueueDepth.
	mu         sync.Mutex
	queueDepth func() int
}

// New returns the collector's metrics on a registry of their own, with the
// Go runtime and process collectors beside them.
func New() *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	m.messagesReceived = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "messages_received_total",
		Help:      "MQTT messages taken from the broker, by topic kind (reads, status, events, unknown).",
	}, []string{"kind"})
	m.readsStored = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "reads_stored_total",
		Help:      "Meter reads added to the database.",
	})
	duplicates := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "duplicates_dropped_total",
		Help:      "Duplicates dropped: whole read batches already stored (level=batch), and reads already stored in new batches (level=read).",
	}, []string{"level"})
	m.duplicatesBatch = duplicates.WithLabelValues(LevelBatch)
	m.duplicatesRead = duplicates.WithLabelValues(LevelRead)
	m.deadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "dead_letters_total",
		Help:      "Messages refused and kept in dead_letters, by domain error code.",
	}, []string{"reason"})
	m.deadLetterRepeats = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "dead_letter_repeats_total",
		Help:      "Messages refused again (the same payload on the same topic): counted on their dead letter, not stored again.",
	})
	m.readsRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "reads_refused_total",
		Help:      "Reads refused alone and kept in dead_letters; the other reads of their batch are stored.",
	})
	m.sequencesReused = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "batch_sequences_reused_total",
		Help:      "Read batches stored under an (agent, sequence) another batch had: the agent's sequence started over.",
	})
	m.deadLettersStored = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "dead_letters_stored",
		Help:      "Rows of dead_letters after the last pruning.",
	})
	m.deadLettersPruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "dead_letters_pruned_total",
		Help:      "Dead letters removed by retention, by why: age, agent_cap, count.",
	}, []string{"why"})
	m.writeBatchMessages = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "write_batch_messages",
		Help:      "Messages per committed write transaction.",
		Buckets:   prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024
	})
	m.writeBatchReads = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "write_batch_reads",
		Help:      "Meter reads per committed write transaction.",
		Buckets:   []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
	})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace,
		Name:      "commit_seconds",
		Help:      "Time taken by a committed write transaction, in seconds.",
		Buckets:   prometheus.ExponentialBuckets(0.0005, 2, 15), // 0.5 ms … ~8 s
	})
	m.writeRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "write_retries_total",
		Help:      "Database writes that failed and are retried.",
	})
	m.agentsOnline = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "agents_online",
		Help:      "Agents whose last status says online.",
	})
	queueDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "queue_depth",
		Help:      "Messages received and waiting for an ingest worker.",
	}, m.readQueueDepth)

	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.messagesReceived, m.readsStored, duplicates, m.deadLetters,
		m.deadLetterRepeats, m.readsRefused, m.sequencesReused, m.deadLettersStored, m.deadLettersPruned,
		m.writeBatchMessages, m.writeBatchReads, m.commitSeconds,
		m.writeRetries, m.agentsOnline, queueDepth,
	)
	return m
}

// Handler serves the registry in the Prometheus exposition formats. A nil
// *Metrics serves an empty page.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// MessageReceived counts one MQTT message taken from the broker; kind is
// the topic kind (reads, status, events) or "unknown".
func (m *Metrics) MessageReceived(kind string) {
	if m == nil {
		return
	}
	m.messagesReceived.WithLabelValues(kind).Inc()
}

// Committed records one committed write transaction: how many messages and
// reads it held, how many reads it added, and how long the commit took.
func (m *Metrics) Committed(messages, reads, stored int, took time.Duration) {
	if m == nil {
		return
	}
	m.writeBatchMessages.Observe(float64(messages))
	m.writeBatchReads.Observe(float64(reads))
	m.commitSeconds.Observe(took.Seconds())
	if stored > 0 {
		m.readsStored.Add(float64(stored))
	}
}

// DuplicateBatches counts read batches already stored (re-sent by agents).
func (m *Metrics) DuplicateBatches(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.duplicatesBatch.Add(float64(n))
}

// DuplicateReads counts reads already stored under their device and read
// time, in batches that were new.
func (m *Metrics) DuplicateReads(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.duplicatesRead.Add(float64(n))
}

// DeadLetter counts one refused message; reason is its domain error code.
func (m *Metrics) DeadLetter(reason string) {
	if m == nil {
		return
	}
	m.deadLetters.WithLabelValues(reason).Inc()
}

// DeadLetterRepeat counts a message refused again, whose dead letter was
// already kept.
func (m *Metrics) DeadLetterRepeat() {
	if m == nil {
		return
	}
	m.deadLetterRepeats.Inc()
}

// ReadsRefused counts reads refused alone and dead-lettered.
func (m *Metrics) ReadsRefused(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.readsRefused.Add(float64(n))
}

// SequenceReused counts a batch stored under a reused (agent, sequence).
func (m *Metrics) SequenceReused() {
	if m == nil {
		return
	}
	m.sequencesReused.Inc()
}

// Reasons dead letters are pruned, the values of the why label.
const (
	PrunedAge      = "age"
	PrunedAgentCap = "agent_cap"
	PrunedCount    = "count"
)

// DeadLettersPruned counts dead letters removed by retention, why being
// one of the Pruned… reasons.
func (m *Metrics) DeadLettersPruned(why string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.deadLettersPruned.WithLabelValues(why).Add(float64(n))
}

// SetDeadLettersStored sets how many dead letters the table holds.
func (m *Metrics) SetDeadLettersStored(n int) {
	if m == nil {
		return
	}
	m.deadLettersStored.Set(float64(n))
}

// WriteRetry counts a database write that failed and is retried.
func (m *Metrics) WriteRetry() {
	if m == nil {
		return
	}
	m.writeRetries.Inc()
}

// SetQueueDepth gives the function read at each scrape for the queue depth.
func (m *Metrics) SetQueueDepth(depth func() int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queueDepth = depth
}

// readQueueDepth is the queue_depth gauge: 0 until SetQueueDepth.
func (m *Metrics) readQueueDepth() float64 {
	m.mu.Lock()
	depth := m.queueDepth
	m.mu.Unlock()
	if depth == nil {
		return 0
	}
	return float64(depth())
}

// SetAgentsOnline sets the number of agents online.
func (m *Metrics) SetAgentsOnline(n int) {
	if m == nil {
		return
	}
	m.agentsOnline.Set(float64(n))
}
