package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/mail/mailtest"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
)

// TestRunSendsTheOutbox: with an SMTP host, the portal sends what waits in
// the outbox, and stops cleanly.
func TestRunSendsTheOutbox(t *testing.T) {
	db := schematest.SQLiteURL(t)
	enqueueWelcome(t, db, "welcome:user:1", "zoe@example.com")
	c := mailtest.Start(t)
	startPortal(t, "-database", db, "-smtp-host", "127.0.0.1", "-smtp-port", fmt.Sprint(c.Port()),
		"-smtp-mode", "none", "-mail-from", "Meterline <noreply@meterline.test>")
	deadline := time.Now().Add(20 * time.Second)
	for len(c.Messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the portal sent nothing from the outbox within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := c.Messages()[0]; m.To != "zoe@example.com" || !strings.Contains(m.Raw, "noreply@meterline.test") {
		t.Errorf("the sent message lacks its addresses:\n%s", m.Raw)
	}
}

// TestRunWithoutSMTPSaysSendingIsOff: no SMTP host, no sender, one line.
func TestRunWithoutSMTPSaysSendingIsOff(t *testing.T) {
	db := schematest.SQLiteURL(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-database", db}, io.Discard, logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "e-mail sending is off") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no line saying e-mail sending is off:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if n := strings.Count(logs.String(), "e-mail sending is off"); n != 1 {
		t.Errorf("sending is off said %d times, want once", n)
	}
}

func enqueueWelcome(t *testing.T, rawURL, key, to string) {
	t.Helper()
	src, err := schema.ParseSource(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(src.Driver, src.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := schema.Migrate(ctx, db, src.Dialect); err != nil {
		t.Fatal(err)
	}
	o, err := mail.NewOutbox(src.Dialect, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := o.Enqueue(ctx, tx, mail.Message{Key: key, To: to, Lang: i18n.Default, Template: "welcome", Data: map[string]any{
		"Name": "Zoé", "CustomerNumber": "C-1001", "PortalURL": "http://127.0.0.1/",
	}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
