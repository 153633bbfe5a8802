// Package topic builds and parses Meterline's MQTT topic names:
// meterline/v1/agents/{agent}/{kind} (DESIGN.md §3).
package topic

import (
	"fmt"
	"strings"
)

// Prefix is the root of every Meterline topic; the version is in the path.
const Prefix = "meterline/v1/agents/"

// Kind is the last level of a topic: what the messages on it are.
type Kind string

// Topic kinds. The first three flow agent → collector, the others back.
const (
	Reads    Kind = "reads"
	Status   Kind = "status"
	Events   Kind = "events"
	Config   Kind = "config"
	Commands Kind = "commands"
	Acks     Kind = "acks"
)

// DefaultShareGroup is the shared-subscription group collector replicas join.
const DefaultShareGroup = "collectors"

// For returns the topic of the given kind for an agent.
func For(agentID string, k Kind) string {
	return Prefix + agentID + "/" + string(k)
}

// Shared returns the shared-subscription filter through which the replicas
// of a collector group split every agent's messages of one kind.
func Shared(group string, k Kind) string {
	return "$share/" + group + "/" + Prefix + "+/" + string(k)
}

// Parse splits a topic into its agent id and kind.
func Parse(t string) (agentID string, k Kind, err error) {
	rest, ok := strings.CutPrefix(t, Prefix)
	if !ok {
		return "", "", fmt.Errorf("topic %q is not under %s", t, Prefix)
	}
	agentID, kind, ok := strings.Cut(rest, "/")
	if !ok || !ValidAgentID(agentID) || strings.Contains(kind, "/") {
		return "", "", fmt.Errorf("topic %q is not %s{agent}/{kind}", t, Prefix)
	}
	switch k := Kind(kind); k {
	case Reads, Status, Events, Config, Commands, Acks:
		return agentID, k, nil
	default:
		return "", "", fmt.Errorf("topic %q: unknown kind %q", t, kind)
	}
}

// ValidAgentID reports whether id can name an agent: 1 to 64 characters of
// letters, digits, '.', '_' and '-', so that it is one safe topic level (no
// '/', '+', '#') and one safe broker user name.
func ValidAgentID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// FromAgent reports whether messages of kind k flow from an agent to the
// collector (reads, status, events); the other kinds flow back.
func (k Kind) FromAgent() bool {
	switch k {
	case Reads, Status, Events:
		return true
	}
	return false
}

// The rights of an agent on a broker, whose user name is its agent id.
// They are the rules of deploy/mosquitto/acl, which the collector's
// embedded broker applies too: an agent publishes its own reads, status
// and events, and receives its own config, commands and acks, nothing of
// any other agent. So it can neither forge an ack (its batches would be
// dropped unstored) nor push a config to another agent.

// AgentMayPublish reports whether the agent agentID may publish on
// topicName.
func AgentMayPublish(agentID, topicName string) bool {
	id, k, err := Parse(topicName)
	return err == nil && id == agentID && k.FromAgent()
}

// AgentMayReceive reports whether the agent agentID may subscribe to
// filter, or be delivered a message on the topic filter. Only its own
// topics, each named in full: a wildcard would reach other agents' topics,
// and a shared subscription the collectors' stream.
func AgentMayReceive(agentID, filter string) bool {
	id, k, err := Parse(filter)
	return err == nil && id == agentID && !k.FromAgent()
}
