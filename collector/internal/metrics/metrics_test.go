package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.MessageReceived("reads")
	m.Committed(1, 2, 2, time.Millisecond)
	m.DuplicateBatches(1)
	m.DuplicateReads(1)
	m.DeadLetter("EINVALID")
	m.WriteRetry()
	m.DeadLetterRepeat()
	m.ReadsRefused(2)
	m.SequenceReused()
	m.DeadLettersPruned(PrunedAge, 3)
	m.SetDeadLettersStored(4)
	m.SetQueueDepth(func() int { return 1 })
	m.SetAgentsOnline(1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("nil Handler status = %d, want 200", rec.Code)
	}
}

func TestCounters(t *testing.T) {
	m := New()
	m.MessageReceived("reads")
	m.MessageReceived("reads")
	m.MessageReceived("status")
	m.Committed(3, 120, 100, 20*time.Millisecond)
	m.Committed(1, 5, 5, time.Millisecond)
	m.Committed(1, 0, 0, time.Millisecond) // a status: no reads
	m.DuplicateBatches(2)
	m.DuplicateBatches(0)
	m.DuplicateReads(7)
	m.DeadLetter("EINVALID")
	m.DeadLetter("ESCHEMA")
	m.DeadLetter("EINVALID")
	m.WriteRetry()
	m.DeadLetterRepeat()
	m.ReadsRefused(3)
	m.ReadsRefused(0)
	m.SequenceReused()
	m.DeadLettersPruned(PrunedAge, 2)
	m.DeadLettersPruned(PrunedAgentCap, 5)
	m.DeadLettersPruned(PrunedCount, 0)
	m.SetDeadLettersStored(42)

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"messages reads", testutil.ToFloat64(m.messagesReceived.WithLabelValues("reads")), 2},
		{"messages status", testutil.ToFloat64(m.messagesReceived.WithLabelValues("status")), 1},
		{"reads stored", testutil.ToFloat64(m.readsStored), 105},
		{"duplicate batches", testutil.ToFloat64(m.duplicatesBatch), 2},
		{"duplicate reads", testutil.ToFloat64(m.duplicatesRead), 7},
		{"dead letters EINVALID", testutil.ToFloat64(m.deadLetters.WithLabelValues("EINVALID")), 2},
		{"dead letters ESCHEMA", testutil.ToFloat64(m.deadLetters.WithLabelValues("ESCHEMA")), 1},
		{"write retries", testutil.ToFloat64(m.writeRetries), 1},
		{"dead letter repeats", testutil.ToFloat64(m.deadLetterRepeats), 1},
		{"reads refused", testutil.ToFloat64(m.readsRefused), 3},
		{"sequences reused", testutil.ToFloat64(m.sequencesReused), 1},
		{"pruned by age", testutil.ToFloat64(m.deadLettersPruned.WithLabelValues(PrunedAge)), 2},
		{"pruned by agent cap", testutil.ToFloat64(m.deadLettersPruned.WithLabelValues(PrunedAgentCap)), 5},
		{"pruned by count", testutil.ToFloat64(m.deadLettersPruned.WithLabelValues(PrunedCount)), 0},
		{"dead letters stored", testutil.ToFloat64(m.deadLettersStored), 42},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.commitSeconds); n != 1 {
		t.Errorf("commit_seconds series = %d, want 1", n)
	}
}

func TestGauges(t *testing.T) {
	m := New()
	body := scrape(t, m)
	for _, line := range []string{
		"meterline_collector_queue_depth 0\n",
		"meterline_collector_agents_online 0\n",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("before any set, scrape lacks %q", line)
		}
	}

	var depth atomic.Int64 // read by the server's goroutine
	depth.Store(17)
	m.SetQueueDepth(func() int { return int(depth.Load()) })
	m.SetAgentsOnline(4)
	body = scrape(t, m)
	for _, line := range []string{
		"meterline_collector_queue_depth 17\n",
		"meterline_collector_agents_online 4\n",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("scrape lacks %q", line)
		}
	}
	depth.Store(3)
	if !strings.Contains(scrape(t, m), "meterline_collector_queue_depth 3\n") {
		t.Error("queue_depth is not read at each scrape")
	}
}

func TestHandlerServesEveryMetric(t *testing.T) {
	m := New()
	m.MessageReceived("events")
	m.Committed(2, 40, 38, 5*time.Millisecond)
	m.DuplicateReads(2)
	m.DuplicateBatches(1)
	m.DeadLetter("ETOOLARGE")
	m.WriteRetry()
	body := scrape(t, m)
	for _, want := range []string{
		`meterline_collector_messages_received_total{kind="events"} 1`,
		`meterline_collector_reads_stored_total 38`,
		`meterline_collector_duplicates_dropped_total{level="batch"} 1`,
		`meterline_collector_duplicates_dropped_total{level="read"} 2`,
		`meterline_collector_dead_letters_total{reason="ETOOLARGE"} 1`,
		`meterline_collector_write_batch_messages_count 1`,
		`meterline_collector_write_batch_reads_bucket{le="10000"} 1`,
		`meterline_collector_write_batch_reads_sum 40`,
		`meterline_collector_commit_seconds_count 1`,
		`meterline_collector_write_retries_total 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
}

// TestRegistriesAreSeparate builds two: a global registry would panic on
// the second registration.
func TestRegistriesAreSeparate(t *testing.T) {
	a, b := New(), New()
	a.WriteRetry()
	if got := testutil.ToFloat64(b.writeRetries); got != 0 {
		t.Errorf("second registry's write retries = %v, want 0", got)
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape status = %d: %s", resp.StatusCode, b)
	}
	return string(b)
}
