package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// TestRemoteConfigOutsideTheLocalFile runs the daemon against a real
// broker with a retained remote config naming a target its remote_allow
// covers, a foreign host and a foreign range: the first is polled, the
// other two are refused and listed in the retained status.
func TestRemoteConfigOutsideTheLocalFile(t *testing.T) {
	url := brokerURL(t)
	fleet, _ := serveFleet(t)
	agentID := fmt.Sprintf("test-agent-scope-%d", time.Now().UnixNano())
	local, allowed := fleet.Devices()[0].Addr.String(), fleet.Devices()[1].Addr.String()
	cfg := fmt.Sprintf(`agent_id = %q
state_dir = %q
poll_interval = "1s"
targets = [%q]
remote_allow = ["127.0.0.1"]
[mqtt]
url = %q
[snmp]
timeout = "2s"
`, agentID, filepath.Join(t.TempDir(), "state"), local, url)
	path := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	sub := newSubscriber(t, url)
	t.Cleanup(func() {
		// Leave no retained message behind on a shared broker.
		for _, k := range []topic.Kind{topic.Status, topic.Config} {
			sub.client.Publish(topic.For(agentID, k), 1, true, []byte{}).WaitTimeout(5 * time.Second)
		}
	})
	remote := mustJSON(t, wire.AgentConfig{Schema: wire.SchemaVersion,
		Targets: []string{allowed, "127.0.9.9"}, Ranges: []string{"127.0.9.0/24"}})
	if tok := sub.client.Publish(topic.For(agentID, topic.Config), 1, true, remote); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish the remote config: %v", tok.Error())
	}
	reads := sub.subscribe(t, topic.For(agentID, topic.Reads))
	statuses := sub.subscribe(t, topic.For(agentID, topic.Status))

	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runAppAsync(ctx, &app{stdout: logs, stderr: logs, now: time.Now}, "run", "--config", path)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	// The allowed target replaces the local one: a batch reads it alone.
	for {
		m := next(t, reads, "read batch of the allowed target")
		b, _, err := wire.DecodeReadBatch(m.Payload(), time.Now())
		if err != nil {
			t.Fatalf("batch %s: %v", m.Payload(), err)
		}
		if len(b.Reads) == 1 && b.Reads[0].Address == allowed && b.Reads[0].Serial == fleet.Devices()[1].Serial {
			break
		}
	}
	for {
		m := next(t, statuses, "status listing the refused entries")
		st, err := wire.DecodeAgentStatus(m.Payload())
		if err != nil {
			t.Fatalf("status %s: %v", m.Payload(), err)
		}
		if len(st.ConfigRefused) == 0 {
			continue // a status from before the config came
		}
		if len(st.ConfigRefused) != 2 ||
			!slices.ContainsFunc(st.ConfigRefused, func(s string) bool { return strings.Contains(s, "127.0.9.9:161") }) ||
			!slices.ContainsFunc(st.ConfigRefused, func(s string) bool { return strings.Contains(s, "127.0.9.0/24") }) {
			t.Errorf("config_refused %q, want the foreign host and the foreign range", st.ConfigRefused)
		}
		break
	}
	if !strings.Contains(logs.String(), "remote config: entries refused") {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := wire.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
