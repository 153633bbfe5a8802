package sim

import (
	"errors"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// testPrinter is small enough to predict every GetNext and GetBulk answer.
// Note .6.1.10 sorts after .6.1.2, and the Counter64 that SNMPv1 must skip.
var testPrinter = []string{
	"1.3.6.1.2.1.1.1.0|4|Test Printer",
	"1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999.1",
	"1.3.6.1.2.1.1.3.0|67|1000",
	"1.3.6.1.2.1.2.2.1.10.1|70|12345678901",
	"1.3.6.1.2.1.43.5.1.1.17.1|4|TEST000001",
	"1.3.6.1.2.1.43.10.2.1.4.1.1|65|5000",
	"1.3.6.1.2.1.43.11.1.1.6.1.10|4|Waste",
	"1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner",
	"1.3.6.1.2.1.43.11.1.1.6.1.2|4|Drum",
	"1.3.6.1.4.1.99999.1.0|64|127.1.2.3",
}

const (
	sysDescr          = ".1.3.6.1.2.1.1.1.0"
	sysObjectID       = ".1.3.6.1.2.1.1.2.0"
	sysUpTime         = ".1.3.6.1.2.1.1.3.0"
	ifInOctets64      = ".1.3.6.1.2.1.2.2.1.10.1"
	prtSerial         = ".1.3.6.1.2.1.43.5.1.1.17.1"
	prtLifeCount      = ".1.3.6.1.2.1.43.10.2.1.4.1.1"
	supplyDescr1      = ".1.3.6.1.2.1.43.11.1.1.6.1.1"
	supplyDescr2      = ".1.3.6.1.2.1.43.11.1.1.6.1.2"
	supplyDescrColumn = ".1.3.6.1.2.1.43.11.1.1.6"
	supplyDescrX      = ".1.3.6.1.2.1.43.11.1.1.6.1.10"
	lastOID           = ".1.3.6.1.4.1.99999.1.0"
)

// varbind is the part of a response varbind a test checks.
type varbind struct {
	name string
	typ  gosnmp.Asn1BER
}

type exchange struct {
	status gosnmp.SNMPError
	index  uint8
	vars   []varbind
}

func summarize(pkt *gosnmp.SnmpPacket) exchange {
	ex := exchange{status: pkt.Error, index: pkt.ErrorIndex}
	for _, v := range pkt.Variables {
		ex.vars = append(ex.vars, varbind{v.Name, v.Type})
	}
	return ex
}

func TestRequests(t *testing.T) {
	f := serveFleet(t, []Device{mustDevice(t, "test", testPrinter...)}, Options{})
	addr := f.Devices()[0].Addr
	clients := map[gosnmp.SnmpVersion]*gosnmp.GoSNMP{
		gosnmp.Version1:  newClient(t, addr, gosnmp.Version1),
		gosnmp.Version2c: newClient(t, addr, gosnmp.Version2c),
	}
	type op func(c *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error)
	get := func(oids ...string) op {
		return func(c *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) { return c.Get(oids) }
	}
	getNext := func(oids ...string) op {
		return func(c *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) { return c.GetNext(oids) }
	}
	getBulk := func(nonRepeaters uint8, maxRepetitions uint32, oids ...string) op {
		return func(c *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
			return c.GetBulk(oids, nonRepeaters, maxRepetitions)
		}
	}
	set := func(oid string) op {
		return func(c *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
			return c.Set([]gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.OctetString, Value: "x"}})
		}
	}

	tests := []struct {
		name    string
		version gosnmp.SnmpVersion
		op      op
		want    exchange
	}{
		{"v2c get", gosnmp.Version2c, get(sysDescr, prtLifeCount, lastOID), exchange{vars: []varbind{
			{sysDescr, gosnmp.OctetString}, {prtLifeCount, gosnmp.Counter32}, {lastOID, gosnmp.IPAddress}}}},
		{"v2c get counter64", gosnmp.Version2c, get(ifInOctets64), exchange{vars: []varbind{{ifInOctets64, gosnmp.Counter64}}}},
		{"v2c get missing instance", gosnmp.Version2c, get(".1.3.6.1.2.1.1.1.1"), exchange{vars: []varbind{
			{".1.3.6.1.2.1.1.1.1", gosnmp.NoSuchInstance}}}},
		{"v2c get missing object", gosnmp.Version2c, get(".1.3.6.1.2.1.1.9.1.2.1"), exchange{vars: []varbind{
			{".1.3.6.1.2.1.1.9.1.2.1", gosnmp.NoSuchObject}}}},
		{"v2c get mixes values and exceptions", gosnmp.Version2c, get(sysDescr, ".1.3.6.1.4.1.5.0"), exchange{vars: []varbind{
			{sysDescr, gosnmp.OctetString}, {".1.3.6.1.4.1.5.0", gosnmp.NoSuchObject}}}},
		{"v1 get", gosnmp.Version1, get(sysDescr, sysObjectID), exchange{vars: []varbind{
			{sysDescr, gosnmp.OctetString}, {sysObjectID, gosnmp.ObjectIdentifier}}}},
		{"v1 get missing is noSuchName with index", gosnmp.Version1, get(sysDescr, ".1.3.6.1.2.1.1.5.0"), exchange{
			status: gosnmp.NoSuchName, index: 2, vars: []varbind{{sysDescr, gosnmp.Null}, {".1.3.6.1.2.1.1.5.0", gosnmp.Null}}}},
		{"v1 get counter64 is noSuchName", gosnmp.Version1, get(ifInOctets64), exchange{
			status: gosnmp.NoSuchName, index: 1, vars: []varbind{{ifInOctets64, gosnmp.Null}}}},

		{"v2c getnext", gosnmp.Version2c, getNext(sysDescr), exchange{vars: []varbind{{sysObjectID, gosnmp.ObjectIdentifier}}}},
		{"v2c getnext orders arcs numerically", gosnmp.Version2c, getNext(supplyDescr2), exchange{vars: []varbind{{supplyDescrX, gosnmp.OctetString}}}},
		{"v2c getnext from a prefix", gosnmp.Version2c, getNext(supplyDescrColumn), exchange{vars: []varbind{{supplyDescr1, gosnmp.OctetString}}}},
		{"v2c getnext reaches counter64", gosnmp.Version2c, getNext(sysUpTime), exchange{vars: []varbind{{ifInOctets64, gosnmp.Counter64}}}},
		{"v2c getnext past the end", gosnmp.Version2c, getNext(lastOID), exchange{vars: []varbind{{lastOID, gosnmp.EndOfMibView}}}},
		{"v1 getnext skips counter64", gosnmp.Version1, getNext(sysUpTime), exchange{vars: []varbind{{prtSerial, gosnmp.OctetString}}}},
		{"v1 getnext past the end is noSuchName", gosnmp.Version1, getNext(sysDescr, lastOID), exchange{
			status: gosnmp.NoSuchName, index: 2, vars: []varbind{{sysDescr, gosnmp.Null}, {lastOID, gosnmp.Null}}}},

		{"getbulk non-repeaters then repetitions", gosnmp.Version2c, getBulk(1, 2, sysDescr, supplyDescrColumn), exchange{vars: []varbind{
			{sysObjectID, gosnmp.ObjectIdentifier}, {supplyDescr1, gosnmp.OctetString}, {supplyDescr2, gosnmp.OctetString}}}},
		{"getbulk stops after endOfMibView", gosnmp.Version2c, getBulk(0, 10, supplyDescr2), exchange{vars: []varbind{
			{supplyDescrX, gosnmp.OctetString}, {lastOID, gosnmp.IPAddress}, {lastOID, gosnmp.EndOfMibView}}}},
		{"getbulk interleaves repeaters and repeats endOfMibView", gosnmp.Version2c, getBulk(0, 3, sysDescr, supplyDescrX), exchange{vars: []varbind{
			{sysObjectID, gosnmp.ObjectIdentifier}, {lastOID, gosnmp.IPAddress},
			{sysUpTime, gosnmp.TimeTicks}, {lastOID, gosnmp.EndOfMibView},
			{ifInOctets64, gosnmp.Counter64}, {lastOID, gosnmp.EndOfMibView}}}},
		{"getbulk non-repeaters beyond the varbinds", gosnmp.Version2c, getBulk(5, 10, sysDescr, sysObjectID), exchange{vars: []varbind{
			{sysObjectID, gosnmp.ObjectIdentifier}, {sysUpTime, gosnmp.TimeTicks}}}},
		{"getbulk max-repetitions zero", gosnmp.Version2c, getBulk(1, 0, sysDescr, supplyDescrColumn), exchange{vars: []varbind{
			{sysObjectID, gosnmp.ObjectIdentifier}}}},

		{"v2c set is notWritable", gosnmp.Version2c, set(sysDescr), exchange{
			status: gosnmp.NotWritable, index: 1, vars: []varbind{{sysDescr, gosnmp.OctetString}}}},
		{"v1 set is readOnly", gosnmp.Version1, set(sysDescr), exchange{
			status: gosnmp.ReadOnly, index: 1, vars: []varbind{{sysDescr, gosnmp.OctetString}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt, err := tt.op(clients[tt.version])
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			got := summarize(pkt)
			if got.status != tt.want.status || got.index != tt.want.index || len(got.vars) != len(tt.want.vars) {
				t.Fatalf("got status %v index %d varbinds %v\nwant status %v index %d varbinds %v",
					got.status, got.index, got.vars, tt.want.status, tt.want.index, tt.want.vars)
			}
			for i := range got.vars {
				if got.vars[i] != tt.want.vars[i] {
					t.Errorf("varbind %d = %v, want %v", i+1, got.vars[i], tt.want.vars[i])
				}
			}
		})
	}
}

func TestGetValues(t *testing.T) {
	f := serveFleet(t, []Device{mustDevice(t, "test", testPrinter...)}, Options{})
	c := newClient(t, f.Devices()[0].Addr, gosnmp.Version2c)
	oids := []string{sysDescr, sysObjectID, sysUpTime, ifInOctets64, prtLifeCount, lastOID}
	pkt, err := c.Get(oids)
	if err != nil {
		t.Fatal(err)
	}
	for i, oid := range oids {
		want, ok := f.Value(0, oid)
		if !ok {
			t.Fatalf("Fleet.Value(%s) found nothing", oid)
		}
		if got := pduValue(t, pkt.Variables[i]); !got.Equal(want) {
			t.Errorf("%s = %v, want %v", oid, got, want)
		}
	}
}

func TestWrongCommunityGetsNoAnswer(t *testing.T) {
	f := serveFleet(t, []Device{mustDevice(t, "test", testPrinter...)}, Options{Community: "s3cret"})
	for _, version := range []gosnmp.SnmpVersion{gosnmp.Version1, gosnmp.Version2c} {
		c := newClient(t, f.Devices()[0].Addr, version)
		c.Community = "public"
		c.Timeout = 200 * time.Millisecond
		c.Retries = 0
		if pkt, err := c.Get([]string{sysDescr}); err == nil {
			t.Errorf("%s with the wrong community got an answer: %+v", version, pkt)
		}
		c.Community = "s3cret"
		c.Timeout = 5 * time.Second
		if _, err := c.Get([]string{sysDescr}); err != nil {
			t.Errorf("%s with the right community: %v", version, err)
		}
	}
	if got := f.Stats().WrongCommunity; got != 2 {
		t.Errorf("Stats().WrongCommunity = %d, want 2", got)
	}
}

func TestTooBig(t *testing.T) {
	big := make([]byte, 40000)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	dev := mustDevice(t, "big",
		"1.3.6.1.2.1.1.1.0|4|"+string(big),
		"1.3.6.1.2.1.1.4.0|4|"+string(big),
	)
	f := serveFleet(t, []Device{dev}, Options{})
	c := newClient(t, f.Devices()[0].Addr, gosnmp.Version2c)

	pkt, err := c.Get([]string{sysDescr})
	if err != nil || pkt.Error != gosnmp.NoError || len(pkt.Variables[0].Value.([]byte)) != len(big) {
		t.Fatalf("one 40 kB value should fit in a datagram: err %v", err)
	}
	pkt, err = c.Get([]string{sysDescr, ".1.3.6.1.2.1.1.4.0"})
	if err != nil {
		t.Fatal(err)
	}
	if pkt.Error != gosnmp.TooBig || len(pkt.Variables) != 0 {
		t.Errorf("two 40 kB values: status %v with %d varbinds, want tooBig with none", pkt.Error, len(pkt.Variables))
	}
	// GetBulk shortens the answer instead of failing it.
	pkt, err = c.GetBulk([]string{".1.3"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if pkt.Error != gosnmp.NoError || len(pkt.Variables) != 1 {
		t.Errorf("bulk over two 40 kB values: status %v with %d varbinds, want one varbind", pkt.Error, len(pkt.Variables))
	}
}

func TestGetBulkIsCapped(t *testing.T) {
	dev := DemoFleet()[demoIndex(t, "xerox_altalink_c8045")]
	for _, tt := range []struct {
		bulkBytes int
		wantMax   int
	}{
		{0, DefaultBulkBytes},
		{3000, 3000},
	} {
		f := serveFleet(t, []Device{dev}, Options{BulkBytes: tt.bulkBytes})
		c := newClient(t, f.Devices()[0].Addr, gosnmp.Version2c)
		pkt, err := c.GetBulk([]string{".1.3"}, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(pkt.Variables) < 2 || len(pkt.Variables) >= dev.Len() {
			t.Fatalf("BulkBytes %d: got %d varbinds of %d, want a cut-short answer", tt.bulkBytes, len(pkt.Variables), dev.Len())
		}
		pkt.PDUType = gosnmp.GetResponse
		encoded, err := pkt.MarshalMsg()
		if err != nil {
			t.Fatal(err)
		}
		// The budget counts varbinds; allow for the message header.
		if len(encoded) > tt.wantMax+64 {
			t.Errorf("BulkBytes %d: response is %d bytes", tt.bulkBytes, len(encoded))
		}
	}
}

func TestServeRejectsBadOptions(t *testing.T) {
	devs := DemoFleet()[:1]
	for name, opts := range map[string]Options{
		"negative rate":      {PagesPerMinute: -1},
		"port out of range":  {BasePort: 70000},
		"host not an IP":     {Host: "printers.example"},
		"community too long": {Community: string(make([]byte, 200))},
		"negative yield":     {TonerYield: -5},
	} {
		if f, err := Serve(t.Context(), devs, opts); err == nil {
			f.Close()
			t.Errorf("%s: Serve succeeded", name)
		}
	}
	if _, err := Serve(t.Context(), nil, Options{}); !errors.Is(err, errNoDevices) {
		t.Errorf("no devices: err = %v", err)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	f, err := Serve(t.Context(), DemoFleet()[:2], Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancelCtx, cancel := contextWithCancel(t)
	g, err := Serve(cancelCtx, DemoFleet()[:2], Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-g.stop // closed by the fleet when the context ends
	if err := g.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBasePortAndPerAddress(t *testing.T) {
	devs := DemoFleet()[:3]
	f, err := Serve(t.Context(), devs, Options{PerAddress: true})
	if err != nil {
		t.Skipf("PerAddress needs 127.0.1.x on the loopback interface: %v", err)
	}
	defer f.Close()
	for i, d := range f.Devices() {
		want := [4]byte{127, 0, 1, byte(i + 1)}
		if d.Addr.Addr().As4() != want {
			t.Errorf("device %d listens on %s, want %v", i, d.Addr, want)
		}
		c := newClient(t, d.Addr, gosnmp.Version2c)
		if _, err := c.Get([]string{sysDescr}); err != nil {
			t.Errorf("device %d: %v", i, err)
		}
	}
	for _, tt := range []struct {
		i    int
		want string
	}{{0, "127.0.1.1"}, {253, "127.0.1.254"}, {254, "127.0.2.1"}, {255*254 - 1, "127.0.255.254"}} {
		if got, err := perAddress(tt.i); err != nil || got.String() != tt.want {
			t.Errorf("perAddress(%d) = %v, %v; want %s", tt.i, got, err, tt.want)
		}
	}
	if _, err := perAddress(255 * 254); err == nil {
		t.Error("perAddress past 127.0.255.254 succeeded")
	}
}
