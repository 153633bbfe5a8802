package store

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// DeviceCSVColumns are the columns of a devices CSV file (the supplier's
// export), named on its first line in any order:
//
//	serial           required; matched as the collector keys it (case, padding)
//	model            optional; the model the device reports wins
//	product_code     optional, e.g. MX1
//	customer_number  required; the account
//	contract_number  required; a contract of that account
//	location_id      optional; a shipping location of that account
//	replenishment    optional: eligible (default), active or ineligible
//
// A device already under the same contract with the same values is left
// alone, so importing a file twice changes nothing.
var DeviceCSVColumns = []string{"serial", "model", "product_code", "customer_number", "contract_number", "location_id", "replenishment"}

var requiredDeviceColumns = map[string]bool{"serial": true, "customer_number": true, "contract_number": true}

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
		if x.Field != "" {
			fmt.Fprintf(&b, "line %d, %s: %s", x.Line, x.Field, x.Message)
		} else {
			fmt.Fprintf(&b, "line %d: %s", x.Line, x.Message)
		}
	}
	return b.String()
}

// AsImportErrors returns the import errors err carries, if any.
func AsImportErrors(err error) (ImportErrors, bool) {
	var ie ImportErrors
	if errors.As(err, &ie) {
		return ie, true
	}
	return nil, false
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created   int `json:"created"`
	Unchanged int `json:"unchanged"`
}

type csvDeviceRow struct {
	line                           int
	serial, model, product         string
	customer, contract, locationID string
	replenishment                  domain.ReplenishmentState
}

// ImportDevices puts the devices of a CSV file (DeviceCSVColumns) under
// contract, all in one transaction: when any line is wrong, nothing is
// stored and the error, EINVALID, carries ImportErrors naming every wrong
// line and field.
func (s *Store) ImportDevices(ctx context.Context, r io.Reader, by Actor) (ImportResult, error) {
	if err := by.check(); err != nil {
		return ImportResult{}, err
	}
	rows, errs := parseDeviceCSV(r)
	if len(errs) > 0 && len(rows) == 0 {
		return ImportResult{}, importFailed(errs)
	}
	// Lines with errors already are skipped; the others are still checked
	// against the database, so one answer names every error of the file.
	bad := map[int]bool{}
	for _, e := range errs {
		bad[e.Line] = true
	}
	var res ImportResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res = ImportResult{}
		for _, row := range rows {
			if bad[row.line] {
				continue
			}
			// A savepoint per line: on PostgreSQL a statement that fails
			// aborts the transaction, and the next lines must still be
			// checked.
			if _, err := tx.ExecContext(ctx, `SAVEPOINT import_line`); err != nil {
				return fmt.Errorf("line %d: savepoint: %w", row.line, err)
			}
			created, ierr := s.importDevice(ctx, tx, row, by)
			end := `RELEASE SAVEPOINT import_line`
			if ierr != nil {
				end = `ROLLBACK TO SAVEPOINT import_line`
			}
			if _, err := tx.ExecContext(ctx, end); err != nil {
				return fmt.Errorf("line %d: %s: %w", row.line, end, err)
			}
			switch {
			case ierr != nil && domain.ErrorCode(ierr.err) == domain.EINTERNAL:
				return fmt.Errorf("line %d: %w", row.line, ierr.err)
			case ierr != nil:
				errs = append(errs, ImportError{Line: row.line, Field: ierr.field, Message: domain.ErrorMessage(ierr.err)})
			case created:
				res.Created++
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
		return ImportResult{}, fmt.Errorf("store: import devices: %w", err)
	}
	return res, nil
}

func importFailed(errs ImportErrors) error {
	return fmt.Errorf("%w: %w", domain.Errorf(domain.EINVALID, "%d error(s) in the file; nothing was imported", len(errs)), errs)
}

// parseDeviceCSV reads and checks the file's shape and values, without the
// database.
func parseDeviceCSV(r io.Reader) ([]csvDeviceRow, ImportErrors) {
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
	for _, c := range DeviceCSVColumns {
		known[c] = true
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !known[h]:
			errs = append(errs, ImportError{Line: 1, Field: h, Message: fmt.Sprintf("unknown column (known: %s)", strings.Join(DeviceCSVColumns, ", "))})
		case col[h] != 0:
			errs = append(errs, ImportError{Line: 1, Field: h, Message: "column given twice"})
		default:
			col[h] = i + 1
		}
	}
	for _, c := range DeviceCSVColumns {
		if requiredDeviceColumns[c] && col[c] == 0 {
			errs = append(errs, ImportError{Line: 1, Field: c, Message: "required column missing"})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var rows []csvDeviceRow
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			errs = append(errs, ImportError{Line: line, Message: csvMessage(err)})
			if pe == nil {
				break
			}
			continue
		}
		if len(rec) != len(header) {
			errs = append(errs, ImportError{Line: line, Message: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		get := func(c string) string {
			if i := col[c]; i != 0 {
				return strings.TrimSpace(rec[i-1])
			}
			return ""
		}
		row := csvDeviceRow{line: line, serial: get("serial"), model: get("model"), product: get("product_code"),
			customer: get("customer_number"), contract: get("contract_number"), locationID: get("location_id"),
			replenishment: domain.ReplenishmentState(get("replenishment"))}
		for _, c := range DeviceCSVColumns {
			if requiredDeviceColumns[c] && get(c) == "" {
				errs = append(errs, ImportError{Line: line, Field: c, Message: "required"})
			}
		}
		if row.serial != "" && serialKey(row.serial) == "" {
			errs = append(errs, ImportError{Line: line, Field: "serial", Message: "blank once normalised"})
		}
		if k := serialKey(row.serial); k != "" {
			if first, dup := seen[k]; dup {
				errs = append(errs, ImportError{Line: line, Field: "serial", Message: fmt.Sprintf("serial %s is also on line %d", row.serial, first)})
			} else {
				seen[k] = line
			}
		}
		if row.locationID != "" {
			if _, err := strconv.ParseInt(row.locationID, 10, 64); err != nil {
				errs = append(errs, ImportError{Line: line, Field: "location_id", Message: fmt.Sprintf("%q is not a location id", row.locationID)})
			}
		}
		if row.replenishment == "" {
			row.replenishment = domain.ReplenishmentEligible
		} else if !row.replenishment.Valid() {
			errs = append(errs, ImportError{Line: line, Field: "replenishment", Message: fmt.Sprintf("%q is not eligible, active or ineligible", row.replenishment)})
		}
		rows = append(rows, row)
	}
	return rows, errs
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

// rowError is an error of one row and the field it is in.
type rowError struct {
	field string
	err   error
}

// importDevice stores one row in tx; created is false when the device was
// already under that contract with those values.
func (s *Store) importDevice(ctx context.Context, tx *sqlx.Tx, row csvDeviceRow, by Actor) (created bool, _ *rowError) {
	var accountID int64
	if err := tx.GetContext(ctx, &accountID, tx.Rebind(`SELECT id FROM accounts WHERE customer_number = ?`), row.customer); err != nil {
		return false, &rowError{"customer_number", notFound(err, "no account has customer number %s", row.customer)}
	}
	var contractID int64
	if err := tx.GetContext(ctx, &contractID, tx.Rebind(`SELECT id FROM contracts WHERE number = ? AND account_id = ?`), row.contract, accountID); err != nil {
		return false, &rowError{"contract_number", notFound(err, "account %s has no contract %s", row.customer, row.contract)}
	}
	d := ContractedDevice{Key: serialKey(row.serial), Serial: wire.NormalizeSerial(row.serial), Model: row.model, ProductCode: row.product,
		ContractID: contractID, State: domain.ContractActive, Replenishment: row.replenishment}
	if row.locationID != "" {
		id, _ := strconv.ParseInt(row.locationID, 10, 64) // checked by parseDeviceCSV
		var account int64
		if err := tx.GetContext(ctx, &account, tx.Rebind(`SELECT account_id FROM shipping_locations WHERE id = ?`), id); err != nil || account != accountID {
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return false, &rowError{"location_id", err}
			}
			return false, &rowError{"location_id", domain.Errorf(domain.EINVALID, "location %d is not a location of account %s", id, row.customer)}
		}
		d.LocationID = &id
	}
	var cur []ContractedDevice
	if err := tx.SelectContext(ctx, &cur, tx.Rebind(`SELECT `+contractedColumns+` FROM devices WHERE device_key = ? AND contract_id = ?`), d.Key, contractID); err != nil {
		return false, &rowError{"", err}
	}
	if len(cur) > 0 {
		c := cur[0]
		// The model is not compared: the one the device reports wins.
		if c.ProductCode == d.ProductCode && c.Replenishment == d.Replenishment && eqID(c.LocationID, d.LocationID) {
			return false, nil
		}
		return false, &rowError{"serial", domain.Errorf(domain.ECONFLICT, "serial %s is already under contract %s with other values", d.Serial, row.contract)}
	}
	if err := s.putDevice(ctx, tx, &d, by); err != nil {
		return false, &rowError{"serial", constraint(err)}
	}
	return true, nil
}

func eqID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
