package sim

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/meterline/meterline/printersim/internal/responder"
)

// maxRequest is the largest request read. Requests from pollers are a few
// hundred bytes; a longer datagram is truncated by the read and then
// dropped as malformed. A smaller buffer keeps 1,000 devices light.
const maxRequest = 16 << 10

// server is one device's socket and read loop.
type server struct {
	fleet     *Fleet
	dev       *Device
	conn      *net.UDPConn
	addr      netip.AddrPort
	responder *responder.Responder
	log       *slog.Logger

	received, answered, malformed, wrongCommunity, unsupported atomic.Uint64
}

// snapshot is the device as it stands now, by the fleet's clock.
func (s *server) snapshot() snapshot {
	f := s.fleet
	elapsed := f.opts.Clock().Sub(f.start)
	return snapshot{dev: s.dev, usage: usageAt(elapsed, f.opts.PagesPerMinute, s.dev.color, int64(f.opts.TonerYield))}
}

// serve answers datagrams until the socket is closed. Requests are handled
// one at a time: a device answers in microseconds, and one goroutine per
// device already spreads a fleet over all cores.
func (s *server) serve() {
	buf := make([]byte, maxRequest)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("read failed", "error", err)
			select {
			case <-s.fleet.stop:
				return
			case <-time.After(10 * time.Millisecond): // don't spin on a persistent error
			}
			continue
		}
		s.received.Add(1)
		out, err := s.responder.Handle(buf[:n], s.snapshot())
		if err != nil {
			s.count(err)
			s.log.Debug("datagram dropped", "from", from.String(), "bytes", n, "error", err)
			continue
		}
		if _, err := s.conn.WriteToUDPAddrPort(out, from); err != nil {
			s.log.Debug("write failed", "to", from.String(), "error", err)
			continue
		}
		s.answered.Add(1)
	}
}

func (s *server) count(err error) {
	switch {
	case errors.Is(err, responder.ErrCommunity):
		s.wrongCommunity.Add(1)
	case errors.Is(err, responder.ErrUnsupported):
		s.unsupported.Add(1)
	default:
		s.malformed.Add(1)
	}
}
