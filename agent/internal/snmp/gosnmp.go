package snmp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/gosnmp/gosnmp"
)

// requester is the part of *gosnmp.GoSNMP that the client uses, so that the
// walk and fallback logic can be tested without a network.
type requester interface {
	Get(oids []string) (*gosnmp.SnmpPacket, error)
	GetNext(oids []string) (*gosnmp.SnmpPacket, error)
	GetBulk(oids []string, nonRepeaters uint8, maxRepetitions uint32) (*gosnmp.SnmpPacket, error)
}

// client is the gosnmp-backed Client.
type client struct {
	conn   *gosnmp.GoSNMP // nil in unit tests
	req    requester
	target string
	params Params

	maxRepetitions uint32
	// answered is set once the agent has answered anything: from then on a
	// timeout is a device problem, not "nobody there".
	answered bool
	// bulkRefused is set once the agent has refused a GetBulk; later walks
	// go straight to GetNext.
	bulkRefused bool
}

// Dial opens a UDP socket to target ("host[:port]", port 161 by default).
// Nothing is sent yet: UDP has no handshake, so whether an agent answers is
// known only at the first request.
func Dial(ctx context.Context, target string, p Params) (Client, error) {
	host, port, err := SplitTarget(target)
	if err != nil {
		return nil, err
	}
	conn := &gosnmp.GoSNMP{
		Target:    host,
		Port:      port,
		Transport: "udp",
		Timeout:   p.Timeout,
		Retries:   p.Retries,
		MaxOids:   gosnmp.MaxOids,
		Context:   ctx,
	}
	switch p.Version {
	case Version1:
		conn.Version, conn.Community = gosnmp.Version1, p.Community
	case Version3:
		if err := p.USM.apply(conn); err != nil {
			return nil, fmt.Errorf("SNMPv3 settings for %s: %w", target, err)
		}
	default:
		conn.Version, conn.Community = gosnmp.Version2c, p.Community
	}
	if err := conn.Connect(); err != nil {
		return nil, fmt.Errorf("open SNMP socket to %s: %w", target, err)
	}
	return newClient(conn, conn, target, p), nil
}

func newClient(conn *gosnmp.GoSNMP, req requester, target string, p Params) *client {
	// max-repetitions is an INTEGER (0..2147483647) in the PDU.
	maxReps := uint32(DefaultMaxRepetitions)
	if p.MaxRepetitions > 0 && p.MaxRepetitions <= math.MaxInt32 {
		maxReps = uint32(p.MaxRepetitions)
	}
	return &client{conn: conn, req: req, target: target, params: p, maxRepetitions: maxReps}
}

// Close implements Client.
func (c *client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Get implements Client.
func (c *client) Get(ctx context.Context, oids []string) ([]PDU, error) {
	if len(oids) == 0 {
		return nil, nil
	}
	resp, err := c.send(ctx, func() (*gosnmp.SnmpPacket, error) { return c.req.Get(dotted(oids)) })
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", oids[0], err)
	}
	switch resp.Error {
	case gosnmp.NoError:
		return bindings(resp.Variables), nil
	case gosnmp.NoSuchName, gosnmp.TooBig:
		// SNMPv1 has no noSuchObject: one missing OID fails the whole GET
		// with noSuchName. Ask again one OID at a time, which also gets
		// around a tooBig answer.
		if len(oids) > 1 {
			return c.getOneByOne(ctx, oids)
		}
		if resp.Error == gosnmp.NoSuchName {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("get %s: agent answered %s", oids[0], resp.Error)
}

func (c *client) getOneByOne(ctx context.Context, oids []string) ([]PDU, error) {
	var out []PDU
	for _, oid := range oids {
		pdus, err := c.Get(ctx, []string{oid})
		if err != nil {
			return nil, err
		}
		out = append(out, pdus...)
	}
	return out, nil
}

// Walk implements Client. SNMPv2c walks use GetBulk; an agent that refuses
// GetBulk (an error status, or silence after it has answered a GET) is
// walked with GetNext, as SNMPv1 agents always are.
func (c *client) Walk(ctx context.Context, root string) ([]PDU, error) {
	root = NormalizeOID(root)
	if c.params.Version != Version1 && !c.bulkRefused {
		pdus, err := c.walk(ctx, root, true)
		if !errors.Is(err, errBulkRefused) {
			return pdus, err
		}
		c.bulkRefused = true
	}
	return c.walk(ctx, root, false)
}

// send runs one request with the caller's context and turns transport
// failures into errors that say what happened.
func (c *client) send(ctx context.Context, request func() (*gosnmp.SnmpPacket, error)) (*gosnmp.SnmpPacket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.conn != nil {
		// gosnmp reads its context from the struct; one client serves one
		// goroutine, so setting it per request is safe.
		c.conn.Context = ctx
	}
	packet, err := request()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if authErr := c.authFailure(err); authErr != nil {
			return nil, authErr
		}
		if !c.answered && silent(err) {
			return nil, &NoAnswerError{Target: c.target, Wait: c.params.Wait(), Err: err}
		}
		return nil, err
	}
	c.answered = true
	return packet, nil
}

// authFailure turns the SNMPv3 Reports that refuse our credentials into an
// *AuthError, or returns nil.
//
// Agents differ: net-snmp reports an unknown user (usmStatsUnknownUserNames)
// and a wrong key (usmStatsWrongDigests), gosnmp returns those as errors
// at once. Others (snmpsim, some printers) drop such requests without a
// word, which looks like a dead host; but if the agent has answered the
// engine discovery, it is there and it is our credentials it ignores.
func (c *client) authFailure(err error) error {
	if c.params.Version != Version3 {
		return nil
	}
	reason := ""
	switch {
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		reason = "unknown user name"
	case errors.Is(err, gosnmp.ErrWrongDigest), notAuthentic(err):
		reason = "wrong authentication passphrase or protocol"
	case errors.Is(err, gosnmp.ErrDecryption):
		reason = "wrong privacy passphrase or protocol"
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		reason = "the user does not have security level " + string(c.params.level())
	case silent(err) && c.engineDiscovered():
		reason = "the agent answered engine discovery but not the request (wrong user name, passphrase, protocol or context?)"
	default:
		return nil
	}
	c.answered = true
	return &AuthError{Target: c.target, User: c.params.User, Reason: reason, Err: err}
}

// notAuthentic reports whether gosnmp discarded an answer whose digest does
// not match our key: some agents (snmpsim) answer a wrong digest with a
// Report that they authenticate with the right key. gosnmp has no sentinel
// error for it, so its text is matched.
func notAuthentic(err error) bool {
	return strings.Contains(err.Error(), "is not authentic") ||
		strings.Contains(err.Error(), "is not authenticated but user")
}

// engineDiscovered reports whether gosnmp has learnt the agent's engine ID,
// which only an answer can have told it.
func (c *client) engineDiscovered() bool {
	if c.conn == nil {
		return false
	}
	usm, ok := c.conn.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	return ok && usm.AuthoritativeEngineID != ""
}

// silent reports whether err means that no answer came back: a timeout
// after every retry, or an ICMP "port unreachable" on a connected socket.
// IsSilence reports whether err says the agent did not answer in time (as
// opposed to answering with an error).
func IsSilence(err error) bool { return silent(err) }

func silent(err error) bool {
	var netErr net.Error
	return errors.Is(err, gosnmp.ErrMaxRetriesExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout())
}

func dotted(oids []string) []string {
	out := make([]string, len(oids))
	for i, oid := range oids {
		out[i] = "." + NormalizeOID(oid)
	}
	return out
}

// bindings converts gosnmp variables, dropping the exception values
// (noSuchObject, noSuchInstance, endOfMibView) and Nulls: a missing value
// is absent, never a zero.
func bindings(vars []gosnmp.SnmpPDU) []PDU {
	out := make([]PDU, 0, len(vars))
	for _, v := range vars {
		if p, ok := convert(v); ok {
			out = append(out, p)
		}
	}
	return out
}

func convert(v gosnmp.SnmpPDU) (PDU, bool) {
	p := PDU{OID: NormalizeOID(v.Name)}
	switch v.Type {
	case gosnmp.Integer:
		p.Type = TypeInteger
	case gosnmp.Counter32:
		p.Type = TypeCounter32
	case gosnmp.Gauge32, gosnmp.Uinteger32:
		p.Type = TypeGauge32
	case gosnmp.TimeTicks:
		p.Type = TypeTimeTicks
	case gosnmp.Counter64:
		p.Type = TypeCounter64
	case gosnmp.OctetString, gosnmp.BitString:
		p.Type = TypeOctetString
	case gosnmp.Opaque:
		p.Type = TypeOpaque
	case gosnmp.ObjectIdentifier:
		p.Type = TypeObjectID
	case gosnmp.IPAddress:
		p.Type = TypeIPAddress
	default:
		return PDU{}, false
	}
	switch val := v.Value.(type) {
	case int:
		p.Value = int64(val)
	case int64:
		p.Value = val
	case uint:
		p.Value = unsigned(uint64(val))
	case uint32:
		p.Value = int64(val)
	case uint64:
		if p.Type == TypeCounter64 {
			p.Value = val
		} else {
			p.Value = unsigned(val)
		}
	case []byte:
		p.Value = append([]byte(nil), val...)
	case string:
		if p.Type == TypeObjectID {
			val = NormalizeOID(val)
		}
		p.Value = val
	default:
		// An Opaque float or a value gosnmp could not decode: nothing a
		// printer read uses.
		return PDU{}, false
	}
	return p, true
}

// unsigned keeps an unsigned value as an int64 when it fits, else as the
// uint64 it is, which PDU.Int refuses. gosnmp decodes a Counter32 or
// Gauge32 of up to nine bytes into a uint: a broken agent's 2^63 must not
// wrap into a negative count.
func unsigned(v uint64) any {
	if v > math.MaxInt64 {
		return v
	}
	return int64(v)
}
