package store

import (
	"context"
	"testing"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

func TestAgentsOnline(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := migratedStore(t, d)
			count := func(want int) {
				t.Helper()
				n, err := s.AgentsOnline(ctx)
				if err != nil {
					t.Fatalf("AgentsOnline: %v", err)
				}
				if n != want {
					t.Errorf("AgentsOnline = %d, want %d", n, want)
				}
			}
			count(0)
			status := func(agent string, state domain.AgentState) {
				t.Helper()
				if err := s.SaveStatus(ctx, wire.AgentStatus{Schema: wire.SchemaVersion, AgentID: agent, State: state}); err != nil {
					t.Fatal(err)
				}
			}
			status("agent-1", domain.AgentOnline)
			status("agent-2", domain.AgentOnline)
			status("agent-3", domain.AgentOffline)
			count(2)
			status("agent-1", domain.AgentOffline) // its Last Will
			count(1)
		})
	}
}
