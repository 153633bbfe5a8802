package topic_test

import (
	"os"
	"strings"
	"testing"

	"github.com/meterline/meterline/shared/topic"
)

func TestForAndParse(t *testing.T) {
	for _, k := range []topic.Kind{topic.Reads, topic.Status, topic.Events, topic.Config, topic.Commands, topic.Acks} {
		tp := topic.For("site-01", k)
		if want := "meterline/v1/agents/site-01/" + string(k); tp != want {
			t.Errorf("For = %q, want %q", tp, want)
		}
		agent, kind, err := topic.Parse(tp)
		if err != nil || agent != "site-01" || kind != k {
			t.Errorf("Parse(%q) = %q, %q, %v", tp, agent, kind, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tp := range []string{
		"", "meterline/v1/agents/", "meterline/v2/agents/a/reads", "meterline/v1/agents/a",
		"meterline/v1/agents/a/b/reads", "meterline/v1/agents/a/unknown", "meterline/v1/agents/+/reads",
		"meterline/v1/agents/" + strings.Repeat("x", 65) + "/reads",
	} {
		if _, _, err := topic.Parse(tp); err == nil {
			t.Errorf("Parse(%q) accepted", tp)
		}
	}
}

func TestShared(t *testing.T) {
	if got := topic.Shared("collectors", topic.Reads); got != "$share/collectors/meterline/v1/agents/+/reads" {
		t.Errorf("Shared = %q", got)
	}
}

func TestValidAgentID(t *testing.T) {
	tests := map[string]bool{
		"site-01": true, "a.b_c": true, "": false, "a b": false, "a/b": false, "a+": false, "a#": false, "é": false,
		strings.Repeat("x", 64): true, strings.Repeat("x", 65): false,
	}
	for id, want := range tests {
		if got := topic.ValidAgentID(id); got != want {
			t.Errorf("ValidAgentID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestAgentRights(t *testing.T) {
	const a, b = "agent-a", "agent-b"
	tests := []struct {
		filter           string
		publish, receive bool
	}{
		{topic.For(a, topic.Reads), true, false},
		{topic.For(a, topic.Status), true, false},
		{topic.For(a, topic.Events), true, false},
		{topic.For(a, topic.Config), false, true},
		{topic.For(a, topic.Commands), false, true},
		{topic.For(a, topic.Acks), false, true},
		{topic.For(b, topic.Reads), false, false},
		{topic.For(b, topic.Status), false, false},
		{topic.For(b, topic.Acks), false, false},
		{topic.For(b, topic.Config), false, false},
		{topic.For(b, topic.Commands), false, false},
		{topic.Prefix + "+/acks", false, false},
		{topic.Prefix + a + "/+", false, false},
		{topic.Prefix + a + "/#", false, false},
		{topic.Prefix + "#", false, false},
		{"#", false, false},
		{topic.Shared(topic.DefaultShareGroup, topic.Reads), false, false},
		{"$share/g/" + topic.For(a, topic.Acks), false, false},
		{topic.For(a, topic.Acks) + "/x", false, false},
		{"$SYS/broker/clients/connected", false, false},
	}
	for _, tt := range tests {
		if got := topic.AgentMayPublish(a, tt.filter); got != tt.publish {
			t.Errorf("AgentMayPublish(%q, %q) = %v, want %v", a, tt.filter, got, tt.publish)
		}
		if got := topic.AgentMayReceive(a, tt.filter); got != tt.receive {
			t.Errorf("AgentMayReceive(%q, %q) = %v, want %v", a, tt.filter, got, tt.receive)
		}
	}
}

// TestAgentRightsMatchTheMosquittoACL keeps the rules in step with the
// pattern lines of deploy/mosquitto/acl, the production broker's.
func TestAgentRightsMatchTheMosquittoACL(t *testing.T) {
	acl, err := os.ReadFile("../../deploy/mosquitto/acl")
	if err != nil {
		t.Fatal(err)
	}
	const agent = "site-01"
	granted := map[string]bool{} // "write TOPIC" or "read TOPIC"
	for line := range strings.Lines(string(acl)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "pattern" {
			granted[f[1]+" "+strings.ReplaceAll(f[2], "%u", agent)] = true
		}
	}
	if len(granted) == 0 {
		t.Fatal("deploy/mosquitto/acl: no pattern lines")
	}
	for _, k := range []topic.Kind{topic.Reads, topic.Status, topic.Events, topic.Config, topic.Commands, topic.Acks} {
		tp := topic.For(agent, k)
		if got, want := topic.AgentMayPublish(agent, tp), granted["write "+tp]; got != want {
			t.Errorf("AgentMayPublish(%s) = %v, the acl file says %v", tp, got, want)
		}
		if got, want := topic.AgentMayReceive(agent, tp), granted["read "+tp]; got != want {
			t.Errorf("AgentMayReceive(%s) = %v, the acl file says %v", tp, got, want)
		}
		delete(granted, "write "+tp)
		delete(granted, "read "+tp)
	}
	for g := range granted {
		t.Errorf("deploy/mosquitto/acl grants agents %q, which AgentMayPublish/AgentMayReceive do not", g)
	}
}
