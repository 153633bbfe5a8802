package remote

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/snmp"
)

// scope is what the local file lets the collector point the agent at: its
// own targets, and the addresses of its own ranges and of remote_allow. A
// remote configuration is otherwise a way for whoever holds the collector
// (or its broker credentials) to make agents probe any network they reach.
type scope struct {
	targets []string // the local targets, "host:port"
	allowed netrange.Ranges
}

// newScope builds the scope of the local settings and the allow list
// (config.Config.RemoteAllow). Both were checked when the file was loaded;
// should they not parse, only the local targets are allowed.
func newScope(local Settings, allow []string) (scope, error) {
	sc := scope{targets: local.Targets}
	allowed, err := netrange.Parse(append(slices.Clone(local.Ranges), allow...), nil)
	if err != nil {
		return sc, fmt.Errorf("ranges and remote_allow: %w", err)
	}
	sc.allowed = allowed
	return sc, nil
}

// refuseTarget says why the canonical target may not be polled, or "".
// A host name is only allowed as one of the local targets: where it
// resolves is not the agent's to check.
func (sc scope) refuseTarget(target string) string {
	if slices.Contains(sc.targets, target) {
		return ""
	}
	host, _, err := snmp.SplitTarget(target)
	if err != nil {
		return err.Error()
	}
	if addr, err := netip.ParseAddr(host); err == nil && sc.allowed.Contains(addr) {
		return ""
	}
	return fmt.Sprintf("%q is neither a target of the local configuration file nor within its ranges or remote_allow", target)
}

// refuseRange says why the range may not be swept, or "". It has been
// parsed once already.
func (sc scope) refuseRange(text string) string {
	r, err := netrange.Parse([]string{text}, nil)
	if err != nil {
		return err.Error()
	}
	if !r.Within(sc.allowed) {
		return fmt.Sprintf("%q is not within the ranges or remote_allow of the local configuration file", text)
	}
	return ""
}
