package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/ownership"
)

// The back office's review of what ownership at ingest leaves to decide
// (issue 14): the devices an account's agent reported that the account
// had not registered (state unconfirmed), to confirm or reject, and the
// serials two accounts have.

// UnconfirmedDevice is a device waiting for the back office, with what it
// needs to decide: whose it is, what it is, and how recently it was read.
type UnconfirmedDevice struct {
	ID             int64          `db:"id"`
	Key            string         `db:"device_key"`
	Owner          string         `db:"owner"`
	Serial         string         `db:"serial"`
	MAC            string         `db:"mac"`
	Vendor         string         `db:"vendor"`
	Model          string         `db:"model"`
	Address        string         `db:"address"`
	AgentID        sql.NullString `db:"agent_id"`
	AccountID      int64          `db:"account_id"`
	CustomerNumber string         `db:"customer_number"`
	FirstSeen      time.Time      `db:"first_seen"`
	LastSeen       time.Time      `db:"last_seen"`
	LastReadAt     sql.NullTime   `db:"last_read_at"`
	LastTotal      sql.NullInt64  `db:"last_total"`
	// Conflict is true when another account has a device of the serial
	// (see SerialConflicts).
	Conflict bool `db:"conflict"`
}

// unconfirmedSelect reads unconfirmed devices with their account and
// whether another account claims their serial; unconfirmedDevices and
// UnconfirmedDevice add their conditions.
const unconfirmedSelect = `SELECT d.id, d.device_key, d.owner, d.serial, d.mac, d.vendor, d.model, d.address, d.agent_id,
       d.account_id, a.customer_number, d.first_seen, d.last_seen, d.last_read_at, d.last_total,
       CASE WHEN d.device_key LIKE 'sn:%' AND EXISTS (
           SELECT 1 FROM devices o
           WHERE o.device_key = d.device_key AND o.account_id <> d.account_id AND (o.state IS NULL OR o.state <> 'rejected'))
       THEN 1 ELSE 0 END AS conflict
FROM devices d JOIN accounts a ON a.id = d.account_id
WHERE d.state = 'unconfirmed'`

// unconfirmedDevices lists the unconfirmed devices (index
// devices_unconfirmed), of one account when its parameter is not 0.
const unconfirmedDevices = unconfirmedSelect + ` AND (? = 0 OR d.account_id = ?)
ORDER BY a.customer_number, d.first_seen, d.id`

// UnconfirmedDevices lists the devices waiting for the back office to
// confirm or reject them, by account and first seen; accountID 0 lists
// every account's.
func (s *Store) UnconfirmedDevices(ctx context.Context, accountID int64) ([]UnconfirmedDevice, error) {
	var out []UnconfirmedDevice
	if err := s.db.SelectContext(ctx, &out, s.db.Rebind(unconfirmedDevices), accountID, accountID); err != nil {
		return nil, fmt.Errorf("store: unconfirmed devices: %w", err)
	}
	for i := range out {
		d := &out[i]
		d.FirstSeen, d.LastSeen, d.LastReadAt.Time = d.FirstSeen.UTC(), d.LastSeen.UTC(), d.LastReadAt.Time.UTC()
	}
	return out, nil
}

// UnconfirmedDevice returns the unconfirmed device id, as
// UnconfirmedDevices lists it: the back office's page of one device to
// confirm or reject. A device that does not exist or is not unconfirmed
// (already confirmed or rejected) is ENOTFOUND.
func (s *Store) UnconfirmedDevice(ctx context.Context, id int64) (UnconfirmedDevice, error) {
	var d UnconfirmedDevice
	if err := s.db.GetContext(ctx, &d, s.db.Rebind(unconfirmedSelect+` AND d.id = ?`), id); err != nil {
		return UnconfirmedDevice{}, fmt.Errorf("store: unconfirmed device %d: %w", id, notFound(err, "device %d is not waiting for review", id))
	}
	d.FirstSeen, d.LastSeen, d.LastReadAt.Time = d.FirstSeen.UTC(), d.LastSeen.UTC(), d.LastReadAt.Time.UTC()
	return d, nil
}

// SerialConflicts lists the devices whose serial two or more accounts
// have (a rejected device is no longer a claim), by serial, account and
// device: the query the collector runs too (ownership.SerialConflicts).
func (s *Store) SerialConflicts(ctx context.Context) ([]ownership.SerialConflict, error) {
	out, err := ownership.SerialConflicts(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// deviceUnderReview is an unconfirmed device as confirming or rejecting
// reads it.
type deviceUnderReview struct {
	deviceBeforePut
	Key string `db:"device_key"`
}

// lockDeviceUnderReview reads and locks the device id, which must be in
// state want (ECONFLICT otherwise; ENOTFOUND when there is no such
// device). A device in state done is returned with done true: the review
// already happened.
func (s *Store) lockDeviceUnderReview(ctx context.Context, tx *sqlx.Tx, id int64, done domain.ContractState) (deviceUnderReview, bool, error) {
	var d deviceUnderReview
	err := tx.GetContext(ctx, &d, tx.Rebind(`SELECT `+deviceBeforePutColumns+`, device_key FROM devices WHERE id = ?`+s.forUpdate()), id)
	if err != nil {
		return d, false, notFound(err, "device %d does not exist", id)
	}
	state := ""
	if d.State != nil {
		state = *d.State
	}
	switch {
	case done != "" && state == string(done):
		return d, true, nil
	case state != string(domain.DeviceUnconfirmed) || d.AccountID == nil:
		if state == "" {
			state = "not under review"
		}
		return d, false, domain.Errorf(domain.ECONFLICT, "device %d is %s, not unconfirmed", id, state)
	}
	return d, false, nil
}

// ConfirmDevice confirms an unconfirmed device: it goes under d.ContractID,
// a contract of the device's account, with d's product code, location,
// meter-read contact and auto-replenishment state (eligible when unset),
// in state active, as PutDeviceUnderContract would put it, its reads kept.
// The state changes are recorded from 'unconfirmed'. A device not
// unconfirmed is ECONFLICT; one keyed by MAC or address EINVALID (only a
// serial goes under contract), as is a contract of another account.
func (s *Store) ConfirmDevice(ctx context.Context, id int64, d ContractedDevice, by Actor) (ContractedDevice, error) {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		cur, _, err := s.lockDeviceUnderReview(ctx, tx, id, "")
		if err != nil {
			return err
		}
		serial, ok := strings.CutPrefix(cur.Key, "sn:")
		if !ok {
			return domain.Errorf(domain.EINVALID, "device %d has no serial number (%s): only a device with one goes under contract", id, cur.Key)
		}
		d.Serial = serial
		if err := d.prepare(by); err != nil {
			return err
		}
		if err := checkPut(ctx, tx, &d); err != nil {
			return err
		}
		if d.AccountID != *cur.AccountID {
			return domain.Errorf(domain.EINVALID, "contract %d is not a contract of account %d, the device's", d.ContractID, *cur.AccountID)
		}
		return s.adoptDevice(ctx, tx, &d, cur.deviceBeforePut, by)
	})
	if err != nil {
		return ContractedDevice{}, fmt.Errorf("store: confirm device %d: %w", id, err)
	}
	return d, nil
}

// RejectDevice rejects an unconfirmed device: it keeps its reads, is never
// billed (it is under no contract), and its further reads neither
// re-create nor re-activate it (ingest never sets the state of a device it
// knows). The change is recorded; rejecting a rejected device changes
// nothing, and a device in another state is ECONFLICT.
func (s *Store) RejectDevice(ctx context.Context, id int64, by Actor) error {
	if err := by.check(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, done, err := s.lockDeviceUnderReview(ctx, tx, id, domain.DeviceRejected)
		if err != nil || done {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE devices SET state = ? WHERE id = ?`), domain.DeviceRejected, id); err != nil {
			return constraint(err)
		}
		return s.recordChange(ctx, tx, EntityDevice, id, "state", strp(string(domain.DeviceUnconfirmed)), strp(string(domain.DeviceRejected)), by)
	})
	if err != nil {
		return fmt.Errorf("store: reject device %d: %w", id, err)
	}
	return nil
}
