package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/collector/internal/store"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// wait bounds every wait of these tests; it guards against a hang and
// measures nothing.
const wait = 30 * time.Second

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fakeStore records what is saved. saveBatch, when set, decides the outcome
// of each SaveBatch call.
type fakeStore struct {
	mu          sync.Mutex
	batches     map[uint64]int // seq → times stored or found duplicate
	batchCalls  int
	batchSizes  []int // batches per SaveBatches call
	statuses    []wire.AgentStatus
	events      []wire.Event
	deadLetters []string        // reasons, each payload once
	lettersSeen map[string]bool // topic and payload of each dead letter
	saveBatch   func(call int) error
	deadLetter  func() error
}

func newFakeStore() *fakeStore {
	return &fakeStore{batches: map[uint64]int{}, lettersSeen: map[string]bool{}}
}

func (s *fakeStore) SaveBatches(ctx context.Context, in []store.IncomingBatch) ([]store.BatchResult, error) {
	s.mu.Lock()
	s.batchCalls++
	s.batchSizes = append(s.batchSizes, len(in))
	call, hook := s.batchCalls, s.saveBatch
	s.mu.Unlock()
	if hook != nil {
		if err := hook(call); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]store.BatchResult, len(in))
	for i, b := range in {
		s.batches[b.Batch.Sequence]++
		if s.batches[b.Batch.Sequence] > 1 {
			results[i].Duplicate = true
		} else {
			results[i].Stored = len(b.Batch.Reads)
		}
	}
	return results, nil
}

func (s *fakeStore) SaveStatus(ctx context.Context, st wire.AgentStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses = append(s.statuses, st)
	return nil
}

func (s *fakeStore) SaveEvent(ctx context.Context, e wire.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	return nil
}

func (s *fakeStore) SaveDeadLetter(ctx context.Context, m store.RefusedMessage) (bool, error) {
	s.mu.Lock()
	hook := s.deadLetter
	s.mu.Unlock()
	if hook != nil {
		if err := hook(); err != nil {
			return false, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := m.Topic + " " + string(m.Payload)
	if s.lettersSeen[key] {
		return true, nil
	}
	s.lettersSeen[key] = true
	s.deadLetters = append(s.deadLetters, m.Reason)
	return false, nil
}

// fakeMessage closes acked when acknowledged; a second Ack panics, which
// is a bug worth a crash in a test.
type fakeMessage struct {
	topic   string
	payload []byte
	acked   chan struct{}
}

func newMessage(topicName, payload string) *fakeMessage {
	return &fakeMessage{topic: topicName, payload: []byte(payload), acked: make(chan struct{})}
}

func (m *fakeMessage) Topic() string   { return m.topic }
func (m *fakeMessage) Payload() []byte { return m.payload }
func (m *fakeMessage) Ack()            { close(m.acked) }

func (m *fakeMessage) isAcked() bool {
	select {
	case <-m.acked:
		return true
	default:
		return false
	}
}

func waitAcked(t *testing.T, m *fakeMessage) {
	t.Helper()
	select {
	case <-m.acked:
	case <-time.After(wait):
		t.Fatalf("message on %s was never acknowledged", m.topic)
	}
}

// fakePublisher records published acknowledgements.
type fakePublisher struct {
	mu    sync.Mutex
	acks  []string // "topic seqs"
	whole []wire.Ack
	err   error
}

func (p *fakePublisher) Publish(topicName string, payload []byte) error {
	ack, err := wire.DecodeAck(payload)
	if err != nil {
		return fmt.Errorf("published a bad ack: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acks = append(p.acks, fmt.Sprintf("%s %v", topicName, ack.Sequences))
	p.whole = append(p.whole, ack)
	return p.err
}

// take returns the acks published since the last call.
func (p *fakePublisher) take() []wire.Ack {
	p.mu.Lock()
	defer p.mu.Unlock()
	acks := p.whole
	p.whole = nil
	return acks
}

func (p *fakePublisher) published() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.acks...)
}

func newPipeline(t *testing.T, store Store, pub Publisher, workers int) *Pipeline {
	t.Helper()
	p := NewPipeline(store, pub, PipelineConfig{
		Workers:  workers,
		RetryMin: time.Millisecond,
		RetryMax: 2 * time.Millisecond,
		Now:      func() time.Time { return now },
	}, discard())
	t.Cleanup(func() { p.Stop(context.Background()) })
	return p
}

func batchPayload(agentID string, seq uint64) string {
	return fmt.Sprintf(`{"schema":1,"agent_id":%q,"seq":%d,"reads":[{"address":"127.0.0.1","read_at":"2025-03-31T22:00:00Z"}]}`, agentID, seq)
}

var readsTopic = topic.For("agent-1", topic.Reads)

func TestPipelineStoresAndAcknowledges(t *testing.T) {
	store, pub := newFakeStore(), &fakePublisher{}
	p := newPipeline(t, store, pub, 4)

	msgs := []*fakeMessage{
		newMessage(readsTopic, batchPayload("agent-1", 1)),
		newMessage(readsTopic, `garbage`),
		newMessage(readsTopic, batchPayload("agent-1", 2)),
		newMessage(readsTopic, `{"schema":9,"agent_id":"agent-1","seq":3}`),
		newMessage(readsTopic, batchPayload("agent-2", 3)),
		newMessage(readsTopic, batchPayload("agent-1", 1)), // duplicate
		newMessage(topic.For("agent-1", topic.Status), `{"schema":1,"agent_id":"agent-1","state":"online"}`),
		newMessage(topic.For("agent-1", topic.Events), `{"schema":1,"agent_id":"agent-1","id":"e1","at":"2025-03-31T22:00:00Z","kind":"jam"}`),
	}
	for _, m := range msgs {
		p.Handle(m)
	}
	for _, m := range msgs {
		waitAcked(t, m)
	}

	store.mu.Lock()
	defer store.mu.Unlock()
	if store.batches[1] != 2 || store.batches[2] != 1 || len(store.batches) != 2 {
		t.Errorf("batches saved = %v, want seq 1 twice (once a duplicate) and seq 2 once", store.batches)
	}
	wantReasons := []string{"invalid: not a JSON object", "schema: schema version 9", `invalid: agent id "agent-2"`}
	if len(store.deadLetters) != len(wantReasons) {
		t.Fatalf("dead letters = %q, want %d", store.deadLetters, len(wantReasons))
	}
	for _, want := range wantReasons {
		if !containsPrefix(store.deadLetters, want) {
			t.Errorf("dead letters = %q, want one starting %q", store.deadLetters, want)
		}
	}
	if len(store.statuses) != 1 || len(store.events) != 1 {
		t.Errorf("statuses, events = %d, %d; want 1, 1", len(store.statuses), len(store.events))
	}
	// Acknowledgements may group an agent's sequences; each committed
	// batch is acknowledged, nothing else is.
	acked := map[string]bool{}
	for _, a := range pub.published() {
		topicName, seqs, _ := strings.Cut(a, " ")
		for _, seq := range strings.Fields(strings.Trim(seqs, "[]")) {
			acked[topicName+" "+seq] = true
		}
	}
	// The batch of schema 9 is settled too (rejected), so that its agent
	// stops re-sending it; the one naming agent-2 is settled with nobody.
	wantAcked := map[string]bool{
		topic.For("agent-1", topic.Acks) + " 1": true, topic.For("agent-1", topic.Acks) + " 2": true, topic.For("agent-1", topic.Acks) + " 3": true,
	}
	if fmt.Sprint(acked) != fmt.Sprint(wantAcked) {
		t.Errorf("acknowledged = %v, want %v", acked, wantAcked)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestPipelineRetriesDatabaseErrors(t *testing.T) {
	store, pub := newFakeStore(), &fakePublisher{}
	store.saveBatch = func(call int) error {
		if call <= 2 {
			return errors.New("connection refused")
		}
		return nil
	}
	p := newPipeline(t, store, pub, 1)
	m := newMessage(readsTopic, batchPayload("agent-1", 1))
	p.Handle(m)
	waitAcked(t, m)

	if store.batchCalls != 3 {
		t.Errorf("SaveBatch calls = %d, want 3 (two failures, then success)", store.batchCalls)
	}
	if acks := pub.published(); len(acks) != 1 {
		t.Errorf("acks published = %q, want one", acks)
	}
}

func TestPipelineDeadLettersDataTheStoreRefuses(t *testing.T) {
	store, pub := newFakeStore(), &fakePublisher{}
	store.saveBatch = func(int) error {
		return fmt.Errorf("store: %w", domain.Errorf(domain.EINVALID, "sequence too large"))
	}
	p := newPipeline(t, store, pub, 1)
	m := newMessage(readsTopic, batchPayload("agent-1", 1))
	p.Handle(m)
	waitAcked(t, m)

	if len(store.deadLetters) != 1 || store.deadLetters[0] != "invalid: sequence too large" {
		t.Errorf("dead letters = %q, want the store's reason", store.deadLetters)
	}
	acks := pub.take()
	if len(acks) != 1 || len(acks[0].Batches) != 1 || acks[0].Batches[0].Rejected != "invalid: sequence too large" {
		t.Errorf("acks published = %+v, want one rejecting the batch with the store's reason", acks)
	}
}

func TestPipelineAcknowledgesEvenIfTheAgentAckIsNotPublished(t *testing.T) {
	store, pub := newFakeStore(), &fakePublisher{err: errors.New("publish timed out")}
	p := newPipeline(t, store, pub, 1)
	m := newMessage(readsTopic, batchPayload("agent-1", 1))
	p.Handle(m)
	waitAcked(t, m)
}

func TestPipelineStopDrainsTheQueue(t *testing.T) {
	store, pub := newFakeStore(), &fakePublisher{}
	gate := make(chan struct{})
	store.saveBatch = func(int) error {
		<-gate
		return nil
	}
	p := newPipeline(t, store, pub, 1)
	var msgs []*fakeMessage
	for seq := range uint64(5) {
		m := newMessage(readsTopic, batchPayload("agent-1", seq+1))
		msgs = append(msgs, m)
		p.Handle(m)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(context.Background()) }()
	close(gate)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, m := range msgs {
		if !m.isAcked() {
			t.Errorf("message %s not acknowledged after Stop", m.payload)
		}
	}

	late := newMessage(readsTopic, batchPayload("agent-1", 9))
	p.Handle(late)
	if late.isAcked() || store.batches[9] != 0 {
		t.Error("a message handled after Stop was taken")
	}
}

func TestPipelineStopDuringOutageLeavesMessagesUnacknowledged(t *testing.T) {
	store, pub := newFakeStore(), &fakePublisher{}
	failing := make(chan struct{}, 1)
	store.saveBatch = func(int) error {
		select {
		case failing <- struct{}{}:
		default:
		}
		return errors.New("database is down")
	}
	store.deadLetter = func() error {
		select {
		case failing <- struct{}{}:
		default:
		}
		return errors.New("database is down")
	}
	p := newPipeline(t, store, pub, 2)
	stored := newMessage(readsTopic, batchPayload("agent-1", 1))
	refused := newMessage(readsTopic, `garbage`)
	p.Handle(stored)
	p.Handle(refused)
	<-failing // a worker is retrying

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // give up at once
	if err := p.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop = %v, want context.Canceled", err)
	}
	if stored.isAcked() || refused.isAcked() {
		t.Error("a message was acknowledged although nothing was written")
	}
	if acks := pub.published(); len(acks) != 0 {
		t.Errorf("acks published = %q, want none", acks)
	}
}
