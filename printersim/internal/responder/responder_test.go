package responder

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/meterline/meterline/printersim/snmprec"
)

// sliceView is a View over sorted records.
type sliceView []snmprec.Record

func (v sliceView) Get(oid snmprec.OID) (snmprec.Value, bool) {
	i, ok := slices.BinarySearchFunc(v, oid, func(r snmprec.Record, o snmprec.OID) int { return snmprec.Compare(r.OID, o) })
	if !ok {
		return snmprec.Value{}, false
	}
	return v[i].Value, true
}

func (v sliceView) Next(oid snmprec.OID) (snmprec.OID, snmprec.Value, bool) {
	for _, r := range v {
		if snmprec.Compare(r.OID, oid) > 0 {
			return r.OID, r.Value, true
		}
	}
	return nil, snmprec.Value{}, false
}

var view = sliceView{
	{OID: snmprec.MustParseOID("1.3.6.1.2.1.1.1.0"), Value: snmprec.Value{Type: snmprec.OctetString, Bytes: []byte("printer")}},
	{OID: snmprec.MustParseOID("1.3.6.1.2.1.1.3.0"), Value: snmprec.Value{Type: snmprec.TimeTicks, Uint: 42}},
	{OID: snmprec.MustParseOID("1.3.6.1.2.1.43.10.2.1.4.1.1"), Value: snmprec.Value{Type: snmprec.Counter32, Uint: 1000}},
}

func encode(t testing.TB, version gosnmp.SnmpVersion, community string, pdu gosnmp.PDUType, oids ...string) []byte {
	t.Helper()
	g := &gosnmp.GoSNMP{Version: version, Community: community, Target: "127.0.0.1"}
	var vars []gosnmp.SnmpPDU
	for _, oid := range oids {
		vars = append(vars, gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Null})
	}
	b, err := g.SnmpEncodePacket(pdu, vars, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t testing.TB, b []byte) *gosnmp.SnmpPacket {
	t.Helper()
	pkt, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).SnmpDecodePacket(b)
	if err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return pkt
}

func newResponder(t testing.TB) *Responder {
	t.Helper()
	r, err := New(Config{Community: "public"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHandleDrops(t *testing.T) {
	r := newResponder(t)
	v3, err := (&gosnmp.GoSNMP{
		Version: gosnmp.Version3, Target: "127.0.0.1", SecurityModel: gosnmp.UserSecurityModel,
		MsgFlags: gosnmp.NoAuthNoPriv, SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "u"},
	}).SnmpEncodePacket(gosnmp.GetRequest, []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.1.0", Type: gosnmp.Null}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		datagram []byte
		want     error
	}{
		{"empty", nil, ErrMalformed},
		{"not BER", []byte("hello printer"), ErrMalformed},
		{"truncated", encode(t, gosnmp.Version2c, "public", gosnmp.GetRequest, ".1.3.6.1.2.1.1.1.0")[:20], ErrMalformed},
		{"wrong community", encode(t, gosnmp.Version2c, "private", gosnmp.GetRequest, ".1.3.6.1.2.1.1.1.0"), ErrCommunity},
		{"SNMPv3", v3, ErrUnsupported},
		{"GetBulk in SNMPv1", encode(t, gosnmp.Version1, "public", gosnmp.GetBulkRequest, ".1.3.6.1.2.1.1.1.0"), ErrUnsupported},
		{"a response is not a request", encode(t, gosnmp.Version2c, "public", gosnmp.GetResponse, ".1.3.6.1.2.1.1.1.0"), ErrUnsupported},
	}
	for _, tt := range tests {
		out, err := r.Handle(tt.datagram, view)
		if !errors.Is(err, tt.want) || out != nil {
			t.Errorf("%s: got %d bytes, err %v; want %v", tt.name, len(out), err, tt.want)
		}
	}
}

// TestHandleSurvivesGarbage runs many random and mutated datagrams through
// Handle: it must never panic, and whatever it answers must decode.
func TestHandleSurvivesGarbage(t *testing.T) {
	r := newResponder(t)
	rng := rand.New(rand.NewPCG(7, 11))
	seeds := [][]byte{
		encode(t, gosnmp.Version1, "public", gosnmp.GetRequest, ".1.3.6.1.2.1.1.1.0", ".1.3.6.1.2.1.1.3.0"),
		encode(t, gosnmp.Version2c, "public", gosnmp.GetNextRequest, ".1.3.6.1.2.1.1.1.0"),
		encode(t, gosnmp.Version2c, "public", gosnmp.GetBulkRequest, ".1.3.6.1.2.1.1"),
	}
	for i := range 20000 {
		var b []byte
		if i%2 == 0 {
			b = make([]byte, rng.IntN(120))
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
		} else {
			b = slices.Clone(seeds[rng.IntN(len(seeds))])
			for range 1 + rng.IntN(3) {
				b[rng.IntN(len(b))] = byte(rng.UintN(256))
			}
			b = b[:rng.IntN(len(b)+1)]
		}
		out, err := r.Handle(b, view)
		if err == nil {
			decode(t, out)
		}
	}
}

func FuzzHandle(f *testing.F) {
	f.Add(encode(f, gosnmp.Version1, "public", gosnmp.GetRequest, ".1.3.6.1.2.1.1.1.0"))
	f.Add(encode(f, gosnmp.Version2c, "public", gosnmp.GetBulkRequest, ".1.3.6.1.2.1.1"))
	f.Add(encode(f, gosnmp.Version2c, "public", gosnmp.SetRequest, ".1.3.6.1.2.1.1.1.0"))
	r := newResponder(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := r.Handle(b, view)
		if err == nil {
			decode(t, out)
		}
	})
}

// TestVarbindLen checks the size GetBulk budgets with against gosnmp's
// actual encoding.
func TestVarbindLen(t *testing.T) {
	long := make([]byte, 300)
	values := []snmprec.Value{
		{Type: snmprec.Integer, Int: 0},
		{Type: snmprec.Integer, Int: -3},
		{Type: snmprec.Integer, Int: 128},
		{Type: snmprec.Integer, Int: -2147483648},
		{Type: snmprec.Integer, Int: 2147483647},
		{Type: snmprec.Counter32, Uint: 127},
		{Type: snmprec.Counter32, Uint: 128},
		{Type: snmprec.Counter32, Uint: 4294967295},
		{Type: snmprec.Gauge32, Uint: 65535},
		{Type: snmprec.TimeTicks, Uint: 93311822},
		{Type: snmprec.Counter64, Uint: 18446744073709551615},
		{Type: snmprec.OctetString, Bytes: []byte("Black Toner")},
		{Type: snmprec.OctetString, Bytes: long},
		{Type: snmprec.OctetString},
		{Type: snmprec.IPAddress, Bytes: []byte{10, 0, 0, 1}},
		{Type: snmprec.ObjectIdentifier, OID: snmprec.MustParseOID("1.3.6.1.4.1.253.8.62.1.35.2.3.1.1")},
		{Type: snmprec.ObjectIdentifier, OID: snmprec.MustParseOID("0.0")},
		{Type: snmprec.Null},
	}
	oids := []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.4.1.674.10898.10.52.1094473223", "2.999.1"}
	for _, oidText := range oids {
		oid := snmprec.MustParseOID(oidText)
		for _, v := range values {
			got := varbindLen(oid, v)
			want := encodedVarbindLen(t, toPDU(dotted(oid), v))
			if got != want {
				t.Errorf("varbindLen(%s, %v %s) = %d, gosnmp encodes %d", oid, v, v.Type, got, want)
			}
		}
	}
}

// encodedVarbindLen marshals a one-varbind response with gosnmp and returns
// the size of the varbind: what follows the varbind list's header.
func encodedVarbindLen(t *testing.T, pdu gosnmp.SnmpPDU) int {
	t.Helper()
	pkt := gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetResponse, Variables: []gosnmp.SnmpPDU{pdu}}
	b, err := pkt.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	// Enter the message, skip version and community, enter the PDU, skip
	// request-id, error-status and error-index, enter the varbind list.
	for _, step := range []string{"enter", "skip", "skip", "enter", "skip", "skip", "skip", "enter"} {
		header, content := berHeader(t, b)
		if step == "enter" {
			b = b[header:]
		} else {
			b = b[header+content:]
		}
	}
	return len(b)
}

// berHeader returns the size of the tag and length at the start of b, and
// the content length they announce.
func berHeader(t *testing.T, b []byte) (header, content int) {
	t.Helper()
	if len(b) < 2 {
		t.Fatal("truncated BER")
	}
	if b[1] < 0x80 {
		return 2, int(b[1])
	}
	n := int(b[1] & 0x7f)
	for _, c := range b[2 : 2+n] {
		content = content<<8 | int(c)
	}
	return 2 + n, content
}

func TestValueRoundTrip(t *testing.T) {
	r := newResponder(t)
	out, err := r.Handle(encode(t, gosnmp.Version2c, "public", gosnmp.GetRequest,
		".1.3.6.1.2.1.1.1.0", ".1.3.6.1.2.1.1.3.0", ".1.3.6.1.2.1.43.10.2.1.4.1.1"), view)
	if err != nil {
		t.Fatal(err)
	}
	pkt := decode(t, out)
	for i, pdu := range pkt.Variables {
		got, err := ValueFromPDU(pdu)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(view[i].Value) {
			t.Errorf("%s: got %v, want %v", pdu.Name, got, view[i].Value)
		}
	}
}

func TestNewRejectsLongCommunity(t *testing.T) {
	if _, err := New(Config{Community: string(make([]byte, MaxCommunity+1))}); err == nil {
		t.Error("New accepted a community gosnmp cannot encode")
	}
}

func BenchmarkHandleGet(b *testing.B) {
	r := newResponder(b)
	req := encode(b, gosnmp.Version2c, "public", gosnmp.GetRequest, ".1.3.6.1.2.1.1.1.0", ".1.3.6.1.2.1.43.10.2.1.4.1.1")
	for b.Loop() {
		if _, err := r.Handle(req, view); err != nil {
			b.Fatal(err)
		}
	}
}
