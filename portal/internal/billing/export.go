package billing

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ExportRow is a billing read as an invoicing system takes it: one row
// per device under contract and period (the export of a period, CSV or
// JSON).
type ExportRow struct {
	CustomerNumber string
	ContractNumber string
	Serial         string
	Model          string
	PeriodStart    time.Time
	PeriodEnd      time.Time
	ReadAt         time.Time
	Black          *int64
	Colour         *int64
	Total          *int64
	Source         string
	Method         string
	Flags          string
	Review         string
}

// ExportColumns are the export's columns, in order: their names are
// stable (README.md, "Billing reads" documents each).
var ExportColumns = []string{
	"customer_number", "contract_number", "serial", "model", "period_start", "period_end", "read_at",
	"black", "colour", "total", "source", "method", "flags", "review",
}

// Record is the row as CSV fields: dates as YYYY-MM-DD, the read time as
// RFC 3339 in UTC, a meter not billed or not on the device empty.
func (r ExportRow) Record() []string {
	meter := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	return []string{
		r.CustomerNumber, r.ContractNumber, r.Serial, r.Model,
		r.PeriodStart.Format(time.DateOnly), r.PeriodEnd.Format(time.DateOnly), r.ReadAt.UTC().Format(time.RFC3339),
		meter(r.Black), meter(r.Colour), meter(r.Total), r.Source, r.Method, r.Flags, r.Review,
	}
}

// WriteCSV writes the rows as CSV (RFC 4180, comma-separated, CRLF-free
// lines ending in \n), the header line first.
func WriteCSV(w io.Writer, rows []ExportRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportColumns); err != nil {
		return fmt.Errorf("billing: export: %w", err)
	}
	for _, r := range rows {
		if err := cw.Write(r.Record()); err != nil {
			return fmt.Errorf("billing: export: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("billing: export: %w", err)
	}
	return nil
}
