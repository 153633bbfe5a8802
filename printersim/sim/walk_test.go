package sim

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/meterline/meterline/printersim/snmprec"
)

// walkMatches walks a served device and checks the walk returns exactly the
// device's records, in order, with their values.
func walkMatches(t *testing.T, c *gosnmp.GoSNMP, want []snmprec.Record) {
	t.Helper()
	walk := c.BulkWalkAll
	if c.Version == gosnmp.Version1 {
		walk = c.WalkAll
		// SNMPv1 cannot carry Counter64: the walk steps over them.
		var v1 []snmprec.Record
		for _, rec := range want {
			if rec.Value.Type != snmprec.Counter64 {
				v1 = append(v1, rec)
			}
		}
		want = v1
	}
	got, err := walk(".1.3")
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("walk returned %d OIDs, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		oid, err := snmprec.ParseOID(got[i].Name)
		if err != nil {
			t.Fatalf("walk result %d: %v", i, err)
		}
		if !oid.Equal(want[i].OID) {
			t.Fatalf("walk result %d is %s, want %s", i, oid, want[i].OID)
		}
		if v := pduValue(t, got[i]); !v.Equal(want[i].Value) {
			t.Errorf("%s = %v (%s), want %v (%s)", oid, v, v.Type, want[i].Value, want[i].Value.Type)
		}
	}
}

func TestWalkDemoFleet(t *testing.T) {
	devs := DemoFleet()
	f := serveFleet(t, devs, Options{})
	for i, info := range f.Devices() {
		for _, version := range []gosnmp.SnmpVersion{gosnmp.Version1, gosnmp.Version2c} {
			t.Run(info.Name+"/"+version.String(), func(t *testing.T) {
				walkMatches(t, newClient(t, info.Addr, version), devs[i].Records())
			})
		}
	}
}

// TestRecordings serves every shared recording and checks that a full walk
// returns exactly what the recording holds.
func TestRecordings(t *testing.T) {
	root, err := sharedPrinters()
	if err != nil {
		t.Skipf("../shared/printers not found: skipping recording tests (%v)", err)
	}
	// A recording may carry a corrupt line (LibreNMS's okilan_9450g has a
	// Counter32 of "6git3159"): it is skipped and reported, and the walk
	// must return every other record.
	var devs []Device
	for _, dir := range []string{"librenms", "crafted"} {
		loaded, err := LoadDir(filepath.Join(root, dir), SkipBadLines(func(err error) {
			t.Logf("skipped: %v", err)
		}))
		if err != nil {
			t.Fatalf("load %s: %v", dir, err)
		}
		devs = append(devs, loaded...)
	}
	f := serveFleet(t, devs, Options{})
	for i, info := range f.Devices() {
		t.Run(info.Name, func(t *testing.T) {
			t.Parallel()
			walkMatches(t, newClient(t, info.Addr, gosnmp.Version2c), devs[i].Records())
		})
	}
}

// sharedPrinters finds the read-only reference folder: walk up to the
// directory holding go.work, then ../shared/printers.
func sharedPrinters() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			printers := filepath.Join(dir, "..", "shared", "printers")
			if _, err := os.Stat(printers); err != nil {
				return "", err
			}
			return printers, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the test directory")
		}
		dir = parent
	}
}
