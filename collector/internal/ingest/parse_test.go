package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// now is the clock of these tests: just after the reads in testdata.
var now = time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)

func TestDecode(t *testing.T) {
	reads := topic.For("agent-1", topic.Reads)
	tests := []struct {
		name     string
		topic    string
		payload  string
		wantCode string // "" when the message is valid
		wantIn   string // part of the error message, or of the reason of the one read refused alone
	}{
		{"read batch", reads, `{"schema":1,"agent_id":"agent-1","seq":4,"reads":[{"address":"127.0.0.1","read_at":"2025-03-31T22:00:00Z"}]}`, "", ""},
		{"status", topic.For("agent-1", topic.Status), `{"schema":1,"agent_id":"agent-1","state":"offline"}`, "", ""},
		{"event", topic.For("agent-1", topic.Events), `{"schema":1,"agent_id":"agent-1","id":"e1","at":"2025-03-31T22:00:00Z","kind":"jam"}`, "", ""},
		{"not JSON", reads, `garbage`, domain.EINVALID, "not a JSON object"},
		{"empty payload", reads, ``, domain.EINVALID, "not a JSON object"},
		{"no schema", reads, `{"agent_id":"agent-1","seq":1}`, domain.ESCHEMA, "no schema version"},
		{"newer schema", reads, `{"schema":2,"agent_id":"agent-1","seq":1}`, domain.ESCHEMA, "schema version 2"},
		{"oversized", reads, `{"schema":1,"pad":"` + strings.Repeat("x", wire.MaxPayloadBytes) + `"}`, domain.ETOOLARGE, "over the"},
		{"no sequence", reads, `{"schema":1,"agent_id":"agent-1","reads":[]}`, domain.EINVALID, "sequence"},
		{"negative counter refuses its read alone", reads, `{"schema":1,"agent_id":"agent-1","seq":1,"reads":[{"address":"a","read_at":"2025-03-31T22:00:00Z","counters":[{"kind":"total","value":-1}]}]}`, "", "negative"},
		{"read in the future refuses its read alone", reads, `{"schema":1,"agent_id":"agent-1","seq":1,"reads":[{"address":"a","read_at":"2025-04-09T22:00:00Z"}]}`, "", "future"},
		{"agent id of another agent", reads, `{"schema":1,"agent_id":"agent-2","seq":1,"reads":[]}`, domain.EINVALID, `"agent-2" in the payload is not "agent-1"`},
		{"status of another agent", topic.For("agent-1", topic.Status), `{"schema":1,"agent_id":"agent-2","state":"online"}`, domain.EINVALID, "agent-2"},
		{"topic outside meterline", "elsewhere/agent-1/reads", `{}`, domain.EINVALID, "not under"},
		{"topic of a kind agents do not send", topic.For("agent-1", topic.Acks), `{}`, domain.EINVALID, "takes no acks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := decode(tt.topic, []byte(tt.payload), now)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if d.agentID != "agent-1" {
					t.Errorf("agent id = %q, want agent-1", d.agentID)
				}
				if tt.wantIn != "" && (len(d.refused) != 1 || !strings.Contains(d.refused[0].Reason, tt.wantIn)) {
					t.Errorf("refused reads = %+v, want one refused with %q", d.refused, tt.wantIn)
				}
				if d.kind == topic.Reads && d.batchKey == "" {
					t.Error("batch key missing")
				}
				return
			}
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("decode error = %v, want a *domain.Error", err)
			}
			if de.Code != tt.wantCode || !strings.Contains(de.Message, tt.wantIn) {
				t.Errorf("decode error = %q, want code %q and a message with %q", err, tt.wantCode, tt.wantIn)
			}
		})
	}
}

// FuzzDecodeReadBatch feeds arbitrary payloads to the decode path of the
// reads topic: it must never panic, must refuse with a domain error code,
// and what it accepts must be storable.
func FuzzDecodeReadBatch(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "reads", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed payloads in testdata/reads: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	codes := map[string]bool{domain.EINVALID: true, domain.ESCHEMA: true, domain.ETOOLARGE: true}
	reads := topic.For("agent-1", topic.Reads)

	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := decode(reads, payload, now)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || !codes[de.Code] {
				t.Fatalf("decode error %v: want a *domain.Error with code invalid, schema or too_large", err)
			}
			return
		}
		if d.agentID != "agent-1" || d.batch.AgentID != "agent-1" || d.batch.Sequence == 0 {
			t.Fatalf("accepted batch of agent %q seq %d on agent-1's topic", d.batch.AgentID, d.batch.Sequence)
		}
		for i, r := range d.batch.Reads {
			if r.Address == "" || r.ReadAt.IsZero() || r.ReadAt.After(now.Add(wire.MaxFutureSkew)) {
				t.Fatalf("accepted read %d without an address or with a bad time: %+v", i, r)
			}
			if key := r.Key(d.agentID); key == "" {
				t.Fatalf("read %d has no device key", i)
			}
		}
	})
}
