package sim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestReplicate(t *testing.T) {
	devs := DemoFleet()
	copies := Replicate(devs, 100)
	if len(copies) != 100 {
		t.Fatalf("got %d devices, want 100", len(copies))
	}
	names, serials := map[string]bool{}, map[string]bool{}
	for i, dev := range copies {
		if names[dev.Name()] {
			t.Errorf("device %d: duplicate name %s", i, dev.Name())
		}
		names[dev.Name()] = true
		serial := dev.Serial()
		if serial == "" || serials[serial] {
			t.Errorf("device %d (%s): serial %q is empty or a duplicate", i, dev.Name(), serial)
		}
		serials[serial] = true

		// Every serial OID the device has reports the new serial.
		for _, oid := range serialOIDs {
			if v, ok := dev.lookup(oid); ok {
				if got := string(cleanSerial(v.Bytes)); got != serial {
					t.Errorf("%s: %s = %q, want %q", dev.Name(), oid, got, serial)
				}
			}
		}
		// The old serial survives nowhere in a copy's strings.
		if base := devs[i%len(devs)]; i >= len(devs) {
			for _, rec := range dev.Records() {
				if rec.Value.Type == 4 && bytes.Contains(rec.Value.Bytes, []byte(base.Serial())) &&
					!bytes.Contains(rec.Value.Bytes, []byte(serial)) {
					t.Errorf("%s: %s still holds the original serial: %q", dev.Name(), rec.OID, rec.Value.Bytes)
				}
			}
		}
	}

	first := devs[0]
	if got := copies[len(devs)]; got.Name() != first.Name()+"-001" || got.Serial() != first.Serial()+"-001" {
		t.Errorf("first copy of %s is %s / %s, want the -001 suffix", first.Name(), got.Name(), got.Serial())
	}
	for i, dev := range DemoFleet() {
		if dev.Serial() != devs[i].Serial() || copies[i].Serial() != devs[i].Serial() {
			t.Errorf("%s: the originals changed", dev.Name())
		}
	}
	if Replicate(nil, 5) != nil || Replicate(devs, 0) != nil {
		t.Error("Replicate of nothing should be nil")
	}
}

func TestReplicatedSerialsServed(t *testing.T) {
	devs := DemoFleet()
	hp := demoIndex(t, "hp_laserjet_m507dn")
	copies := Replicate(devs, 3*len(devs))
	f := serveFleet(t, copies, Options{})
	info := f.Devices()[2*len(devs)+hp]
	if !strings.HasSuffix(info.Serial, "-002") {
		t.Fatalf("serial %q, want the -002 suffix", info.Serial)
	}
	c := newClient(t, info.Addr, gosnmp.Version2c)
	pkt, err := c.Get([]string{prtSerial, sysDescr, ".1.3.6.1.4.1.11.2.3.9.4.2.1.1.3.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(pkt.Variables[0].Value.([]byte)); got != info.Serial {
		t.Errorf("prtGeneralSerialNumber = %q, want %q", got, info.Serial)
	}
	if got := string(pkt.Variables[1].Value.([]byte)); !strings.Contains(got, "SN:"+info.Serial+",") {
		t.Errorf("sysDescr = %q, want it to carry SN:%s", got, info.Serial)
	}
	if got := pkt.Variables[2].Value.([]byte); !bytes.Equal(got, append([]byte{0x01, 0x15}, info.Serial...)) {
		t.Errorf("HP serial-number = %q, want the 01 15 prefix and %s", got, info.Serial)
	}
}
