package fleetsim

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// model is a colour MFP as the agent reads it from the recordings of
// printersim: the vendor profile's meter sources and the supplies table.
type model struct {
	vendor, name, firmware string
	// sources of the total, black and colour counters.
	sources  [3]string
	supplies []supply
}

// supply is one row of a model's supplies table.
type supply struct {
	description string
	kind        domain.SupplyKind
	colour      string
	part        string
	// capacity in unit; unit "percent" has capacity 100.
	capacity int64
	unit     string
	// use is what one round consumes, in unit; a receptacle fills by it.
	use        int64
	receptacle bool
	// someRemaining is a supply that reports -3 / -2 (some remaining,
	// capacity unknown), as many waste boxes do.
	someRemaining bool
	// serialised is true for Xerox, which appends the part and cartridge
	// serial numbers to the description.
	serialised bool
}

const (
	impressions = string(domain.UnitImpressions)
	percent     = "percent"
)

// models are the four colour MFPs the fleet cycles through; their values
// follow the agent's reads of the printersim demo fleet.
var models = []model{
	{
		vendor: "xerox", name: "Xerox AltaLink C8045 Multifunction Printer",
		sources: [3]string{"xerox:xcmHrDevDetail.20.1", "xerox:xcmHrDevDetail.20.34", "xerox:xcmHrDevDetail.20.33"},
		supplies: []supply{
			{description: "Black Toner", kind: domain.SupplyToner, colour: "black", part: "006R01509", capacity: 5300, unit: impressions, use: 60, serialised: true},
			{description: "Cyan Toner", kind: domain.SupplyToner, colour: "cyan", part: "006R01512", capacity: 3000, unit: impressions, use: 25, serialised: true},
			{description: "Magenta Toner", kind: domain.SupplyToner, colour: "magenta", part: "006R01511", capacity: 3000, unit: impressions, use: 22, serialised: true},
			{description: "Yellow Toner", kind: domain.SupplyToner, colour: "yellow", part: "006R01510", capacity: 3050, unit: impressions, use: 20, serialised: true},
			{description: "Drum Cartridge (R1)", kind: domain.SupplyDrum, part: "013R00662", capacity: 100, unit: percent, use: 1, serialised: true},
			{description: "Fuser", kind: domain.SupplyFuser, capacity: 100, unit: percent, use: 1, serialised: true},
			{description: "Waste Toner Container", kind: domain.SupplyWaste, part: "008R13061", capacity: 100, unit: percent, use: 2, receptacle: true, serialised: true},
			{description: "Second Bias Transfer Roll", kind: domain.SupplyTransfer, part: "008R13064", capacity: 100, unit: percent, use: 1, serialised: true},
		},
	},
	{
		vendor: "ricoh", name: "RICOH MP C3004", firmware: "1.12",
		sources: [3]string{"ricoh:10 Counter: Machine Total", "ricoh:401 Total Prints: Black & White", "ricoh:402 Total Prints: Color"},
		supplies: []supply{
			{description: "Black Toner", kind: domain.SupplyToner, colour: "black", capacity: 100, unit: percent, use: 2},
			{description: "Waste Toner", kind: domain.SupplyWaste, capacity: 100, unit: percent, use: 1, receptacle: true},
			{description: "Cyan Toner", kind: domain.SupplyToner, colour: "cyan", capacity: 100, unit: percent, use: 1},
			{description: "Magenta Toner", kind: domain.SupplyToner, colour: "magenta", capacity: 100, unit: percent, use: 1},
			{description: "Yellow Toner", kind: domain.SupplyToner, colour: "yellow", capacity: 100, unit: percent, use: 1},
			{description: "Black Photo Conductor Unit", kind: domain.SupplyDrum, colour: "black", capacity: 100, unit: percent, use: 1},
			{description: "Fusing Unit", kind: domain.SupplyFuser, capacity: 100, unit: percent, use: 1},
			{description: "Intermediate Transfer Unit", kind: domain.SupplyTransfer, capacity: 100, unit: percent, use: 1},
		},
	},
	{
		vendor: "hp", name: "HP Color LaserJet M553",
		sources: [3]string{"prtMarkerLifeCount", "hp:total-mono-page-count", "hp:total-color-page-count"},
		supplies: []supply{
			{description: "Black Cartridge HP CF360A", kind: domain.SupplyToner, colour: "black", part: "CF360A", capacity: 100, unit: percent, use: 2},
			{description: "Cyan Cartridge HP CF361A", kind: domain.SupplyToner, colour: "cyan", part: "CF361A", capacity: 100, unit: percent, use: 1},
			{description: "Magenta Cartridge HP CF363A", kind: domain.SupplyToner, colour: "magenta", part: "CF363A", capacity: 100, unit: percent, use: 1},
			{description: "Yellow Cartridge HP CF362A", kind: domain.SupplyToner, colour: "yellow", part: "CF362A", capacity: 100, unit: percent, use: 1},
			{description: "Toner Collection Unit HP B5L37A", kind: domain.SupplyWaste, capacity: 100, unit: percent, use: 1, receptacle: true},
			{description: "Fuser Kit HP B5L35A", kind: domain.SupplyFuser, capacity: 100, unit: percent, use: 1},
			{description: "Transfer Kit HP B5L24A", kind: domain.SupplyTransfer, capacity: 100, unit: percent, use: 1},
			{description: "Document Feeder Kit HP L2718A", kind: domain.SupplyOther, capacity: 100, unit: percent, use: 1},
		},
	},
	{
		vendor: "canon", name: "Canon iR-ADV C5535 /P", firmware: "77.14",
		sources: [3]string{"canon:301", "canon:112+113", "canon:122+123"},
		supplies: []supply{
			{description: "Canon C-EXV 51 Black Toner", kind: domain.SupplyToner, colour: "black", capacity: 100, unit: percent, use: 2},
			{description: "Canon C-EXV 51 Cyan Toner", kind: domain.SupplyToner, colour: "cyan", capacity: 100, unit: percent, use: 1},
			{description: "Canon C-EXV 51 Magenta Toner", kind: domain.SupplyToner, colour: "magenta", capacity: 100, unit: percent, use: 1},
			{description: "Canon C-EXV 51 Yellow Toner", kind: domain.SupplyToner, colour: "yellow", capacity: 100, unit: percent, use: 1},
			{description: "Drum Unit (Black)", kind: domain.SupplyDrum, colour: "black", capacity: 100, unit: percent, use: 1},
			{description: "Drum Unit (Cyan)", kind: domain.SupplyDrum, colour: "cyan", capacity: 100, unit: percent, use: 1},
			{description: "Waste Toner Container WT-202", kind: domain.SupplyWaste, receptacle: true, someRemaining: true},
			{description: "Fixing Assembly", kind: domain.SupplyFuser, capacity: 100, unit: percent, use: 1},
		},
	},
}

// device is one simulated printer of one agent.
type device struct {
	n      int // from 1
	serial string
	mac    string
	addr   string
	model  *model
	// seed varies the starting counters and levels from device to device.
	seed uint32
}

// device returns device d (from 1) of agent a (from 0).
func (f *Fleet) device(a, d int) device {
	id := f.agents[a].id
	h := fnv.New32a()
	h.Write([]byte(id))
	agentHash := h.Sum32()
	seed := agentHash ^ uint32(d)*2654435761 //nolint:gosec // Knuth's multiplicative hash spreads d; d is a small device index
	return device{
		n:      d,
		serial: fmt.Sprintf("%s-D%04d", strings.ToUpper(id), d),
		// 02: a locally administered address, never a vendor's.
		mac:   fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", byte(agentHash>>16), byte(agentHash>>8), byte(agentHash), byte(d>>8), byte(d)), //nolint:gosec // truncating to bytes is the point
		addr:  fmt.Sprintf("127.0.%d.%d:161", 1+(d-1)/250, 1+(d-1)%250),
		model: &models[(a+d)%len(models)],
		seed:  seed,
	}
}

// counters returns the black and colour counters of round r; they grow by
// a device-specific amount, plus a little jitter, every round.
func (dv device) counters(r int) (black, colour int64) {
	baseB := int64(20_000 + dv.seed%400_000)
	baseC := int64(5_000 + (dv.seed>>8)%200_000)
	rateB := int64(40 + dv.seed%160)
	rateC := int64(10 + (dv.seed>>4)%90)
	// jitter < rate/2 keeps every step positive.
	jitter := func(rate int64) int64 { return (int64(r)*7919 + int64(dv.seed)) % (rate / 2) }
	return baseB + int64(r)*rateB + jitter(rateB), baseC + int64(r)*rateC + jitter(rateC)
}

// level returns a supply's level in round r: it depletes by use every
// round from a device-specific start and is replaced when it runs out.
func (dv device) level(i int, s supply, r int) int64 {
	start := s.capacity * int64(10+(dv.seed>>uint(i%16))%90) / 100
	l := start - (int64(r)*s.use)%s.capacity
	if l <= 0 {
		l += s.capacity
	}
	return l
}

// ReadBatch builds batch round (from 0) of agent (from 0), as New encodes
// it: the payload of the Batch decodes to it.
func (f *Fleet) ReadBatch(agent, round int) wire.ReadBatch {
	a := f.agents[agent]
	rb := wire.ReadBatch{
		Schema:   wire.SchemaVersion,
		AgentID:  a.id,
		Sequence: uint64(round) + 1, //nolint:gosec // rounds count up from 0
		// The agent stamps a batch when it closes the poll round.
		SentAt: readAt(f.cfg, round, f.cfg.DevicesPerAgent).Add(time.Second),
		Reads:  make([]wire.DeviceRead, f.cfg.DevicesPerAgent),
	}
	for d := 1; d <= f.cfg.DevicesPerAgent; d++ {
		rb.Reads[d-1] = f.device(agent, d).read(readAt(f.cfg, round, d), round)
	}
	return rb
}

// read is the device's read of round r.
func (dv device) read(at time.Time, r int) wire.DeviceRead {
	m := dv.model
	black, colour := dv.counters(r)
	rd := wire.DeviceRead{
		Serial:   dv.serial,
		MAC:      dv.mac,
		Vendor:   m.vendor,
		Model:    m.name,
		Firmware: m.firmware,
		Address:  dv.addr,
		ReadAt:   at,
		Counters: []wire.Counter{
			{Kind: domain.CounterTotal, Value: black + colour, Unit: domain.UnitImpressions, Source: m.sources[0]},
			{Kind: domain.CounterBlack, Value: black, Unit: domain.UnitImpressions, Source: m.sources[1]},
			{Kind: domain.CounterColour, Value: colour, Unit: domain.UnitImpressions, Source: m.sources[2]},
		},
		Supplies: make([]wire.Supply, len(m.supplies)),
	}
	low := false
	for i, s := range m.supplies {
		ws := wire.Supply{
			Index:       i + 1,
			Description: s.description,
			Kind:        s.kind,
			Colour:      s.colour,
			PartNumber:  s.part,
			Receptacle:  s.receptacle,
		}
		if s.serialised {
			pn := s.part
			if pn == "" {
				pn = "unknown"
			}
			ws.Description = fmt.Sprintf("%s, PN %s;SN%08X80E%07d", s.description, pn, dv.seed^uint32(i), dv.n)
		}
		if s.someRemaining {
			ws.Level, ws.Capacity = ptr(int64(-3)), ptr(int64(-2))
			ws.State = domain.LevelSomeRemaining
		} else {
			l := dv.level(i, s, r)
			pct := int(l * 100 / s.capacity)
			ws.Level, ws.Capacity, ws.Unit = ptr(l), ptr(s.capacity), s.unit
			ws.State = domain.LevelMeasured
			if s.receptacle {
				ws.FullPercent = ptr(100 - pct) // a receptacle's level is the space left
			} else {
				ws.Percent = ptr(pct)
				low = low || (s.kind == domain.SupplyToner && pct < 10)
			}
		}
		rd.Supplies[i] = ws
	}
	rd.Status = &wire.Status{Device: domain.DeviceRunning, Printer: domain.PrinterIdle}
	if r%3 == 0 {
		rd.Status.Printer = domain.PrinterPrinting
	}
	if low {
		rd.Status.Device = domain.DeviceWarning
		rd.Status.Conditions = []domain.Condition{domain.CondLowToner}
	}
	return rd
}

func ptr[T any](v T) *T { return &v }
