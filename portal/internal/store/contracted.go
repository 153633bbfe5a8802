package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// ContractedDevice is a device under contract: a row of devices, the same
// identity the collector stores reads against (see migration 0006).
type ContractedDevice struct {
	ID int64 `db:"id"`
	// Key is "sn:" + the normalised serial, the collector's key.
	Key           string                    `db:"device_key"`
	Serial        string                    `db:"serial"`
	Model         string                    `db:"model"`
	ProductCode   string                    `db:"product_code"`
	AccountID     int64                     `db:"account_id"`
	ContractID    int64                     `db:"contract_id"`
	LocationID    *int64                    `db:"location_id"`
	ReadContactID *int64                    `db:"read_contact_id"`
	State         domain.ContractState      `db:"state"`
	Replenishment domain.ReplenishmentState `db:"replenishment"`
	// Opening, when set, is the device's opening read under the contract
	// (stored apart, in opening_reads).
	Opening *OpeningRead `db:"-"`
}

const contractedColumns = `id, device_key, serial, model, product_code, account_id, contract_id, location_id, read_contact_id, state, replenishment`

// serialKey is the device key of a serial (wire.DeviceRead.Key), "" for a
// serial that is blank once normalised.
func serialKey(serial string) string {
	if n := wire.NormalizeSerial(serial); n != "" {
		return "sn:" + n
	}
	return ""
}

// PutDeviceUnderContract puts the device of a serial under a contract, in
// state active, at an optional location of the contract's account, with an
// optional meter-read contact, its auto-replenishment state (eligible
// when unset) and its optional opening read (billing.CheckOpening). The
// serial is matched as the collector keys it
// (wire.NormalizeSerial: case and padding do not matter): a device agents
// already read, not yet attached to an account or attached to this one,
// is taken as it is, reads and all; otherwise a device is created. A
// device of another account, or already under contract, is ECONFLICT. The
// state changes are recorded with the actor.
func (s *Store) PutDeviceUnderContract(ctx context.Context, d ContractedDevice, by Actor) (ContractedDevice, error) {
	if err := d.prepare(by); err != nil {
		return ContractedDevice{}, err
	}
	if err := checkOpening(&d, s.now()); err != nil {
		return ContractedDevice{}, err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.putDevice(ctx, tx, &d, by) })
	if err != nil {
		return ContractedDevice{}, fmt.Errorf("store: put serial %s under contract %d: %w", d.Serial, d.ContractID, err)
	}
	return d, nil
}

// putDevice is PutDeviceUnderContract in tx, d checked and normalised.
func (s *Store) putDevice(ctx context.Context, tx *sqlx.Tx, d *ContractedDevice, by Actor) error {
	if err := checkPut(ctx, tx, d); err != nil {
		return err
	}
	var existing []deviceBeforePut
	if err := tx.SelectContext(ctx, &existing, tx.Rebind(`SELECT `+deviceBeforePutColumns+` FROM devices WHERE device_key = ? ORDER BY id`+s.forUpdate()), d.Key); err != nil {
		return fmt.Errorf("look up serial %s: %w", d.Serial, err)
	}
	if len(existing) == 0 {
		if err := s.insertDevice(ctx, tx, d); err != nil {
			return err
		}
		if _, err := s.putOpeningRead(ctx, tx, d); err != nil {
			return err
		}
		return s.recordDevicePut(ctx, tx, d, deviceBeforePut{}, by)
	}
	// The serial's device of this account (perhaps one its agents
	// reported, unconfirmed), else one of no account; a serial only
	// other accounts have is theirs.
	e := existing[0]
	for _, x := range existing {
		if x.AccountID != nil && *x.AccountID == d.AccountID {
			e = x
			break
		}
		if x.AccountID == nil && (e.AccountID != nil) {
			e = x
		}
	}
	switch {
	case e.AccountID != nil && *e.AccountID != d.AccountID:
		return domain.Errorf(domain.ECONFLICT, "serial %s is a device of another account", d.Serial)
	case e.ContractID != nil:
		return domain.Errorf(domain.ECONFLICT, "serial %s is already under contract %d", d.Serial, *e.ContractID)
	}
	if err := s.adoptDevice(ctx, tx, d, e, by); err != nil {
		return err
	}
	_, err := s.putOpeningRead(ctx, tx, d)
	return err
}

// checkPut checks what a device put under contract refers to: its
// contract (d.AccountID is set to the contract's account), and the
// location and meter-read contact when given.
func checkPut(ctx context.Context, tx *sqlx.Tx, d *ContractedDevice) error {
	if err := tx.GetContext(ctx, &d.AccountID, tx.Rebind(`SELECT account_id FROM contracts WHERE id = ?`), d.ContractID); err != nil {
		return notFound(err, "contract %d does not exist", d.ContractID)
	}
	if d.LocationID != nil {
		var account int64
		if err := tx.GetContext(ctx, &account, tx.Rebind(`SELECT account_id FROM shipping_locations WHERE id = ?`), *d.LocationID); err != nil {
			return notFound(err, "location %d does not exist", *d.LocationID)
		}
		if account != d.AccountID {
			return domain.Errorf(domain.EINVALID, "location %d is not a location of account %d", *d.LocationID, d.AccountID)
		}
	}
	if d.ReadContactID != nil {
		var one int
		if err := tx.GetContext(ctx, &one, tx.Rebind(`SELECT 1 FROM users WHERE id = ?`), *d.ReadContactID); err != nil {
			return notFound(err, "user %d does not exist", *d.ReadContactID)
		}
	}
	return nil
}

// deviceBeforePut is a stored device about to be put under contract.
type deviceBeforePut struct {
	ID            int64   `db:"id"`
	AccountID     *int64  `db:"account_id"`
	ContractID    *int64  `db:"contract_id"`
	State         *string `db:"state"`
	Replenishment *string `db:"replenishment"`
}

const deviceBeforePutColumns = `id, account_id, contract_id, state, replenishment`

// adoptDevice puts e, a stored device of d's account or of none, under
// d's contract as it is, reads and all, and records the changes from what
// it was (an unconfirmed device's confirmation shows the state it left).
func (s *Store) adoptDevice(ctx context.Context, tx *sqlx.Tx, d *ContractedDevice, e deviceBeforePut, by Actor) error {
	d.ID = e.ID
	// The model the device reports, if any, wins over the one given;
	// the serial stays as the device reports it.
	err := tx.QueryRowxContext(ctx, tx.Rebind(`UPDATE devices SET
    owner = ?, model = CASE WHEN model = '' THEN ? ELSE model END, product_code = ?, account_id = ?, contract_id = ?,
    location_id = ?, read_contact_id = ?, state = ?, replenishment = ?
WHERE id = ? RETURNING model, serial`),
		wire.AccountOwner(d.AccountID), d.Model, d.ProductCode, d.AccountID, d.ContractID, d.LocationID, d.ReadContactID, d.State, d.Replenishment, d.ID).Scan(&d.Model, &d.Serial)
	if err != nil {
		return constraint(err)
	}
	return s.recordDevicePut(ctx, tx, d, e, by)
}

// recordDevicePut records the state changes of a device put under
// contract, from what it was before (zero for a device just created).
func (s *Store) recordDevicePut(ctx context.Context, tx *sqlx.Tx, d *ContractedDevice, before deviceBeforePut, by Actor) error {
	if err := s.recordChange(ctx, tx, EntityDevice, d.ID, "state", before.State, strp(string(d.State)), by); err != nil {
		return err
	}
	return s.recordChange(ctx, tx, EntityDevice, d.ID, "replenishment", before.Replenishment, strp(string(d.Replenishment)), by)
}

// insertDevice stores d, a device of its account's owner scope.
func (s *Store) insertDevice(ctx context.Context, tx *sqlx.Tx, d *ContractedDevice) error {
	now := dbTime(s.now())
	err := tx.GetContext(ctx, &d.ID, tx.Rebind(`INSERT INTO devices
(owner, device_key, serial, model, product_code, account_id, contract_id, location_id, read_contact_id, state, replenishment, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		wire.AccountOwner(d.AccountID), d.Key, d.Serial, d.Model, d.ProductCode, d.AccountID, d.ContractID, d.LocationID, d.ReadContactID, d.State, d.Replenishment, now, now)
	return constraint(err)
}

// ContractedDevice returns a device under contract by id (ENOTFOUND when
// there is no such device; a device not under contract is ENOTFOUND too).
func (s *Store) ContractedDevice(ctx context.Context, id int64) (ContractedDevice, error) {
	var d ContractedDevice
	err := s.db.GetContext(ctx, &d, s.db.Rebind(`SELECT `+contractedColumns+` FROM devices WHERE id = ? AND contract_id IS NOT NULL`), id)
	if err != nil {
		return ContractedDevice{}, fmt.Errorf("store: device %d: %w", id, notFound(err, "device %d is not under contract", id))
	}
	return d, nil
}

// AccountDeviceBySerial returns the device under contract of an account
// that has a serial, whatever its case or padding (ENOTFOUND when the
// account has none): the lookup of registration and "add equipment"
// (index devices_account_key).
func (s *Store) AccountDeviceBySerial(ctx context.Context, accountID int64, serial string) (ContractedDevice, error) {
	var d ContractedDevice
	err := s.db.GetContext(ctx, &d, s.db.Rebind(`SELECT `+contractedColumns+` FROM devices
WHERE account_id = ? AND device_key = ? AND contract_id IS NOT NULL`), accountID, serialKey(serial))
	if err != nil {
		return ContractedDevice{}, fmt.Errorf("store: serial %q of account %d: %w", serial, accountID, notFound(err, "account %d has no device of serial %s", accountID, wire.NormalizeSerial(serial)))
	}
	return d, nil
}

// AccountDevices lists the devices under contract of an account, removed
// ones included, by serial.
func (s *Store) AccountDevices(ctx context.Context, accountID int64) ([]ContractedDevice, error) {
	var out []ContractedDevice
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT `+contractedColumns+` FROM devices
WHERE account_id = ? AND contract_id IS NOT NULL ORDER BY serial, id`), accountID)
	if err != nil {
		return nil, fmt.Errorf("store: devices of account %d: %w", accountID, err)
	}
	return out, nil
}

// SetDeviceState changes the contract state of a device under contract and
// records the change with the actor; setting the state it has changes and
// records nothing. A removed device stays removed (ECONFLICT), a state not
// known is EINVALID, a device not under contract ENOTFOUND.
func (s *Store) SetDeviceState(ctx context.Context, id int64, state domain.ContractState, by Actor) error {
	if !state.Valid() {
		return domain.Errorf(domain.EINVALID, "device state %q is not active, pending_removal or removed", state)
	}
	return s.setDeviceField(ctx, id, "state", string(state), by, func(old string) error {
		if old == string(domain.ContractRemoved) {
			return domain.Errorf(domain.ECONFLICT, "device %d is removed", id)
		}
		return nil
	})
}

// SetReplenishment changes the auto-replenishment state of a device under
// contract and records the change with the actor; setting the state it has
// changes and records nothing. Only an active device may have auto
// replenishment active (ECONFLICT); a state not known is EINVALID, a
// device not under contract ENOTFOUND.
func (s *Store) SetReplenishment(ctx context.Context, id int64, state domain.ReplenishmentState, by Actor) error {
	if !state.Valid() {
		return domain.Errorf(domain.EINVALID, "auto-replenishment state %q is not eligible, active or ineligible", state)
	}
	return s.setDeviceField(ctx, id, "replenishment", string(state), by, nil)
}

// setDeviceField sets state or replenishment (field names a column) of a
// device under contract after allow, given the old value, accepts it.
func (s *Store) setDeviceField(ctx context.Context, id int64, field, value string, by Actor, allow func(old string) error) error {
	if err := by.check(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var cur struct {
			State         string `db:"state"`
			Replenishment string `db:"replenishment"`
		}
		err := tx.GetContext(ctx, &cur, tx.Rebind(`SELECT state, replenishment FROM devices WHERE id = ? AND contract_id IS NOT NULL`+s.forUpdate()), id)
		if err != nil {
			return notFound(err, "device %d is not under contract", id)
		}
		old := cur.State
		if field == "replenishment" {
			old = cur.Replenishment
			if value == string(domain.ReplenishmentActive) && cur.State != string(domain.ContractActive) {
				return domain.Errorf(domain.ECONFLICT, "device %d is %s: auto replenishment cannot be active", id, cur.State)
			}
		}
		if old == value {
			return nil
		}
		if allow != nil {
			if err := allow(old); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE devices SET `+field+` = ? WHERE id = ?`), value, id); err != nil {
			return constraint(err)
		}
		return s.recordChange(ctx, tx, EntityDevice, id, field, &old, &value, by)
	})
	if err != nil {
		return fmt.Errorf("store: set %s of device %d to %s: %w", field, id, value, err)
	}
	return nil
}

// prepare checks a device about to be put under contract and fills in
// what follows from it: its key, its normalised serial, state active and
// replenishment eligible when unset.
func (d *ContractedDevice) prepare(by Actor) error {
	d.Key = serialKey(d.Serial)
	if d.Replenishment == "" {
		d.Replenishment = domain.ReplenishmentEligible
	}
	switch {
	case d.Key == "":
		return domain.Errorf(domain.EINVALID, "a device under contract needs a serial number")
	case !d.Replenishment.Valid():
		return domain.Errorf(domain.EINVALID, "auto-replenishment state %q is not eligible, active or ineligible", d.Replenishment)
	}
	if err := by.check(); err != nil {
		return err
	}
	d.Serial, d.State = wire.NormalizeSerial(d.Serial), domain.ContractActive
	return nil
}
