package sim

import (
	"sync"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestThousandDevices serves 1,000 devices and reads every one of them
// through a few concurrent pollers.
func TestThousandDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("serves 1,000 sockets")
	}
	devs := Replicate(DemoFleet(), 1000)
	f := serveFleet(t, devs, Options{PagesPerMinute: 60})
	infos := f.Devices()
	work := make(chan DeviceInfo)
	var wg sync.WaitGroup
	var mu sync.Mutex
	serials := map[string]bool{}
	for range 8 {
		wg.Go(func() {
			for info := range work {
				c := newClient(t, info.Addr, gosnmp.Version2c)
				pkt, err := c.Get([]string{prtLifeCount, sysDescr})
				c.Conn.Close()
				if err != nil || pkt.Error != gosnmp.NoError || pkt.Variables[0].Type != gosnmp.Counter32 {
					t.Errorf("%s at %s: %v", info.Name, info.Addr, err)
					continue
				}
				mu.Lock()
				serials[info.Serial] = true
				mu.Unlock()
			}
		})
	}
	for _, info := range infos {
		work <- info
	}
	close(work)
	wg.Wait()
	if len(serials) != len(devs) {
		t.Errorf("%d distinct serials over %d devices", len(serials), len(devs))
	}
	// Received is counted before the answer goes out (Answered after), so
	// once every poller has its answer it is exact.
	if s := f.Stats(); s.Received != uint64(len(devs)) || s.Malformed != 0 {
		t.Errorf("received %d requests, want %d: %+v", s.Received, len(devs), s)
	}
}

// BenchmarkGet measures one SNMP Get round trip over loopback UDP.
func BenchmarkGet(b *testing.B) {
	devs := DemoFleet()
	f := serveFleet(b, devs[demoIndex(b, "hp_color_laserjet_m553dn"):][:1], Options{PagesPerMinute: 1})
	c := newClient(b, f.Devices()[0].Addr, gosnmp.Version2c)
	oids := []string{prtLifeCount, ".1.3.6.1.2.1.43.11.1.1.9.1.1", ".1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.7.0"}
	for b.Loop() {
		if _, err := c.Get(oids); err != nil {
			b.Fatal(err)
		}
	}
}
