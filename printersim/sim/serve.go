package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meterline/meterline/printersim/internal/responder"
	"github.com/meterline/meterline/printersim/snmprec"
)

const (
	// DefaultHost is where devices listen unless Options.Host says otherwise.
	DefaultHost = "127.0.0.1"
	// DefaultCommunity is the SNMP community answered by default.
	DefaultCommunity = "public"
	// DefaultBulkBytes caps the varbinds of one GetBulk response.
	DefaultBulkBytes = responder.DefaultBulkBytes
	// maxRate and maxTonerYield keep the dynamics arithmetic inside int64.
	maxRate       = 1e6
	maxTonerYield = 1_000_000
)

// errNoDevices is returned by Serve for an empty fleet.
var errNoDevices = errors.New("no devices to serve")

// Options configures Serve. The zero value serves on 127.0.0.1, ports
// chosen by the system, community "public", with static values.
type Options struct {
	// Host is the IP address every device listens on (DefaultHost if empty).
	// Ignored in PerAddress mode.
	Host string
	// BasePort: device i listens on BasePort+i. 0 lets the system pick a
	// free port for each device (what tests want); Fleet.Devices tells which.
	BasePort int
	// PerAddress gives each device its own loopback address — 127.0.1.1,
	// 127.0.1.2, …, 127.0.2.1, … — all on BasePort, as a discovery scan of
	// a real network would find them.
	PerAddress bool
	// Community is the only community answered (DefaultCommunity if empty).
	Community string
	// PagesPerMinute is how fast every device prints. 0 serves the recorded
	// values unchanged; above 0, meters, supplies and uptimes move.
	PagesPerMinute float64
	// TonerYield is how many pages a full toner or ink cartridge lasts when
	// the device reports levels in percent (DefaultTonerYield if 0). Drums
	// and fusers last 10 times longer, waste boxes fill 4 times slower;
	// supplies that report in pages last their capacity.
	TonerYield int
	// BulkBytes caps the varbinds in one GetBulk response (DefaultBulkBytes
	// if 0). Each response still carries at least one repetition, and never
	// exceeds 65,000 bytes.
	BulkBytes int
	// Logger receives the fleet's logs; dropped datagrams are logged at
	// debug level. Nil discards them.
	Logger *slog.Logger
	// Clock replaces time.Now, so tests can move time by hand.
	Clock func() time.Time
}

// DeviceInfo describes one served device.
type DeviceInfo struct {
	Index  int
	Name   string
	Addr   netip.AddrPort
	Serial string
}

// Stats counts datagrams over the whole fleet.
type Stats struct {
	Received       uint64 // datagrams read
	Answered       uint64 // responses sent
	Malformed      uint64 // dropped: not a well-formed SNMP message
	WrongCommunity uint64 // dropped: community mismatch
	Unsupported    uint64 // dropped: SNMPv3, v1 GetBulk, non-request PDUs
}

// Fleet is a running set of simulated devices.
type Fleet struct {
	opts      Options
	start     time.Time
	servers   []*server
	wg        sync.WaitGroup
	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Serve starts one UDP socket per device and answers SNMP on them until ctx
// is done or Close is called. It returns once every socket is bound, so the
// addresses in Devices are ready; if one cannot be bound, none stay open.
func Serve(ctx context.Context, devs []Device, opts Options) (*Fleet, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	if len(devs) == 0 {
		return nil, errNoDevices
	}
	f := &Fleet{opts: opts, start: opts.Clock(), stop: make(chan struct{})}
	for i, dev := range devs { // dev is a copy: the caller may reuse its slice
		srv, err := f.listen(i, &dev)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.servers = append(f.servers, srv)
	}
	for _, srv := range f.servers {
		f.wg.Go(srv.serve)
	}
	go func() {
		select {
		case <-ctx.Done():
			f.Close()
		case <-f.stop:
		}
	}()
	opts.Logger.Info("fleet serving", "devices", len(f.servers), "pages_per_minute", opts.PagesPerMinute)
	return f, nil
}

func withDefaults(opts Options) (Options, error) {
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if opts.Community == "" {
		opts.Community = DefaultCommunity
	}
	if opts.TonerYield == 0 {
		opts.TonerYield = DefaultTonerYield
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if _, err := netip.ParseAddr(opts.Host); err != nil && !opts.PerAddress {
		return opts, fmt.Errorf("host must be an IP address: %w", err)
	}
	switch {
	case opts.BasePort < 0 || opts.BasePort > math.MaxUint16:
		return opts, fmt.Errorf("base port %d is out of range", opts.BasePort)
	case math.IsNaN(opts.PagesPerMinute) || opts.PagesPerMinute < 0 || opts.PagesPerMinute > maxRate:
		return opts, fmt.Errorf("pages per minute must be between 0 and %g, got %g", float64(maxRate), opts.PagesPerMinute)
	case opts.TonerYield < 0 || opts.TonerYield > maxTonerYield:
		return opts, fmt.Errorf("toner yield must be between 1 and %d pages, got %d", maxTonerYield, opts.TonerYield)
	case len(opts.Community) > responder.MaxCommunity:
		return opts, fmt.Errorf("community is %d bytes, at most %d are supported", len(opts.Community), responder.MaxCommunity)
	}
	return opts, nil
}

// listen binds device i's socket.
func (f *Fleet) listen(i int, dev *Device) (*server, error) {
	host, err := netip.ParseAddr(f.opts.Host)
	if f.opts.PerAddress {
		host, err = perAddress(i)
	}
	if err != nil {
		return nil, fmt.Errorf("device %d (%s): %w", i, dev.name, err)
	}
	port := 0
	if f.opts.BasePort != 0 {
		port = f.opts.BasePort
		if !f.opts.PerAddress {
			port += i
		}
		if port > math.MaxUint16 {
			return nil, fmt.Errorf("device %d (%s): port %d is out of range", i, dev.name, port)
		}
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, uint16(port))))
	if err != nil {
		return nil, fmt.Errorf("device %d (%s): %w", i, dev.name, err)
	}
	resp, err := responder.New(responder.Config{Community: f.opts.Community, BulkBytes: f.opts.BulkBytes})
	if err != nil {
		conn.Close()
		return nil, err
	}
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return &server{
		fleet:     f,
		dev:       dev,
		conn:      conn,
		addr:      netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()),
		responder: resp,
		log:       f.opts.Logger.With("device", dev.name, "addr", addr.String()),
	}, nil
}

// Devices lists the served devices in order, with the address each
// listens on.
func (f *Fleet) Devices() []DeviceInfo {
	out := make([]DeviceInfo, len(f.servers))
	for i, srv := range f.servers {
		out[i] = DeviceInfo{Index: i, Name: srv.dev.name, Addr: srv.addr, Serial: srv.dev.Serial()}
	}
	return out
}

// Value returns what device i serves for oid at this instant (per the
// fleet's clock), or false if it serves nothing there. Tests compare it
// with what they read over SNMP.
func (f *Fleet) Value(i int, oid string) (snmprec.Value, bool) {
	parsed, err := snmprec.ParseOID(oid)
	if err != nil || i < 0 || i >= len(f.servers) {
		return snmprec.Value{}, false
	}
	return f.servers[i].snapshot().Get(parsed)
}

// Stats returns the datagram counters summed over all devices.
func (f *Fleet) Stats() Stats {
	var s Stats
	for _, srv := range f.servers {
		s.Received += srv.received.Load()
		s.Answered += srv.answered.Load()
		s.Malformed += srv.malformed.Load()
		s.WrongCommunity += srv.wrongCommunity.Load()
		s.Unsupported += srv.unsupported.Load()
	}
	return s
}

// Close stops every device and waits for them to finish. It is safe to
// call more than once and after the context given to Serve is done.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		close(f.stop)
		var errs []error
		for _, srv := range f.servers {
			if err := srv.conn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", srv.addr, err))
			}
		}
		f.wg.Wait()
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// PDUValue converts a varbind received by a gosnmp client into the Value
// type that Fleet.Value returns, so a test can compare the two. Exceptions
// (noSuchObject, noSuchInstance, endOfMibView) are errors.
func PDUValue(pdu gosnmp.SnmpPDU) (snmprec.Value, error) {
	return responder.ValueFromPDU(pdu)
}
