// Package sim simulates a fleet of network printers over SNMP v1/v2c: each
// device answers on its own UDP socket from a recording (snmprec), and with
// a page rate set its counters advance and its supplies deplete as a
// deterministic function of elapsed time. It runs in-process, so other
// modules' tests can start a fleet and poll it.
package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/meterline/meterline/printersim/snmprec"
)

// Device is one simulated printer: a name, the OIDs it serves in SNMP order,
// and the rules that move its counters and supply levels. A Device is an
// immutable value; copies share their tables safely.
type Device struct {
	name    string
	entries []entry
	rules   []rule
	color   bool
}

// entry is one served OID. rule indexes Device.rules, or is -1 for a value
// that never changes.
type entry struct {
	oid   snmprec.OID
	value snmprec.Value
	rule  int
}

// NewDevice builds a device from records in any order. Exact duplicates are
// dropped; the same OID with two values is an error.
func NewDevice(name string, records []snmprec.Record) (Device, error) {
	sorted, err := snmprec.SortRecords(slices.Clone(records), name)
	if err != nil {
		return Device{}, err
	}
	if len(sorted) == 0 {
		return Device{}, fmt.Errorf("device %s: no records", name)
	}
	d := Device{name: name, entries: make([]entry, len(sorted))}
	for i, rec := range sorted {
		d.entries[i] = entry{oid: rec.OID, value: rec.Value, rule: -1}
	}
	d.plan()
	return d, nil
}

// LoadOption changes how LoadFile and LoadDir read recordings.
type LoadOption func(*loadConfig)

type loadConfig struct {
	skipped func(error)
}

// SkipBadLines makes loading skip recording lines that do not parse, and
// pass each line's error (file:line: reason) to report, instead of failing
// on the first. Useful for third-party recordings with a corrupt value.
func SkipBadLines(report func(error)) LoadOption {
	return func(c *loadConfig) {
		c.skipped = report
		if report == nil {
			c.skipped = func(error) {}
		}
	}
}

// LoadFile loads one snmprec recording; the device is named after the file
// without its extension. A line that does not parse is an error naming the
// file and line, unless SkipBadLines is given.
func LoadFile(path string, opts ...LoadOption) (Device, error) {
	var cfg loadConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	f, err := os.Open(path) //nolint:gosec // the recording the operator or test names is what is read
	if err != nil {
		return Device{}, fmt.Errorf("load recording: %w", err)
	}
	defer f.Close()
	var records []snmprec.Record
	if cfg.skipped != nil {
		records, err = snmprec.ParseTolerant(f, path, cfg.skipped)
	} else {
		records, err = snmprec.Parse(f, path)
	}
	if err != nil {
		return Device{}, err
	}
	return NewDevice(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), records)
}

// LoadDir loads every *.snmprec file in dir, in file name order.
func LoadDir(dir string, opts ...LoadOption) ([]Device, error) {
	files, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load recordings: %w", err)
	}
	var devs []Device
	for _, f := range files {
		if f.IsDir() || filepath.Ext(f.Name()) != ".snmprec" {
			continue
		}
		dev, err := LoadFile(filepath.Join(dir, f.Name()), opts...)
		if err != nil {
			return nil, err
		}
		devs = append(devs, dev)
	}
	if len(devs) == 0 {
		return nil, fmt.Errorf("load recordings: no *.snmprec files in %s", dir)
	}
	return devs, nil
}

// Name is the device's name: its recording's file name, plus a suffix for
// copies made by Replicate.
func (d Device) Name() string { return d.name }

// Color reports whether the device prints colour pages: its Printer-MIB
// marker has more than one process colorant, its colorant table lists a
// colour, or (for recordings without either) it has a colour page counter.
func (d Device) Color() bool { return d.color }

// Len is the number of OIDs the device serves.
func (d Device) Len() int { return len(d.entries) }

// Records returns the device's OIDs and values as loaded, before any
// dynamics, in SNMP order. The caller must not modify them.
func (d Device) Records() []snmprec.Record {
	out := make([]snmprec.Record, len(d.entries))
	for i, e := range d.entries {
		out[i] = snmprec.Record{OID: e.oid, Value: e.value}
	}
	return out
}

// find returns the index of oid in the table.
func (d *Device) find(oid snmprec.OID) (int, bool) {
	return slices.BinarySearchFunc(d.entries, oid, compareEntry)
}

// after returns the index of the first OID strictly after oid
// (len(entries) when there is none).
func (d *Device) after(oid snmprec.OID) int {
	i, found := slices.BinarySearchFunc(d.entries, oid, compareEntry)
	if found {
		i++
	}
	return i
}

// lookup returns the recorded value at oid.
func (d *Device) lookup(oid snmprec.OID) (snmprec.Value, bool) {
	i, ok := d.find(oid)
	if !ok {
		return snmprec.Value{}, false
	}
	return d.entries[i].value, true
}

func compareEntry(e entry, oid snmprec.OID) int {
	return snmprec.Compare(e.oid, oid)
}
