package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meterline/meterline/collector/internal/store"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// fakePollStore hands out its requests once and records those given back.
type fakePollStore struct {
	reqs     []store.PollRequest
	unclaims []int64
}

func (f *fakePollStore) ClaimPollRequests(_ context.Context, limit int) ([]store.PollRequest, error) {
	out := f.reqs[:min(limit, len(f.reqs))]
	f.reqs = f.reqs[len(out):]
	return out, nil
}

func (f *fakePollStore) UnclaimPollRequest(_ context.Context, id int64) error {
	f.unclaims = append(f.unclaims, id)
	return nil
}

// topicPublisher records what is published, refusing one topic.
type topicPublisher struct {
	refuse string
	got    map[string][]byte
}

func (p *topicPublisher) Publish(t string, payload []byte) error {
	if t == p.refuse {
		return errors.New("broker down")
	}
	p.got[t] = payload
	return nil
}

func TestSendPollRequests(t *testing.T) {
	st := &fakePollStore{reqs: []store.PollRequest{{ID: 7, DeviceID: 1, AgentID: "site-a"}, {ID: 8, DeviceID: 2, AgentID: "site-b"}}}
	pub := &topicPublisher{refuse: topic.For("site-b", topic.Commands), got: map[string][]byte{}}
	now := time.Date(2025, 4, 2, 10, 0, 0, 0, time.UTC)
	sent, err := SendPollRequests(context.Background(), st, pub, now)
	if sent != 1 || err == nil {
		t.Fatalf("SendPollRequests = %d, %v; want 1 and site-b's error", sent, err)
	}
	cmd, err := wire.DecodeCommand(pub.got[topic.For("site-a", topic.Commands)])
	if err != nil || cmd.Name != domain.CommandPollNow || cmd.ID != "poll-request-7" || !cmd.At.Equal(now) {
		t.Errorf("command to site-a = %+v, %v", cmd, err)
	}
	if len(st.unclaims) != 1 || st.unclaims[0] != 8 {
		t.Errorf("given back = %v, want [8]", st.unclaims)
	}
}
