package main

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/collector/internal/mqtttest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// TestCollectorPublishesPollRequests: an extra read recorded in
// poll_requests (as the portal's back office records it) reaches the
// device's agent as a poll_now command on its commands topic, once, and
// the request is marked sent.
func TestCollectorPublishesPollRequests(t *testing.T) {
	every := pollRequestsEvery
	pollRequestsEvery = 50 * time.Millisecond
	t.Cleanup(func() { pollRequestsEvery = every })
	dbURL := schematest.SQLiteURL(t)
	c := startCollector(t, "-database", dbURL, "-broker-listen", "127.0.0.1:0", "-client-id", "collector-poll-test", "-http-listen", "")

	const agentID = "agent-poll"
	agent := mqtttest.Connect(t, "tcp://"+c.brokerAddr, agentID+"-test")
	acks := mqtttest.Subscribe(t, agent, topic.For(agentID, topic.Acks))
	commands := mqtttest.Subscribe(t, agent, topic.For(agentID, topic.Commands))
	batch, err := wire.Encode(wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: agentID, Sequence: 1, SentAt: day,
		Reads: []wire.DeviceRead{{Serial: "SN-POLL", Vendor: "Xerox", Address: "127.0.2.11", ReadAt: day.Add(8 * time.Hour),
			Counters: []wire.Counter{{Kind: domain.CounterTotal, Value: 1000}}}}})
	if err != nil {
		t.Fatal(err)
	}
	mqtttest.Publish(t, agent, topic.For(agentID, topic.Reads), batch)
	mqtttest.Receive(t, acks)

	src, err := schema.ParseSource(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlx.Open(src.Driver, src.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO poll_requests (device_id, agent_id, reason, requested_at, requested_by_system)
SELECT id, ?, 'jump', ?, 'test' FROM devices WHERE device_key = 'sn:SN-POLL'`, agentID, day.Add(9*time.Hour)); err != nil {
		t.Fatal(err)
	}
	cmd, err := wire.DecodeCommand(mqtttest.Receive(t, commands).Payload())
	if err != nil || cmd.Name != domain.CommandPollNow || cmd.ID != "poll-request-1" {
		t.Fatalf("command = %+v, %v; want poll_now of request 1", cmd, err)
	}
	if err := c.stop(t); err != nil {
		t.Fatal(err)
	}
	var sent int
	if err := db.Get(&sent, `SELECT COUNT(*) FROM poll_requests WHERE sent_at IS NOT NULL`); err != nil || sent != 1 {
		t.Errorf("requests marked sent: %d, %v", sent, err)
	}
	select {
	case m := <-commands:
		t.Errorf("a second command: %s", m.Payload())
	default:
	}
}
