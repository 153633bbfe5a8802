package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// TestPollNowCommandAndEvents: a poll_now command makes a running agent
// poll at once, long before its interval, and the alerts its reads raise
// (the demo fleet has an empty toner; printers that stop answering) are
// stored by the collector as events, device_unreachable once per outage.
func TestPollNowCommandAndEvents(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, false)
	r.writeAgentConfig("10m")
	r.startCollector("collector-" + r.agentID)
	r.startAgent()
	r.waitBatches(1, 60*time.Second, "of the first round")

	cmd, err := wire.Encode(wire.Command{Schema: wire.SchemaVersion, ID: "cmd-1", Name: domain.CommandPollNow, At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, r.broker.addr, topic.For(r.agentID, topic.Commands), cmd, false)
	// At 10m, no round comes in the next 20s but the one asked for.
	r.waitBatches(2, 20*time.Second, "after poll_now")

	// The demo fleet's first printers include one with an empty toner.
	waitFor(t, "a toner_empty event stored", 20*time.Second, func() (bool, error) {
		n, err := r.eventCount(domain.EventTonerEmpty)
		return n > 0, fmt.Errorf("%d toner_empty events: %v", n, err) //nolint:errorlint // a progress note for waitFor, err often nil: nothing to unwrap
	})

	// Printers that stop answering raise device_unreachable, once per
	// device however many rounds fail.
	r.fleet.Close()
	for i := range 2 {
		publish(t, r.broker.addr, topic.For(r.agentID, topic.Commands),
			mustEncode(t, wire.Command{Schema: wire.SchemaVersion, ID: fmt.Sprintf("cmd-down-%d", i), Name: domain.CommandPollNow, At: time.Now().UTC()}), false)
		waitFor(t, "device_unreachable for every printer", 30*time.Second, func() (bool, error) {
			n, err := r.eventCount(domain.EventDeviceUnreachable)
			return n >= len(r.devices), fmt.Errorf("%d device_unreachable events, want %d: %v", n, len(r.devices), err) //nolint:errorlint // a progress note for waitFor, err often nil: nothing to unwrap
		})
	}
	time.Sleep(2 * time.Second) // room for a wrong second event to arrive
	if n, err := r.eventCount(domain.EventDeviceUnreachable); err != nil || n != len(r.devices) {
		t.Errorf("%d device_unreachable events (%v), want one per printer: %d", n, err, len(r.devices))
	}
}

func (r *rig) eventCount(kind domain.EventKind) (int, error) {
	var n int
	err := r.db.QueryRow(`SELECT count(*) FROM events WHERE agent_id = $1 AND kind = $2`, r.agentID, string(kind)).Scan(&n)
	return n, err
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := wire.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
