package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/meterline/meterline/shared/wire"
)

// suppliesMemo keeps, per device, the supply levels of its latest read
// as last decoded. My equipment shows 50 devices a page, each with ten or
// so supplies, and decoding their JSON was a third of the page's time;
// a device's latest read changes once a poll, while its page is shown
// many times in between. The memo answers only for the very same bytes,
// so it can never return levels the database no longer holds.
type suppliesMemo struct {
	mu       sync.Mutex
	byDevice map[int64]decodedSupplies
}

// decodedSupplies is a read's supplies column and what it decodes to.
type decodedSupplies struct {
	raw      []byte
	supplies []wire.Supply
}

// suppliesMemoDevices bounds the memo, a few kilobytes a device: when
// full it starts again empty, the devices shown since filling it anew.
const suppliesMemoDevices = 10_000

// decode returns the supplies raw encodes for deviceID. The slice is
// shared by every caller: read it, never modify it.
func (m *suppliesMemo) decode(deviceID int64, raw []byte) ([]wire.Supply, error) {
	m.mu.Lock()
	d, ok := m.byDevice[deviceID]
	m.mu.Unlock()
	if ok && bytes.Equal(d.raw, raw) {
		return d.supplies, nil
	}
	var supplies []wire.Supply
	if err := json.Unmarshal(raw, &supplies); err != nil {
		return nil, fmt.Errorf("decode supplies: %w", err)
	}
	m.mu.Lock()
	if m.byDevice == nil || len(m.byDevice) >= suppliesMemoDevices {
		m.byDevice = make(map[int64]decodedSupplies)
	}
	m.byDevice[deviceID] = decodedSupplies{raw: bytes.Clone(raw), supplies: supplies}
	m.mu.Unlock()
	return supplies, nil
}
