// Package storetest lets tests see what the collector stored: the newest
// read of each device, row counts, dead letters, events and agents, read
// with plain SQL from a database the collector (package store) wrote.
// Only tests import it; the collector's binary does not (a test checks).
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // the "postgres" driver
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

func init() {
	// sqlx knows the driver name "sqlite3" but not modernc's "sqlite".
	sqlx.BindDriver(schema.DriverSQLite, sqlx.QUESTION)
}

// DB reads a Meterline database. Its sqlx handle is there for the
// queries a test makes of its own. Package store's own tests wrap the
// store's handle: &DB{DB: s.db}.
type DB struct {
	*sqlx.DB
}

// Open opens the database rawURL names (see schema.ParseSource) for
// reading; it is closed when the test ends.
func Open(tb testing.TB, rawURL string) *DB {
	tb.Helper()
	src, err := schema.ParseSource(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqlx.Open(src.Driver, src.DSN)
	if err != nil {
		tb.Fatalf("open %s database: %v", src.Dialect, err)
	}
	tb.Cleanup(func() { db.Close() })
	return &DB{DB: db}
}

// LatestRead is a device with its newest meter read.
type LatestRead struct {
	DeviceKey string    `db:"device_key"`
	Serial    string    `db:"serial"`
	Vendor    string    `db:"vendor"`
	Model     string    `db:"model"`
	Total     *int64    `db:"total"`
	Black     *int64    `db:"black"`
	Colour    *int64    `db:"colour"`
	ReadAt    time.Time `db:"read_at"`
}

const selectLatestReads = `SELECT d.device_key, d.serial, d.vendor, d.model, m.total, m.black, m.colour, m.read_at
FROM devices d
JOIN meter_reads m ON m.device_id = d.id AND m.read_at = d.last_read_at
ORDER BY d.device_key`

// LatestReads returns every device that has a read, with its newest read,
// ordered by device key.
func (db *DB) LatestReads(ctx context.Context) ([]LatestRead, error) {
	var reads []LatestRead
	if err := db.SelectContext(ctx, &reads, selectLatestReads); err != nil {
		return nil, fmt.Errorf("storetest: latest reads: %w", err)
	}
	for i := range reads {
		reads[i].ReadAt = reads[i].ReadAt.UTC()
	}
	return reads, nil
}

// Counts is how many rows each table holds.
type Counts struct {
	Agents      int
	Devices     int
	Batches     int
	Reads       int
	Events      int
	DeadLetters int
}

// Counts counts the rows of each table.
func (db *DB) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	for _, t := range []struct {
		table string
		n     *int
	}{
		{"agents", &c.Agents},
		{"devices", &c.Devices},
		{"read_batches", &c.Batches},
		{"meter_reads", &c.Reads},
		{"events", &c.Events},
		{"dead_letters", &c.DeadLetters},
	} {
		if err := db.GetContext(ctx, t.n, `SELECT COUNT(*) FROM `+t.table); err != nil {
			return Counts{}, fmt.Errorf("storetest: count %s: %w", t.table, err)
		}
	}
	return c, nil
}

// DeadLetter is a message, or a read of a batch, the collector refused.
type DeadLetter struct {
	ID         int64     `db:"id"`
	ReceivedAt time.Time `db:"received_at"`
	Topic      string    `db:"topic"`
	Reason     string    `db:"reason"`
	Payload    []byte    `db:"payload"`
	AgentID    string    `db:"agent_id"`
	// Seq and BatchKey name the read batch, when known; ReadIndex the
	// read refused alone in it.
	Seq       sql.NullInt64  `db:"seq"`
	BatchKey  sql.NullString `db:"batch_key"`
	ReadIndex sql.NullInt64  `db:"read_index"`
	// Repeats counts the times the same was refused again.
	Repeats int `db:"repeats"`
}

// DeadLetters returns the refused messages, oldest first.
func (db *DB) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	var letters []DeadLetter
	if err := db.SelectContext(ctx, &letters, `SELECT id, received_at, topic, reason, payload, agent_id, seq, batch_key, read_index, repeats
FROM dead_letters ORDER BY id`); err != nil {
		return nil, fmt.Errorf("storetest: dead letters: %w", err)
	}
	return letters, nil
}

// StoredEvent is an event of an agent, or one the collector raised about
// it (domain.EventBatchSequenceReused).
type StoredEvent struct {
	EventID string           `db:"event_id"`
	Kind    domain.EventKind `db:"kind"`
	At      time.Time        `db:"at"`
	Message string           `db:"message"`
}

// Events returns the events of an agent, oldest stored first.
func (db *DB) Events(ctx context.Context, agentID string) ([]StoredEvent, error) {
	var events []StoredEvent
	err := db.SelectContext(ctx, &events, db.Rebind(`SELECT event_id, kind, at, message FROM events WHERE agent_id = ? ORDER BY id`), agentID)
	if err != nil {
		return nil, fmt.Errorf("storetest: events of agent %s: %w", agentID, err)
	}
	return events, nil
}

// Agent is what the collector knows of an agent.
type Agent struct {
	ID        string         `db:"id"`
	Version   string         `db:"version"`
	Online    bool           `db:"online"`
	FirstSeen time.Time      `db:"first_seen"`
	LastSeen  time.Time      `db:"last_seen"`
	Status    sql.NullString `db:"status"`
}

// Agent returns the agent with the id, or an ENOTFOUND error.
func (db *DB) Agent(ctx context.Context, id string) (Agent, error) {
	var a Agent
	err := db.GetContext(ctx, &a, db.Rebind(`SELECT id, version, online, first_seen, last_seen, status FROM agents WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Agent{}, domain.Errorf(domain.ENOTFOUND, "no agent %q", id)
	}
	if err != nil {
		return Agent{}, fmt.Errorf("storetest: agent %s: %w", id, err)
	}
	return a, nil
}
