package sim

import (
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meterline/meterline/printersim/snmprec"
)

func supplyLevelOID(n int) string {
	return ".1.3.6.1.2.1.43.11.1.1.9.1." + strconv.Itoa(n)
}

func supplyMaxOID(n int) string {
	return ".1.3.6.1.2.1.43.11.1.1.8.1." + strconv.Itoa(n)
}

// number reads a numeric value from the fleet, failing the test if absent.
func number(t *testing.T, f *Fleet, device int, oid string) int64 {
	t.Helper()
	v, ok := f.Value(device, oid)
	if !ok {
		t.Fatalf("device %d has no %s", device, oid)
	}
	n, ok := v.Number()
	if !ok {
		t.Fatalf("device %d %s = %v is not a number", device, oid, v)
	}
	return n
}

func TestDynamicsMetersAdvance(t *testing.T) {
	const rate = 10 // pages per minute
	clock := newFakeClock()
	devs := DemoFleet()
	f := serveFleet(t, devs, Options{PagesPerMinute: rate, Clock: clock.Now})

	recorded := func(i int, oid string) int64 {
		v, _ := devs[i].lookup(snmprec.MustParseOID(oid))
		n, _ := v.Number()
		return n
	}
	for _, elapsed := range []time.Duration{0, 90 * time.Minute, 72 * time.Hour} {
		clock.Advance(elapsed)
		pages := int64(rate * clock.Now().Sub(f.start).Minutes())
		for i, dev := range devs {
			if got, want := number(t, f, i, lifeCount), recorded(i, lifeCount)+pages; got != want {
				t.Errorf("%s after %d pages: prtMarkerLifeCount = %d, want %d", dev.Name(), pages, got, want)
			}
			problems, _ := checkMeterSums(func(oid string) (snmprec.Value, bool) { return f.Value(i, oid) })
			for _, p := range problems {
				t.Errorf("%s after %d pages: %s", dev.Name(), pages, p)
			}
		}
		// A colour device prints ColorPercent colour pages.
		hp := demoIndex(t, "hp_color_laserjet_m553dn")
		colorPages := pages * ColorPercent / 100
		if got, want := number(t, f, hp, hpColor), recorded(hp, hpColor)+colorPages; got != want {
			t.Errorf("HP colour meter = %d, want %d", got, want)
		}
		if got, want := number(t, f, hp, hpMono), recorded(hp, hpMono)+pages-colorPages; got != want {
			t.Errorf("HP mono meter = %d, want %d", got, want)
		}
		// A mono device's black meter takes every page.
		mono := demoIndex(t, "hp_laserjet_m507dn")
		if got, want := number(t, f, mono, hpMono), recorded(mono, hpMono)+pages; got != want {
			t.Errorf("mono HP black meter = %d, want %d", got, want)
		}
		if got, want := number(t, f, mono, ".1.3.6.1.2.1.1.3.0"), recorded(mono, "1.3.6.1.2.1.1.3.0")+clock.Now().Sub(f.start).Milliseconds()/10; got != want {
			t.Errorf("sysUpTime = %d, want %d", got, want)
		}
	}
}

func TestDynamicsSupplies(t *testing.T) {
	clock := newFakeClock()
	devs := DemoFleet()
	f := serveFleet(t, devs, Options{PagesPerMinute: 10, Clock: clock.Now})
	hp := demoIndex(t, "hp_color_laserjet_m553dn")
	xerox := demoIndex(t, "xerox_altalink_c8045")
	canon := demoIndex(t, "canon_iradv_c5535")

	clock.Advance(90 * time.Minute) // 900 pages, 225 of them colour
	tests := []struct {
		name   string
		device int
		supply int
		want   int64
	}{
		{"HP black toner (percent) wears with every page", hp, 1, 48 - 900*100/DefaultTonerYield},
		{"HP cyan toner wears with colour pages", hp, 2, 22 - 225*100/DefaultTonerYield},
		{"HP waste box fills slowly", hp, 5, 81 - 900*100/(4*DefaultTonerYield)},
		{"Xerox black toner counts in pages", xerox, 1, 2650 - 900},
		{"Xerox cyan toner counts in pages", xerox, 2, 410 - 225},
		{"Canon empty cyan toner was replaced", canon, 2, 100 - (225-DefaultTonerYield/refillDivisor)*100/DefaultTonerYield},
	}
	for _, tt := range tests {
		if got := number(t, f, tt.device, supplyLevelOID(tt.supply)); got != tt.want {
			t.Errorf("%s: level = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestDynamicsSpecialValuesNeverChange(t *testing.T) {
	clock := newFakeClock()
	devs := DemoFleet()
	f := serveFleet(t, devs, Options{PagesPerMinute: 50, Clock: clock.Now})
	clock.Advance(1000 * 24 * time.Hour)
	for i, dev := range devs {
		for n := 1; ; n++ {
			recordedLevel, ok := dev.lookup(snmprec.MustParseOID(supplyLevelOID(n)))
			if !ok {
				break
			}
			recordedMax, _ := dev.lookup(snmprec.MustParseOID(supplyMaxOID(n)))
			special := recordedLevel.Int < 0 || recordedMax.Int <= 0 || recordedLevel.Int > recordedMax.Int
			level := number(t, f, i, supplyLevelOID(n))
			if special && level != recordedLevel.Int {
				t.Errorf("%s supply %d: special level %d (max %d) became %d", dev.Name(), n, recordedLevel.Int, recordedMax.Int, level)
			}
			if !special && (level < 0 || level > recordedMax.Int) {
				t.Errorf("%s supply %d: level %d outside 0..%d", dev.Name(), n, level, recordedMax.Int)
			}
			if got := number(t, f, i, supplyMaxOID(n)); got != recordedMax.Int {
				t.Errorf("%s supply %d: capacity changed from %d to %d", dev.Name(), n, recordedMax.Int, got)
			}
		}
	}
	ricoh := demoIndex(t, "ricoh_mp_c3004")
	if got := number(t, f, ricoh, ".1.3.6.1.4.1.367.3.2.1.2.24.1.1.5.4"); got != -100 {
		t.Errorf("Ricoh vendor toner level = %d, want -100", got)
	}
}

// TestDynamicsServedEqualsValue reads dynamic OIDs over SNMP and compares
// them with Fleet.Value at the same instant.
func TestDynamicsServedEqualsValue(t *testing.T) {
	clock := newFakeClock()
	devs := DemoFleet()
	f := serveFleet(t, devs, Options{PagesPerMinute: 7.5, Clock: clock.Now})
	clock.Advance(17*time.Hour + 13*time.Minute)
	for i, info := range f.Devices() {
		c := newClient(t, info.Addr, gosnmp.Version2c)
		results, err := c.BulkWalkAll(".1.3")
		if err != nil {
			t.Fatalf("%s: %v", info.Name, err)
		}
		changed := 0
		for _, pdu := range results {
			want, ok := f.Value(i, pdu.Name)
			if !ok {
				t.Fatalf("%s: Fleet.Value(%s) found nothing", info.Name, pdu.Name)
			}
			if got := pduValue(t, pdu); !got.Equal(want) {
				t.Errorf("%s %s: served %v, Fleet.Value %v", info.Name, pdu.Name, got, want)
			}
			if recorded, _ := devs[i].lookup(snmprec.MustParseOID(pdu.Name)); !recorded.Equal(want) {
				changed++
			}
		}
		if changed == 0 {
			t.Errorf("%s: nothing moved after 17 hours", info.Name)
		}
	}
}

func TestStaticWithoutRate(t *testing.T) {
	clock := newFakeClock()
	devs := DemoFleet()
	f := serveFleet(t, devs, Options{Clock: clock.Now})
	clock.Advance(24 * time.Hour)
	for i, dev := range devs {
		for _, rec := range dev.Records() {
			if got, _ := f.Value(i, rec.OID.String()); !got.Equal(rec.Value) {
				t.Errorf("%s %s = %v, want the recorded %v", dev.Name(), rec.OID, got, rec.Value)
			}
		}
	}
}

func TestLevelAfter(t *testing.T) {
	percent := rule{kind: supplyRule, level: 48, capacity: 100, yieldFactor: 1}
	pages := rule{kind: supplyRule, level: 2650, capacity: 5300, pageYield: 5300}
	empty := rule{kind: supplyRule, level: 0, capacity: 100, yieldFactor: 1}
	const yield = 10000
	tests := []struct {
		name  string
		r     rule
		pages int64
		want  int64
	}{
		{"unchanged at start", percent, 0, 48},
		{"one percent per 100 pages", percent, 100, 47},
		{"last page before empty", percent, 4799, 1},
		{"empty", percent, 4800, 0},
		{"still empty before replacement", percent, 4800 + yield/refillDivisor - 1, 0},
		{"replaced", percent, 4800 + yield/refillDivisor, 100},
		{"wears again", percent, 4800 + yield/refillDivisor + 1000, 90},
		{"second cartridge empty", percent, 4800 + yield/refillDivisor + yield, 0},
		{"page units", pages, 900, 1750},
		{"page units empty", pages, 2650, 0},
		{"starts empty, then replaced", empty, yield / refillDivisor, 100},
		{"starts empty", empty, 1, 0},
	}
	for _, tt := range tests {
		if got := tt.r.levelAfter(tt.pages, yield); got != tt.want {
			t.Errorf("%s: levelAfter(%d) = %d, want %d", tt.name, tt.pages, got, tt.want)
		}
	}
}

func TestAdvanceWraps(t *testing.T) {
	tests := []struct {
		name  string
		v     snmprec.Value
		delta uint64
		want  snmprec.Value
	}{
		{"Counter32 wraps", snmprec.Value{Type: snmprec.Counter32, Uint: 1<<32 - 2}, 5, snmprec.Value{Type: snmprec.Counter32, Uint: 3}},
		{"Gauge32 saturates", snmprec.Value{Type: snmprec.Gauge32, Uint: 1<<32 - 2}, 5, snmprec.Value{Type: snmprec.Gauge32, Uint: 1<<32 - 1}},
		{"Counter64 adds", snmprec.Value{Type: snmprec.Counter64, Uint: 1 << 40}, 5, snmprec.Value{Type: snmprec.Counter64, Uint: 1<<40 + 5}},
		{"Integer wraps at 2^31", snmprec.Value{Type: snmprec.Integer, Int: 1<<31 - 1}, 2, snmprec.Value{Type: snmprec.Integer, Int: 1}},
		{"negative Integer is a sentinel", snmprec.Value{Type: snmprec.Integer, Int: -2}, 9, snmprec.Value{Type: snmprec.Integer, Int: -2}},
	}
	for _, tt := range tests {
		if got := advance(tt.v, tt.delta); !got.Equal(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
