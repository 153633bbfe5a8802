package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/meterline/meterline/shared/schema"
)

// Campaign is a read campaign (read_campaigns, migration 0014) as the
// billing jobs would open it: the meter-read page's tests write it
// directly.
type Campaign struct {
	DeviceID, ContractID   int64
	PeriodStart, PeriodEnd time.Time
	ContactUserID          *int64
	// State defaults to open.
	State     string
	Reminders int
	ClosesAt  *time.Time
	CreatedAt time.Time
}

// InsertCampaign writes a read campaign and returns its id.
func InsertCampaign(ctx context.Context, db *sql.DB, d schema.Dialect, c Campaign) (int64, error) {
	if c.State == "" {
		c.State = "open"
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = c.PeriodEnd
	}
	var closes any
	if c.ClosesAt != nil {
		closes = c.ClosesAt.UTC()
	}
	var id int64
	err := db.QueryRowContext(ctx, schema.Rebind(d, `INSERT INTO read_campaigns
(device_id, contract_id, period_start, period_end, contact_user_id, state, invited_at, reminders, closes_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		c.DeviceID, c.ContractID, day(c.PeriodStart), day(c.PeriodEnd), c.ContactUserID, c.State, c.CreatedAt.UTC(), c.Reminders, closes, c.CreatedAt.UTC()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert read campaign: %w", err)
	}
	return id, nil
}

// CloseCampaign sets a campaign's closing time, as the third reminder
// does.
func CloseCampaign(ctx context.Context, db *sql.DB, d schema.Dialect, id int64, at time.Time) error {
	_, err := db.ExecContext(ctx, schema.Rebind(d, `UPDATE read_campaigns SET reminders = 3, closes_at = ? WHERE id = ?`), at.UTC(), id)
	return err
}

// BillingRead is a billing read (billing_reads) of an earlier period, as
// a test seeds it: written as given with plain SQL, with defaults, the
// way the jobs would have left it. It is not the store's row type
// (store.BillingRead, which the store reads and writes with its rules):
// like the rest of this package it stays apart from the store, so that
// the store's tests read rows the store did not write.
type BillingRead struct {
	DeviceID, ContractID   int64
	PeriodStart, PeriodEnd time.Time
	// Source defaults to agent.
	Source               string
	ReadAt               time.Time
	Black, Colour, Total *int64
	Method, Flags        string
	// UserID is the manual read's author.
	UserID *int64
	// Review defaults to none.
	Review string
	Photo  *string
}

// InsertBillingRead writes a billing read and returns its id.
func InsertBillingRead(ctx context.Context, db *sql.DB, d schema.Dialect, r BillingRead) (int64, error) {
	if r.Source == "" {
		r.Source = "agent"
	}
	if r.Review == "" {
		r.Review = "none"
	}
	var id int64
	err := db.QueryRowContext(ctx, schema.Rebind(d, `INSERT INTO billing_reads
(device_id, contract_id, period_start, period_end, source, read_at, black, colour, total, method, flags, photo_path, review, submitted_by_user_id, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		r.DeviceID, r.ContractID, day(r.PeriodStart), day(r.PeriodEnd), r.Source, r.ReadAt.UTC(), r.Black, r.Colour, r.Total, r.Method, r.Flags,
		r.Photo, r.Review, r.UserID, r.ReadAt.UTC()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert billing read: %w", err)
	}
	return id, nil
}

// day is a date as the store writes it: midnight UTC.
func day(t time.Time) time.Time {
	y, m, dd := t.UTC().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}
