package sim

import (
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestGarbageDatagrams feeds a device random bytes, every truncation of
// real requests, corrupted requests and an SNMPv3 request, then checks it
// still answers.
func TestGarbageDatagrams(t *testing.T) {
	f := serveFleet(t, DemoFleet()[:1], Options{})
	addr := f.Devices()[0].Addr

	var datagrams [][]byte
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		datagrams = append(datagrams, b)
	}
	for _, req := range realRequests(t) {
		for n := range len(req) {
			datagrams = append(datagrams, req[:n])
		}
		for range 50 { // flip one byte
			b := append([]byte(nil), req...)
			b[rng.IntN(len(b))] = byte(rng.UintN(256))
			datagrams = append(datagrams, b)
		}
		datagrams = append(datagrams, append(append([]byte(nil), req...), 0, 0, 0)) // trailing junk
	}
	datagrams = append(datagrams, v3Request(t))

	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newClient(t, addr, gosnmp.Version2c)
	// The device reads its socket in order, so a good request answered
	// after a batch proves the batch was handled. Small batches keep the
	// kernel from dropping datagrams out of a full socket buffer.
	const batch = 64
	for start := 0; start < len(datagrams); start += batch {
		for _, d := range datagrams[start:min(start+batch, len(datagrams))] {
			if _, err := conn.Write(d); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		pkt, err := c.Get([]string{sysDescr})
		if err != nil || pkt.Error != gosnmp.NoError || len(pkt.Variables) != 1 {
			t.Fatalf("device stopped answering after %d datagrams: %v", start+batch, err)
		}
	}
	stats := f.Stats()
	if stats.Malformed == 0 {
		t.Errorf("no malformed datagram counted: %+v", stats)
	}
	if stats.Unsupported == 0 {
		t.Errorf("the SNMPv3 request was not counted as unsupported: %+v", stats)
	}
	t.Logf("sent %d datagrams; %+v", len(datagrams), stats)
}

// realRequests are well-formed v1 and v2c requests as gosnmp encodes them.
func realRequests(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	for _, version := range []gosnmp.SnmpVersion{gosnmp.Version1, gosnmp.Version2c} {
		g := &gosnmp.GoSNMP{Community: DefaultCommunity, Version: version, Target: "127.0.0.1"}
		for _, pdu := range []gosnmp.PDUType{gosnmp.GetRequest, gosnmp.GetNextRequest, gosnmp.GetBulkRequest} {
			vars := []gosnmp.SnmpPDU{{Name: sysDescr, Type: gosnmp.Null}, {Name: prtLifeCount, Type: gosnmp.Null}}
			b, err := g.SnmpEncodePacket(pdu, vars, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// v3Request is a noAuthNoPriv SNMPv3 Get, which the simulator refuses.
func v3Request(t *testing.T) []byte {
	t.Helper()
	g := &gosnmp.GoSNMP{
		Version:            gosnmp.Version3,
		Target:             "127.0.0.1",
		SecurityModel:      gosnmp.UserSecurityModel,
		MsgFlags:           gosnmp.NoAuthNoPriv,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "meterline"},
	}
	b, err := g.SnmpEncodePacket(gosnmp.GetRequest, []gosnmp.SnmpPDU{{Name: sysDescr, Type: gosnmp.Null}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
