package printer_test

import (
	"bytes"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// hostileDevice is a Canon (so that its profile's vendor meters are read)
// that sends what no device should: 8-byte levels, Counter64 values above
// the int64 range, a string where a level belongs, a negative vendor
// counter, meters whose sum overflows, and kilobytes of text.
func hostileDevice() []snmp.PDU {
	integer := func(oid string, v int64) snmp.PDU { return snmp.PDU{OID: oid, Type: snmp.TypeInteger, Value: v} }
	counter64 := func(oid string, v uint64) snmp.PDU { return snmp.PDU{OID: oid, Type: snmp.TypeCounter64, Value: v} }
	text := func(oid, v string) snmp.PDU { return snmp.PDU{OID: oid, Type: snmp.TypeOctetString, Value: []byte(v)} }
	const (
		supplies = "1.3.6.1.2.1.43.11.1.1."
		canon    = "1.3.6.1.4.1.1602.1.11.1.3.1.4."
	)
	return []snmp.PDU{
		text("1.3.6.1.2.1.1.1.0", "Canon iR-ADV C3530 "+strings.Repeat("sysDescr ", 1000)),
		{OID: "1.3.6.1.2.1.1.2.0", Type: snmp.TypeObjectID, Value: "1.3.6.1.4.1.1602.4.7"},
		{OID: "1.3.6.1.2.1.25.3.2.1.2.1", Type: snmp.TypeObjectID, Value: "1.3.6.1.2.1.25.3.1.5"},
		text("1.3.6.1.2.1.25.3.2.1.3.1", "Canon iR-ADV C3530 "+strings.Repeat("é", 3000)),
		// A serial of 100 characters is no serial.
		text("1.3.6.1.2.1.43.5.1.1.17.1", strings.Repeat("SN", 50)),
		// prtMarkerLifeCount in impressions, above the int64 range.
		integer("1.3.6.1.2.1.43.10.2.1.3.1.1", 7),
		counter64("1.3.6.1.2.1.43.10.2.1.4.1.1", 1<<63+5),

		// 1: 2^57 of 2^58 once gave −13 %.
		text(supplies+"6.1.1", "Black Toner"),
		integer(supplies+"8.1.1", 1<<58), integer(supplies+"9.1.1", 1<<57),
		// 2: a level above the int64 range.
		text(supplies+"6.1.2", "Cyan Toner"),
		integer(supplies+"8.1.2", 100), counter64(supplies+"9.1.2", math.MaxUint64),
		// 3: a string where the level belongs.
		text(supplies+"6.1.3", "Magenta Toner"),
		integer(supplies+"8.1.3", 100), text(supplies+"9.1.3", "80"),
		// 4: a full-range receptacle.
		text(supplies+"6.1.4", "Waste Toner"), integer(supplies+"4.1.4", 4),
		integer(supplies+"8.1.4", math.MaxInt64), integer(supplies+"9.1.4", math.MaxInt64),
		// 5: kilobytes of description and of colorant name.
		text(supplies+"6.1.5", "Yellow Toner "+strings.Repeat("x", 10000)), integer(supplies+"3.1.5", 1),
		text("1.3.6.1.2.1.43.12.1.1.4.1.1", strings.Repeat("yellow", 100)),
		integer(supplies+"8.1.5", 100), integer(supplies+"9.1.5", 30),

		// Canon meters: a negative total, a black whose parts overflow
		// their sum, a colour that adds up.
		integer(canon+"301", -5),
		counter64(canon+"112", math.MaxInt64), counter64(canon+"113", 10),
		counter64(canon+"122", 40), counter64(canon+"123", 60),
	}
}

// TestDecodeHostileValues checks that a device sending nonsense costs
// only the fields it sends it in: the read passes wire validation, each
// bad field is absent or cut, the good ones are there, and the order the
// device walked its tables in does not matter.
func TestDecodeHostileValues(t *testing.T) {
	var logged bytes.Buffer
	rd := printer.Reader{Log: slog.New(slog.NewTextHandler(&logged, nil))}
	pdus := hostileDevice()
	r, err := rd.Decode(printer.NewSnapshot(pdus))
	if err != nil {
		t.Fatal(err)
	}
	r.Address, r.ReadAt = "127.0.0.1:161", readAt
	if err := r.Validate(readAt); err != nil {
		t.Errorf("read refused by the wire rules: %v", err)
	}
	if cleaned, changed := r.Clean(); len(changed) > 0 || !reflect.DeepEqual(cleaned, r) {
		t.Errorf("Clean changed the read: %v", changed)
	}

	t.Run("identity", func(t *testing.T) {
		if r.Serial != "" {
			t.Errorf("serial = %q, want none: longer than %d bytes", r.Serial, wire.MaxSerialLen)
		}
		if len(r.Model) > wire.MaxTextLen || !strings.HasPrefix(r.Model, "Canon iR-ADV C3530 é") {
			t.Errorf("model of %d bytes %.40q…, want its first %d bytes", len(r.Model), r.Model, wire.MaxTextLen)
		}
	})
	t.Run("counters", func(t *testing.T) {
		want := []wire.Counter{
			{Kind: domain.CounterColour, Value: 100, Unit: domain.UnitImpressions, Source: "canon:122+123"},
			{Kind: domain.CounterBlackLarge, Value: math.MaxInt64, Unit: domain.UnitImpressions, Source: "canon:112"},
			{Kind: domain.CounterColourLarge, Value: 40, Unit: domain.UnitImpressions, Source: "canon:122"},
		}
		if !reflect.DeepEqual(r.Counters, want) {
			t.Errorf("counters\n got %s\nwant %s (no total: negative or above int64; no black: its sum overflows)", jsonOf(r.Counters), jsonOf(want))
		}
		if !strings.Contains(logged.String(), "negative page counter dropped") {
			t.Errorf("the negative counter was dropped without a log line; logged:\n%s", logged.String())
		}
	})
	t.Run("supplies", func(t *testing.T) {
		tests := []struct {
			index       int
			level       *int64
			state       domain.LevelState
			percent     *int
			fullPercent *int
		}{
			{1, ptr[int64](1 << 57), domain.LevelMeasured, ptr(50), nil},
			{2, nil, domain.LevelUnknown, nil, nil},
			{3, nil, domain.LevelUnknown, nil, nil},
			{4, ptr[int64](math.MaxInt64), domain.LevelMeasured, nil, ptr(0)},
			{5, ptr[int64](30), domain.LevelMeasured, ptr(30), nil},
		}
		for _, tt := range tests {
			s, ok := supplyByIndex(r, tt.index)
			if !ok {
				t.Errorf("supply %d missing", tt.index)
				continue
			}
			if !reflect.DeepEqual(s.Level, tt.level) || s.State != tt.state || !reflect.DeepEqual(s.Percent, tt.percent) || !reflect.DeepEqual(s.FullPercent, tt.fullPercent) {
				t.Errorf("supply %d: level %v state %s percent %v full %v; want level %v state %s percent %v full %v", tt.index,
					deref64(s.Level), s.State, deref(s.Percent), deref(s.FullPercent),
					deref64(tt.level), tt.state, deref(tt.percent), deref(tt.fullPercent))
			}
		}
		if s, _ := supplyByIndex(r, 5); len(s.Description) > wire.MaxTextLen || s.Colour != "yellow" {
			t.Errorf("supply 5: description of %d bytes, colour %q; want at most %d bytes and the colour from the description",
				len(s.Description), s.Colour, wire.MaxTextLen)
		}
	})
	t.Run("walk order", func(t *testing.T) {
		for name, order := range map[string][]snmp.PDU{"reversed": reversed(pdus), "interleaved": interleaved(pdus)} {
			got, err := rd.Decode(printer.NewSnapshot(order))
			if err != nil {
				t.Fatal(err)
			}
			got.Address, got.ReadAt = r.Address, r.ReadAt
			if !reflect.DeepEqual(got, r) {
				t.Errorf("%s: the read depends on the order of the bindings\n got %s\nwant %s", name, jsonOf(got), jsonOf(r))
			}
		}
	})
}

func deref64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func reversed(pdus []snmp.PDU) []snmp.PDU {
	out := slices.Clone(pdus)
	slices.Reverse(out)
	return out
}

// interleaved takes the bindings odd first, then even: OIDs that go back
// and forth, as some agents walk.
func interleaved(pdus []snmp.PDU) []snmp.PDU {
	var odd, even []snmp.PDU
	for i, p := range pdus {
		if i%2 == 1 {
			odd = append(odd, p)
		} else {
			even = append(even, p)
		}
	}
	return append(odd, even...)
}
