package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/config"
	"github.com/meterline/meterline/portal/internal/store"
)

// adminUsage is the help of `meterline-portal admin`; the import formats
// are the store's table of import kinds.
func adminUsage() string {
	var formats strings.Builder
	for _, k := range store.ImportKinds() {
		formats.WriteString(k.Format())
	}
	return `Usage:
  meterline-portal admin [-database URL] token create -name N -scope read|write [-expires 720h]
  meterline-portal admin [-database URL] token revoke ID
  meterline-portal admin [-database URL] import KIND FILE.csv
  meterline-portal admin [-database URL] demo [-count N] [-agent ID]
  meterline-portal admin [-database URL] export billing-reads -period-end YYYY-MM-DD [-o FILE]
  meterline-portal admin hash-password < PASSWORD-FILE

The database defaults to the portal's (` + config.EnvDatabase + `, else ` + config.DefaultDatabase + `).
"token create" prints the token's secret once: it is stored hashed only.
"import" reads a CSV file of a kind, whose first line names its columns in
any order; nothing of the file is stored unless all of it is valid (every
error is printed as FILE:LINE: column: message), and importing the same
file again changes nothing. An import adds and updates, never removes; an
optional column the file leaves out keeps what is stored. The kinds, in
the order they are best imported, and their columns:
` + formats.String() + `"export billing-reads" writes the billing reads of the periods ending on
the date given (the last day of a quarter or month) as CSV, to FILE or
standard output: one line per device billed, the columns of README.md
("Billing reads"), as GET /api/v1/billing-reads.csv gives them.
"demo" loads the demo data of ` + "`make run`" + `: two accounts (FR and EN) with
locations, contracts and users, the simulated demo fleet of N printers
(default 12) under contract but one, one serial under both accounts, and
agent ID (default demo-agent) registered to the first, and a back-office
user; running it again changes nothing but the password of the demo's
sign-ins (each account's primary user and the back office), which it gives
a new random value and prints.
"hash-password" reads a password (the first line of its input) and prints
its hash in the portal's format, for scripts that load users (e.g. the
-password-hash of e2e/cmd/scalegen); it opens no database.
`
}

// runAdmin is `meterline-portal admin …`: the back office's commands over
// the same store code as the API.
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meterline-portal admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage()) }
	database := fs.String("database", "", "database URL (default: "+config.EnvDatabase+" or "+config.DefaultDatabase+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.Arg(0) == "hash-password" {
		if fs.NArg() != 1 {
			return errors.New("admin hash-password: the password is read from the input, not the arguments")
		}
		return hashPassword(os.Stdin, stdout)
	}
	if *database == "" {
		cfg, err := config.Parse(nil, os.Getenv, stderr)
		if err != nil {
			return err
		}
		*database = cfg.Database
	}
	rest := fs.Args()
	open := func() (*store.Store, error) {
		return store.Open(ctx, *database, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}
	if len(rest) > 0 && rest[0] == "demo" {
		df := flag.NewFlagSet("demo", flag.ContinueOnError)
		df.SetOutput(stderr)
		count := df.Int("count", 12, "the demo fleet's size, as meterline-printersim -count")
		agent := df.String("agent", "demo-agent", "the agent to register to the demo account")
		if err := df.Parse(rest[1:]); err != nil {
			return err
		}
		if df.NArg() != 0 {
			return errDemoUsage
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		return loadDemo(ctx, st, *count, *agent, stdout)
	}
	if len(rest) < 2 {
		fmt.Fprint(stderr, adminUsage())
		return errors.New("admin: a command is required")
	}
	switch rest[0] + " " + rest[1] {
	case "token create":
		cf := flag.NewFlagSet("token create", flag.ContinueOnError)
		cf.SetOutput(stderr)
		name := cf.String("name", "", "the token's name, e.g. the system that uses it")
		scope := cf.String("scope", "read", "read or write")
		expires := cf.Duration("expires", 0, "lifetime, e.g. 720h; 0: never expires")
		if err := cf.Parse(rest[2:]); err != nil {
			return err
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		tok, secret, err := st.CreateToken(ctx, *name, store.TokenScope(*scope), *expires)
		if err != nil {
			return err
		}
		exp := "never"
		if tok.ExpiresAt != nil {
			exp = tok.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "token %d %q, scope %s, expires %s\n%s\n", tok.ID, tok.Name, tok.Scope, exp, secret)
		fmt.Fprintln(stderr, "The secret above is shown once; it is stored hashed only.")
		return nil
	case "token revoke":
		if len(rest) != 3 {
			return errors.New("admin token revoke: one token id is required")
		}
		id, err := strconv.ParseInt(rest[2], 10, 64)
		if err != nil {
			return fmt.Errorf("admin token revoke: %q is not a token id", rest[2])
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.RevokeToken(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %d revoked\n", id)
		return nil
	}
	if rest[0] == "import" {
		return adminImport(ctx, rest[1:], open, stdout, stderr)
	}
	if rest[0]+" "+rest[1] == "export billing-reads" {
		return adminExportBillingReads(ctx, rest[2:], open, stdout, stderr)
	}
	fmt.Fprint(stderr, adminUsage())
	return fmt.Errorf("admin: unknown command %q", rest[0]+" "+rest[1])
}

// adminImport is `admin import KIND FILE.csv`: the store's import, every
// error of the file printed as FILE:LINE: column: message.
func adminImport(ctx context.Context, args []string, open func() (*store.Store, error), stdout, stderr io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("admin import: a kind (%s) and one CSV file are required", strings.Join(store.ImportKindNames(), ", "))
	}
	kind, path := args[0], args[1]
	if _, err := store.LookupImportKind(kind); err != nil {
		return fmt.Errorf("admin import: %w", err)
	}
	f, err := os.Open(path) //nolint:gosec // G304: the operator names the file to import
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := open()
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.Import(ctx, kind, f, store.BySystem("import:cli"))
	if ie, ok := store.AsImportErrors(err); ok {
		for _, e := range ie {
			if e.Field != "" {
				fmt.Fprintf(stderr, "%s:%d: %s: %s\n", path, e.Line, e.Field, e.Message)
			} else {
				fmt.Fprintf(stderr, "%s:%d: %s\n", path, e.Line, e.Message)
			}
		}
		return fmt.Errorf("%s: %d error(s); nothing was imported", path, len(ie))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d %s created, %d updated, %d unchanged\n", path, res.Created, kind, res.Updated, res.Unchanged)
	return nil
}

// adminExportBillingReads is `admin export billing-reads -period-end
// YYYY-MM-DD [-o FILE]`: the period's billing reads as CSV, the same
// bytes as the API's export.
func adminExportBillingReads(ctx context.Context, args []string, open func() (*store.Store, error), stdout, stderr io.Writer) error {
	ef := flag.NewFlagSet("export billing-reads", flag.ContinueOnError)
	ef.SetOutput(stderr)
	periodEnd := ef.String("period-end", "", "the last day of the billing period, YYYY-MM-DD")
	output := ef.String("o", "", "the file to write (default: standard output)")
	if err := ef.Parse(args); err != nil {
		return err
	}
	if *periodEnd == "" || ef.NArg() != 0 {
		return errors.New("admin export billing-reads: -period-end YYYY-MM-DD is required, and nothing else")
	}
	end, err := store.ParsePeriodEnd(*periodEnd)
	if err != nil {
		return err
	}
	st, err := open()
	if err != nil {
		return err
	}
	defer st.Close()
	reads, err := st.BillingReadsOfPeriod(ctx, end)
	if err != nil {
		return err
	}
	rows := store.ExportRows(reads)
	var buf bytes.Buffer
	if err := billing.WriteCSV(&buf, rows); err != nil {
		return err
	}
	if *output == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*output, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("admin export billing-reads: %w", err)
	}
	fmt.Fprintf(stderr, "%s: %d billing reads of the period ending %s\n", *output, len(rows), end.Format(time.DateOnly))
	return nil
}
