package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// BenchmarkSaveBatch stores batches of 100 reads of 100 devices (a
// printer fleet's round), each batch a new round.
func BenchmarkSaveBatch(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			s := benchStore(b, d)
			start := time.Now().Add(-time.Hour).Truncate(time.Second)
			b.ReportAllocs()
			for i := range b.N {
				batch := wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: "bench", Sequence: uint64(i + 1), SentAt: start}
				for dev := range 100 {
					batch.Reads = append(batch.Reads, benchRead(dev, start.Add(time.Duration(i)*time.Second)))
				}
				if _, _, err := s.SaveBatch(b.Context(), "bench", batch, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "reads/s")
		})
	}
}

// BenchmarkSaveBatches stores what ingest writes in one transaction under
// load: 50 batches of 100 reads, from 50 agents.
func BenchmarkSaveBatches(b *testing.B) {
	const agents, devices = 50, 100
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			s := benchStore(b, d)
			start := time.Now().Add(-time.Hour).Truncate(time.Second)
			b.ReportAllocs()
			for i := range b.N {
				in := make([]IncomingBatch, agents)
				for a := range in {
					agent := fmt.Sprintf("bench-%02d", a)
					batch := wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: agent, Sequence: uint64(i + 1), SentAt: start}
					for dev := range devices {
						r := benchRead(dev, start.Add(time.Duration(i)*time.Second))
						r.Serial = fmt.Sprintf("%s-SN%05d", agent, dev)
						batch.Reads = append(batch.Reads, r)
					}
					in[a] = IncomingBatch{Batch: batch, Key: testKey(batch), ReceivedAt: time.Now()}
				}
				if _, err := s.SaveBatches(b.Context(), in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*agents*devices)/b.Elapsed().Seconds(), "reads/s")
		})
	}
}

// benchStore opens an empty, migrated database of the dialect.
func benchStore(b *testing.B, d dialect) *Store {
	b.Helper()
	s, err := Open(b.Context(), d.url(b), discard())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchRead is a colour MFP's read: three meters, eight supplies, a status.
func benchRead(dev int, at time.Time) wire.DeviceRead {
	level := func(v int64) *int64 { return &v }
	pct := func(v int) *int { return &v }
	r := wire.DeviceRead{
		Address: fmt.Sprintf("127.0.1.%d:161", dev+1), ReadAt: at, Serial: fmt.Sprintf("SN%05d", dev),
		MAC: "00:11:22:33:44:55", Vendor: "HP", Model: "Color LaserJet MFP M480f", Firmware: "2506116_029393",
		Counters: []wire.Counter{
			{Kind: "total", Value: int64(100000 + dev), Source: "prtMarkerLifeCount"},
			{Kind: "black", Value: int64(60000 + dev), Source: "hp.black"},
			{Kind: "colour", Value: int64(40000 + dev), Source: "hp.colour"},
		},
		Status: &wire.Status{Device: "running", Printer: "idle"},
	}
	for i, c := range []string{"black", "cyan", "magenta", "yellow", "black", "cyan", "magenta", "yellow"} {
		kind := domain.SupplyToner
		if i >= 4 {
			kind = domain.SupplyDrum
		}
		r.Supplies = append(r.Supplies, wire.Supply{
			Index: i + 1, Description: c + " cartridge HP 415A", Kind: kind, Colour: c, PartNumber: "W2030A",
			Level: level(4200), Capacity: level(6000), Unit: "impressions", State: domain.LevelMeasured, Percent: pct(70),
		})
	}
	return r
}
