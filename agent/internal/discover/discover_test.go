package discover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/fixtures"
	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
	"github.com/meterline/meterline/printersim/sim"
	"github.com/meterline/meterline/printersim/snmprec"
)

// plainHost is what a server or a switch answers: the system group only.
const plainHost = `1.3.6.1.2.1.1.1.0|4|Linux files 6.1.0-18-amd64 #1 SMP x86_64
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10
1.3.6.1.2.1.1.3.0|67|123456
1.3.6.1.2.1.1.5.0|4|files
`

// PlainHost returns a simulated device that answers SNMP but is no printer.
func PlainHost(t testing.TB) sim.Device {
	t.Helper()
	records, err := snmprec.Parse(strings.NewReader(plainHost), "plain-host")
	if err != nil {
		t.Fatal(err)
	}
	d, err := sim.NewDevice("plain-host", records)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// servePerAddress serves devs on 127.0.1.1, 127.0.1.2, … all on one port
// the system had free, and returns the fleet.
func servePerAddress(t testing.TB, devs []sim.Device, community string) *sim.Fleet {
	t.Helper()
	var lastErr error
	for range 5 {
		port := freePort(t, "127.0.1.1")
		fleet, err := sim.Serve(t.Context(), devs, sim.Options{Host: "127.0.1.1", PerAddress: true, BasePort: port, Community: community})
		if err != nil {
			lastErr = err // the port was free on .1 but not on another address
			continue
		}
		t.Cleanup(func() { fleet.Close() })
		return fleet
	}
	t.Fatalf("serve the fleet: %v", lastErr)
	return nil
}

// freePort returns a UDP port that was free on host a moment ago.
func freePort(t testing.TB, host string) int {
	t.Helper()
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).Port
}

// serveOne serves one device on host:port.
func serveOne(t testing.TB, dev sim.Device, host string, port int, community string) *sim.Fleet {
	t.Helper()
	fleet, err := sim.Serve(t.Context(), []sim.Device{dev}, sim.Options{Host: host, BasePort: port, Community: community})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	return fleet
}

// blackHole reads datagrams on host:port and never answers, like a device
// that is too busy to: every probe of it must time out.
func blackHole(t testing.TB, host string, port int) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := conn.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
}

func v2c(name, community string) snmp.Credential {
	return snmp.Credential{Name: name, Params: snmp.Params{Version: snmp.Version2c, Community: community, Timeout: 300 * time.Millisecond}}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// TestSweepPrintersim sweeps 127.0.1.1-30 where printersim serves printers,
// a plain host, one printer twice, a printer that only answers the second
// credential's community, and a socket that never answers; the rest of the
// range is silent.
func TestSweepPrintersim(t *testing.T) {
	withSerial := standardSerials(sim.DemoFleet())
	demo := slices.Clone(withSerial[:3])
	twin, err := sim.NewDevice("twin", demo[0].Records())
	if err != nil {
		t.Fatal(err)
	}
	// 127.0.1.1-3: printers; .4: no printer; .5: the printer of .1 again.
	fleet := servePerAddress(t, append(demo, PlainHost(t), twin), "public")
	port := fleet.Devices()[0].Addr.Port()
	// 127.0.1.7: a printer that answers only "private"; .8: never answers.
	private := serveOne(t, withSerial[3], "127.0.1.7", int(port), "private")
	blackHole(t, "127.0.1.8", int(port))

	ranges, err := netrange.Parse([]string{"127.0.1.1-127.0.1.30"}, []string{"127.0.1.6"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(t.Context(), snmp.Dial, ranges.All(), Options{
		Port:        port,
		Concurrency: 8,
		Credentials: []snmp.Credential{v2c("office", "public"), v2c("back-office", "private")},
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}

	served := fleet.Devices()
	want := []Device{
		{Address: served[0].Addr.String(), Credential: "office", Serial: served[0].Serial},
		{Address: served[1].Addr.String(), Credential: "office", Serial: served[1].Serial},
		{Address: served[2].Addr.String(), Credential: "office", Serial: served[2].Serial},
		{Address: private.Devices()[0].Addr.String(), Credential: "back-office", Serial: private.Devices()[0].Serial},
	}
	if got, wantText := describe(res.Devices), describe(want); got != wantText {
		t.Errorf("found\n%s\nwant\n%s", got, wantText)
	}
	for _, d := range res.Devices {
		if d.Vendor == "" || d.Model == "" || d.Serial == "" {
			t.Errorf("%s: vendor %q, model %q, serial %q: a printer is identified", d.Address, d.Vendor, d.Model, d.Serial)
		}
	}
	if len(res.Duplicates) != 1 || res.Duplicates[0].Address != served[4].Addr.String() {
		t.Errorf("duplicates %s, want the twin at %s", describe(res.Duplicates), served[4].Addr)
	}
	if res.Probed != 29 || res.Answered != 6 {
		t.Errorf("probed %d, answered %d; want 29 (30 less 1 excluded) and 6 (5 served by one fleet, 1 by the other)", res.Probed, res.Answered)
	}
	want2 := "29 addresses probed, 6 answered SNMP, 4 printers (1 more addresses of the same printers)"
	if res.Summary() != want2 {
		t.Errorf("summary %q, want %q", res.Summary(), want2)
	}
}

// standardSerials keeps the devices whose serial number is in the
// Printer-MIB, which a read finds whatever vendor profiles it knows.
func standardSerials(devs []sim.Device) []sim.Device {
	var out []sim.Device
	for _, d := range devs {
		for _, r := range d.Records() {
			if r.OID.String() == oidPrtGeneralSerialNumber+usualPrinterIndex && len(r.Value.Bytes) > 0 {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

func describe(devs []Device) string {
	var b strings.Builder
	for _, d := range devs {
		fmt.Fprintf(&b, "%s %s %s\n", d.Address, d.Credential, d.Serial)
	}
	return b.String()
}

// TestSweepSlowDeviceDelaysNobody holds one address's probe until every
// other address has been probed: with the sweep's concurrency above one,
// the others go on through the free slots.
func TestSweepSlowDeviceDelaysNobody(t *testing.T) {
	printerRec, err := snmptest.Load(filepath.Join(fixtures.LibreNMS(t), "ricoh_mpc3002.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	ranges := netrange.MustParse("127.0.9.1-127.0.9.40")
	slow := netip.MustParseAddr("127.0.9.3")
	release := make(chan struct{})
	var mu sync.Mutex
	probed := map[string]bool{}
	allOthers := make(chan struct{})
	dial := func(ctx context.Context, target string, p snmp.Params) (snmp.Client, error) {
		ap := netip.MustParseAddrPort(target)
		if ap.Addr() == slow {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return nil, &snmp.NoAnswerError{Target: target, Err: errors.New("slow")}
		}
		mu.Lock()
		if !probed[target] {
			probed[target] = true
			if len(probed) == ranges.Len()-1 {
				close(allOthers)
			}
		}
		mu.Unlock()
		return printerRec, nil
	}
	go func() {
		<-allOthers // every other address probed while the slow one waits
		close(release)
	}()
	res, err := Sweep(t.Context(), dial, ranges.All(), Options{Concurrency: 2, Credentials: []snmp.Credential{v2c("office", "public")}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// The fake serves one recording, so every address is the same printer:
	// one device, the lowest address, and 38 duplicates.
	if len(res.Devices) != 1 || res.Devices[0].Address != "127.0.9.1:161" || len(res.Duplicates) != 38 || res.Probed != 40 || res.Answered != 39 {
		t.Errorf("%s; devices %s", res.Summary(), describe(res.Devices))
	}
}

func TestSweepStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	dial := func(ctx context.Context, target string, p snmp.Params) (snmp.Client, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	res, err := Sweep(ctx, dial, netrange.MustParse("127.0.0.0/16").All(), Options{Concurrency: 4, Credentials: []snmp.Credential{v2c("office", "public")}}, testLogger(t))
	if !errors.Is(err, context.Canceled) || res.Probed > 4 {
		t.Errorf("err %v, probed %d: a cancelled sweep stops", err, res.Probed)
	}
}

// identityOnly is a printer that answers its system group alone (no
// Printer-MIB, no hrDeviceTable): a Sharp enterprise and model family.
const identityOnly = `1.3.6.1.2.1.1.1.0|4|SHARP MX-2614N
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.2385.3.1.10
1.3.6.1.2.1.1.3.0|67|123456
`

// TestSweepFindsIdentityOnlyPrinter: discovery lists a printer vendor's
// device that names a printer though it shows no Printer-MIB, and still
// passes over a plain host.
func TestSweepFindsIdentityOnlyPrinter(t *testing.T) {
	records, err := snmprec.Parse(strings.NewReader(identityOnly), "identity-only")
	if err != nil {
		t.Fatal(err)
	}
	sharp, err := sim.NewDevice("identity-only", records)
	if err != nil {
		t.Fatal(err)
	}
	fleet := servePerAddress(t, []sim.Device{sharp, PlainHost(t)}, "public")
	port := fleet.Devices()[0].Addr.Port()
	ranges, err := netrange.Parse([]string{"127.0.1.1-127.0.1.2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(t.Context(), snmp.Dial, ranges.All(), Options{
		Port: port, Credentials: []snmp.Credential{v2c("office", "public")},
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Devices) != 1 || res.Devices[0].Address != fleet.Devices()[0].Addr.String() ||
		res.Devices[0].Vendor != "sharp" || res.Devices[0].Model != "SHARP MX-2614N" {
		t.Fatalf("found %+v, want the Sharp alone", res.Devices)
	}
	if r := res.Devices[0].Read; len(r.Counters) != 0 || len(r.Unreported) != 2 {
		t.Errorf("read counters %v, unreported %v: want none, and black and colour unreported", r.Counters, r.Unreported)
	}
}
