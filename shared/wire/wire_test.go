package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func ptr[T any](v T) *T { return &v }

var readAt = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func sampleBatch() wire.ReadBatch {
	return wire.ReadBatch{
		Schema:   wire.SchemaVersion,
		AgentID:  "site-lyon-01",
		Sequence: 42,
		SentAt:   readAt.Add(2 * time.Second),
		Reads: []wire.DeviceRead{
			{
				Serial:   "YHX412087",
				MAC:      "9c:93:4e:12:34:56",
				Vendor:   "Xerox",
				Model:    "AltaLink C8055",
				Firmware: "100.002.057",
				Address:  "127.0.1.1:161",
				ReadAt:   readAt,
				Counters: []wire.Counter{
					{Kind: domain.CounterTotal, Value: 723338, Unit: domain.UnitImpressions, Source: "xerox:20.1"},
					{Kind: domain.CounterBlack, Value: 512340, Unit: domain.UnitImpressions, Source: "xerox:20.34"},
					{Kind: domain.CounterColour, Value: 210998, Unit: domain.UnitImpressions, Source: "xerox:20.33"},
				},
				Supplies: []wire.Supply{
					{Index: 1, Description: "Black Toner", Kind: domain.SupplyToner, Colour: "black", PartNumber: "006R01509",
						Level: ptr[int64](636), Capacity: ptr[int64](5300), Unit: "impressions", State: domain.LevelMeasured, Percent: ptr(12)},
					{Index: 10, Description: "Waste Toner Container", Kind: domain.SupplyWaste,
						Level: ptr[int64](30), Capacity: ptr[int64](100), Unit: "percent", State: domain.LevelMeasured, Receptacle: true, FullPercent: ptr(70)},
					{Index: 11, Description: "Fuser", Kind: domain.SupplyFuser, Level: ptr[int64](-3), Capacity: ptr[int64](-2), State: domain.LevelSomeRemaining},
				},
				Status: &wire.Status{Device: domain.DeviceWarning, Printer: domain.PrinterIdle, Conditions: []domain.Condition{domain.CondLowToner}},
			},
			{
				// A printer without a serial number: still a device.
				Model:   "Brother MFC-L2710DW series",
				Address: "127.0.1.2:161",
				ReadAt:  readAt,
				Counters: []wire.Counter{
					{Kind: domain.CounterTotal, Value: 15232, Unit: domain.UnitSheets, Source: "prtMarkerLifeCount"},
				},
			},
		},
	}
}

// golden compares v's JSON with testdata/name, and checks that decoding the
// golden bytes gives v back.
func golden(t *testing.T, name string, v any) []byte {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: encoding changed (a wire change breaks agents in the field):\n got: %s\nwant: %s", name, got, want)
	}
	return want
}

func TestGoldenReadBatch(t *testing.T) {
	want := sampleBatch()
	b := golden(t, "read_batch.json", want)
	got, err := wire.DecodeReadBatch(b, readAt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if got.Reads[1].Key(got.AgentID) != "addr:site-lyon-01/127.0.1.2:161" {
		t.Errorf("key of a device without serial or MAC = %q", got.Reads[1].Key(got.AgentID))
	}
}

func TestGoldenOtherPayloads(t *testing.T) {
	status := wire.AgentStatus{Schema: 1, AgentID: "site-lyon-01", State: domain.AgentOnline, Version: "v0.1.0",
		StartedAt: readAt.Add(-time.Hour), At: readAt, DevicesPolled: 12, OutboxDepth: 3}
	b := golden(t, "agent_status.json", status)
	if got, err := wire.DecodeAgentStatus(b); err != nil || !reflect.DeepEqual(got, status) {
		t.Errorf("status round trip: %+v, %v", got, err)
	}

	event := wire.Event{Schema: 1, AgentID: "site-lyon-01", ID: "e-17", At: readAt, Kind: domain.EventCounterBackwards,
		Serial: "YHX412087", Address: "127.0.1.1:161", Message: "total went from 723338 to 12", Previous: ptr[int64](723338), Current: ptr[int64](12)}
	b = golden(t, "event.json", event)
	if got, err := wire.DecodeEvent(b); err != nil || !reflect.DeepEqual(got, event) {
		t.Errorf("event round trip: %+v, %v", got, err)
	}

	ack := wire.Ack{Schema: 1, AgentID: "site-lyon-01", Sequences: []uint64{41, 42}, At: readAt}
	b = golden(t, "ack.json", ack)
	if got, err := wire.DecodeAck(b); err != nil || !reflect.DeepEqual(got, ack) {
		t.Errorf("ack round trip: %+v, %v", got, err)
	}

	cfg := wire.AgentConfig{Schema: 1, PollInterval: "15m", DiscoveryInterval: "24h", Ranges: []string{"127.0.1.0/24"}, Credentials: []string{"office"}}
	b = golden(t, "agent_config.json", cfg)
	if got, err := wire.DecodeAgentConfig(b); err != nil || !reflect.DeepEqual(got, cfg) {
		t.Errorf("config round trip: %+v, %v", got, err)
	}

	cmd := wire.Command{Schema: 1, ID: "c-1", Name: domain.CommandPollNow, At: readAt}
	b = golden(t, "command.json", cmd)
	if got, err := wire.DecodeCommand(b); err != nil || !reflect.DeepEqual(got, cmd) {
		t.Errorf("command round trip: %+v, %v", got, err)
	}
}

func TestDecodeReadBatchRefuses(t *testing.T) {
	good, err := wire.Encode(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*wire.ReadBatch)) []byte {
		b := sampleBatch()
		f(&b)
		out, err := wire.Encode(b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name    string
		payload []byte
		code    string
	}{
		{"not json", []byte("hello"), domain.EINVALID},
		{"json array", []byte("[1,2]"), domain.EINVALID},
		{"no schema", []byte(`{"agent_id":"a","seq":1}`), domain.ESCHEMA},
		{"future schema", bytes.Replace(good, []byte(`"schema":1`), []byte(`"schema":2`), 1), domain.ESCHEMA},
		{"oversized", append(good, bytes.Repeat([]byte(" "), wire.MaxPayloadBytes)...), domain.ETOOLARGE},
		{"bad agent id", edit(func(b *wire.ReadBatch) { b.AgentID = "a/b" }), domain.EINVALID},
		{"no sequence", edit(func(b *wire.ReadBatch) { b.Sequence = 0 }), domain.EINVALID},
		{"negative counter", edit(func(b *wire.ReadBatch) { b.Reads[0].Counters[0].Value = -5 }), domain.EINVALID},
		{"read in the future", edit(func(b *wire.ReadBatch) { b.Reads[0].ReadAt = readAt.Add(72 * time.Hour) }), domain.EINVALID},
		{"no read time", edit(func(b *wire.ReadBatch) { b.Reads[0].ReadAt = time.Time{} }), domain.EINVALID},
		{"no address", edit(func(b *wire.ReadBatch) { b.Reads[1].Address = "" }), domain.EINVALID},
		{"percent over 100", edit(func(b *wire.ReadBatch) { b.Reads[0].Supplies[0].Percent = ptr(150) }), domain.EINVALID},
		{"wrong type", []byte(`{"schema":1,"agent_id":"a","seq":"x"}`), domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wire.DecodeReadBatch(tt.payload, readAt)
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *domain.Error", err)
			}
			if de.Code != tt.code {
				t.Errorf("code = %q (%v), want %q", de.Code, err, tt.code)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	// A newer agent may add fields within schema 1; an older collector keeps
	// what it knows.
	b := []byte(`{"schema":1,"agent_id":"a","seq":7,"sent_at":"2026-11-02T09:30:00Z","future_field":{"x":1},
		"reads":[{"address":"127.0.0.1:161","read_at":"2026-11-02T09:30:00Z","tray_levels":[1]}]}`)
	got, err := wire.DecodeReadBatch(b, readAt)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sequence != 7 || len(got.Reads) != 1 {
		t.Errorf("got %+v", got)
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		read wire.DeviceRead
		want string
	}{
		{wire.DeviceRead{Serial: " yhx412087\x00\x00", MAC: "AA:BB", Address: "h"}, "sn:YHX412087"},
		{wire.DeviceRead{MAC: "AA:BB:CC:00:11:22", Address: "h"}, "mac:aa:bb:cc:00:11:22"},
		{wire.DeviceRead{Serial: "  ", Address: "127.0.0.1:161"}, "addr:ag/127.0.0.1:161"},
	}
	for _, tt := range tests {
		if got := tt.read.Key("ag"); got != tt.want {
			t.Errorf("Key(%+v) = %q, want %q", tt.read, got, tt.want)
		}
	}
}

func TestDecodeCommandRefusesUnknown(t *testing.T) {
	_, err := wire.DecodeCommand([]byte(`{"schema":1,"id":"1","name":"format_disk"}`))
	if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), "format_disk") {
		t.Errorf("err = %v", err)
	}
	_, err = wire.DecodeAgentConfig([]byte(`{"schema":1,"poll_interval":"-5m"}`))
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("negative interval: err = %v", err)
	}
}
