package printer

import (
	"fmt"
	"strings"

	"github.com/meterline/meterline/shared/domain"
)

// enterprisesPrefixOID is the arc of sysObjectID under which each
// vendor's enterprise number follows.
const enterprisesPrefixOID = "1.3.6.1.4.1."

// vendorByEnterprise maps IANA private enterprise numbers, the arc after
// 1.3.6.1.4.1 in sysObjectID, to printer vendors.
var vendorByEnterprise = map[int]string{
	11:    domain.VendorHP,
	253:   domain.VendorXerox,
	297:   domain.VendorFujiXerox,
	367:   domain.VendorRicoh,
	1347:  domain.VendorKyocera,
	18334: domain.VendorKonicaMinolta,
	1602:  domain.VendorCanon,
	2435:  domain.VendorBrother,
	641:   domain.VendorLexmark,
	2385:  domain.VendorSharp,
	1129:  domain.VendorToshiba,
	1248:  domain.VendorEpson,
	2001:  domain.VendorOKI,
	236:   domain.VendorSamsung,
	674:   domain.VendorDell,
	10642: domain.VendorZebra,
	683:   domain.VendorZebra, // ESI, Zebra's print-server maker
}

// vendorWords finds a vendor in sysDescr when sysObjectID names none.
// Two-word names come first so that "Fuji Xerox" is not read as Xerox.
var vendorWords = []struct {
	words  []string
	vendor string
}{
	{[]string{"fuji", "xerox"}, domain.VendorFujiXerox},
	{[]string{"fujifilm"}, domain.VendorFujiXerox},
	{[]string{"konica"}, domain.VendorKonicaMinolta},
	{[]string{"minolta"}, domain.VendorKonicaMinolta},
	{[]string{"bizhub"}, domain.VendorKonicaMinolta},
	{[]string{"develop"}, domain.VendorKonicaMinolta},
	{[]string{"hp"}, domain.VendorHP},
	{[]string{"hewlett"}, domain.VendorHP},
	{[]string{"laserjet"}, domain.VendorHP},
	{[]string{"xerox"}, domain.VendorXerox},
	{[]string{"ricoh"}, domain.VendorRicoh},
	{[]string{"lanier"}, domain.VendorRicoh},
	{[]string{"savin"}, domain.VendorRicoh},
	{[]string{"gestetner"}, domain.VendorRicoh},
	{[]string{"nrg"}, domain.VendorRicoh},
	{[]string{"kyocera"}, domain.VendorKyocera},
	{[]string{"utax"}, domain.VendorKyocera},
	{[]string{"canon"}, domain.VendorCanon},
	{[]string{"brother"}, domain.VendorBrother},
	{[]string{"lexmark"}, domain.VendorLexmark},
	{[]string{"sharp"}, domain.VendorSharp},
	{[]string{"toshiba"}, domain.VendorToshiba},
	{[]string{"epson"}, domain.VendorEpson},
	{[]string{"oki"}, domain.VendorOKI},
	{[]string{"okidata"}, domain.VendorOKI},
	{[]string{"samsung"}, domain.VendorSamsung},
	{[]string{"dell"}, domain.VendorDell},
	{[]string{"zebra"}, domain.VendorZebra},
	{[]string{"zebranet"}, domain.VendorZebra},
}

// vendorOf names the vendor from sysObjectID, else from sysDescr, else "".
func vendorOf(sysObjectID, sysDescr string) string {
	if v, ok := vendorByEnterprise[enterpriseOf(sysObjectID)]; ok {
		return v
	}
	words := wordsOf(sysDescr)
	for _, vw := range vendorWords {
		if containsRun(words, vw.words) {
			return vw.vendor
		}
	}
	return ""
}

// wordsOf splits s into lower-case runs of letters and digits.
func wordsOf(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9')
	})
}

// containsRun reports whether run occurs in words as consecutive words.
func containsRun(words, run []string) bool {
	for i := 0; i+len(run) <= len(words); i++ {
		match := true
		for j, w := range run {
			if words[i+j] != w {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// cleanSerial trims the blanks and NULs printers pad serial numbers with.
func cleanSerial(b []byte) string {
	return strings.Trim(cleanText(b), " \t\r\n\x00")
}

// formatMAC renders a 6-byte ifPhysAddress as "aa:bb:cc:dd:ee:ff". Other
// lengths and the all-zero address (interfaces without hardware) are not
// MAC addresses.
func formatMAC(b []byte) (string, bool) {
	if len(b) != 6 {
		return "", false
	}
	zero := true
	for _, c := range b {
		if c != 0 {
			zero = false
		}
	}
	if zero {
		return "", false
	}
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]), true
}
