package mail

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"  // registers the "postgres" driver
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
)

// clock is a fake clock: leases and backoff move only when a test says so.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testDB struct {
	db      *sql.DB
	dialect schema.Dialect
}

// eachDB runs f on a migrated SQLite file and, when configured, a fresh
// PostgreSQL schema.
func eachDB(t *testing.T, f func(t *testing.T, db testDB)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			raw := schematest.SQLiteURL(t)
			if name == "postgres" {
				raw = schematest.PostgresURL(t)
			}
			f(t, openDB(t, raw))
		})
	}
}

func openDB(t *testing.T, raw string) testDB {
	t.Helper()
	src, err := schema.ParseSource(raw)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(src.Driver, src.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := schema.Migrate(context.Background(), db, src.Dialect); err != nil {
		t.Fatal(err)
	}
	return testDB{db: db, dialect: src.Dialect}
}

func welcome(key, to string, lang i18n.Lang) Message {
	return Message{Key: key, To: to, Lang: lang, Template: "welcome", Data: map[string]any{
		"Name": "Zoé", "CustomerNumber": "C-1001", "PortalURL": "https://portal.meterline.test/",
	}}
}

// enqueue enqueues ms in one committed transaction.
func enqueue(t *testing.T, db testDB, clk *clock, ms ...Message) {
	t.Helper()
	o, err := NewOutbox(db.dialect, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, m := range ms {
		if _, err := o.Enqueue(context.Background(), tx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func newSender(t *testing.T, db testDB, srv *testServer, clk *clock, owner string, tune func(*SenderConfig)) *Sender {
	t.Helper()
	cfg := SenderConfig{Owner: owner, Lease: 5 * time.Minute, Now: clk.Now, Jitter: func() float64 { return 0.5 }}
	if tune != nil {
		tune(&cfg)
	}
	s, err := NewSender(db.db, db.dialect, srv.config(false), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type outboxRow struct {
	Status   string
	Attempts int
	Next     time.Time
	Owner    sql.NullString
	LastErr  sql.NullString
	SentAt   sql.NullTime
}

func readRow(t *testing.T, db testDB, key string) outboxRow {
	t.Helper()
	var r outboxRow
	err := db.db.QueryRowContext(context.Background(), rebind(db.dialect,
		`SELECT status, attempts, next_attempt_at, lease_owner, last_error, sent_at FROM email_outbox WHERE idempotency_key = ?`), key).
		Scan(&r.Status, &r.Attempts, &r.Next, &r.Owner, &r.LastErr, &r.SentAt)
	if err != nil {
		t.Fatalf("row %s: %v", key, err)
	}
	return r
}

func runOnce(t *testing.T, s *Sender) int {
	t.Helper()
	n, err := s.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestTemplatesInEveryLanguage(t *testing.T) {
	tpl, err := LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Names()) == 0 {
		t.Fatal("no templates")
	}
	r, err := tpl.Render("welcome", i18n.EN, map[string]any{"Name": "<b>Al</b>", "CustomerNumber": "C-1", "PortalURL": "https://x.test/"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<b>Al</b>") || !strings.Contains(r.Text, "<b>Al</b>") {
		t.Errorf("HTML must escape, text must not:\n%s\n%s", r.HTML, r.Text)
	}
	if _, err := tpl.Render("welcome", i18n.FR, map[string]any{"Name": "x"}); err == nil {
		t.Error("a missing template field rendered")
	}
}

// TestEnqueueDeliversOnce: e-mails enqueued in a committed transaction
// are received once each, in the recipient's language, as text and HTML;
// a key enqueued twice is one e-mail; a rolled-back transaction sends
// nothing.
func TestEnqueueDeliversOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		clk := &clock{t: t0}
		srv := newTestServer(t)
		srv.start(false)
		ctx := context.Background()

		enqueue(t, db, clk, welcome("welcome:1", "zoe@example.test", i18n.FR), welcome("welcome:2", "al@example.test", i18n.EN),
			welcome("welcome:1", "zoe@example.test", i18n.FR))
		// Enqueued in a transaction that rolls back: never sent.
		o, _ := NewOutbox(db.dialect, clk.Now)
		tx, err := db.db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := o.Enqueue(ctx, tx, welcome("welcome:3", "rolled@example.test", i18n.EN)); err != nil || !ok {
			t.Fatalf("enqueue: %v %v", ok, err)
		}
		if ok, err := o.Enqueue(ctx, tx, welcome("welcome:1", "zoe@example.test", i18n.FR)); err != nil || ok {
			t.Fatalf("a key enqueued twice: inserted %v, %v", ok, err)
		}
		tx.Rollback()

		s := newSender(t, db, srv, clk, "a", nil)
		if n := runOnce(t, s); n != 2 {
			t.Fatalf("claimed %d, want 2", n)
		}
		if n := runOnce(t, s); n != 0 {
			t.Fatalf("claimed %d after all were sent", n)
		}
		msgs := srv.messages()
		if len(msgs) != 2 {
			t.Fatalf("received %d messages, want 2: %+v", len(msgs), msgs)
		}
		byTo := map[string]received{}
		for _, m := range msgs {
			byTo[m.To] = m
		}
		fr, en := byTo["zoe@example.test"], byTo["al@example.test"]
		if fr.Lang != "fr" || !strings.HasPrefix(fr.Subject, "Bienvenue") || !strings.Contains(fr.Text, "Bonjour Zoé") ||
			!strings.Contains(fr.HTML, `<html lang="fr">`) || !strings.Contains(fr.HTML, "Bonjour Zoé") {
			t.Errorf("French e-mail: %+v", fr)
		}
		if en.Lang != "en" || !strings.HasPrefix(en.Subject, "Welcome") || !strings.Contains(en.Text, "Hello Zoé") ||
			!strings.Contains(en.HTML, `<html lang="en">`) {
			t.Errorf("English e-mail: %+v", en)
		}
		if fr.From != "noreply@meterline.test" || fr.MessageID == "" || fr.MessageID == en.MessageID ||
			!strings.HasSuffix(fr.MessageID, "@meterline.test>") {
			t.Errorf("envelope or Message-ID: %+v / %+v", fr, en)
		}
		for _, k := range []string{"welcome:1", "welcome:2"} {
			if r := readRow(t, db, k); r.Status != "sent" || r.Attempts != 1 || !r.SentAt.Valid || r.Owner.Valid {
				t.Errorf("%s: %+v", k, r)
			}
		}
	})
}

// TestImplicitTLS: the sender speaks TLS from the first byte (port 465
// style) and authenticates.
func TestImplicitTLS(t *testing.T) {
	db := openDB(t, schematest.SQLiteURL(t))
	clk := &clock{t: t0}
	srv := newTestServer(t)
	srv.start(true)
	enqueue(t, db, clk, welcome("k", "zoe@example.test", i18n.FR))
	s, err := NewSender(db.db, db.dialect, srv.config(true), SenderConfig{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	runOnce(t, s)
	if got := len(srv.messages()); got != 1 {
		t.Fatalf("received %d, want 1", got)
	}
}

// TestRetriedWithBackoff: with the SMTP server down, each attempt fails
// and the row waits a doubling backoff (on the fake clock) before the next;
// once the server is up the e-mail is delivered. A row whose attempts are
// spent is failed with its last error.
func TestRetriedWithBackoff(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		clk := &clock{t: t0}
		srv := newTestServer(t) // not started: connections refused
		enqueue(t, db, clk, welcome("retry", "zoe@example.test", i18n.FR))
		s := newSender(t, db, srv, clk, "a", func(c *SenderConfig) { c.BaseBackoff, c.MaxAttempts = time.Minute, 5 })

		for attempt, want := range []time.Duration{time.Minute, 2 * time.Minute} {
			if n := runOnce(t, s); n != 1 {
				t.Fatalf("attempt %d: claimed %d", attempt+1, n)
			}
			r := readRow(t, db, "retry")
			// Jitter is fixed at 0.5: half the backoff plus a quarter.
			wait := want/2 + want/4
			if r.Status != "pending" || r.Attempts != attempt+1 || !r.Next.Equal(clk.Now().Add(wait)) || !r.LastErr.Valid {
				t.Fatalf("after attempt %d: %+v, want next at %v", attempt+1, r, clk.Now().Add(wait))
			}
			if n := runOnce(t, s); n != 0 {
				t.Fatalf("claimed %d before the backoff elapsed", n)
			}
			clk.Advance(wait - time.Second)
			if n := runOnce(t, s); n != 0 {
				t.Fatalf("claimed %d a second before the backoff elapsed", n)
			}
			clk.Advance(time.Second)
		}
		srv.start(false)
		if n := runOnce(t, s); n != 1 {
			t.Fatalf("claimed %d once the server is up", n)
		}
		if got := len(srv.messages()); got != 1 {
			t.Fatalf("received %d, want 1", got)
		}
		if r := readRow(t, db, "retry"); r.Status != "sent" || r.Attempts != 3 {
			t.Fatalf("%+v", r)
		}
	})
}

func TestFailedAfterMaxAttempts(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		clk := &clock{t: t0}
		srv := newTestServer(t) // never started
		enqueue(t, db, clk, welcome("doomed", "zoe@example.test", i18n.EN))
		s := newSender(t, db, srv, clk, "a", func(c *SenderConfig) { c.MaxAttempts = 2 })
		runOnce(t, s)
		clk.Advance(24 * time.Hour)
		runOnce(t, s)
		r := readRow(t, db, "doomed")
		if r.Status != "failed" || r.Attempts != 2 || !strings.Contains(r.LastErr.String, "connect") {
			t.Fatalf("%+v", r)
		}
		clk.Advance(24 * time.Hour)
		if n := runOnce(t, s); n != 0 {
			t.Fatalf("a failed row was claimed again")
		}
	})
}

// TestTwoSendersOnePostgres: two senders on one PostgreSQL database,
// claiming concurrently with SKIP LOCKED, send each e-mail exactly once.
func TestTwoSendersOnePostgres(t *testing.T) {
	db := openDB(t, schematest.PostgresURL(t))
	clk := &clock{t: t0}
	srv := newTestServer(t)
	srv.start(false)
	const total = 60
	var ms []Message
	for i := range total {
		ms = append(ms, welcome("bulk:"+string(rune('A'+i/26))+string(rune('a'+i%26)), "user@example.test", i18n.FR))
	}
	enqueue(t, db, clk, ms...)

	var wg sync.WaitGroup
	claimed := make([]int, 2)
	for i, owner := range []string{"replica-a", "replica-b"} {
		s := newSender(t, db, srv, clk, owner, func(c *SenderConfig) { c.Batch = 3 })
		wg.Go(func() {
			for {
				n, err := s.RunOnce(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
				claimed[i] += n
			}
		})
	}
	wg.Wait()
	if claimed[0]+claimed[1] != total {
		t.Errorf("claimed %v, want %d in all", claimed, total)
	}
	seen := map[string]int{}
	for _, m := range srv.messages() {
		seen[m.MessageID]++
	}
	if len(seen) != total {
		t.Errorf("%d distinct e-mails received, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times", id, n)
		}
	}
	var sent int
	if err := db.db.QueryRow(`SELECT COUNT(*) FROM email_outbox WHERE status = 'sent' AND attempts = 1`).Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if sent != total {
		t.Errorf("%d rows sent at the first attempt, want %d", sent, total)
	}
}

// TestKilledMidSend: a sender stopped after the server accepted the DATA
// but before it marked the row sent leaves the row leased; no sender takes
// it while the lease holds; after the lease expires another sender sends it
// again with the same Message-ID and the row ends sent. At-least-once at
// the SMTP boundary, deduplicated by Message-ID: two deliveries, one
// distinct e-mail.
func TestKilledMidSend(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		clk := &clock{t: t0}
		srv := newTestServer(t)
		srv.start(false)
		enqueue(t, db, clk, welcome("crash", "zoe@example.test", i18n.FR))

		ctx, kill := context.WithCancel(context.Background())
		var once sync.Once
		srv.mu.Lock()
		srv.onData = func(received) { once.Do(kill) }
		srv.mu.Unlock()
		a := newSender(t, db, srv, clk, "killed", nil)
		if _, err := a.RunOnce(ctx); err == nil {
			t.Fatal("the killed sender reported no error")
		}
		if r := readRow(t, db, "crash"); r.Status != "sending" || r.Owner.String != "killed" || r.Attempts != 1 {
			t.Fatalf("after the kill: %+v", r)
		}

		b := newSender(t, db, srv, clk, "restarted", nil)
		if n := runOnce(t, b); n != 0 {
			t.Fatalf("claimed %d while the lease holds", n)
		}
		clk.Advance(5 * time.Minute)
		if n := runOnce(t, b); n != 1 {
			t.Fatalf("claimed %d after the lease expired", n)
		}
		msgs := srv.messages()
		if len(msgs) != 2 || msgs[0].MessageID != msgs[1].MessageID || msgs[0].Text != msgs[1].Text {
			t.Fatalf("want the same e-mail twice, got %+v", msgs)
		}
		if r := readRow(t, db, "crash"); r.Status != "sent" || r.Attempts != 2 || r.Owner.Valid {
			t.Fatalf("after the resend: %+v", r)
		}
		if n := runOnce(t, b); n != 0 || len(srv.messages()) != 2 {
			t.Fatalf("sent again after marked sent")
		}
	})
}
