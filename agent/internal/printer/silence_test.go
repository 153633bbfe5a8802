package printer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
	"github.com/meterline/meterline/shared/domain"
)

// silentIn is a device whose agent goes silent on some subtrees, as a
// printer does when a table holds a value its agent cannot encode.
type silentIn struct {
	snmp.Client
	roots []string
}

func (s silentIn) Walk(ctx context.Context, root string) ([]snmp.PDU, error) {
	if slices.Contains(s.roots, root) {
		return nil, os.ErrDeadlineExceeded
	}
	return s.Client.Walk(ctx, root)
}

func TestReadThroughSilentTables(t *testing.T) {
	fake, err := snmptest.Load(filepath.Join("testdata", "profiles", "xerox_device_index_3.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		colorants = "1.3.6.1.2.1.43.12.1.1.4"
		ifPhys    = "1.3.6.1.2.1.2.2.1.6"
		supplies  = "1.3.6.1.2.1.43.11.1.1"
	)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	full, err := (printer.Reader{}).Read(t.Context(), fake, "127.0.0.1:161", at)
	if err != nil {
		t.Fatal(err)
	}

	// Two silent tables: the read goes on; what they hold is absent, the
	// rest (the billing meters above all) is there.
	snap, err := (printer.Reader{}).Fetch(t.Context(), silentIn{fake, []string{colorants, ifPhys}})
	if err != nil {
		t.Fatalf("fetch with two silent tables: %v", err)
	}
	if len(snap.Missing) != 2 {
		t.Errorf("Missing = %v, want the two silent tables", snap.Missing)
	}
	partial, err := (printer.Reader{}).Read(t.Context(), silentIn{fake, []string{colorants, ifPhys}}, "127.0.0.1:161", at)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []domain.CounterKind{domain.CounterTotal, domain.CounterBlack, domain.CounterColour} {
		want, ok := full.Counter(kind)
		if got, gotOK := partial.Counter(kind); got != want || gotOK != ok {
			t.Errorf("%s: %d (%v) with silent tables, %d (%v) without", kind, got, gotOK, want, ok)
		}
	}
	if partial.Serial != full.Serial || partial.MAC != "" {
		t.Errorf("serial %q (want %q), MAC %q (want none: its table was silent)", partial.Serial, full.Serial, partial.MAC)
	}

	// A third silent table: the device has stopped answering; the read
	// fails rather than publish a husk.
	_, err = (printer.Reader{}).Read(t.Context(), silentIn{fake, []string{colorants, ifPhys, supplies}}, "127.0.0.1:161", at)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("three silent tables: err = %v, want the timeout", err)
	}
}
