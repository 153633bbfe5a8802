package remote

import (
	"fmt"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// recentCommands is how many command ids are remembered: far more than a
// broker re-delivers at once, few enough to cost nothing.
const recentCommands = 256

// HandleCommand runs a message of the commands topic: poll_now asks for a
// poll round at once (on Options.PollNow), discover_now for a discovery
// sweep (on Options.DiscoverNow). QoS 1 may deliver a command twice, so a
// command whose id was seen lately is ignored. A message that is not a
// known command is logged and ignored; the error says why.
func (c *Controller) HandleCommand(payload []byte) error {
	cmd, err := wire.DecodeCommand(payload)
	if err != nil {
		c.log.Warn("command ignored: not a command this agent knows", "error", err.Error())
		return fmt.Errorf("command: %w", err)
	}
	log := c.log.With("command", string(cmd.Name), "command_id", cmd.ID)
	c.mu.Lock()
	repeated := cmd.ID != "" && !c.commands.add(cmd.ID)
	c.mu.Unlock()
	if repeated {
		log.Info("command already received; ignoring the repeat")
		return nil
	}
	var to chan<- struct{}
	switch cmd.Name {
	case domain.CommandPollNow:
		to = c.pollNow
	case domain.CommandDiscoverNow:
		to = c.discoverNow
	}
	if to == nil {
		log.Warn("command ignored: this agent does not run it")
		return fmt.Errorf("command %s: not run by this agent", cmd.Name)
	}
	notify(to)
	log.Info("command received")
	return nil
}

// recentIDs remembers the last ids added, up to a bound, the oldest
// forgotten first.
type recentIDs struct {
	ring []string // the ids in order of arrival, wrapping at next
	next int
	set  map[string]struct{}
}

func newRecentIDs(size int) recentIDs {
	return recentIDs{ring: make([]string, size), set: make(map[string]struct{}, size)}
}

// add remembers id and reports whether it was new.
func (r *recentIDs) add(id string) bool {
	if _, seen := r.set[id]; seen {
		return false
	}
	if oldest := r.ring[r.next]; oldest != "" {
		delete(r.set, oldest)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.set[id] = struct{}{}
	return true
}
