package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/golden"
	"github.com/meterline/meterline/shared/wire"
)

func ptr[T any](v T) *T { return &v }

var readAt = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func sampleBatch() wire.ReadBatch {
	return wire.ReadBatch{
		Schema:   wire.SchemaVersion,
		AgentID:  "site-lyon-01",
		Sequence: 42,
		BatchID:  "Kp2xa7Qz",
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
				// A colour model that exposes no black or colour meter.
				Unreported: []domain.CounterKind{domain.CounterBlack, domain.CounterColour},
			},
		},
	}
}

func TestGoldenReadBatch(t *testing.T) {
	want := sampleBatch()
	b := golden.JSON(t, filepath.Join("testdata", "read_batch.json"), want)
	got, refused, err := wire.DecodeReadBatch(b, readAt)
	if err != nil || refused != nil {
		t.Fatal(err, refused)
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
	b := golden.JSON(t, filepath.Join("testdata", "agent_status.json"), status)
	if got, err := wire.DecodeAgentStatus(b); err != nil || !reflect.DeepEqual(got, status) {
		t.Errorf("status round trip: %+v, %v", got, err)
	}

	event := wire.Event{Schema: 1, AgentID: "site-lyon-01", ID: "e-17", At: readAt, Kind: domain.EventCounterBackwards,
		Serial: "YHX412087", Address: "127.0.1.1:161", Message: "total went from 723338 to 12", Previous: ptr[int64](723338), Current: ptr[int64](12)}
	b = golden.JSON(t, filepath.Join("testdata", "event.json"), event)
	if got, err := wire.DecodeEvent(b); err != nil || !reflect.DeepEqual(got, event) {
		t.Errorf("event round trip: %+v, %v", got, err)
	}

	ack := wire.Ack{Schema: 1, AgentID: "site-lyon-01", Sequences: []uint64{41, 42, 43}, At: readAt,
		Batches: []wire.BatchAck{
			{Seq: 41, BatchID: "b7Qz1"},
			{Seq: 42, BatchID: "Kp2xa", Refused: []wire.RefusedRead{{Index: 3, Reason: "serial longer than 64 bytes"}}},
			{Seq: 43, BatchID: "x9LmR", Rejected: "agent id \"b\" in the payload is not \"site-lyon-01\" of the topic"},
		}}
	b = golden.JSON(t, filepath.Join("testdata", "ack.json"), ack)
	if got, err := wire.DecodeAck(b); err != nil || !reflect.DeepEqual(got, ack) {
		t.Errorf("ack round trip: %+v, %v", got, err)
	}

	cfg := wire.AgentConfig{Schema: 1, PollInterval: "15m", DiscoveryInterval: "24h", Ranges: []string{"127.0.1.0/24"}, Credentials: []string{"office"}}
	b = golden.JSON(t, filepath.Join("testdata", "agent_config.json"), cfg)
	if got, err := wire.DecodeAgentConfig(b); err != nil || !reflect.DeepEqual(got, cfg) {
		t.Errorf("config round trip: %+v, %v", got, err)
	}

	cmd := wire.Command{Schema: 1, ID: "c-1", Name: domain.CommandPollNow, At: readAt}
	b = golden.JSON(t, filepath.Join("testdata", "command.json"), cmd)
	if got, err := wire.DecodeCommand(b); err != nil || !reflect.DeepEqual(got, cmd) {
		t.Errorf("command round trip: %+v, %v", got, err)
	}
}

func TestDecodeReadBatchRefusesTheBatch(t *testing.T) {
	good, err := wire.Encode(sampleBatch())
	if err != nil {
		t.Fatal(err)
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
		{"bad agent id", editBatch(t, func(b *wire.ReadBatch) { b.AgentID = "a/b" }), domain.EINVALID},
		{"no sequence", editBatch(t, func(b *wire.ReadBatch) { b.Sequence = 0 }), domain.EINVALID},
		{"bad batch id", editBatch(t, func(b *wire.ReadBatch) { b.BatchID = "a b" }), domain.EINVALID},
		{"wrong type", []byte(`{"schema":1,"agent_id":"a","seq":"x"}`), domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := wire.DecodeReadBatch(tt.payload, readAt)
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

func editBatch(t *testing.T, f func(*wire.ReadBatch)) []byte {
	t.Helper()
	b := sampleBatch()
	f(&b)
	out, err := wire.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// One bad read is refused alone: the batch keeps the others.
func TestDecodeReadBatchRefusesOneRead(t *testing.T) {
	tests := []struct {
		name string
		edit func(*wire.DeviceRead)
		want string
	}{
		{"negative counter", func(r *wire.DeviceRead) { r.Counters[0].Value = -5 }, "negative"},
		{"read in the future", func(r *wire.DeviceRead) { r.ReadAt = readAt.Add(25 * time.Hour) }, "future"},
		{"no read time", func(r *wire.DeviceRead) { r.ReadAt = time.Time{} }, "read time missing"},
		{"no address", func(r *wire.DeviceRead) { r.Address = "" }, "address missing"},
		{"percent over 100", func(r *wire.DeviceRead) { r.Supplies[0].Percent = ptr(150) }, "percent"},
		{"long serial", func(r *wire.DeviceRead) { r.Serial = strings.Repeat("S", 600) }, "serial longer than 64"},
		{"NUL in the model", func(r *wire.DeviceRead) { r.Model = "Alta\x00Link" }, "model holds a NUL"},
		{"long source", func(r *wire.DeviceRead) { r.Counters[0].Source = strings.Repeat("x", 257) }, "counter source longer"},
		{"too many counters", func(r *wire.DeviceRead) {
			r.Counters = make([]wire.Counter, wire.MaxListLen+1)
			for i := range r.Counters {
				r.Counters[i] = wire.Counter{Kind: domain.CounterTotal, Value: 1}
			}
		}, "counters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := editBatch(t, func(b *wire.ReadBatch) { tt.edit(&b.Reads[0]) })
			got, refused, err := wire.DecodeReadBatch(payload, readAt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Reads) != 1 || got.Reads[0].Address != "127.0.1.2:161" {
				t.Errorf("kept reads = %+v, want the second read alone", got.Reads)
			}
			if len(refused) != 1 || refused[0].Index != 0 || !strings.Contains(refused[0].Reason, tt.want) {
				t.Fatalf("refused = %+v, want read 0 for %q", refused, tt.want)
			}
			var back wire.DeviceRead
			if err := json.Unmarshal(refused[0].Raw, &back); err != nil {
				t.Errorf("the refused read's JSON does not parse: %v", err)
			}
		})
	}
}

// A read of the wrong shape (a counter value that is a string) fails the
// fast parse; it is refused alone, with its bytes as they came.
func TestDecodeReadBatchMalformedRead(t *testing.T) {
	payload := []byte(`{"schema":1,"agent_id":"a","seq":7,"batch_id":"x1","sent_at":"2026-11-02T09:30:00Z","reads":[
		{"address":"127.0.0.1:161","read_at":"2026-11-02T09:30:00Z","counters":[{"kind":"total","value":"lots"}]},
		{"address":"127.0.0.2:161","read_at":"2026-11-02T09:30:00Z","counters":[{"kind":"total","value":12}]},
		{"address":"","read_at":"2026-11-02T09:30:00Z"}]}`)
	got, refused, err := wire.DecodeReadBatch(payload, readAt)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sequence != 7 || got.BatchID != "x1" || len(got.Reads) != 1 || got.Reads[0].Address != "127.0.0.2:161" {
		t.Errorf("got %+v", got)
	}
	if len(refused) != 2 || refused[0].Index != 0 || refused[1].Index != 2 {
		t.Fatalf("refused = %+v, want reads 0 and 2", refused)
	}
	if !strings.Contains(string(refused[0].Raw), `"lots"`) {
		t.Errorf("raw of the malformed read = %s", refused[0].Raw)
	}
}

// A refusal's reason stays short whatever the read held: acks carry it.
func TestRefusalReasonIsBounded(t *testing.T) {
	huge := strings.Repeat("x", 100_000)
	payload := []byte(`{"schema":1,"agent_id":"a","seq":7,"sent_at":"2026-11-02T09:30:00Z","reads":[
		{"address":"127.0.0.1:161","read_at":"2026-11-02T09:30:00Z","counters":[{"kind":"total","value":"` + huge + `"}]},
		{"address":"127.0.0.1:161","read_at":"2026-11-02T09:30:00Z","counters":[{"kind":"` + huge + `","value":1}]}]}`)
	_, refused, err := wire.DecodeReadBatch(payload, readAt)
	if err != nil || len(refused) != 2 {
		t.Fatalf("refused %d reads, err %v; want 2", len(refused), err)
	}
	for _, r := range refused {
		if len(r.Reason) > wire.MaxTextLen {
			t.Errorf("read %d: reason of %d bytes", r.Index, len(r.Reason))
		}
	}
}

func TestPeekBatchHead(t *testing.T) {
	h, ok := wire.PeekBatchHead([]byte(`{"schema":9,"agent_id":"a","seq":3,"batch_id":"q","reads":"?"}`))
	if !ok || h != (wire.BatchHead{AgentID: "a", Sequence: 3, BatchID: "q"}) {
		t.Errorf("head = %+v, %v", h, ok)
	}
	for _, p := range []string{`hello`, `{"agent_id":"a"}`, `{"agent_id":"a/b","seq":1}`, `{"agent_id":"a","seq":-1}`} {
		if h, ok := wire.PeekBatchHead([]byte(p)); ok {
			t.Errorf("PeekBatchHead(%s) = %+v, want not ok", p, h)
		}
	}
}

func TestBatchKey(t *testing.T) {
	b := sampleBatch()
	b.BatchID = "" // an agent that predates batch ids
	if got := (wire.ReadBatch{BatchID: "abc"}).BatchKey([]byte("x")); got != "abc" {
		t.Errorf("key with a batch id = %q", got)
	}
	p1, p2 := editBatch(t, func(*wire.ReadBatch) {}), editBatch(t, func(b *wire.ReadBatch) { b.Reads = b.Reads[:1] })
	k1, k2 := b.BatchKey(p1), b.BatchKey(p2)
	if k1 == k2 || k1 != b.BatchKey(p1) || !strings.HasPrefix(k1, "sha256:") || len(k1) > wire.MaxBatchIDLen {
		t.Errorf("content keys %q %q", k1, k2)
	}
}

// worstRead is a read at every bound, of the characters JSON escapes most.
func worstRead() wire.DeviceRead {
	text := func(n int) string { return strings.Repeat("<", n) }
	r := wire.DeviceRead{Serial: text(wire.MaxSerialLen), MAC: text(wire.MaxTextLen), Vendor: text(wire.MaxTextLen),
		Model: text(wire.MaxTextLen), Firmware: text(wire.MaxTextLen), Address: text(wire.MaxTextLen), ReadAt: readAt,
		Status: &wire.Status{Device: domain.DeviceState(text(wire.MaxTokenLen)), Printer: domain.PrinterState(text(wire.MaxTokenLen))}}
	for range wire.MaxListLen {
		r.Counters = append(r.Counters, wire.Counter{Kind: domain.CounterKind(text(wire.MaxTokenLen)), Value: -1 << 63,
			Unit: domain.CounterUnit(text(wire.MaxTokenLen)), Source: text(wire.MaxTextLen)})
		r.Supplies = append(r.Supplies, wire.Supply{Index: -1 << 62, Description: text(wire.MaxTextLen),
			Kind: domain.SupplyKind(text(wire.MaxTokenLen)), Colour: text(wire.MaxTokenLen), PartNumber: text(wire.MaxTextLen),
			Level: ptr[int64](-1 << 63), Capacity: ptr[int64](-1 << 63), Unit: text(wire.MaxTokenLen),
			State: domain.LevelState(text(wire.MaxTokenLen)), Receptacle: true, Percent: ptr(100), FullPercent: ptr(100)})
		r.Status.Conditions = append(r.Status.Conditions, domain.Condition(text(wire.MaxTokenLen)))
		r.Unreported = append(r.Unreported, domain.CounterKind(text(wire.MaxTokenLen)))
	}
	return r
}

func TestReadBoundFitsAPayload(t *testing.T) {
	b, err := wire.Encode(worstRead())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > wire.MaxReadBytes {
		t.Errorf("a read at every bound takes %d bytes, over MaxReadBytes %d", len(b), wire.MaxReadBytes)
	}
	if wire.MaxReadBytes+4096 > wire.MaxPayloadBytes {
		t.Errorf("MaxReadBytes %d leaves no room for a batch under %d", wire.MaxReadBytes, wire.MaxPayloadBytes)
	}
}

func TestCleanMeetsValidate(t *testing.T) {
	r := worstRead()
	r.Serial = strings.Repeat("9", 600)
	r.Model = "bizhub\x00" + strings.Repeat("é", 200) // cut inside a character
	r.Counters = append(r.Counters, wire.Counter{Kind: "total", Value: 5})
	r.Counters[0].Kind = ""
	r.Supplies[0].Percent = ptr(-13)
	for i := range r.Counters {
		r.Counters[i].Value = int64(i) - 3
	}
	got, changed := r.Clean()
	if err := got.Validate(readAt); err != nil {
		t.Fatalf("cleaned read does not validate: %v", err)
	}
	if got.Serial != "" || len(changed) == 0 {
		t.Errorf("serial %q, changed %q", got.Serial, changed)
	}
	if !strings.HasPrefix(got.Model, "bizhub") || len(got.Model) > wire.MaxTextLen || !utf8.ValidString(got.Model) {
		t.Errorf("model cut to %q", got.Model)
	}
	if r.Counters[0].Kind != "" || r.Serial == "" {
		t.Error("Clean changed the read it was given")
	}

	padded := wire.DeviceRead{Serial: "CNB1234567\x00\x00", Address: "h", ReadAt: readAt}
	if got, changed := padded.Clean(); got.Serial != "CNB1234567" || len(changed) != 0 {
		t.Errorf("a NUL-padded serial: %q, %q", got.Serial, changed)
	}
	good := sampleBatch().Reads[0]
	if got, changed := good.Clean(); !reflect.DeepEqual(got, good) || changed != nil {
		t.Errorf("a good read changed: %q", changed)
	}
}

func TestAhead(t *testing.T) {
	r := wire.DeviceRead{ReadAt: readAt.Add(wire.ClockSkewTolerance)}
	if r.Ahead(readAt) {
		t.Error("a read within the tolerance is ahead")
	}
	r.ReadAt = r.ReadAt.Add(time.Second)
	if !r.Ahead(readAt) {
		t.Error("a read past the tolerance is not ahead")
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	// A newer agent may add fields within schema 1; an older collector keeps
	// what it knows.
	b := []byte(`{"schema":1,"agent_id":"a","seq":7,"sent_at":"2026-11-02T09:30:00Z","future_field":{"x":1},
		"reads":[{"address":"127.0.0.1:161","read_at":"2026-11-02T09:30:00Z","tray_levels":[1]}]}`)
	got, _, err := wire.DecodeReadBatch(b, readAt)
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
		{wire.DeviceRead{Serial: "000000", MAC: "AA:BB", Address: "h"}, "mac:aa:bb"},
		{wire.DeviceRead{Serial: "n/a ", Address: "h"}, "addr:ag/h"},
	}
	for _, tt := range tests {
		if got := tt.read.Key("ag"); got != tt.want {
			t.Errorf("Key(%+v) = %q, want %q", tt.read, got, tt.want)
		}
	}
}

func TestPlaceholderSerial(t *testing.T) {
	tests := []struct {
		serial string
		want   bool
	}{
		{"", true}, {" \x00", true}, {"0", true}, {"000000", true}, {"N/A", true}, {" n/a ", true},
		{"unknown", true}, {"Unknown\x00", true}, {"NONE", true}, {"xxxxxxxx", true}, {"-", true},
		{"123456789", true}, {"Serial Number", true},
		{"ABC123", false}, {"abc123 ", false}, {"0001", false}, {"CNB1234567", false}, {"A", false}, {"AB", false}, {"BB", true},
	}
	for _, tt := range tests {
		if got := wire.PlaceholderSerial(tt.serial); got != tt.want {
			t.Errorf("PlaceholderSerial(%q) = %v, want %v", tt.serial, got, tt.want)
		}
	}
}

func TestOwner(t *testing.T) {
	tests := []struct {
		key, agent string
		account    int64
		want       string
	}{
		{"sn:ABC123", "a1", 7, "acct:7"},
		{"sn:ABC123", "a1", 0, "agent:a1"},
		{"mac:aa:bb", "a1", 7, "agent:a1"},
		{"addr:a1/h", "a1", 7, "agent:a1"},
	}
	for _, tt := range tests {
		if got := wire.Owner(tt.key, tt.agent, tt.account); got != tt.want {
			t.Errorf("Owner(%q, %q, %d) = %q, want %q", tt.key, tt.agent, tt.account, got, tt.want)
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
