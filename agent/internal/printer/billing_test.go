package printer_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/meterline/meterline/agent/internal/fixtures"
	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// billingCase is what a read must say about the billing meters: total,
// black and colour as "value source" (nil: absent), and the billing kinds
// it lists as not reported by the model.
type billingCase struct {
	file       string
	total      *meter
	black      *meter
	colour     *meter
	unreported []domain.CounterKind
	unit       domain.CounterUnit // of black, where there is one
}

var noneReported = []domain.CounterKind{domain.CounterBlack, domain.CounterColour}

func m(value int64, source string) *meter { return &meter{value, source} }

// checkBilling reads a fixture and compares its billing meters.
func checkBilling(t *testing.T, path string, tt billingCase) {
	t.Helper()
	r := mustRead(t, path)
	for _, k := range []struct {
		kind domain.CounterKind
		want *meter
	}{{domain.CounterTotal, tt.total}, {domain.CounterBlack, tt.black}, {domain.CounterColour, tt.colour}} {
		got := counterOf(r, k.kind)
		if !reflect.DeepEqual(got, k.want) {
			t.Errorf("%s: got %v, want %v", k.kind, got, k.want)
		}
	}
	if !slices.Equal(r.Unreported, tt.unreported) {
		t.Errorf("unreported %q, want %q", r.Unreported, tt.unreported)
	}
	if tt.unit != "" {
		for _, c := range r.Counters {
			if c.Kind == domain.CounterBlack && c.Unit != tt.unit {
				t.Errorf("black unit %q, want %q", c.Unit, tt.unit)
			}
		}
	}
	// The panel's totals add up wherever the device has all three.
	if tt.total != nil && tt.black != nil && tt.colour != nil && tt.black.value+tt.colour.value != tt.total.value {
		t.Errorf("fixture: black %d + colour %d is not the total %d", tt.black.value, tt.colour.value, tt.total.value)
	}
}

func counterOf(r wire.DeviceRead, kind domain.CounterKind) *meter {
	for _, c := range r.Counters {
		if c.Kind == kind {
			return &meter{c.Value, c.Source}
		}
	}
	return nil
}

// TestBillingMeters reads the constructed billing fixtures: mono devices
// report black (their total, so named), colour devices whose vendor splits
// meters by function report the per-colour sums, the life count stands in
// for a missing vendor total, and what a model lacks is listed.
func TestBillingMeters(t *testing.T) {
	const life = "prtMarkerLifeCount"
	tests := []billingCase{
		{file: "kyocera_mfp_no_fax", total: m(1800, "kyocera:43.10.1.1.12.1.1"),
			black:  m(1250, "kyocera:42.3.1.2.1.1.1.1+2.1+4.1 (printer + copy + fax black)"),
			colour: m(550, "kyocera:42.3.1.2.1.1.1.3+2.3 (printer + copy colour)")},
		{file: "kyocera_mfp_fax_garbage", total: m(1900, life),
			colour: m(550, "kyocera:42.3.1.2.1.1.1.3+2.3 (printer + copy colour)"), unreported: []domain.CounterKind{domain.CounterBlack}},
		{file: "konica_no_vendor_total", total: m(3000, life),
			black:  m(2000, "konica:5.7.2.2.1.5.1.1+5.7.2.2.1.5.1.2 (copy black + print black)"),
			colour: m(1000, "konica:5.7.2.2.1.5.2.1+5.7.2.2.1.5.2.2 (copy colour + print colour)")},
		{file: "epson_colour_meters", total: m(81563, life),
			black: m(39797, "epson:27.1.1.3.1.1"), colour: m(41766, "epson:27.1.1.4.1.1")},
		{file: "mono_process_colorant", total: m(48000, life), black: m(48000, printer.MonoTotalSource+life), unit: domain.UnitSheets},
		{file: "mono_by_colorant_table", total: m(67320, life), black: m(67320, printer.MonoTotalSource+life)},
		{file: "colour_showing_black_only", total: m(12000, life), unreported: noneReported},
		{file: "colour_supplies_no_marker_columns", total: m(5000, life), unreported: noneReported},
		{file: "highlight_colour", total: m(900, life), unreported: noneReported},
		{file: "identity_only_sharp", unreported: noneReported},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			checkBilling(t, filepath.Join("testdata", "billing", tt.file+".snmprec"), tt)
		})
	}
}

// TestIdentityOnlyPrinter: a printer vendor's device whose sysDescr names
// one of its printers is listed without the Printer-MIB; a device that
// names no printer, or whose enterprise is no printer vendor's, is not.
func TestIdentityOnlyPrinter(t *testing.T) {
	r := mustRead(t, filepath.Join("testdata", "billing", "identity_only_sharp.snmprec"))
	if r.Vendor != "sharp" || r.Model != "SHARP MX-2614N" || len(r.Counters) != 0 || len(r.Supplies) != 0 {
		t.Errorf("read %s", jsonOf(r))
	}
	for _, file := range []string{"identity_only_unknown_vendor", "scan_server"} {
		_, err := readFile(t, filepath.Join("testdata", "billing", file+".snmprec"))
		var np *printer.NotPrinterError
		if !errors.As(err, &np) {
			t.Errorf("%s: err = %v, want a NotPrinterError", file, err)
		}
	}
}

// TestBillingMetersOnRecordings reads the public recordings (skipped when
// the shared folder is absent): a mono device reports black, a colour one
// black and colour that add up to the total, and the total is there
// whenever the device has the Printer-MIB life count.
func TestBillingMetersOnRecordings(t *testing.T) {
	dir := fixtures.PrintersDir(t)
	const life = "prtMarkerLifeCount"
	tests := []billingCase{
		// Kyocera (UTAX OEM) mono printer: prtMarkerProcessColorants 1.
		{file: "librenms/utax", total: m(427, life), black: m(427, printer.MonoTotalSource+life), unit: domain.UnitImpressions},
		// HP mono: the vendor's mono meter, no colour expected.
		{file: "librenms/jetdirect_m130nw", total: m(15232, life), black: m(15232, "hp:total-mono-page-count")},
		// Sharp colour: vendor black and colour add up to the life count.
		{file: "librenms/sharp", total: m(121104, life),
			black: m(91164, "sharp:Black & White Total Count"), colour: m(29940, "sharp:Full Color Total Count")},
		// Ricoh colour whose recording holds no counter table: the model's
		// split is unreported, the total is still there.
		{file: "librenms/ricoh_mpc3002", total: m(271871, life), unreported: noneReported},
		// Xerox billing meters (crafted from the cited OIDs).
		{file: "crafted/xerox_altalink_c8055_billing", total: m(723338, "xerox:xcmHrDevDetail.20.1"),
			black: m(512340, "xerox:xcmHrDevDetail.20.34"), colour: m(210998, "xerox:xcmHrDevDetail.20.33")},
		// Brother MFC-L2710DW recorded without any marker data: nothing to
		// bill from, and the read says so.
		{file: "librenms/brother", unreported: noneReported},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			checkBilling(t, filepath.Join(dir, tt.file+".snmprec"), tt)
		})
	}
}
