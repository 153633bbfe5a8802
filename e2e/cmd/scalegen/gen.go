package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/meterline/meterline/shared/redact"
	"github.com/meterline/meterline/shared/schema"
)

// tableStat is what was written to one table.
type tableStat struct {
	table   string
	rows    int64
	elapsed time.Duration
}

// readAgent is the agent_id of every generated read (meter_reads has no
// foreign key on it).
const readAgent = "scalegen"

// devicesPerChunk is how many devices' reads one transaction writes.
const devicesPerChunk = 1000

// generator holds what every table's rows are derived from.
type generator struct {
	o       options
	dialect schema.Dialect
	db      *sql.DB
	// Ids already taken: generated ids continue after them.
	accountBase, locationBase, contractBase, userBase, deviceBase int64
	created                                                       time.Time
}

func generate(ctx context.Context, o options) ([]tableStat, error) {
	src, err := schema.ParseSource(o.dbURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(src.Driver, src.DSN)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redact.URL(o.dbURL), err)
	}
	defer db.Close()
	if src.Dialect == schema.SQLite {
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(o.workers + 1)
	}
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact.URL(o.dbURL), err)
	}
	if v, err := schema.Version(ctx, db); err != nil {
		return nil, err
	} else if v == 0 {
		return nil, fmt.Errorf("%s is not migrated: the schema must already be migrated (run meterline-collector -migrate)", redact.URL(o.dbURL))
	}
	if err := schema.Check(ctx, db, src.Dialect); err != nil {
		return nil, fmt.Errorf("the schema must already be migrated: %w", err)
	}
	g := &generator{o: o, dialect: src.Dialect, db: db, created: o.start.AddDate(0, 0, -30)}
	for _, b := range []struct {
		table string
		base  *int64
	}{
		{"accounts", &g.accountBase}, {"shipping_locations", &g.locationBase},
		{"contracts", &g.contractBase}, {"users", &g.userBase}, {"devices", &g.deviceBase},
	} {
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM `+b.table).Scan(b.base); err != nil {
			return nil, fmt.Errorf("read the ids of %s: %w", b.table, err)
		}
	}

	var stats []tableStat
	t0 := time.Now()
	customer, err := g.customers(ctx)
	if err != nil {
		return stats, err
	}
	// The customer tables go in one transaction: their time is shared.
	elapsed := time.Since(t0)
	for _, s := range customer {
		stats = append(stats, tableStat{table: s.table, rows: s.rows, elapsed: elapsed})
	}
	t0 = time.Now()
	n, err := g.writeDevices(ctx)
	stats = append(stats, tableStat{table: "devices", rows: n, elapsed: time.Since(t0)})
	if err != nil {
		return stats, err
	}
	if g.dialect == schema.Postgres {
		if err := g.partitions(ctx); err != nil {
			return stats, err
		}
	}
	t0 = time.Now()
	n, err = g.writeReads(ctx)
	stats = append(stats, tableStat{table: "meter_reads", rows: n, elapsed: time.Since(t0)})
	return stats, err
}

// sink takes the rows of one table within a transaction.
type sink interface {
	add(args ...any) error
	close() error
}

func (g *generator) sink(ctx context.Context, tx *sql.Tx, table string, cols ...string) (sink, error) {
	if g.dialect == schema.Postgres {
		// table and cols are this file's constants, never input.
		q := "COPY " + table + " (" + strings.Join(cols, ", ") + ") FROM STDIN" //nolint:gosec // G202: constant table and column names
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("copy into %s: %w", table, err)
		}
		return &copySink{ctx: ctx, table: table, stmt: stmt}, nil
	}
	return &insertSink{ctx: ctx, tx: tx, table: table, cols: cols}, nil
}

// copySink sends rows in one COPY … FROM STDIN (lib/pq).
type copySink struct {
	ctx   context.Context
	table string
	stmt  *sql.Stmt
}

func (s *copySink) add(args ...any) error {
	if _, err := s.stmt.ExecContext(s.ctx, args...); err != nil {
		return fmt.Errorf("copy into %s: %w", s.table, err)
	}
	return nil
}

func (s *copySink) close() error {
	// The call without arguments ends the COPY and reports its outcome.
	_, err := s.stmt.ExecContext(s.ctx)
	if cerr := s.stmt.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy into %s: %w", s.table, err)
	}
	return nil
}

// sqliteMaxArgs stays under SQLite's limit of bound parameters per
// statement (32766).
const sqliteMaxArgs = 32000

// insertSink sends rows in multi-row INSERTs.
type insertSink struct {
	ctx   context.Context
	tx    *sql.Tx
	table string
	cols  []string
	args  []any
	stmt  *sql.Stmt
	// stmtRows is how many rows stmt inserts.
	stmtRows int
}

func (s *insertSink) perStmt() int { return max(1, sqliteMaxArgs/len(s.cols)) }

func (s *insertSink) add(args ...any) error {
	if len(args) != len(s.cols) {
		return fmt.Errorf("insert into %s: %d values for %d columns", s.table, len(args), len(s.cols))
	}
	s.args = append(s.args, args...)
	if len(s.args)/len(s.cols) >= s.perStmt() {
		return s.flush()
	}
	return nil
}

func (s *insertSink) flush() error {
	rows := len(s.args) / len(s.cols)
	if rows == 0 {
		return nil
	}
	if s.stmt == nil || s.stmtRows != rows {
		if s.stmt != nil {
			s.stmt.Close()
		}
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(s.cols)), ", ") + ")"
		values := strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
		q := "INSERT INTO " + s.table + " (" + strings.Join(s.cols, ", ") + ") VALUES " + values //nolint:gosec // G202: constant table and column names, values bound
		stmt, err := s.tx.PrepareContext(s.ctx, q)
		if err != nil {
			return fmt.Errorf("insert into %s: %w", s.table, err)
		}
		s.stmt, s.stmtRows = stmt, rows
	}
	if _, err := s.stmt.ExecContext(s.ctx, s.args...); err != nil {
		return fmt.Errorf("insert into %s: %w", s.table, err)
	}
	s.args = s.args[:0]
	return nil
}

func (s *insertSink) close() error {
	err := s.flush()
	if s.stmt != nil {
		s.stmt.Close()
	}
	return err
}

// inTx runs f in a transaction and commits it.
func (g *generator) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Ids of account a (0-based) and of what belongs to it.
func (g *generator) accountID(a int) int64  { return g.accountBase + int64(a) + 1 }
func (g *generator) locationID(a int) int64 { return g.locationBase + int64(a) + 1 }
func (g *generator) contractID(a int) int64 { return g.contractBase + int64(a) + 1 }
func (g *generator) userID(a int) int64     { return g.userBase + int64(a) + 1 }

var cities = []struct{ city, province, postal string }{
	{"Montréal", "QC", "H2X 1Y4"}, {"Québec", "QC", "G1R 4P5"}, {"Laval", "QC", "H7N 5H2"},
	{"Gatineau", "QC", "J8X 3X7"}, {"Sherbrooke", "QC", "J1H 1Z3"}, {"Ottawa", "ON", "K1P 5J2"},
	{"Toronto", "ON", "M5H 2N2"},
}

// customers writes accounts, shipping locations, contracts, users and
// their memberships.
func (g *generator) customers(ctx context.Context) ([]tableStat, error) {
	stats := []tableStat{{table: "accounts"}, {table: "shipping_locations"}, {table: "contracts"}, {table: "users"}, {table: "memberships"}}
	err := g.inTx(ctx, func(tx *sql.Tx) error {
		// One table after the other: a connection runs one COPY at a time.
		specs := [][]string{
			{"accounts", "id", "customer_number", "name", "language", "created_at"},
			{"shipping_locations", "id", "account_id", "attention", "suite", "phone", "company", "street", "city", "province", "postal_code", "country", "created_at"},
			{"contracts", "id", "number", "account_id", "billing_period", "bills_black", "bills_colour", "bills_total", "start_date", "expected_monthly_volume", "created_at"},
			{"users", "id", "email", "name", "phone", "language", "password_hash", "created_at"},
			{"memberships", "user_id", "account_id", "role", "created_at"},
		}
		tables := make([][][]any, len(specs))
		for a := 0; a < g.o.accounts; a++ {
			for i, row := range g.account(a) {
				tables[i] = append(tables[i], row)
			}
		}
		for i, sp := range specs {
			s, err := g.sink(ctx, tx, sp[0], sp[1:]...)
			if err != nil {
				return err
			}
			for _, row := range tables[i] {
				if err := s.add(row...); err != nil {
					return err
				}
				stats[i].rows++
			}
			if err := s.close(); err != nil {
				return err
			}
		}
		return g.resetSequences(ctx, tx, "accounts", "shipping_locations", "contracts", "users")
	})
	return stats, err
}

// account returns the rows of account a (0-based): the account, its
// shipping location, contract, primary user and membership.
func (g *generator) account(a int) [][]any {
	r := rand.New(rand.NewPCG(g.o.seed, uint64(a)<<1|1)) //nolint:gosec // G404: test data, reproducible from -seed
	id := g.accountID(a)
	lang := "fr"
	if r.IntN(4) == 0 {
		lang = "en"
	}
	name := fmt.Sprintf("Scale account %d-%d", g.o.seed, a+1)
	c := cities[r.IntN(len(cities))]
	period := "quarterly"
	if r.IntN(3) == 0 {
		period = "monthly"
	}
	var passwordHash sql.NullString
	if g.o.passwordHash != "" {
		passwordHash = sql.NullString{String: g.o.passwordHash, Valid: true}
	}
	return [][]any{
		{id, fmt.Sprintf("SG%d-%07d", g.o.seed, a+1), name, lang, g.created},
		{g.locationID(a), id, "Receiving", "", fmt.Sprintf("514-555-%04d", a%10000), name,
			fmt.Sprintf("%d rue Principale", 1+r.IntN(9999)), c.city, c.province, c.postal, "CA", g.created},
		{g.contractID(a), fmt.Sprintf("SGC%d-%07d", g.o.seed, a+1), id, period, true, true, true,
			g.created, int64(1000 + r.IntN(50000)), g.created},
		{g.userID(a), primaryEmail(g.o.seed, a), "Primary " + name, "", lang, passwordHash, g.created},
		{g.userID(a), id, "primary", g.created},
	}
}

// primaryEmail is the e-mail address of account a's primary user (0-based).
func primaryEmail(seed uint64, a int) string {
	return fmt.Sprintf("primary.%d.%d@scale.example", seed, a+1)
}

// resetSequences moves the id sequences of PostgreSQL tables past the ids
// written (SQLite's AUTOINCREMENT follows explicit ids by itself).
func (g *generator) resetSequences(ctx context.Context, tx *sql.Tx, tables ...string) error {
	if g.dialect != schema.Postgres {
		return nil
	}
	for _, t := range tables {
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM %s`, t, t) //nolint:gosec // G201: constant table names
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("reset the id sequence of %s: %w", t, err)
		}
	}
	return nil
}

// device is what a device's rows are derived from.
type device struct {
	index               int
	id                  int64
	account             int
	colour              bool
	serial, model       string
	black0, colour0     int64
	blackDay, colourDay int
	offset              time.Duration // of each read within its slot
	slot                time.Duration
}

var (
	monoModels   = []string{"HP LaserJet M507", "Brother HL-L6200DW", "Lexmark MS622de", "Kyocera ECOSYS P3155dn"}
	colourModels = []string{"HP Color LaserJet MFP M578", "Canon imageRUNNER ADVANCE C3530i", "Xerox VersaLink C405", "Ricoh IM C3000"}
)

// newDevice returns device i's parameters (0-based).
func (g *generator) newDevice(i int) device {
	r := rand.New(rand.NewPCG(g.o.seed, uint64(i)<<1)) //nolint:gosec // G404: test data, reproducible from -seed
	d := device{index: i, id: g.deviceBase + int64(i) + 1, account: i % g.o.accounts}
	d.colour = r.IntN(10) < 4
	if d.colour {
		d.model = colourModels[r.IntN(len(colourModels))]
		d.colour0 = r.Int64N(100000)
		d.colourDay = 10 + r.IntN(300)
	} else {
		d.model = monoModels[r.IntN(len(monoModels))]
	}
	d.black0 = r.Int64N(500000)
	d.blackDay = 20 + r.IntN(600)
	d.serial = fmt.Sprintf("SGS%dN%08d", g.o.seed, i+1)
	d.slot = 24 * time.Hour / time.Duration(g.o.readsPerDay)
	d.offset = time.Duration(r.Int64N(int64(d.slot/time.Second))) * time.Second
	return d
}

// replenishment is d's auto-replenishment state: a quarter active, a
// tenth ineligible, the rest eligible.
func (d device) replenishment() string {
	switch {
	case d.index%4 == 0:
		return "active"
	case d.index%10 == 9:
		return "ineligible"
	}
	return "eligible"
}

// reads calls emit for each read of d, oldest first, with counters that
// never go down; colour is -1 for a mono device.
func (g *generator) reads(d device, emit func(seq int64, at time.Time, black, colour int64) error) error {
	r := rand.New(rand.NewPCG(g.o.seed^0x9e3779b97f4a7c15, uint64(d.index))) //nolint:gosec // G404: test data, reproducible from -seed
	black, colour := d.black0, d.colour0
	n := int64(g.o.days) * int64(g.o.readsPerDay)
	for k := int64(0); k < n; k++ {
		at := g.o.start.Add(time.Duration(k)*d.slot + d.offset)
		black += int64(r.IntN(2*d.blackDay/g.o.readsPerDay + 1))
		c := int64(-1)
		if d.colour {
			colour += int64(r.IntN(2*d.colourDay/g.o.readsPerDay + 1))
			c = colour
		}
		if err := emit(k+1, at, black, c); err != nil {
			return err
		}
	}
	return nil
}

// writeDevices writes every device, with its latest read's counters.
func (g *generator) writeDevices(ctx context.Context) (int64, error) {
	var n int64
	err := g.inTx(ctx, func(tx *sql.Tx) error {
		s, err := g.sink(ctx, tx, "devices", "id", "device_key", "serial", "vendor", "model", "account_id",
			"first_seen", "last_seen", "last_read_at", "last_total", "last_black", "last_colour",
			"product_code", "contract_id", "location_id", "read_contact_id", "state", "replenishment", "owner")
		if err != nil {
			return err
		}
		for i := 0; i < g.o.devices; i++ {
			if i%1000 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			d := g.newDevice(i)
			var lastAt sql.NullTime
			var total, black, colour sql.NullInt64
			_ = g.reads(d, func(_ int64, at time.Time, b, c int64) error {
				lastAt = sql.NullTime{Time: at, Valid: true}
				black = sql.NullInt64{Int64: b, Valid: true}
				total = sql.NullInt64{Int64: b, Valid: true}
				if c >= 0 {
					colour = sql.NullInt64{Int64: c, Valid: true}
					total.Int64 += c
				}
				return nil
			})
			lastSeen := g.created
			if lastAt.Valid {
				lastSeen = lastAt.Time
			}
			vendor, _, _ := strings.Cut(d.model, " ")
			acct := g.accountID(d.account)
			if err := s.add(d.id, "sn:"+d.serial, d.serial, vendor, d.model, acct,
				g.created, lastSeen, lastAt, total, black, colour,
				"P"+strconv.Itoa(len(d.model)), g.contractID(d.account), g.locationID(d.account), g.userID(d.account),
				"active", d.replenishment(), "acct:"+strconv.FormatInt(acct, 10)); err != nil {
				return err
			}
			n++
		}
		if err := s.close(); err != nil {
			return err
		}
		return g.resetSequences(ctx, tx, "devices")
	})
	return n, err
}

// partitions creates the monthly meter_reads partitions the reads span.
func (g *generator) partitions(ctx context.Context) error {
	end := g.o.start.AddDate(0, 0, g.o.days)
	if _, err := g.db.ExecContext(ctx, `SELECT meterline_create_meter_read_partitions($1, $2)`, g.o.start, end); err != nil {
		return fmt.Errorf("create the meter_reads partitions: %w", err)
	}
	return nil
}

// writeReads writes every device's reads, devicesPerChunk devices a
// transaction, over -workers connections on PostgreSQL.
func (g *generator) writeReads(ctx context.Context) (int64, error) {
	workers := g.o.workers
	if g.dialect == schema.SQLite {
		workers = 1
	}
	chunks := make(chan int)
	var (
		mu    sync.Mutex
		total int64
		first error
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := range chunks {
				n, err := g.writeChunk(ctx, from, min(from+devicesPerChunk, g.o.devices))
				mu.Lock()
				total += n
				if err != nil && first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for from := 0; from < g.o.devices; from += devicesPerChunk {
		select {
		case chunks <- from:
		case <-ctx.Done():
			break feed
		}
	}
	close(chunks)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return total, first
}

// writeChunk writes the reads of devices [from, to) in one transaction.
func (g *generator) writeChunk(ctx context.Context, from, to int) (int64, error) {
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	var n int64
	err := g.inTx(ctx, func(tx *sql.Tx) error {
		s, err := g.sink(ctx, tx, "meter_reads", "device_id", "read_at", "agent_id", "seq",
			"total", "black", "colour", "counters", "supplies", "stored_at")
		if err != nil {
			return err
		}
		var buf, sbuf []byte
		for i := from; i < to; i++ {
			d := g.newDevice(i)
			err := g.reads(d, func(seq int64, at time.Time, black, colour int64) error {
				total := black
				var c sql.NullInt64
				buf = append(buf[:0], `[{"kind":"black","value":`...)
				buf = strconv.AppendInt(buf, black, 10)
				if colour >= 0 {
					total += colour
					c = sql.NullInt64{Int64: colour, Valid: true}
					buf = append(buf, `},{"kind":"colour","value":`...)
					buf = strconv.AppendInt(buf, colour, 10)
				}
				buf = append(buf, `},{"kind":"total","value":`...)
				buf = strconv.AppendInt(buf, total, 10)
				buf = append(buf, `}]`...)
				n++
				supplies := "[]"
				if g.o.supplies {
					sbuf = d.appendSupplies(sbuf[:0], black, colour)
					supplies = string(sbuf)
				}
				return s.add(d.id, at, readAgent, seq, total, black, c, string(buf), supplies, at)
			})
			if err != nil {
				return err
			}
		}
		return s.close()
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Toner yields, in pages, of the generated supplies.
const (
	blackYield  = 12000
	colourYield = 8000
)

// appendSupplies appends the supplies of a read of d at those counters,
// as wire.Supply JSON: toner levels fall with the pages printed since the
// last cartridge change (one each yield); colour is -1 for a mono device.
// Every seventh mono device reports -3, "some remaining", as some do.
func (d device) appendSupplies(buf []byte, black, colour int64) []byte {
	buf = append(buf, '[')
	if !d.colour && d.index%7 == 6 {
		buf = append(buf, `{"index":1,"description":"Black Toner","kind":"toner","colour":"black","level":-3,"capacity":-2,"state":"some_remaining"}`...)
		return append(buf, ']')
	}
	buf = appendToner(buf, 1, "black", black, blackYield)
	if colour >= 0 {
		// The colour pages share out over cyan, magenta and yellow, each
		// cartridge changed at its own time.
		for i, c := range []string{"cyan", "magenta", "yellow"} {
			buf = append(buf, ',')
			buf = appendToner(buf, i+2, c, colour+int64(i)*colourYield/3, colourYield)
		}
	}
	return append(buf, ']')
}

// appendToner appends a measured toner whose level is what is left of a
// cartridge of yield pages after pages printed.
func appendToner(buf []byte, index int, colour string, pages, yield int64) []byte {
	left := 100 - (pages%yield)*100/yield
	buf = append(buf, `{"index":`...)
	buf = strconv.AppendInt(buf, int64(index), 10)
	buf = append(buf, `,"description":"`...)
	buf = append(buf, strings.ToUpper(colour[:1])+colour[1:]...)
	buf = append(buf, ` Toner","kind":"toner","colour":"`...)
	buf = append(buf, colour...)
	buf = append(buf, `","level":`...)
	buf = strconv.AppendInt(buf, left, 10)
	buf = append(buf, `,"capacity":100,"unit":"percent","state":"measured","percent":`...)
	buf = strconv.AppendInt(buf, left, 10)
	return append(buf, '}')
}
