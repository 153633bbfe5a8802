package sim

import (
	"bytes"
	"fmt"

	"github.com/meterline/meterline/printersim/snmprec"
)

// serialOIDs are where printers report their serial number, most trusted
// first: the Printer-MIB's, then the vendor OIDs of printers/OIDS.md. Many
// devices have both; some (Brother, some Kyocera) only the vendor one.
var serialOIDs = []snmprec.OID{
	snmprec.MustParseOID("1.3.6.1.2.1.43.5.1.1.17.1"),             // prtGeneralSerialNumber
	snmprec.MustParseOID("1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.3.0"),    // HP serial-number
	snmprec.MustParseOID("1.3.6.1.4.1.367.3.2.1.2.1.4.0"),         // Ricoh
	snmprec.MustParseOID("1.3.6.1.4.1.1347.43.5.1.1.28.1"),        // Kyocera
	snmprec.MustParseOID("1.3.6.1.4.1.1602.1.2.1.8.1.3.1.1"),      // Canon
	snmprec.MustParseOID("1.3.6.1.4.1.1602.1.2.1.4.0"),            // Canon (Zabbix template)
	snmprec.MustParseOID("1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0"),  // Brother
	snmprec.MustParseOID("1.3.6.1.4.1.641.6.2.3.1.5.1"),           // Lexmark
	snmprec.MustParseOID("1.3.6.1.4.1.641.6.3.1.1.7.1.1"),         // Lexmark hardware serial
	snmprec.MustParseOID("1.3.6.1.4.1.2001.1.1.1.1.11.1.10.45.0"), // OKI
	snmprec.MustParseOID("1.3.6.1.4.1.236.11.5.1.1.1.4.0"),        // Samsung
	snmprec.MustParseOID("1.3.6.1.4.1.1248.1.2.2.1.1.1.5.1"),      // Epson
	snmprec.MustParseOID("1.3.6.1.4.1.1248.1.1.3.1.1.1.0"),        // Epson scanners
	snmprec.MustParseOID("1.3.6.1.4.1.1129.1.2.1.1.1.1.1.0"),      // Toshiba TEC
}

// minSerialForRewrite guards the rewrite of serials embedded in other
// strings (sysDescr "SN:…"): a very short serial could match by accident.
const minSerialForRewrite = 6

// Serial returns the device's serial number from the first serial OID it
// has, cleaned of the framing some vendors add (HP prefixes 0x01 0x15;
// others pad with NULs or spaces). It is "" for a device without one.
func (d Device) Serial() string {
	for _, oid := range serialOIDs {
		if v, ok := d.lookup(oid); ok && v.Type == snmprec.OctetString {
			if serial := cleanSerial(v.Bytes); len(serial) > 0 {
				return string(serial)
			}
		}
	}
	return ""
}

func cleanSerial(b []byte) []byte {
	start := 0
	for start < len(b) && b[start] < 0x20 {
		start++
	}
	return bytes.TrimRight(b[start:], "\x00 ")
}

// Replicate returns n devices cycling through devs. The first round keeps
// the originals; each later round r gives its copies the suffix "-rrr"
// (e.g. "-001") on the name and on every serial number: each known serial
// OID, and the serial wherever it is embedded in another string (HP's
// sysDescr carries "SN:…"). Serials stay unique as long as devs' are.
func Replicate(devs []Device, n int) []Device {
	if len(devs) == 0 || n <= 0 {
		return nil
	}
	out := make([]Device, n)
	for i := range out {
		base := devs[i%len(devs)]
		if round := i / len(devs); round > 0 {
			base = base.withSuffix(fmt.Sprintf("-%03d", round))
		}
		out[i] = base
	}
	return out
}

// withSuffix returns a copy of d whose name and serial numbers carry suffix.
func (d Device) withSuffix(suffix string) Device {
	serial := []byte(d.Serial())
	entries := make([]entry, len(d.entries))
	copy(entries, d.entries)
	for _, oid := range serialOIDs {
		if i, ok := d.find(oid); ok && entries[i].value.Type == snmprec.OctetString {
			entries[i].value.Bytes = appendBeforePadding(entries[i].value.Bytes, suffix)
		}
	}
	if len(serial) >= minSerialForRewrite {
		replacement := append(bytes.Clone(serial), suffix...)
		for i := range entries {
			v := &entries[i].value
			if v.Type == snmprec.OctetString && !isSerialOID(entries[i].oid) && bytes.Contains(v.Bytes, serial) {
				v.Bytes = bytes.ReplaceAll(v.Bytes, serial, replacement)
			}
		}
	}
	d.name += suffix
	d.entries = entries
	return d
}

// appendBeforePadding appends suffix to a serial value, keeping any
// trailing NUL or space padding at the end. It returns a new slice.
func appendBeforePadding(b []byte, suffix string) []byte {
	body := bytes.TrimRight(b, "\x00 ")
	out := make([]byte, 0, len(b)+len(suffix))
	out = append(out, body...)
	out = append(out, suffix...)
	return append(out, b[len(body):]...)
}

func isSerialOID(oid snmprec.OID) bool {
	for _, s := range serialOIDs {
		if oid.Equal(s) {
			return true
		}
	}
	return false
}
