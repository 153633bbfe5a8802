package topic_test

import (
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
