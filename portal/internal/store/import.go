package store

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
)

// The CSV imports of the back office: the supplier's systems export
// accounts, locations, contracts, devices, users and agents, and a file of
// any kind goes through the one machinery here. A file's first line names
// its columns, in any order; every error of the file is reported with its
// line and column; nothing of a file is stored unless all of it is valid;
// importing the same file again changes nothing. An import adds and
// updates, it never removes; an optional column a file leaves out keeps
// what is stored. The kinds and their columns are the table
// importKinds (import_kinds.go), which is also the documented format.

// ImportColumn is one column of a kind of import file.
type ImportColumn struct {
	Name     string
	Required bool
	Doc      string
}

// ImportKind is one kind of import file: the export of one entity.
type ImportKind struct {
	Name    string
	Doc     string
	Columns []ImportColumn
	// keyColumns name a line's key: two lines of a file with one key are
	// an error, reported on the first of these columns.
	keyColumns []string
	// parser returns the check of the lines of one file. It may remember
	// earlier lines (a user on two lines must be the same user).
	parser func() lineParser
}

// lineParser checks the values of a line without the database and returns
// its key (normalised; "" for none) and the step that stores it. It
// reports errors with l.fail; a line with errors is not stored.
type lineParser func(l *csvLine) (key string, step importStep)

// importStep stores a line in tx, a savepoint of its own: what it did, or
// the field (column) of the error that stops it.
type importStep func(ctx context.Context, s *Store, tx *sqlx.Tx, by Actor) (importOutcome, *rowError)

// importOutcome is what storing a line did.
type importOutcome int

const (
	unchanged importOutcome = iota
	created
	updated
)

// rowError is an error of one line and the column it is in ("" for the
// whole line). An error whose code is EINTERNAL aborts the import.
type rowError struct {
	field string
	err   error
}

// ImportError is one error of an imported file: its line (1 is the header)
// and the column it is in ("" for the whole line).
type ImportError struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ImportErrors are every error of a file; nothing of it was stored.
type ImportErrors []ImportError

func (e ImportErrors) Error() string {
	var b strings.Builder
	for i, x := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x.String())
	}
	return b.String()
}

// String is the error as "line N, field: message".
func (e ImportError) String() string {
	if e.Field != "" {
		return fmt.Sprintf("line %d, %s: %s", e.Line, e.Field, e.Message)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Message)
}

// AsImportErrors returns the import errors err carries, if any.
func AsImportErrors(err error) (ImportErrors, bool) {
	var ie ImportErrors
	if errors.As(err, &ie) {
		return ie, true
	}
	return nil, false
}

// ImportResult counts what an import did, one count per line.
type ImportResult struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// ImportKinds returns the kinds of import file, in the order they are
// best imported (an account before its locations, and so on).
func ImportKinds() []ImportKind {
	return append([]ImportKind(nil), importKinds...)
}

// ImportKindNames are the names of the kinds of import file.
func ImportKindNames() []string {
	names := make([]string, len(importKinds))
	for i, k := range importKinds {
		names[i] = k.Name
	}
	return names
}

// LookupImportKind returns the kind of import file of a name (ENOTFOUND,
// naming the kinds there are, when there is none).
func LookupImportKind(name string) (ImportKind, error) {
	for _, k := range importKinds {
		if k.Name == name {
			return k, nil
		}
	}
	return ImportKind{}, domain.Errorf(domain.ENOTFOUND, "no import of kind %q; the kinds are %s", name, strings.Join(ImportKindNames(), ", "))
}

// Format is the documented format of the kind: its columns, one a line.
func (k ImportKind) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", k.Name, k.Doc)
	for _, c := range k.Columns {
		need := "optional"
		if c.Required {
			need = "required"
		}
		fmt.Fprintf(&b, "  %-24s %-9s %s\n", c.Name, need, c.Doc)
	}
	return b.String()
}

// Import stores a CSV file of a kind (ImportKinds), all in one
// transaction, as the actor: when any line is wrong, nothing is stored and
// the error, EINVALID, carries ImportErrors naming every wrong line and
// field. An unknown kind is ENOTFOUND.
func (s *Store) Import(ctx context.Context, kind string, r io.Reader, by Actor) (ImportResult, error) {
	k, err := LookupImportKind(kind)
	if err != nil {
		return ImportResult{}, err
	}
	if err := by.check(); err != nil {
		return ImportResult{}, err
	}
	res, err := s.importFile(ctx, k, r, by)
	if err != nil {
		return ImportResult{}, fmt.Errorf("store: import %s: %w", k.Name, err)
	}
	return res, nil
}

// ImportDevices is Import of a devices file.
func (s *Store) ImportDevices(ctx context.Context, r io.Reader, by Actor) (ImportResult, error) {
	return s.Import(ctx, "devices", r, by)
}

// parsedLine is a line ready to store.
type parsedLine struct {
	n    int
	step importStep
}

func (s *Store) importFile(ctx context.Context, k ImportKind, r io.Reader, by Actor) (ImportResult, error) {
	lines, errs := parseCSV(k, r)
	if len(errs) > 0 && len(lines) == 0 {
		return ImportResult{}, importFailed(errs)
	}
	var res ImportResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res = ImportResult{}
		for _, line := range lines {
			// A savepoint per line: on PostgreSQL a statement that fails
			// aborts the transaction, and the next lines must still be
			// checked, so that one answer names every error of the file.
			if _, err := tx.ExecContext(ctx, `SAVEPOINT import_line`); err != nil {
				return fmt.Errorf("line %d: savepoint: %w", line.n, err)
			}
			outcome, rerr := line.step(ctx, s, tx, by)
			end := `RELEASE SAVEPOINT import_line`
			if rerr != nil {
				end = `ROLLBACK TO SAVEPOINT import_line`
			}
			if _, err := tx.ExecContext(ctx, end); err != nil {
				return fmt.Errorf("line %d: %s: %w", line.n, end, err)
			}
			switch {
			case rerr != nil && domain.ErrorCode(rerr.err) == domain.EINTERNAL:
				return fmt.Errorf("line %d: %w", line.n, rerr.err)
			case rerr != nil:
				errs = append(errs, ImportError{Line: line.n, Field: rerr.field, Message: domain.ErrorMessage(rerr.err)})
			case outcome == created:
				res.Created++
			case outcome == updated:
				res.Updated++
			default:
				res.Unchanged++
			}
		}
		if len(errs) > 0 {
			sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
			return importFailed(errs)
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func importFailed(errs ImportErrors) error {
	return fmt.Errorf("%w: %w", domain.Errorf(domain.EINVALID, "%d error(s) in the file; nothing was imported", len(errs)), errs)
}

// csvLine is one line of a file as a kind's parser sees it.
type csvLine struct {
	n    int
	rec  []string
	col  map[string]int // column name → index + 1
	errs ImportErrors
}

// get is the value of a column on the line, trimmed; "" when the file
// has no such column.
func (l *csvLine) get(c string) string {
	if i := l.col[c]; i != 0 {
		return strings.TrimSpace(l.rec[i-1])
	}
	return ""
}

// has reports whether the file has a column: an optional column the file
// leaves out keeps what is stored.
func (l *csvLine) has(c string) bool { return l.col[c] != 0 }

// fail reports an error of the line in a column.
func (l *csvLine) fail(field, format string, args ...any) {
	l.errs = append(l.errs, ImportError{Line: l.n, Field: field, Message: fmt.Sprintf(format, args...)})
}

// parseCSV reads the file's header and lines and checks them with the
// kind's parser, without the database: the lines to store, and the
// errors found. A line with an error is not among the lines to store.
func parseCSV(k ImportKind, r io.Reader) ([]parsedLine, ImportErrors) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, ImportErrors{{Line: 1, Message: "no header line: " + csvMessage(err)}}
	}
	col := map[string]int{}
	var errs ImportErrors
	known := map[string]bool{}
	names := make([]string, len(k.Columns))
	for i, c := range k.Columns {
		known[c.Name], names[i] = true, c.Name
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !known[h]:
			errs = append(errs, ImportError{Line: 1, Field: h, Message: fmt.Sprintf("unknown column (the %s columns are %s)", k.Name, strings.Join(names, ", "))})
		case col[h] != 0:
			errs = append(errs, ImportError{Line: 1, Field: h, Message: "column given twice"})
		default:
			col[h] = i + 1
		}
	}
	for _, c := range k.Columns {
		if c.Required && col[c.Name] == 0 {
			errs = append(errs, ImportError{Line: 1, Field: c.Name, Message: "required column missing"})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	parse := k.parser()
	var lines []parsedLine
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		n, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				n = pe.Line
			}
			errs = append(errs, ImportError{Line: n, Message: csvMessage(err)})
			if pe == nil {
				break
			}
			continue
		}
		if len(rec) != len(header) {
			errs = append(errs, ImportError{Line: n, Message: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		l := &csvLine{n: n, rec: rec, col: col}
		for _, c := range k.Columns {
			if c.Required && l.get(c.Name) == "" {
				l.fail(c.Name, "required")
			}
		}
		key, step := parse(l)
		if key != "" {
			if first, dup := seen[key]; dup {
				l.fail(k.keyColumns[0], "%s also on line %d", describeKey(l, k.keyColumns), first)
			} else {
				seen[key] = n
			}
		}
		errs = append(errs, l.errs...)
		if len(l.errs) == 0 {
			lines = append(lines, parsedLine{n: n, step: step})
		}
	}
	return lines, errs
}

// describeKey names a line's key: "serial X is", "code X, customer_number
// Y are".
func describeKey(l *csvLine, columns []string) string {
	parts := make([]string, len(columns))
	for i, c := range columns {
		parts[i] = c + " " + l.get(c)
	}
	if len(parts) == 1 {
		return parts[0] + " is"
	}
	return strings.Join(parts, ", ") + " are"
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	if errors.Is(err, io.EOF) {
		return "the file is empty"
	}
	return err.Error()
}
