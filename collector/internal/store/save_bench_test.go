package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/wire"
)

// BenchmarkSaveBatch stores batches of 100 reads of 100 devices (a
// printer fleet's round), each batch a new round.
func BenchmarkSaveBatch(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			s, err := Open(b.Context(), d.url(b), discard())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
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

func benchRead(dev int, at time.Time) wire.DeviceRead {
	return wire.DeviceRead{
		Address: fmt.Sprintf("127.0.1.%d:161", dev+1), ReadAt: at, Serial: fmt.Sprintf("SN%05d", dev),
		Vendor: "HP", Model: "LaserJet",
		Counters: []wire.Counter{{Kind: "total", Value: int64(1000 + dev)}, {Kind: "black", Value: int64(500 + dev)}},
	}
}
