package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
)

func TestAdminTokenAndImport(t *testing.T) {
	ctx := context.Background()
	url := schematest.SQLiteURL(t)
	admin := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append([]string{"admin", "-database", url}, args...), &out, &errb)
		return out.String(), errb.String(), err
	}
	out, _, err := admin("token", "create", "--name", "erp", "--scope", "write", "--expires", "720h")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"erp", scope write`) || !strings.HasPrefix(lines[1], "mlt_") {
		t.Fatalf("token create printed %q", out)
	}
	if _, _, err := admin("token", "create", "--name", "x", "--scope", "admin"); domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("scope admin: %v, want EINVALID", err)
	}

	st, err := store.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.Authenticate(ctx, lines[1])
	if err != nil || tok.Scope != store.ScopeWrite {
		t.Fatalf("the printed secret: %+v, %v", tok, err)
	}
	if _, _, err := admin("token", "revoke", strconv.FormatInt(tok.ID, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, lines[1]); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Errorf("revoked token: %v, want EUNAUTHORIZED", err)
	}
	acc, err := st.CreateAccount(ctx, store.Account{CustomerNumber: "C1", Name: "ABC", Language: domain.LanguageEnglish})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateContract(ctx, store.Contract{Number: "K1", AccountID: acc.ID, BillingPeriod: domain.BillingQuarterly,
		BillsTotal: true, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.csv", "serial,customer_number,contract_number\nA1,C1,K1\nA2,C9,K1\nA3,C1,K1\n")
	if _, stderr, err := admin("import", "devices", bad); err == nil || !strings.Contains(stderr, "bad.csv:3: customer_number: no account has customer number C9") {
		t.Errorf("bad file: %v, stderr %q", err, stderr)
	}
	if ds, _ := st.AccountDevices(ctx, acc.ID); len(ds) != 0 {
		t.Fatalf("bad file stored %d devices", len(ds))
	}
	good := write("good.csv", "serial,customer_number,contract_number\nA1,C1,K1\nA2,C1,K1\nA3,C1,K1\n")
	if out, _, err := admin("import", "devices", good); err != nil || !strings.Contains(out, "3 devices created, 0 updated, 0 unchanged") {
		t.Errorf("good file: %v, %q", err, out)
	}
	if out, _, err := admin("import", "devices", good); err != nil || !strings.Contains(out, "0 devices created, 0 updated, 3 unchanged") {
		t.Errorf("good file again: %v, %q", err, out)
	}

	// Users: a bad line in the middle names its line and column, and
	// stores nothing; the good file creates, again changes nothing, and a
	// changed role is an update.
	bad = write("users-bad.csv", "email,customer_number,role\njean@abc.example,C1,primary\nmarie@abc.example,C1,boss\nann@abc.example,C9,delegate\n")
	_, stderr, err := admin("import", "users", bad)
	if err == nil || !strings.Contains(stderr, "users-bad.csv:3: role: \"boss\" is not primary, delegate or back_office\n") ||
		!strings.Contains(stderr, "users-bad.csv:4: customer_number: no account has customer number C9\n") {
		t.Errorf("bad users file: %v, stderr %q", err, stderr)
	}
	if ms, _ := st.Members(ctx, acc.ID); len(ms) != 0 {
		t.Fatalf("bad users file stored %d members", len(ms))
	}
	good = write("users.csv", "email,customer_number,role,name\njean@abc.example,C1,primary,Jean\nmarie@abc.example,C1,delegate,Marie\n")
	for _, want := range []string{"2 users created, 0 updated, 0 unchanged", "0 users created, 0 updated, 2 unchanged"} {
		if out, _, err := admin("import", "users", good); err != nil || !strings.Contains(out, want) {
			t.Errorf("users file: %v, %q; want %q", err, out, want)
		}
	}
	changed := write("users-changed.csv", "email,customer_number,role\nmarie@abc.example,C1,back_office\n")
	if out, _, err := admin("import", "users", changed); err != nil || !strings.Contains(out, "0 users created, 1 updated, 0 unchanged") {
		t.Errorf("changed role: %v, %q", err, out)
	}
	if _, _, err := admin("import", "printers", good); err == nil || !strings.Contains(err.Error(), "accounts, locations, contracts, devices, users, agents") {
		t.Errorf("unknown kind: %v", err)
	}
	if _, stderr, _ := admin("-h"); !strings.Contains(stderr, "agents: ") || !strings.Contains(stderr, "location_code") {
		t.Errorf("usage lacks the import formats: %q", stderr)
	}
}

// TestAdminExportBillingReads: a quarter closed on an agent's read,
// exported to standard output and to a file.
func TestAdminExportBillingReads(t *testing.T) {
	ctx := context.Background()
	url := schematest.SQLiteURL(t)
	admin := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append([]string{"admin", "-database", url}, args...), &out, &errb)
		return out.String(), errb.String(), err
	}
	storetest.Seed(t, url)
	st, err := store.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, err := st.CreateAccount(ctx, store.Account{CustomerNumber: "C1", Name: "ABC", Language: domain.LanguageEnglish})
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.CreateContract(ctx, store.Contract{Number: "K1", AccountID: acc.ID, BillingPeriod: domain.BillingQuarterly,
		BillsTotal: true, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: "A1", Model: "M404", ContractID: k.ID}, store.BySystem("test"))
	if err != nil {
		t.Fatal(err)
	}
	total := int64(4242)
	if err := storetest.AddReads(ctx, sqlx.NewDb(st.DB(), schema.DriverSQLite), d.ID, "agent-x",
		storetest.Meters{At: time.Date(2026, 3, 30, 10, 0, 0, 0, time.UTC), Total: &total}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClosePeriods(ctx, time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC), "http://portal.test"); err != nil {
		t.Fatal(err)
	}
	want := "customer_number,contract_number,serial,model,period_start,period_end,read_at,black,colour,total,source,method,flags,review\n" +
		"C1,K1,A1,M404,2026-01-01,2026-03-31,2026-03-30T10:00:00Z,,,4242,agent,,,none\n"
	out, _, err := admin("export", "billing-reads", "-period-end", "2026-03-31")
	if err != nil || out != want {
		t.Errorf("export to stdout: %v\n%s\nwant\n%s", err, out, want)
	}
	file := filepath.Join(t.TempDir(), "q1.csv")
	if _, stderr, err := admin("export", "billing-reads", "-period-end", "2026-03-31", "-o", file); err != nil || !strings.Contains(stderr, "1 billing reads") {
		t.Errorf("export to a file: %v, %q", err, stderr)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != want {
		t.Errorf("the file: %v\n%s", err, b)
	}
	for _, args := range [][]string{{"export", "billing-reads"}, {"export", "billing-reads", "-period-end", "31/03/2026"}} {
		if _, _, err := admin(args...); err == nil {
			t.Errorf("admin %v: no error", args)
		}
	}
}
