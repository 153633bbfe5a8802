package ingest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// BenchmarkDecodeReadBatch decodes a batch of 100 colour-MFP reads (about
// 1.9 KB each, like an agent's) with the standard library and with the
// parser ingest uses.
func BenchmarkDecodeReadBatch(b *testing.B) {
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	batch := wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: "bench", Sequence: 1, SentAt: at}
	level, capacity, percent := int64(4200), int64(6000), 70
	for dev := range 100 {
		r := wire.DeviceRead{
			Address: fmt.Sprintf("127.0.1.%d:161", dev+1), ReadAt: at, Serial: fmt.Sprintf("SN%05d", dev),
			MAC: "00:11:22:33:44:55", Vendor: "HP", Model: "Color LaserJet MFP M480f", Firmware: "2506116_029393",
			Counters: []wire.Counter{
				{Kind: domain.CounterTotal, Value: 100000, Source: "prtMarkerLifeCount"},
				{Kind: domain.CounterBlack, Value: 60000, Source: "hp.black"},
				{Kind: domain.CounterColour, Value: 40000, Source: "hp.colour"},
			},
			Status: &wire.Status{Device: domain.DeviceRunning, Printer: domain.PrinterIdle},
		}
		for i, colour := range []string{"black", "cyan", "magenta", "yellow", "black", "cyan", "magenta", "yellow"} {
			r.Supplies = append(r.Supplies, wire.Supply{
				Index: i + 1, Description: colour + " cartridge HP 415A", Kind: domain.SupplyToner, Colour: colour,
				PartNumber: "W2030A", Level: &level, Capacity: &capacity, Unit: "impressions", State: domain.LevelMeasured, Percent: &percent,
			})
		}
		batch.Reads = append(batch.Reads, r)
	}
	payload, err := json.Marshal(batch)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		codec wire.Codec
	}{{"encoding-json", wire.Codec{}}, {"ingest", payloadCodec}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.codec.DecodeReadBatch(payload, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch.Reads))/b.Elapsed().Seconds(), "reads/s")
		})
	}
}
