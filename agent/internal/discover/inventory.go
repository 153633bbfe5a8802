package discover

import (
	"slices"
	"sync"
	"time"

	"github.com/meterline/meterline/shared/wire"
)

// Inventory is the set of printers that sweeps have found, as the daemon
// polls them. A printer keeps its place when a sweep misses it, as long as
// it has been read since the sweep before: printers are switched off for
// the night and the weekend, and a sweep at 3 a.m. must not forget them.
// One that was not read once during a whole discovery cycle is dropped.
// It is safe for concurrent use.
type Inventory struct {
	mu      sync.Mutex
	devices map[string]*held // by key
	// previousSweep is when the sweep before the latest one started.
	previousSweep time.Time
}

type held struct {
	Device
	lastRead time.Time
}

// NewInventory returns an empty inventory.
func NewInventory() *Inventory {
	return &Inventory{devices: map[string]*held{}}
}

// key identifies a printer across sweeps: its serial number, so that a
// printer that moved to another address (DHCP) stays one device; its
// address when it reports no serial.
func key(d Device) string {
	if s := wire.NormalizeSerial(d.Serial); s != "" {
		return "serial:" + s
	}
	return "address:" + d.Address
}

// Update merges the result of a sweep that started at started. Printers
// found are added, or refreshed (address, credential, identity); printers
// missing are dropped when they have not been read since the previous
// sweep started. It returns what was added and what was dropped.
func (inv *Inventory) Update(res Result, started time.Time) (added, dropped []Device) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	found := map[string]bool{}
	for _, d := range res.Devices {
		k := key(d)
		found[k] = true
		h, ok := inv.devices[k]
		if !ok {
			h = &held{}
			inv.devices[k] = h
			added = append(added, d)
		}
		h.Device = d
		// The sweep's own read counts: the printer answered then.
		if started.After(h.lastRead) {
			h.lastRead = started
		}
	}
	for k, h := range inv.devices {
		if !found[k] && h.lastRead.Before(inv.previousSweep) {
			dropped = append(dropped, h.Device)
			delete(inv.devices, k)
		}
	}
	inv.previousSweep = started
	sortDevices(added)
	sortDevices(dropped)
	return added, dropped
}

// MarkRead records a successful read of the printer at address.
func (inv *Inventory) MarkRead(address string, at time.Time) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for _, h := range inv.devices {
		if h.Address == address && at.After(h.lastRead) {
			h.lastRead = at
		}
	}
}

// Devices lists the printers held, in address order.
func (inv *Inventory) Devices() []Device {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := make([]Device, 0, len(inv.devices))
	for _, h := range inv.devices {
		out = append(out, h.Device)
	}
	sortDevices(out)
	return out
}

func sortDevices(devs []Device) {
	slices.SortFunc(devs, func(a, b Device) int { return compareAddresses(a.Address, b.Address) })
}
