package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/outbox"
	"github.com/meterline/meterline/agent/internal/uplink"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// ackingPublisher takes every batch at once and acknowledges it at once,
// as a fast broker and collector would: the drain loop alone is measured.
type ackingPublisher struct {
	sender *uplink.Sender
}

func (p *ackingPublisher) IsConnected() bool { return true }

func (p *ackingPublisher) PublishReads(payload []byte) func(context.Context) error {
	seq := seqOf(payload)
	return func(context.Context) error {
		ack, err := wire.Encode(wire.Ack{Schema: wire.SchemaVersion, AgentID: "bench", Sequences: []uint64{seq}})
		if err != nil {
			return err
		}
		p.sender.HandleAck(ack)
		return nil
	}
}

// seqOf reads the "seq" of an encoded batch without decoding it all.
func seqOf(payload []byte) uint64 {
	const key = `"seq":`
	i := bytes.Index(payload, []byte(key)) + len(key)
	j := i
	for j < len(payload) && payload[j] >= '0' && payload[j] <= '9' {
		j++
	}
	n, _ := strconv.ParseUint(string(payload[i:j]), 10, 64)
	return n
}

// colourMFPRead is one read of a colour MFP as the agent sends it: about
// 1.2 KB of JSON.
func colourMFPRead(i int) wire.DeviceRead {
	level, capacity, percent := int64(4200), int64(12000), 35
	r := wire.DeviceRead{
		Serial: fmt.Sprintf("CNB1X%05d", i), MAC: "00:1b:a9:12:34:56", Vendor: "hp", Model: "HP Color LaserJet MFP M479fdw",
		Firmware: "002.2149A", Address: fmt.Sprintf("127.1.0.%d:161", i+10), ReadAt: time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC),
		Status: &wire.Status{Device: "running", Printer: "idle"},
	}
	for _, k := range []domain.CounterKind{"total", "black", "colour", "copy_black", "copy_colour", "print_black", "print_colour", "scan"} {
		r.Counters = append(r.Counters, wire.Counter{Kind: k, Value: 123456, Unit: "impressions"})
	}
	for j, c := range []string{"black", "cyan", "magenta", "yellow"} {
		r.Supplies = append(r.Supplies, wire.Supply{Index: j + 1, Kind: "toner", Colour: c,
			PartNumber: "W2030A", Level: &level, Capacity: &capacity, State: "ok", Percent: &percent})
	}
	return r
}

// BenchmarkDrain measures the sender draining a backlog from the outbox:
// pendingBatches batches of ten colour MFP reads, each published and
// acknowledged at once (one synced delete per ack). It reports batches/s
// and reads/s.
func BenchmarkDrain(b *testing.B) {
	const pendingBatches, readsPerBatch = 500, 10
	template := filepath.Join(b.TempDir(), "template.db")
	box, err := outbox.Open(template, outbox.Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	var reads []wire.DeviceRead
	for i := range readsPerBatch {
		reads = append(reads, colourMFPRead(i))
	}
	var payloadBytes int
	for range pendingBatches {
		_, err := box.Append(func(seq uint64, _ string) ([]byte, error) {
			p, err := wire.Encode(wire.ReadBatch{Schema: wire.SchemaVersion, AgentID: "bench", Sequence: seq, SentAt: time.Now(), Reads: reads})
			payloadBytes = len(p)
			return p, err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	box.Close()
	b.Logf("%d batches of %d bytes (%d reads, %.0f bytes a read)", pendingBatches, payloadBytes, readsPerBatch, float64(payloadBytes)/readsPerBatch)

	log := slog.New(slog.DiscardHandler)
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "outbox.db")
		copyFile(b, template, path)
		box, err := outbox.Open(path, outbox.Options{MaxBytes: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		sender := uplink.NewSender(box, uplink.SenderOptions{AgentID: "bench"}, log)
		pub := &ackingPublisher{sender: sender}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		b.StartTimer()

		started := time.Now()
		go func() { sender.Run(ctx, pub); close(done) }()
		for box.Stats().Depth > 0 {
			time.Sleep(100 * time.Microsecond)
		}
		elapsed += time.Since(started)

		b.StopTimer()
		cancel()
		<-done
		box.Close()
		b.StartTimer()
	}
	batches := float64(b.N * pendingBatches)
	b.ReportMetric(batches/elapsed.Seconds(), "batches/s")
	b.ReportMetric(batches*readsPerBatch/elapsed.Seconds(), "reads/s")
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		b.Fatal(err)
	}
}
