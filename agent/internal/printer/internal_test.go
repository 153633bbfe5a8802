package printer

import (
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meterline/meterline/agent/internal/fixtures"
	"github.com/meterline/meterline/agent/internal/profile"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
	"github.com/meterline/meterline/shared/domain"
)

// TestVendorOfRecordings names the vendor of every LibreNMS recording,
// detection stubs included, from sysObjectID or sysDescr. The file name
// prefix is LibreNMS's OS name, which maps to a vendor.
func TestVendorOfRecordings(t *testing.T) {
	dir := fixtures.LibreNMS(t)
	byPrefix := map[string]string{
		"brother": domain.VendorBrother, "canonprinter": domain.VendorCanon, "dell-laser": domain.VendorDell,
		"developprinter": domain.VendorKonicaMinolta, "epson": domain.VendorEpson, "epson-scanner": domain.VendorEpson,
		"fujifilmprinter": domain.VendorFujiXerox, "gestetner": domain.VendorRicoh, "jetdirect": domain.VendorHP,
		"konica": domain.VendorKonicaMinolta, "kyocera": domain.VendorKyocera, "lanier": domain.VendorRicoh,
		"lexmarkprinter": domain.VendorLexmark, "nrg": domain.VendorRicoh, "okilan": domain.VendorOKI, "ricoh": domain.VendorRicoh,
		"samsungprinter": domain.VendorSamsung, "savin": domain.VendorRicoh, "sharp": domain.VendorSharp,
		"toshiba-tec": domain.VendorToshiba, "utax": domain.VendorKyocera, "xerox": domain.VendorXerox, "zebra": domain.VendorZebra,
	}
	exceptions := map[string]string{
		// An HP JetDirect card in a Kyocera: sysObjectID says Kyocera.
		"jetdirect_1": domain.VendorKyocera,
		// TSC (enterprise 51966) is not in our vendor table.
		"tsc": "",
		// Fuji Xerox models that LibreNMS files under "xerox".
		"xerox_apeosport": domain.VendorFujiXerox, "xerox_docuprint": domain.VendorFujiXerox,
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.snmprec"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in %s: %v", dir, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".snmprec")
		want, ok := exceptions[name]
		if !ok {
			prefix, _, _ := strings.Cut(name, "_")
			want = byPrefix[prefix]
		}
		fake, err := snmptest.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		s := NewSnapshot(fake.PDUs())
		descr, _ := s.bytes(oidSysDescr)
		id, _ := s.objectID(oidSysObjectID)
		if got := vendorOf(id, cleanText(descr)); got != want {
			t.Errorf("%s: vendor %q, want %q (sysObjectID %q, sysDescr %q)", name, got, want, id, descr)
		}
	}
}

func TestVendorOf(t *testing.T) {
	tests := []struct{ id, descr, want string }{
		{"1.3.6.1.4.1.11.2.3.9.1", "", domain.VendorHP},
		{"1.3.6.1.4.1.683.6.0", "", domain.VendorZebra},
		{"1.3.6.1.4.1.99999.1", "FUJI XEROX DocuCentre", domain.VendorFujiXerox},
		{"", "Xerox Phaser 4600", domain.VendorXerox},
		{"", "HP ETHERNET MULTI-ENVIRONMENT", domain.VendorHP},
		{"", "Graphics workstation", ""}, // "ph" and "hp" are not words here
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := vendorOf(tt.id, tt.descr); got != tt.want {
			t.Errorf("vendorOf(%q, %q) = %q, want %q", tt.id, tt.descr, got, tt.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"Black Toner", "Black Toner"},
		{"Black Toner\x00\x00\x00", "Black Toner"},
		{"  Black   Toner \r\n", "Black Toner"},
		{"Black Cartridge HP CE285A\n42 6C 61 63 6B 20 43 61", "Black Cartridge HP CE285A"},
		{"Black Cartridge\r\nHP CE285A", "Black Cartridge HP CE285A"},
		{"42 6C 61 63 6B 20 54 6F 6E 65 72", "Black Toner"},
		{"\xe9l\xe9ment", "élément"},
		{"B\x00l\x00a\x00c\x00k\x00", "Black"}, // UTF-16LE
		{"12345678", "12345678"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := cleanText([]byte(tt.in)); got != tt.want {
			t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPartNumber(t *testing.T) {
	tests := []struct{ descr, want string }{
		{"Black Toner, PN 006R01509;SN48178080E0000481", "006R01509"},
		{"Fuser, PN unknown;SNunknown", ""},
		{"Black Toner Cartridge; 006R01697", "006R01697"},
		{"Black Cartridge HP CF410A", "CF410A"},
		{"Magenta Cartridge HP CF413A This description is longer than 32", "CF413A"},
		{"Black Cartridge HP W2030X", "W2030X"},
		{"Black Cartridge HP 65", ""},
		{"Toner P/N: TK-5240K", "TK-5240K"},
		{"Drum Part Number 101R00474", "101R00474"},
		// Several numbers, or a family name: no guess.
		{"Black Ink Supply Unit T9441/T9451/T9461", ""},
		{"Canon Cartridge 719/719H", ""},
		{"PK-3010S", ""},
	}
	for _, tt := range tests {
		if got := partNumber(tt.descr); got != tt.want {
			t.Errorf("partNumber(%q) = %q, want %q", tt.descr, got, tt.want)
		}
	}
}

func TestSupplyKind(t *testing.T) {
	tests := []struct {
		typ     int64
		hasType bool
		descr   string
		want    domain.SupplyKind
	}{
		{21, true, "anything", domain.SupplyToner},
		{9, true, "Imaging Unit", domain.SupplyDrum},
		{4, true, "Waste", domain.SupplyWaste},
		{18, true, "", domain.SupplyCleaner},
		{1, true, "Waste Toner Box", domain.SupplyWaste},
		{2, true, "Fusing Unit", domain.SupplyFuser},
		{0, false, "Transfer Belt Cleaner", domain.SupplyCleaner},
		{0, false, "Image Transfer Belt Unit", domain.SupplyTransfer},
		{0, false, "Drum Cartridge (R1)", domain.SupplyDrum},
		{0, false, "Developer Cartridge (Cyan)", domain.SupplyDeveloper},
		{0, false, "Toner (Black)", domain.SupplyToner},
		{0, false, "Black Cartridge HP CF410A", domain.SupplyToner},
		{0, false, "Cyan Ink", domain.SupplyInk},
		{0, false, "Pink Ribbon", domain.SupplyRibbon},
		{0, false, "Staple Cartridge", domain.SupplyStaples},
		{0, false, "Ozone Filter", domain.SupplyOther},
		{11, true, "", domain.SupplyOther},
	}
	for _, tt := range tests {
		if got := supplyKind(tt.typ, tt.hasType, tt.descr); got != tt.want {
			t.Errorf("supplyKind(%d, %v, %q) = %q, want %q", tt.typ, tt.hasType, tt.descr, got, tt.want)
		}
	}
}

func TestColourFromDescription(t *testing.T) {
	tests := map[string]string{
		"Toner (Cyan)":           "cyan",
		"Black Toner 2":          "black",
		"Photo Black Ink":        "photo black",
		"Light Magenta Ink":      "light magenta",
		"Waste Toner Container":  "",
		"Drum Cartridge (R1)":    "",
		"Yellow Image Drum Unit": "yellow",
	}
	for descr, want := range tests {
		if got := colourFromDescription(descr); got != want {
			t.Errorf("colourFromDescription(%q) = %q, want %q", descr, got, want)
		}
	}
}

func TestConditions(t *testing.T) {
	tests := []struct {
		state []byte
		want  []domain.Condition
	}{
		{nil, nil},
		{[]byte{0x00}, nil},
		{[]byte{0x00, 0x00}, nil},
		{[]byte{0x20, 0x00}, []domain.Condition{domain.CondLowToner}},
		{[]byte{0x01}, []domain.Condition{domain.CondServiceRequested}},
		{[]byte{0x80, 0x00}, []domain.Condition{domain.CondLowPaper}},
		{[]byte{0x08, 0x02}, []domain.Condition{domain.CondDoorOpen, domain.CondOverduePM}},
		{[]byte{0xff, 0xff, 0xff}, domain.ErrorStateBits[:]},
	}
	for _, tt := range tests {
		if got := conditions(tt.state); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("conditions(% x) = %v, want %v", tt.state, got, tt.want)
		}
	}
}

func TestRoundPercent(t *testing.T) {
	tests := []struct {
		part, whole int64
		want        int
	}{
		{0, 100, 0}, {100, 100, 100}, {1, 200, 1}, {1, 201, 0}, {25, 200, 13},
		{22050, 45000, 49}, {2147483647, 2147483647, 100}, {1, 2147483647, 0},
		// 8-byte levels: 2^57 of 2^58 once gave −13 %.
		{1 << 57, 1 << 58, 50}, {math.MaxInt64 - 1, math.MaxInt64, 100}, {math.MaxInt64 / 200, math.MaxInt64, 0}, {math.MaxInt64/200 + 1, math.MaxInt64, 1},
		{math.MaxInt64/2 + 1, math.MaxInt64, 50}, {math.MaxInt64 / 3, math.MaxInt64, 33},
		// Outside the domain: clamped, never outside 0..100.
		{-5, 100, 0}, {math.MinInt64, math.MaxInt64, 0}, {math.MaxInt64, 1, 100}, {5, 0, 0}, {5, math.MinInt64, 0},
	}
	for _, tt := range tests {
		if got := roundPercent(tt.part, tt.whole); got != tt.want {
			t.Errorf("roundPercent(%d, %d) = %d, want %d", tt.part, tt.whole, got, tt.want)
		}
	}
}

// TestProfilesAgreeWithVendorTable keeps the embedded profiles and the
// enterprise table of identity.go naming the same vendor.
func TestProfilesAgreeWithVendorTable(t *testing.T) {
	for _, p := range profile.Default().Profiles() {
		for _, e := range p.Enterprises {
			if v := vendorByEnterprise[e]; v != p.Vendor {
				t.Errorf("profile %s: enterprise %d is vendor %q in identity.go, %q in the profile", p.Name, e, v, p.Vendor)
			}
		}
	}
}

func TestBrotherCounter(t *testing.T) {
	blob := []byte{0x00, 0x01, 0x04, 0, 0, 0x04, 0xd2, 0x01, 0x01, 0x04, 0, 0, 0x03, 0xe8, 0xff}
	tests := []struct {
		name string
		blob []byte
		item byte
		want int64
		ok   bool
	}{
		{"total", blob, 0, 1234, true},
		{"black", blob, 1, 1000, true},
		{"absent kind", blob, 2, 0, false},
		{"truncated", blob[:12], 1, 0, false},
		{"kind twice", append(append([]byte{}, blob[:14]...), blob[7:]...), 1, 0, false},
		{"no checksum byte", blob[:14], 0, 1234, true},
		{"empty", nil, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := brotherCounter(tt.blob, tt.item)
			if got != tt.want || ok != tt.ok {
				t.Errorf("brotherCounter = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestIdentityDecoders(t *testing.T) {
	tests := []struct {
		name, in, decoder, want string
	}{
		{"HP 01 15 prefix", "\x01\x15VNCRC48198", profile.DecodeHP, "VNCRC48198"},
		{"HP hex continuation", "\x01\x15HP LaserJet MF\n50 20 4D 31 33 30 6E 77 ", profile.DecodeHP, "HP LaserJet MFP M130nw"},
		{"HP plain", "CNFF123456", profile.DecodeHP, "CNFF123456"},
		{"IEEE 1284 MDL", "MFG:Xerox; CMD:PCL; MDL:AltaLink C8045; CLS:Printer;", profile.DecodeIEEE1284, "AltaLink C8045"},
		{"IEEE 1284 MODEL", "COMMAND SET:;MODEL:Dell S5830dn", profile.DecodeIEEE1284, "Dell S5830dn"},
		{"IEEE 1284 without model", "MFG:Acme;", profile.DecodeIEEE1284, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeText([]byte(tt.in), tt.decoder); got != tt.want {
				t.Errorf("decodeText = %q, want %q", got, tt.want)
			}
		})
	}
}
