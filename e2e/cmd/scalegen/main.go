// Command scalegen fills a migrated Meterline database with a customer base
// at scale, for scale tests (issue 14): -accounts accounts, each with a
// shipping location, a contract and a primary user, -devices devices under
// contract spread over them (owner "acct:<id>", key "sn:<serial>", state
// active), and -days days of meter reads per device, -reads-per-day a day,
// whose counters only rise (black; colour for colour devices; total).
// With -supplies each read also carries toner levels that fall with the
// pages printed (every seventh mono device reports -3, "some remaining");
// with -password-hash every primary user gets that password hash, so a
// load test can sign in as primary.<seed>.<n>@scale.example.
//
//	scalegen -database postgres://postgres@127.0.0.1:5432/meterline?sslmode=disable
//	scalegen -database sqlite:/var/lib/meterline/meterline.db -accounts 20 -devices 100 -days 10
//
// The portal's wrk measurement (issue 15), one account of 500 devices with
// reads and supplies, its primary user able to sign in:
//
//	scalegen -database … -accounts 1 -devices 500 -days 30 -supplies -password-hash "$HASH"
//
// Rows go in set-based: COPY FROM STDIN (lib/pq) on PostgreSQL, meter reads
// over -workers connections at once; multi-row INSERTs in large
// transactions on SQLite. On PostgreSQL the monthly meter_reads partitions
// the reads span are created first. The schema must already be migrated
// (meterline-collector -migrate). Ids continue from the rows already there.
// The data is the same for the same -seed and -start. It prints the rows
// and rows/s of each table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalegen:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	dbURL       string
	accounts    int
	devices     int
	days        int
	readsPerDay int
	seed        uint64
	start       time.Time
	workers     int
	// supplies: reads carry toner levels; passwordHash ("" none) is set
	// on every primary user.
	supplies     bool
	passwordHash string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	var start string
	fs := flag.NewFlagSet("scalegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dbURL, "database", "", "database URL: postgres://… or sqlite:PATH (schema already migrated)")
	fs.IntVar(&o.accounts, "accounts", 10000, "accounts (one shipping location, contract and primary user each)")
	fs.IntVar(&o.devices, "devices", 100000, "devices under contract, spread over the accounts")
	fs.IntVar(&o.days, "days", 365, "days of meter reads per device")
	fs.IntVar(&o.readsPerDay, "reads-per-day", 1, "meter reads per device and day")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated data")
	fs.StringVar(&start, "start", "", "first day of reads, YYYY-MM-DD (UTC); default: -days days before today")
	fs.IntVar(&o.workers, "workers", 4, "connections copying meter reads at once (PostgreSQL; SQLite uses one)")
	fs.BoolVar(&o.supplies, "supplies", false, "reads carry toner levels (else an empty supplies list)")
	fs.StringVar(&o.passwordHash, "password-hash", "", "password hash (the portal's format) of every primary user; default none")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	switch {
	case o.dbURL == "":
		return o, errors.New("-database is required")
	case o.accounts < 1:
		return o, errors.New("-accounts must be at least 1")
	case o.devices < 0:
		return o, errors.New("-devices must not be negative")
	case o.days < 0:
		return o, errors.New("-days must not be negative")
	case o.readsPerDay < 1 || o.readsPerDay > 1440:
		return o, errors.New("-reads-per-day must be between 1 and 1440")
	case o.workers < 1:
		return o, errors.New("-workers must be at least 1")
	}
	if start == "" {
		o.start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -o.days)
	} else {
		t, err := time.Parse(time.DateOnly, start)
		if err != nil {
			return o, fmt.Errorf("-start: %w", err)
		}
		o.start = t
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	stats, err := generate(ctx, o)
	for _, s := range stats {
		rate := 0.0
		if s.elapsed > 0 {
			rate = float64(s.rows) / s.elapsed.Seconds()
		}
		fmt.Fprintf(stdout, "%-20s %12d rows %10.2fs %12.0f rows/s\n", s.table, s.rows, s.elapsed.Seconds(), rate)
	}
	if err == nil && o.passwordHash != "" {
		fmt.Fprintf(stdout, "primary users can sign in: %s … %s\n", primaryEmail(o.seed, 0), primaryEmail(o.seed, o.accounts-1))
	}
	return err
}
