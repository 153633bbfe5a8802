// Package discover finds the printers in address ranges: it sweeps every
// address with a cheap SNMP GET, trying each credential in turn, reads the
// devices that look like printers in full, and reports each printer once,
// with the credential that worked.
package discover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/shared/wire"
)

// Defaults for Options. A sweep meets mostly silence, so a probe waits
// little and does not retry: a printer that misses one sweep is found by
// the next.
const (
	DefaultConcurrency = 64
	DefaultTimeout     = time.Second
	DefaultReadTimeout = time.Minute
)

// DefaultInterval is the time between two sweeps when the configuration
// says nothing: printers come and go at the pace of office moves.
const DefaultInterval = 24 * time.Hour

// OIDs of the probe. One GET asks for all four: any answer says SNMP, and a
// printer says so in hrDeviceType of its device row or in the Printer-MIB.
const (
	oidSysDescr    = "1.3.6.1.2.1.1.1.0"
	oidSysObjectID = "1.3.6.1.2.1.1.2.0"
	// hrDeviceType, column of hrDeviceTable (HOST-RESOURCES-MIB).
	oidHrDeviceType = "1.3.6.1.2.1.25.3.2.1.2"
	// hrDevicePrinter is the hrDeviceType of a printer row.
	oidHrDevicePrinter = "1.3.6.1.2.1.25.3.1.5"
	// prtGeneralSerialNumber (Printer-MIB, RFC 3805), by hrDeviceIndex.
	oidPrtGeneralSerialNumber = "1.3.6.1.2.1.43.5.1.1.17"
	// The printer row is hrDeviceIndex 1 on nearly every printer.
	usualPrinterIndex = ".1"
)

var probeOIDs = []string{oidSysDescr, oidSysObjectID, oidHrDeviceType + usualPrinterIndex, oidPrtGeneralSerialNumber + usualPrinterIndex}

// Options tune a sweep; zero values take the defaults.
type Options struct {
	// Port is the SNMP port probed on every address (161 if 0).
	Port uint16
	// Concurrency bounds how many addresses are probed at once.
	Concurrency int
	// Credentials are tried in order on each address until one gets an
	// answer. Their Timeout and Retries are used as given, so make them
	// short: most addresses of a range never answer.
	Credentials []snmp.Credential
	// ReadTimeout bounds the full read of a device that looks like a
	// printer.
	ReadTimeout time.Duration
	// Now stamps the reads (time.Now if nil).
	Now func() time.Time
	// Printer reads the devices that look like printers; its zero value
	// uses the embedded vendor profiles.
	Printer printer.Reader
}

// Device is a printer found by a sweep.
type Device struct {
	// Address is "ip:port", as the poller takes it.
	Address    string `json:"address"`
	Credential string `json:"credential"`
	Serial     string `json:"serial,omitempty"`
	Vendor     string `json:"vendor,omitempty"`
	Model      string `json:"model,omitempty"`
	// Read is the read made to identify the device.
	Read wire.DeviceRead `json:"-"`
}

// Result is what a sweep found.
type Result struct {
	// Devices are the printers, each once, in address order.
	Devices []Device
	// Probed counts the addresses probed; Answered those that answered
	// SNMP with any credential (printers or not).
	Probed, Answered int
	// Duplicates are printers seen again on another address: the same
	// serial number as a device in Devices.
	Duplicates []Device
}

// Sweep probes every address of addrs and reads the printers among them.
// At most Concurrency addresses are in flight; a silent or slow address
// holds one slot for at most its credentials' timeouts, so it cannot hold
// up the others. Sweep stops early, with what it found so far and the
// context's error, when ctx is done.
func Sweep(ctx context.Context, dial snmp.DialFunc, addrs iter.Seq[netip.Addr], opts Options, log *slog.Logger) (Result, error) {
	opts = withDefaults(opts)
	if len(opts.Credentials) == 0 {
		return Result{}, errors.New("discover: no credentials to try")
	}
	var (
		mu       sync.Mutex
		found    []Device
		probed   int
		answered atomic.Int64
		slots    = make(chan struct{}, opts.Concurrency)
		wg       sync.WaitGroup
	)
	for addr := range addrs {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		probed++
		wg.Go(func() {
			defer func() { <-slots }()
			target := netip.AddrPortFrom(addr, opts.Port).String()
			d, ok, heard := probe(ctx, dial, target, opts, log.With("target", target))
			if heard {
				answered.Add(1)
			}
			if ok {
				mu.Lock()
				found = append(found, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res := dedupe(found)
	res.Probed, res.Answered = probed, int(answered.Load())
	return res, ctx.Err()
}

func withDefaults(opts Options) Options {
	if opts.Port == 0 {
		opts.Port = snmp.DefaultPort
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return opts
}

// probe tries the credentials in order on one address. It reports whether
// the address answered SNMP at all (heard), and the printer if it is one.
func probe(ctx context.Context, dial snmp.DialFunc, target string, opts Options, log *slog.Logger) (d Device, ok, heard bool) {
	for _, cred := range opts.Credentials {
		looks, answered, err := looksLikePrinter(ctx, dial, target, cred.Params, opts.Printer)
		heard = heard || answered
		switch {
		case ctx.Err() != nil:
			return Device{}, false, heard
		case err != nil && !answered:
			continue // silent to this credential: try the next
		case err != nil:
			// Answered, but refused this credential (SNMPv3) or failed
			// half-way: the next credential may do better.
			log.Debug("probe failed", "credential", cred.Name, "error", err.Error())
			continue
		case !looks:
			log.Debug("answers SNMP but is not a printer", "credential", cred.Name)
			return Device{}, false, true
		}
		r, err := readPrinter(ctx, dial, target, cred.Params, opts)
		if err != nil {
			var np *printer.NotPrinterError
			if !errors.As(err, &np) {
				log.Info("looks like a printer but its read failed", "credential", cred.Name, "error", err.Error())
			}
			return Device{}, false, true
		}
		log.Debug("printer found", "credential", cred.Name, "serial", r.Serial, "model", r.Model)
		return Device{Address: target, Credential: cred.Name, Serial: r.Serial, Vendor: r.Vendor, Model: r.Model, Read: r}, true, true
	}
	return Device{}, false, heard
}

// looksLikePrinter sends the probe GET and, when the answer is not
// conclusive (a printer row at an hrDeviceIndex other than 1), walks the
// two columns that would say so; a device without them that identifies as
// a printer by its system group (a printer vendor's, naming a printer)
// looks like one too. answered is true once the agent has sent anything
// back, including an SNMPv3 refusal of our credentials.
func looksLikePrinter(ctx context.Context, dial snmp.DialFunc, target string, p snmp.Params, rd printer.Reader) (looks, answered bool, err error) {
	c, err := dial(ctx, target, p)
	if err != nil {
		return false, false, err
	}
	defer c.Close()
	pdus, err := c.Get(ctx, probeOIDs)
	if err != nil {
		return false, snmp.IsAuthFailure(err), err
	}
	if len(pdus) == 0 {
		// An agent that answers without a sysDescr: it said something.
		return false, true, nil
	}
	if printerIn(pdus) {
		return true, true, nil
	}
	for _, column := range []string{oidHrDeviceType, oidPrtGeneralSerialNumber} {
		walked, err := c.Walk(ctx, column)
		if err != nil {
			return false, true, err
		}
		if printerIn(walked) {
			return true, true, nil
		}
	}
	return identifiesAsPrinter(pdus, rd), true, nil
}

// identifiesAsPrinter asks the reader whether the probed system group
// names a printer.
func identifiesAsPrinter(pdus []snmp.PDU, rd printer.Reader) bool {
	var sysDescr, sysObjectID string
	for _, p := range pdus {
		switch p.OID {
		case oidSysDescr:
			if b, ok := p.Bytes(); ok {
				sysDescr = string(b)
			}
		case oidSysObjectID:
			sysObjectID, _ = p.ObjectID()
		}
	}
	return rd.IdentifiesAsPrinter(sysObjectID, sysDescr)
}

// printerIn reports whether bindings show a printer: a Printer-MIB value,
// or an hrDeviceType of hrDevicePrinter.
func printerIn(pdus []snmp.PDU) bool {
	for _, p := range pdus {
		if snmp.InSubtree(oidPrtGeneralSerialNumber, p.OID) {
			return true
		}
		if id, ok := p.ObjectID(); ok && snmp.InSubtree(oidHrDeviceType, p.OID) && id == oidHrDevicePrinter {
			return true
		}
	}
	return false
}

func readPrinter(ctx context.Context, dial snmp.DialFunc, target string, p snmp.Params, opts Options) (wire.DeviceRead, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.ReadTimeout)
	defer cancel()
	c, err := dial(ctx, target, p)
	if err != nil {
		return wire.DeviceRead{}, err
	}
	defer c.Close()
	return opts.Printer.Read(ctx, c, target, opts.Now())
}

// dedupe keeps one device per serial number: a printer with two network
// interfaces, or one answering on two addresses, is one device. The lowest
// address wins, so that the choice does not depend on which answered
// first. Devices without a serial cannot be matched and are all kept.
func dedupe(found []Device) Result {
	slices.SortFunc(found, func(a, b Device) int { return compareAddresses(a.Address, b.Address) })
	var res Result
	seen := map[string]bool{}
	for _, d := range found {
		key := wire.NormalizeSerial(d.Serial)
		if key != "" && seen[key] {
			res.Duplicates = append(res.Duplicates, d)
			continue
		}
		seen[key] = key != ""
		res.Devices = append(res.Devices, d)
	}
	return res
}

// compareAddresses orders "ip:port" strings by address, then port.
func compareAddresses(a, b string) int {
	pa, errA := netip.ParseAddrPort(a)
	pb, errB := netip.ParseAddrPort(b)
	if errA != nil || errB != nil {
		return cmp.Compare(a, b)
	}
	return pa.Compare(pb)
}

// Summary is the one line a person reads after a sweep.
func (r Result) Summary() string {
	s := fmt.Sprintf("%d addresses probed, %d answered SNMP, %d printers", r.Probed, r.Answered, len(r.Devices))
	if n := len(r.Duplicates); n > 0 {
		s += " (" + strconv.Itoa(n) + " more addresses of the same printers)"
	}
	return s
}
