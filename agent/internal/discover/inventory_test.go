package discover

import (
	"strings"
	"testing"
	"time"
)

// TestInventoryKeepsPrintersSwitchedOff walks through discovery cycles: a
// printer missing from a sweep stays while it was read during the cycle
// before, and goes once a whole cycle passed without a read.
func TestInventoryKeepsPrintersSwitchedOff(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2026, 3, 1+n, 3, 0, 0, 0, time.UTC) }
	a := Device{Address: "127.0.1.1:161", Credential: "office", Serial: "SN-A"}
	b := Device{Address: "127.0.1.2:161", Credential: "office", Serial: "SN-B"}
	bMoved := Device{Address: "127.0.1.9:161", Credential: "secure", Serial: "sn-b "}
	noSerial := Device{Address: "127.0.1.3:161", Credential: "office"}
	inv := NewInventory()
	steps := []struct {
		name           string
		found          []Device
		reads          []string // addresses read successfully during the day after the sweep
		added, dropped string
		held           string
	}{
		{"first sweep", []Device{a, b, noSerial}, []string{a.Address, noSerial.Address}, "127.0.1.1:161 127.0.1.2:161 127.0.1.3:161", "",
			"127.0.1.1:161 127.0.1.2:161 127.0.1.3:161"},
		// b was off all day 1 but found by sweep 1: kept by sweep 2.
		{"all missing, all kept", nil, []string{a.Address}, "", "", "127.0.1.1:161 127.0.1.2:161 127.0.1.3:161"},
		// b and noSerial were not read since sweep 2 started: dropped.
		{"a whole cycle unread", nil, nil, "", "127.0.1.2:161 127.0.1.3:161", "127.0.1.1:161"},
		{"b comes back elsewhere", []Device{a, bMoved}, nil, "127.0.1.9:161", "", "127.0.1.1:161 127.0.1.9:161"},
		{"same serial, new address: one device", []Device{a, b}, nil, "", "", "127.0.1.1:161 127.0.1.2:161"},
	}
	for i, s := range steps {
		added, dropped := inv.Update(Result{Devices: s.found}, day(i))
		for _, addr := range s.reads {
			inv.MarkRead(addr, day(i).Add(6*time.Hour))
		}
		if got := addresses(added); got != s.added {
			t.Errorf("%s: added %q, want %q", s.name, got, s.added)
		}
		if got := addresses(dropped); got != s.dropped {
			t.Errorf("%s: dropped %q, want %q", s.name, got, s.dropped)
		}
		if got := addresses(inv.Devices()); got != s.held {
			t.Errorf("%s: held %q, want %q", s.name, got, s.held)
		}
	}
	if devs := inv.Devices(); devs[1].Credential != "office" {
		t.Errorf("the latest sweep's credential is kept: %+v", devs[1])
	}
}

func addresses(devs []Device) string {
	var out []string
	for _, d := range devs {
		out = append(out, d.Address)
	}
	return strings.Join(out, " ")
}
