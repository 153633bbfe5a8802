// Package mailtest is a real SMTP server for tests (go-smtp on 127.0.0.1,
// plain, no authentication: a mail catcher) and a way to deliver the
// outbox to it, so that a test reads the e-mails a page sent as a person
// would, links and all. Only tests import it.
package mailtest

import (
	"context"
	"database/sql"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	portalmail "github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/mail/mailparse"
	"github.com/meterline/meterline/shared/schema"
)

// Message is an e-mail the server accepted.
type Message struct {
	From, To string
	Subject  string
	// Lang is the Content-Language header.
	Lang string
	Text string
	HTML string
	// Raw is the message as received.
	Raw string
}

// Server is a mail catcher on 127.0.0.1.
type Server struct {
	t    testing.TB
	port int

	mu   sync.Mutex
	msgs []Message
}

// Start starts a mail catcher, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, port: l.Addr().(*net.TCPAddr).Port}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "127.0.0.1"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

// Port is the port the server listens on.
func (s *Server) Port() int { return s.port }

// SMTP is the configuration of a sender to this server.
func (s *Server) SMTP() portalmail.SMTPConfig {
	return portalmail.SMTPConfig{Host: "127.0.0.1", Port: s.port, TLS: portalmail.NoTLS, Timeout: 10 * time.Second,
		From: "Meterline <noreply@meterline.test>"}
}

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Deliver sends what waits in the outbox of db to the server, and returns
// the messages that arrived by it, oldest first. now is the sender's clock
// (the test's, so that e-mails enqueued "in the future" are due).
func (s *Server) Deliver(t testing.TB, db *sql.DB, d schema.Dialect, now func() time.Time) []Message {
	t.Helper()
	before := len(s.Messages())
	sender, err := portalmail.NewSender(db, d, s.SMTP(), portalmail.SenderConfig{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, err := sender.RunOnce(context.Background())
		if err != nil {
			t.Fatalf("deliver the outbox: %v", err)
		}
		if n == 0 {
			break
		}
	}
	return s.Messages()[before:]
}

// To returns the messages received for an address.
func (s *Server) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if strings.EqualFold(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Link returns the first link of the message's text that contains part,
// "" when there is none.
func (m Message) Link(part string) string {
	for _, l := range linkPattern.FindAllString(m.Text, -1) {
		if strings.Contains(l, part) {
			return l
		}
	}
	return ""
}

type session struct {
	s        *Server
	from, to string
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error   { ss.to = to; return nil }
func (ss *session) Reset()                                      {}
func (ss *session) Logout() error                               { return nil }

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	p, err := mailparse.Parse(raw)
	if err != nil {
		ss.s.t.Errorf("mailtest: unreadable message: %v\n%s", err, raw)
		return err
	}
	m := Message{From: ss.from, To: ss.to, Subject: p.Subject, Lang: p.Lang, Text: p.Text, HTML: p.HTML, Raw: string(raw)}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	return nil
}
