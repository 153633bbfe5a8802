package sim

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meterline/meterline/printersim/snmprec"
)

// serveFleet serves devs on ephemeral 127.0.0.1 ports for the test's life.
func serveFleet(tb testing.TB, devs []Device, opts Options) *Fleet {
	tb.Helper()
	f, err := Serve(context.Background(), devs, opts)
	if err != nil {
		tb.Fatalf("Serve: %v", err)
	}
	tb.Cleanup(func() {
		if err := f.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return f
}

// newClient returns a connected gosnmp client for one device.
func newClient(tb testing.TB, addr netip.AddrPort, version gosnmp.SnmpVersion) *gosnmp.GoSNMP {
	tb.Helper()
	c := &gosnmp.GoSNMP{
		Target:    addr.Addr().String(),
		Port:      addr.Port(),
		Community: DefaultCommunity,
		Version:   version,
		Timeout:   5 * time.Second,
		Retries:   1,
	}
	if err := c.Connect(); err != nil {
		tb.Fatalf("connect to %s: %v", addr, err)
	}
	tb.Cleanup(func() { c.Conn.Close() })
	return c
}

// mustDevice builds a device from snmprec lines.
func mustDevice(tb testing.TB, name string, lines ...string) Device {
	tb.Helper()
	records, err := snmprec.Parse(strings.NewReader(strings.Join(lines, "\n")), name)
	if err != nil {
		tb.Fatal(err)
	}
	dev, err := NewDevice(name, records)
	if err != nil {
		tb.Fatal(err)
	}
	return dev
}

// demoIndex returns the position of a demo fixture in DemoFleet.
func demoIndex(tb testing.TB, name string) int {
	tb.Helper()
	for i, dev := range DemoFleet() {
		if dev.Name() == name {
			return i
		}
	}
	tb.Fatalf("no demo device %q", name)
	return -1
}

// pduValue converts a received varbind, failing the test on exceptions.
func pduValue(tb testing.TB, pdu gosnmp.SnmpPDU) snmprec.Value {
	tb.Helper()
	v, err := PDUValue(pdu)
	if err != nil {
		tb.Fatalf("varbind %s: %v", pdu.Name, err)
	}
	return v
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
