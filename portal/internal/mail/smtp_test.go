package mail

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/meterline/meterline/portal/internal/mail/mailparse"
)

// The test SMTP server: go-smtp on 127.0.0.1, TLS (STARTTLS or implicit)
// with a certificate made for the test, AUTH PLAIN required.

const (
	testUser = "meterline"
	testPass = "s3cret"
)

// received is one message the server accepted.
type received struct {
	From, To string
	mailparse.Message
}

type testServer struct {
	t      *testing.T
	addr   string
	client *tls.Config
	server *tls.Config

	mu   sync.Mutex
	msgs []received
	// onData, when set, runs after a message is stored and before the
	// server answers 250 to its DATA.
	onData func(received)
}

// newTestTLS returns a self-signed certificate for 127.0.0.1 as server and
// client configurations.
func newTestTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "meterline test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}

// newTestServer reserves an address on 127.0.0.1 without serving it yet:
// until start, connections to it are refused (the SMTP server is down).
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &testServer{t: t, addr: addr}
	s.server, s.client = newTestTLS(t)
	return s
}

// start serves SMTP on the server's address, with STARTTLS or, when
// implicit, TLS from the first byte.
func (s *testServer) start(implicit bool) {
	s.t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "127.0.0.1"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	if implicit {
		l = tls.NewListener(l, s.server)
	} else {
		srv.TLSConfig = s.server
	}
	go func() { _ = srv.Serve(l) }()
	s.t.Cleanup(func() { srv.Close() })
}

func (s *testServer) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	var n int
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}

func (s *testServer) config(implicit bool) SMTPConfig {
	mode := STARTTLS
	if implicit {
		mode = ImplicitTLS
	}
	return SMTPConfig{
		Host: "127.0.0.1", Port: s.port(), TLS: mode, TLSConfig: s.client,
		Username: testUser, Password: testPass, Timeout: 10 * time.Second,
		From: "Meterline <noreply@meterline.test>",
	}
}

func (s *testServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type session struct {
	s        *testServer
	authed   bool
	from, to string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != testUser || pass != testPass {
			return errors.New("bad credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error { ss.to = to; return nil }
func (ss *session) Reset()                                    {}
func (ss *session) Logout() error                             { return nil }

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	p, err := mailparse.Parse(raw)
	if err != nil {
		ss.s.t.Errorf("test SMTP server: unreadable message: %v\n%s", err, raw)
		return err
	}
	m := received{From: ss.from, To: ss.to, Message: p}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	hook := ss.s.onData
	ss.s.mu.Unlock()
	if hook != nil {
		hook(m)
	}
	return nil
}
