package printer_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/agent/internal/profile"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// meter is a counter as "value source", for compact tables.
type meter struct {
	value  int64
	source string
}

// TestProfileQuirks reads the constructed vendor fixtures: each counter a
// device has is reported from the right place; each it does not have, or
// that holds garbage, is absent while the others stay.
func TestProfileQuirks(t *testing.T) {
	tests := []struct {
		file   string
		serial string
		model  string
		want   map[domain.CounterKind]meter // every counter reported, nothing else
	}{
		{"xerox_device_index_3", "XAL3000001", "Xerox AltaLink C8130", map[domain.CounterKind]meter{
			domain.CounterTotal:  {50100, "xerox:xcmHrDevDetail.20.1"},
			domain.CounterBlack:  {30050, "xerox:xcmHrDevDetail.20.34"},
			domain.CounterColour: {20050, "xerox:xcmHrDevDetail.20.33"},
		}},
		// Mono Xerox, no .20.33: no colour.
		{"xerox_no_printer_row", "XB7000002", "Xerox B7125", map[domain.CounterKind]meter{
			domain.CounterTotal: {8000, "xerox:xcmHrDevDetail.20.1"},
			domain.CounterBlack: {8000, "xerox:xcmHrDevDetail.20.34"},
		}},
		{"sharp_mono_other_indexes", "", "SHARP MX-M266NV", map[domain.CounterKind]meter{
			domain.CounterTotal:      {40000, "prtMarkerLifeCount"},
			domain.CounterBlack:      {40000, "sharp:Black & White Total Count"},
			domain.CounterPrintBlack: {12000, "sharp:Black & White Print Count"},
			domain.CounterCopyBlack:  {7000, "sharp:Black & White Copy Count"},
		}},
		// Two rows claim to be the black total: neither is taken.
		{"sharp_duplicate_names", "", "SHARP MX-3570N", map[domain.CounterKind]meter{
			domain.CounterTotal:      {1500, "prtMarkerLifeCount"},
			domain.CounterColour:     {500, "sharp:Full Color Total Count"},
			domain.CounterPrintBlack: {300, "sharp:Black & White Print Count"},
		}},
		{"ricoh_codes_and_names", "3100R900001", "RICOH IM C3000", map[domain.CounterKind]meter{
			domain.CounterTotal:  {9000, "ricoh:10 Counter: Machine Total"},
			domain.CounterBlack:  {6500, "ricoh:401 Total Prints: Black & White"},
			domain.CounterColour: {2500, "ricoh:402 Total Prints: Color"},
			domain.CounterFax:    {120, "ricoh:300"},
		}},
		// Colour is 122 + 123 and 123 is missing: colour and colour_large
		// differ, so colour is absent and colour_large stays.
		{"canon_colour_part_missing", "3CAN00001", "Canon iR-ADV C3530", map[domain.CounterKind]meter{
			domain.CounterTotal:       {7000, "canon:301"},
			domain.CounterBlack:       {6000, "canon:112+113"},
			domain.CounterBlackLarge:  {100, "canon:112"},
			domain.CounterColourLarge: {40, "canon:122"},
			domain.CounterScan:        {321, "canon:501"},
		}},
		{"brother_counter_blob", "E70000A1B2345", "Brother HL-L3270CDW series", map[domain.CounterKind]meter{
			domain.CounterTotal:  {1234, "brother:counters.00"},
			domain.CounterBlack:  {1000, "brother:counters.01"},
			domain.CounterColour: {234, "brother:counters.02"},
			domain.CounterDuplex: {50, "brother:counters.06"},
		}},
		{"hp_mono_hex_identity", "VNCRC48198", "HP LaserJet MFP M130nw", map[domain.CounterKind]meter{
			domain.CounterTotal: {15232, "hp:total-engine-page-count"},
			domain.CounterBlack: {15232, "hp:total-mono-page-count"},
		}},
		// A colour model without total-color-page-count: colour absent, not 0.
		{"hp_colour_without_colour_oid", "", "HP Color LaserJet M452nw", map[domain.CounterKind]meter{
			domain.CounterTotal: {5000, "prtMarkerLifeCount"},
			domain.CounterBlack: {3000, "hp:total-mono-page-count"},
		}},
		{"pwg_counters_only", "", "Acme ColorPro 9000", map[domain.CounterKind]meter{
			domain.CounterTotal:  {8000, "pwg:icImpressionTotalImps"},
			domain.CounterBlack:  {5000, "pwg:icImpressionMonochromeImps"},
			domain.CounterColour: {3000, "pwg:icImpressionFullColorImps"},
		}},
		{"lexmark_mono_total_only", "451400LM0001", "Lexmark MS610dn", map[domain.CounterKind]meter{
			domain.CounterTotal: {31000, "prtMarkerLifeCount"},
		}},
		{"kyocera_garbage_values", "VKY0000001", "ECOSYS P6235cdn", map[domain.CounterKind]meter{
			domain.CounterTotal: {4000, "kyocera:43.10.1.1.12.1.1"},
		}},
		{"konica_function_meters", "", "KONICA MINOLTA bizhub C250i", map[domain.CounterKind]meter{
			domain.CounterTotal:       {2200, "konica:5.7.2.1.1.0"},
			domain.CounterBlack:       {1400, "konica:5.7.2.2.1.5.1.1+5.7.2.2.1.5.1.2 (copy black + print black)"},
			domain.CounterColour:      {800, "konica:5.7.2.2.1.5.2.1+5.7.2.2.1.5.2.2 (copy colour + print colour)"},
			domain.CounterPrintBlack:  {1000, "konica:5.7.2.2.1.5.1.2"},
			domain.CounterPrintColour: {500, "konica:5.7.2.2.1.5.2.2"},
			domain.CounterCopyBlack:   {400, "konica:5.7.2.2.1.5.1.1"},
			domain.CounterCopyColour:  {300, "konica:5.7.2.2.1.5.2.1"},
		}},
		{"kyocera_mfp_function_meters", "", "TASKalfa 2554ci", map[domain.CounterKind]meter{
			domain.CounterTotal:       {1900, "kyocera:43.10.1.1.12.1.1"},
			domain.CounterBlack:       {1350, "kyocera:42.3.1.2.1.1.1.1+2.1+4.1 (printer + copy + fax black)"},
			domain.CounterColour:      {550, "kyocera:42.3.1.2.1.1.1.3+2.3 (printer + copy colour)"},
			domain.CounterPrintBlack:  {1000, "kyocera:42.3.1.2.1.1.1.1"},
			domain.CounterPrintColour: {500, "kyocera:42.3.1.2.1.1.1.3"},
			domain.CounterCopyBlack:   {250, "kyocera:42.3.1.2.1.1.2.1"},
			domain.CounterCopyColour:  {50, "kyocera:42.3.1.2.1.1.2.3"},
			domain.CounterFax:         {100, "kyocera:42.3.1.1.1.1.4"},
			domain.CounterScan:        {77, "kyocera:46.10.1.1.5.3"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := mustRead(t, filepath.Join("testdata", "profiles", tt.file+".snmprec"))
			if r.Serial != tt.serial || r.Model != tt.model {
				t.Errorf("serial %q model %q, want %q %q", r.Serial, r.Model, tt.serial, tt.model)
			}
			got := map[domain.CounterKind]meter{}
			for _, c := range r.Counters {
				got[c.Kind] = meter{c.Value, c.Source}
				if c.Unit != domain.UnitImpressions {
					t.Errorf("%s: unit %q", c.Kind, c.Unit)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("counters\n got %v\nwant %v", got, tt.want)
			}
			// Reported in the fixed kind order.
			var order []int
			for _, c := range r.Counters {
				for i, k := range profile.Kinds {
					if k == c.Kind {
						order = append(order, i)
					}
				}
			}
			for i := 1; i < len(order); i++ {
				if order[i] <= order[i-1] {
					t.Errorf("counters out of order: %s", jsonOf(r.Counters))
				}
			}
		})
	}
}

// TestFetchRequests pins the requests per device family: the profile's
// subtrees are walked, its scalars read in one GET, and the PWG counter
// MIB probed only where the profile has no black meter, and walked only
// where the probe finds it.
func TestFetchRequests(t *testing.T) {
	standard := []string{
		"get 1.3.6.1.2.1.1.1.0,1.3.6.1.2.1.1.2.0",
		"walk 1.3.6.1.2.1.25.3.2.1.2",
		"walk 1.3.6.1.2.1.25.3.2.1.3",
		"walk 1.3.6.1.2.1.25.3.2.1.5",
		"walk 1.3.6.1.2.1.25.3.5.1",
		"walk 1.3.6.1.2.1.2.2.1.6",
		"walk 1.3.6.1.2.1.43.5.1.1.17",
		"walk 1.3.6.1.2.1.43.10.2.1",
		"walk 1.3.6.1.2.1.43.11.1.1",
		"walk 1.3.6.1.2.1.43.12.1.1.4",
	}
	tests := []struct {
		file  string
		extra []string
	}{
		{"xerox_device_index_3", []string{
			"walk 1.3.6.1.4.1.253.8.53.13.2.1.6",
			"get 1.3.6.1.4.1.253.8.51.1.2.1.20.1",
		}},
		{"lexmark_mono_total_only", []string{
			"get 1.3.6.1.4.1.641.6.2.3.1.5.1,1.3.6.1.4.1.641.6.2.3.1.4.1",
			"walk 1.3.6.1.4.1.2699.1.3.1.2.1.1",
		}},
		{"pwg_counters_only", []string{
			"walk 1.3.6.1.4.1.2699.1.3.1.2.1.1",
			"walk 1.3.6.1.4.1.2699.1.3.1.8.1.1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fake, err := snmptest.Load(filepath.Join("testdata", "profiles", tt.file+".snmprec"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (printer.Reader{}).Read(context.Background(), fake, "x", readAt); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range fake.Calls() {
				got = append(got, c.Op+" "+strings.Join(c.OIDs, ","))
			}
			want := append(append([]string{}, standard...), tt.extra...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestUserProfileReplacesEmbedded reads with a user profile that replaces
// the embedded Lexmark one and adds a meter.
func TestUserProfileReplacesEmbedded(t *testing.T) {
	user, err := profile.Parse("user.toml", []byte(`
[[profile]]
name = "lexmark"
vendor = "lexmark"
enterprises = [641]

[[profile.counter]]
kind = "black"
unit = "impressions"
source = "site:lexmark-black"
oid = "1.3.6.1.4.1.641.6.2.3.1.5.1"
`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := profile.Default().Merge(user)
	if err != nil {
		t.Fatal(err)
	}
	fake, err := snmptest.Load(filepath.Join("testdata", "profiles", "lexmark_mono_total_only.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := printer.Reader{Profiles: set}.Read(context.Background(), fake, "x", readAt)
	if err != nil {
		t.Fatal(err)
	}
	// The user profile has no serial OID, and its "black" OID holds a
	// string: the embedded serial is gone and the garbage is no meter.
	if r.Serial != "" {
		t.Errorf("serial %q: the user profile replaced the embedded one", r.Serial)
	}
	want := []wire.Counter{{Kind: domain.CounterTotal, Value: 31000, Unit: domain.UnitImpressions, Source: "prtMarkerLifeCount"}}
	if !reflect.DeepEqual(r.Counters, want) {
		t.Errorf("counters %s, want %s", jsonOf(r.Counters), jsonOf(want))
	}
}
