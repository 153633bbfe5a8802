package remote

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/snmp"
)

// Settings are the agent settings the collector may change, and nothing
// else: the broker, the secrets and the tuning stay in the local file.
type Settings struct {
	// PollInterval is the time between the starts of two poll rounds.
	PollInterval time.Duration
	// DiscoveryInterval is the time between two sweeps of Ranges; 0
	// (local file only) sweeps once, at start.
	DiscoveryInterval time.Duration
	// Targets are the devices always polled, as "host:port".
	Targets []string
	// Ranges are swept for printers, in netrange.Parse syntax.
	Ranges []string
	// Credentials name the locally defined credentials to use, in the
	// order they are tried.
	Credentials []string
}

// LocalSettings are the settings of the local configuration file: the
// defaults a remote configuration overrides, and with its credentials the
// only ones a remote configuration may name.
func LocalSettings(cfg config.Config) Settings {
	var names []string
	for _, c := range cfg.SNMPCredentials() {
		names = append(names, c.Name)
	}
	return Settings{
		PollInterval:      cfg.PollInterval.Duration,
		DiscoveryInterval: cfg.DiscoveryInterval.Duration,
		Targets:           slices.Clone(cfg.Targets),
		Ranges:            slices.Clone(cfg.Ranges),
		Credentials:       names,
	}
}

// Clone returns a copy that shares no slice with s.
func (s Settings) Clone() Settings {
	s.Targets = slices.Clone(s.Targets)
	s.Ranges = slices.Clone(s.Ranges)
	s.Credentials = slices.Clone(s.Credentials)
	return s
}

// Equal reports whether s and o are the same settings; a nil list and an
// empty one are the same.
func (s Settings) Equal(o Settings) bool {
	return len(s.diff(o)) == 0
}

// diff describes, field by field, what changes from s to next, as
// "poll_interval 15m → 30s", for the log.
func (s Settings) diff(next Settings) []string {
	var changes []string
	duration := func(name string, from, to time.Duration) {
		if from != to {
			changes = append(changes, fmt.Sprintf("%s %s → %s", name, shortDuration(from), shortDuration(to)))
		}
	}
	list := func(name string, from, to []string) {
		if !slices.Equal(from, to) {
			changes = append(changes, fmt.Sprintf("%s [%s] → [%s]", name, strings.Join(from, " "), strings.Join(to, " ")))
		}
	}
	duration("poll_interval", s.PollInterval, next.PollInterval)
	duration("discovery_interval", s.DiscoveryInterval, next.DiscoveryInterval)
	list("targets", s.Targets, next.Targets)
	list("ranges", s.Ranges, next.Ranges)
	list("credentials", s.Credentials, next.Credentials)
	return changes
}

// shortDuration writes 15m rather than 15m0s: the way people write it in
// the configuration.
func shortDuration(d time.Duration) string {
	text := d.String()
	if strings.HasSuffix(text, "m0s") {
		text = strings.TrimSuffix(text, "0s")
	}
	if strings.HasSuffix(text, "h0m") {
		text = strings.TrimSuffix(text, "0m")
	}
	return text
}

// SelectCredentials returns the credentials of all named in names, in the
// order of names: the credentials to try under settings s are
// SelectCredentials(cfg.SNMPCredentials(), s.Credentials). Names not in
// all are left out (the Controller never lets one through).
func SelectCredentials(all []snmp.Credential, names []string) []snmp.Credential {
	out := make([]snmp.Credential, 0, len(names))
	for _, name := range names {
		if i := slices.IndexFunc(all, func(c snmp.Credential) bool { return c.Name == name }); i >= 0 {
			out = append(out, all[i])
		}
	}
	return out
}
