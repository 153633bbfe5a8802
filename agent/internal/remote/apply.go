package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/wire"
)

// MinInterval is the shortest poll or discovery interval a remote
// configuration may set: the local file's minimum.
const MinInterval = config.MinPollInterval

// knownFields are the keys of a wire.AgentConfig; anything else in a
// remote configuration is something the collector may not set here.
var knownFields = []string{"schema", "poll_interval", "discovery_interval", "targets", "ranges", "credentials"}

// decodeRemote decodes a remote configuration and lays it over the local
// settings field by field: an absent field keeps the local value, a
// present one replaces it whole. A list given empty ("targets": [])
// empties it. Every invalid field is reported, each by its key; any of
// them refuses the whole configuration. ignored lists the keys that are
// not settings the collector may change. A target or range outside sc is
// left out, the rest applying, and refused says why, one entry each.
func decodeRemote(local Settings, sc scope, payload []byte) (next Settings, ignored, refused []string, err error) {
	cfg, err := wire.DecodeAgentConfig(payload)
	if err != nil {
		return Settings{}, nil, nil, fmt.Errorf("decode: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err == nil {
		for _, key := range slices.Sorted(maps.Keys(fields)) {
			if !slices.Contains(knownFields, key) {
				ignored = append(ignored, key)
			}
		}
	}

	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	next = local.Clone()
	if cfg.PollInterval != "" {
		next.PollInterval, err = interval(cfg.PollInterval)
		if err != nil {
			bad("poll_interval: %w", err)
		}
	}
	if cfg.DiscoveryInterval != "" {
		next.DiscoveryInterval, err = interval(cfg.DiscoveryInterval)
		if err != nil {
			bad("discovery_interval: %w", err)
		}
	}
	if cfg.Targets != nil {
		next.Targets = make([]string, 0, len(cfg.Targets))
		seen := map[string]int{}
		for i, t := range cfg.Targets {
			canonical, err := snmp.JoinTarget(t)
			if err != nil {
				bad("targets[%d]: %w", i, err)
				continue
			}
			if j, dup := seen[canonical]; dup {
				bad("targets[%d]: %q is the same device as targets[%d]", i, t, j)
				continue
			}
			seen[canonical] = i
			if why := sc.refuseTarget(canonical); why != "" {
				refused = append(refused, fmt.Sprintf("targets[%d]: %s", i, why))
				continue
			}
			next.Targets = append(next.Targets, canonical)
		}
	}
	if cfg.Ranges != nil {
		next.Ranges = []string{}
		if _, err := netrange.Parse(cfg.Ranges, nil); err != nil {
			bad("ranges: %w", err)
		}
		for i, text := range cfg.Ranges {
			if why := sc.refuseRange(text); why != "" {
				refused = append(refused, fmt.Sprintf("ranges[%d]: %s", i, why))
				continue
			}
			next.Ranges = append(next.Ranges, text)
		}
	}
	if cfg.Credentials != nil {
		if len(cfg.Credentials) == 0 {
			bad("credentials: an empty list would leave no credential to try")
		}
		for i, name := range cfg.Credentials {
			switch {
			case !slices.Contains(local.Credentials, name):
				bad("credentials[%d]: %q is not defined in the local configuration file (defined: %s)",
					i, name, strings.Join(local.Credentials, ", "))
			case slices.Index(cfg.Credentials, name) < i:
				bad("credentials[%d]: %q is listed twice", i, name)
			}
		}
		next.Credentials = slices.Clone(cfg.Credentials)
	}
	if len(next.Targets) == 0 && len(next.Ranges) == 0 {
		bad("targets, ranges: with neither, nothing would be polled")
	}
	if err := errors.Join(errs...); err != nil {
		return Settings{}, ignored, refused, err
	}
	return next, ignored, refused, nil
}

// interval parses a remote interval, which may not go below MinInterval.
func interval(text string) (time.Duration, error) {
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"30s\" or \"15m\": %w", text, err)
	}
	if d < MinInterval {
		return 0, fmt.Errorf("%s is below the minimum of %s", text, MinInterval)
	}
	return d, nil
}
