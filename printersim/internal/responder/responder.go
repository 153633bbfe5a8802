// Package responder answers SNMP v1 and v2c requests (Get, GetNext, GetBulk,
// and a refusal for Set) from a read-only MIB view. BER decoding and
// encoding are gosnmp's; this package holds the protocol rules.
package responder

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/gosnmp/gosnmp"

	"github.com/meterline/meterline/printersim/snmprec"
)

const (
	// MaxDatagram caps a response: the largest UDP payload over IPv4 is
	// 65,507 bytes, and 65,000 leaves room to spare.
	MaxDatagram = 65000
	// DefaultBulkBytes is the default cap on the varbinds of one GetBulk
	// response. Like a printer's agent, the simulator answers a large
	// max-repetitions with about one Ethernet frame's worth of varbinds;
	// the manager asks again from the last OID it got.
	DefaultBulkBytes = 1500
	// MaxCommunity is the longest community gosnmp can encode (it writes the
	// length in one byte, i.e. BER's short form).
	MaxCommunity = 127
	// maxV1Varbinds bounds SNMPv1 requests: gosnmp carries error-index in a
	// uint8, so a v1 error on varbind 256 or later could not be reported.
	maxV1Varbinds = 255
	// messageOverhead bounds everything in a response but the varbinds and
	// the community: sequence, version, PDU header, request-id, error-status,
	// error-index and varbind-list headers.
	messageOverhead = 40
)

// Reasons a datagram gets no answer. Handle wraps them, so test with
// errors.Is.
var (
	// ErrMalformed: the datagram is not a well-formed SNMP message.
	ErrMalformed = errors.New("malformed datagram")
	// ErrCommunity: the community does not match. Like real agents the
	// simulator stays silent, so the manager sees a timeout.
	ErrCommunity = errors.New("wrong community")
	// ErrUnsupported: a well-formed message the simulator does not serve
	// (SNMPv3, GetBulk in SNMPv1, responses, traps, reports).
	ErrUnsupported = errors.New("unsupported request")
)

// View is what one device serves at one instant.
type View interface {
	// Get returns the value at exactly oid.
	Get(oid snmprec.OID) (snmprec.Value, bool)
	// Next returns the first OID after oid in SNMP order, and its value.
	Next(oid snmprec.OID) (snmprec.OID, snmprec.Value, bool)
}

// Config configures a Responder.
type Config struct {
	// Community is the only community answered.
	Community string
	// BulkBytes caps the varbinds of a GetBulk response; 0 means
	// DefaultBulkBytes. A response always carries the non-repeaters and at
	// least one repetition, so a walk always makes progress.
	BulkBytes int
}

// Responder turns request datagrams into response datagrams. It is not safe
// for concurrent use: give each goroutine its own.
type Responder struct {
	community []byte
	bulkBytes int
	decoder   *gosnmp.GoSNMP
}

// New returns a Responder. It fails when the community is longer than
// MaxCommunity bytes.
func New(cfg Config) (*Responder, error) {
	if len(cfg.Community) > MaxCommunity {
		return nil, fmt.Errorf("community is %d bytes, at most %d are supported", len(cfg.Community), MaxCommunity)
	}
	bulk := cfg.BulkBytes
	if bulk <= 0 {
		bulk = DefaultBulkBytes
	}
	return &Responder{
		community: []byte(cfg.Community),
		bulkBytes: bulk,
		// gosnmp decodes with a client handle; only the fields its
		// parameter check reads matter here.
		decoder: &gosnmp.GoSNMP{Version: gosnmp.Version2c},
	}, nil
}

// request is a decoded request with its OIDs parsed once.
type request struct {
	*gosnmp.SnmpPacket
	names []snmprec.OID
}

// response is the part of a Response-PDU that the operations decide.
type response struct {
	status gosnmp.SNMPError
	index  int
	vars   []gosnmp.SnmpPDU
}

// Handle answers one datagram. It returns the response to send, or an error
// wrapping ErrMalformed, ErrCommunity or ErrUnsupported when the datagram
// must be dropped. It never panics, whatever the input.
func (r *Responder) Handle(datagram []byte, view View) (out []byte, err error) {
	defer func() {
		// A decoder bug on hostile input must cost one datagram, not the
		// device: treat a panic as a malformed datagram.
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrMalformed, p)
		}
	}()
	if version, ok := peekVersion(datagram); ok && version == gosnmp.Version3 {
		return nil, fmt.Errorf("%w: SNMPv3", ErrUnsupported)
	}
	pkt, err := r.decoder.SnmpDecodePacket(datagram)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if pkt.Version != gosnmp.Version1 && pkt.Version != gosnmp.Version2c {
		return nil, fmt.Errorf("%w: SNMP version %d", ErrUnsupported, pkt.Version)
	}
	if subtle.ConstantTimeCompare([]byte(pkt.Community), r.community) != 1 {
		return nil, ErrCommunity
	}
	req := request{SnmpPacket: pkt, names: make([]snmprec.OID, len(pkt.Variables))}
	for i, vb := range pkt.Variables {
		if req.names[i], err = snmprec.ParseOID(vb.Name); err != nil {
			return nil, fmt.Errorf("%w: varbind %d: %w", ErrMalformed, i+1, err)
		}
	}

	var resp response
	switch {
	case pkt.Version == gosnmp.Version1 && len(req.names) > maxV1Varbinds:
		resp = echo(req, gosnmp.TooBig, 0)
	case pkt.PDUType == gosnmp.GetRequest:
		resp = get(req, view)
	case pkt.PDUType == gosnmp.GetNextRequest:
		resp = getNext(req, view)
	case pkt.PDUType == gosnmp.GetBulkRequest && pkt.Version == gosnmp.Version2c:
		resp = r.getBulk(req, view)
	case pkt.PDUType == gosnmp.SetRequest:
		resp = set(req)
	default:
		// GetBulk does not exist in SNMPv1: RFC 3584 has a v1 agent drop it
		// as an unknown PDU. Responses, traps and reports are not requests.
		return nil, fmt.Errorf("%w: %s in SNMP %s", ErrUnsupported, pkt.PDUType, pkt.Version)
	}
	return r.encode(req, resp)
}

// encode marshals the response, falling back to tooBig when it would not fit
// in one datagram.
func (r *Responder) encode(req request, resp response) ([]byte, error) {
	out, err := marshal(req, resp)
	if err != nil {
		return nil, err
	}
	if len(out) <= MaxDatagram {
		return out, nil
	}
	// RFC 3416 §4.2.1: tooBig with an empty varbind list; RFC 1157 §4.1.2:
	// v1 echoes the request's varbinds instead.
	tooBig := response{status: gosnmp.TooBig}
	if req.Version == gosnmp.Version1 {
		tooBig = echo(req, gosnmp.TooBig, 0)
	}
	return marshal(req, tooBig)
}

func marshal(req request, resp response) ([]byte, error) {
	pkt := gosnmp.SnmpPacket{
		Version:    req.Version,
		Community:  req.Community,
		PDUType:    gosnmp.GetResponse,
		RequestID:  req.RequestID,
		Error:      resp.status,
		ErrorIndex: uint8(resp.index), //nolint:gosec // ≤ 255: v1 requests are bounded by maxV1Varbinds
		Variables:  resp.vars,
	}
	out, err := pkt.MarshalMsg()
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return out, nil
}

// peekVersion reads the version field of a message header (SEQUENCE,
// INTEGER) without decoding the rest, so SNMPv3 messages can be refused
// before gosnmp looks for security parameters the simulator does not have.
func peekVersion(b []byte) (gosnmp.SnmpVersion, bool) {
	if len(b) < 2 || b[0] != 0x30 {
		return 0, false
	}
	i := 2
	if b[1]&0x80 != 0 {
		i += int(b[1] & 0x7f)
	}
	if len(b) < i+3 || b[i] != 0x02 || b[i+1] != 0x01 {
		return 0, false
	}
	return gosnmp.SnmpVersion(b[i+2]), true
}
