// Package alerts turns an agent's device reads into events: a toner that
// runs low or empty, a supply replaced, a paper jam, a page meter that went
// backwards, a device that stopped answering.
//
// Each alert is raised once per occurrence, not once per poll: a toner at
// 8 % for ten polls is one toner_low, raised again only after the cartridge
// is replaced or its level rises clear of the threshold. Levels the device
// does not really know (-1, -2, -3, above capacity) never raise a
// percent-based alert, and never count as a replacement when they flip.
//
// A Tracker keeps what it needs of each device's previous read in memory;
// Snapshot and Restore let the daemon keep that across restarts, so a
// restart does not raise every standing alert again.
package alerts

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// Defaults for the zero Options.
const (
	DefaultLowPercent   = 10
	DefaultHysteresis   = 5
	DefaultReplacedFrom = 25
	DefaultReplacedTo   = 80
	DefaultMaxDevices   = 10000
)

const (
	snapshotVersion        = 1
	unreachableTimeLayout  = "2006-01-02 15:04 MST"
	deviceSubject          = "device"
	conditionSubjectPrefix = "condition/"
)

// Options tunes the rules. A zero field takes its default.
type Options struct {
	// LowPercent: a toner or ink at or below this share raises toner_low.
	LowPercent int
	// Hysteresis: a low or empty alert re-arms once the level rises above
	// LowPercent + Hysteresis, so a level wobbling around the threshold
	// (or a shaken cartridge) does not raise it again.
	Hysteresis int
	// ReplacedFrom and ReplacedTo: a supply whose remaining share jumps
	// from at most ReplacedFrom to at least ReplacedTo was replaced.
	ReplacedFrom int
	ReplacedTo   int
	// MaxDevices bounds the devices remembered; past it, the device seen
	// least recently is forgotten.
	MaxDevices int
}

func (o Options) withDefaults() Options {
	if o.LowPercent <= 0 {
		o.LowPercent = DefaultLowPercent
	}
	if o.Hysteresis <= 0 {
		o.Hysteresis = DefaultHysteresis
	}
	if o.ReplacedFrom <= 0 {
		o.ReplacedFrom = DefaultReplacedFrom
	}
	if o.ReplacedTo <= 0 {
		o.ReplacedTo = DefaultReplacedTo
	}
	if o.MaxDevices <= 0 {
		o.MaxDevices = DefaultMaxDevices
	}
	return o
}

// Tracker remembers, per device key, what the alert rules need of the
// previous read. It is safe for concurrent use.
type Tracker struct {
	opts Options

	mu      sync.Mutex
	devices map[string]deviceState
	tick    uint64 // orders devices by last use, for eviction
}

// NewTracker returns an empty tracker.
func NewTracker(o Options) *Tracker {
	return &Tracker{opts: o.withDefaults(), devices: make(map[string]deviceState)}
}

// Observe compares a read with the previous read of the same device and
// returns the events it raises, in a stable order; nil when none. A read
// older than the last one observed for the device is ignored: comparing
// against it would invent a meter going backwards.
func (t *Tracker) Observe(agentID string, r wire.DeviceRead) []wire.Event {
	key := r.Key(agentID)
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, known := t.devices[key]
	if known && r.ReadAt.Before(prev.LastRead) {
		return nil
	}
	var prevp *deviceState
	if known {
		prevp = &prev
	}
	next, events := evaluate(agentID, key, prevp, r, t.opts)
	t.store(key, next)
	return events
}

// Unreachable returns the device_unreachable event for a device that failed
// a whole poll cycle, and false when the outage was already reported: one
// event per outage. since is when the outage began; it is the event's time
// and part of its ID. Reachable, or a read of the device, re-arms it.
func (t *Tracker) Unreachable(agentID, key, address string, since time.Time) (wire.Event, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.devices[key]
	if st.Unreachable {
		return wire.Event{}, false
	}
	st.Unreachable = true
	t.store(key, st)
	return newEvent(agentID, key, serialOfKey(key), address, since, finding{
		kind:    domain.EventDeviceUnreachable,
		subject: deviceSubject,
		message: "Not answering since " + since.UTC().Format(unreachableTimeLayout),
	}), true
}

// Reachable re-arms device_unreachable for the device. Observe does so on
// every read; the daemon calls Reachable when it learns the device answers
// again without a read to observe (a probe, a partial read).
func (t *Tracker) Reachable(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st, ok := t.devices[key]; ok && st.Unreachable {
		st.Unreachable = false
		t.devices[key] = st
	}
}

// Forget drops what the tracker knows of a device (one removed from the
// inventory). Its next read is a first read again.
func (t *Tracker) Forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.devices, key)
}

// Len is the number of devices remembered.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.devices)
}

// store keeps a device's state, evicting the least recently used device
// when a new one would pass MaxDevices.
func (t *Tracker) store(key string, st deviceState) {
	if _, ok := t.devices[key]; !ok && len(t.devices) >= t.opts.MaxDevices {
		t.evictOldest()
	}
	t.tick++
	st.Tick = t.tick
	t.devices[key] = st
}

func (t *Tracker) evictOldest() {
	var oldest string
	var oldestTick uint64
	for k, st := range t.devices {
		if oldest == "" || st.Tick < oldestTick {
			oldest, oldestTick = k, st.Tick
		}
	}
	delete(t.devices, oldest)
}

// snapshot is the persisted form of a tracker.
type snapshot struct {
	Version int                    `json:"version"`
	Devices map[string]deviceState `json:"devices"`
}

// Snapshot returns the tracker's state as JSON, for the daemon to keep in
// its state directory.
func (t *Tracker) Snapshot() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return json.Marshal(snapshot{Version: snapshotVersion, Devices: t.devices})
}

// Restore replaces the tracker's state with one Snapshot returned. On error
// the tracker is left as it was; starting empty is then the safe fallback
// (at worst a standing alert is raised once more).
func (t *Tracker) Restore(b []byte) error {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("alerts: restore: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("alerts: restore: snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.devices = make(map[string]deviceState, len(s.Devices))
	t.tick = 0
	maps.Copy(t.devices, s.Devices)
	for _, st := range t.devices {
		t.tick = max(t.tick, st.Tick)
	}
	for len(t.devices) > t.opts.MaxDevices {
		t.evictOldest()
	}
	return nil
}

// serialOfKey recovers the serial number from a device key, so that the
// collector files an unreachable event under the same device as its reads.
func serialOfKey(key string) string {
	if s, ok := strings.CutPrefix(key, "sn:"); ok {
		return s
	}
	return ""
}
