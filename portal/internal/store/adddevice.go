package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// NormalPostalCode is a postal code as compared and stored in requests:
// without spaces, in upper case ("g2g 2t9" is "G2G2T9"). Seed 000: the
// postal code must match the one on file for the serial exactly, once
// normalised so.
func NormalPostalCode(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// ErrSerialPostalMismatch is the answer when a serial and a postal code do
// not match a device under contract (seed 000's registration error: check
// the serial; the postal code must be exactly the one on file; else ask
// the back office to link the serial). No device of that serial, a device
// not under contract or removed, and a postal code that differs all get
// it, so the answer does not tell which. Test with errors.Is.
var ErrSerialPostalMismatch = domain.Errorf(domain.EINVALID,
	"the serial number and postal code do not match our records: check the serial number; the postal code must be exactly the one of the shipping address on file for it. If the problem persists, ask us to link the serial number to your account")

// SerialMatch is the device under contract a serial and postal code
// designate.
type SerialMatch struct {
	DeviceID   int64  `db:"id"`
	Serial     string `db:"serial"`
	AccountID  int64  `db:"account_id"`
	LocationID int64  `db:"location_id"`
}

// serialMatches returns the devices under contract, not removed, of a
// serial (matched as the collector keys it) whose shipping location has
// the postal code, both normalised (index devices_device_key).
func serialMatches(ctx context.Context, q sqlx.ExtContext, serial, postalCode string) ([]SerialMatch, error) {
	key, postal := serialKey(serial), NormalPostalCode(postalCode)
	if key == "" || postal == "" {
		return nil, nil
	}
	var rows []struct {
		SerialMatch
		PostalCode string `db:"postal_code"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT d.id, d.serial, d.account_id, d.location_id, l.postal_code
FROM devices d JOIN shipping_locations l ON l.id = d.location_id AND l.account_id = d.account_id
WHERE d.device_key = ? AND d.contract_id IS NOT NULL AND d.state IN ('active', 'pending_removal')
ORDER BY d.account_id, d.id`), key)
	if err != nil {
		return nil, fmt.Errorf("look up serial %s: %w", wire.NormalizeSerial(serial), err)
	}
	var out []SerialMatch
	for _, r := range rows {
		if NormalPostalCode(r.PostalCode) == postal {
			out = append(out, r.SerialMatch)
		}
	}
	return out, nil
}

// MatchSerialPostalCode returns the device under contract a serial and the
// postal code of its shipping location designate: the check of
// registration (seed 000). No match is ErrSerialPostalMismatch; a serial
// two accounts hold at that postal code (a conflict the back office
// settles) is ECONFLICT, to be sent to the back office as a link request.
func (s *Store) MatchSerialPostalCode(ctx context.Context, serial, postalCode string) (SerialMatch, error) {
	ms, err := serialMatches(ctx, s.db, serial, postalCode)
	switch {
	case err != nil:
		return SerialMatch{}, fmt.Errorf("store: %w", err)
	case len(ms) == 0:
		return SerialMatch{}, fmt.Errorf("store: serial %s: %w", wire.NormalizeSerial(serial), ErrSerialPostalMismatch)
	case len(ms) > 1:
		return SerialMatch{}, domain.Errorf(domain.ECONFLICT, "serial %s needs the back office: ask it to link the serial", ms[0].Serial)
	}
	return ms[0], nil
}

// AddDeviceOutcome is what adding a device by serial and postal code did.
type AddDeviceOutcome string

// Outcomes of AddDevice.
const (
	// AddDeviceOnAccount: the device already is equipment of the account
	// (every device of an account is; there is nothing to add).
	AddDeviceOnAccount AddDeviceOutcome = "on_account"
	// AddDeviceLinkRequested: the serial and postal code match a device
	// the account does not hold; the back office was asked to link it.
	// Nothing of the account that holds it is told.
	AddDeviceLinkRequested AddDeviceOutcome = "link_requested"
)

// AddDeviceResult is the answer of AddDevice.
type AddDeviceResult struct {
	Outcome AddDeviceOutcome
	// DeviceID is the device, with AddDeviceOnAccount.
	DeviceID int64
	// Request is the serial-link request, with AddDeviceLinkRequested.
	Request *Request
}

// AddDevice is "add equipment" (seed 000): a user of an account gives the
// serial of a device under contract and the postal code of its shipping
// address. A device of the account answers AddDeviceOnAccount; a device
// of another account becomes a serial-link request of this account for
// the back office (AddDeviceLinkRequested; an open one for the same
// serial is reused). No match is ErrSerialPostalMismatch: the web shows
// it and offers RequestSerialLink. An account the user has no role on is
// ENOTFOUND.
func (s *Store) AddDevice(ctx context.Context, accountID, userID int64, serial, postalCode string) (AddDeviceResult, error) {
	if wire.NormalizeSerial(serial) == "" {
		return AddDeviceResult{}, domain.Errorf(domain.EINVALID, "a serial number is required")
	}
	if NormalPostalCode(postalCode) == "" {
		return AddDeviceResult{}, domain.Errorf(domain.EINVALID, "a postal code is required")
	}
	if err := checkRequester(ctx, s.db, accountID, userID); err != nil {
		return AddDeviceResult{}, fmt.Errorf("store: add a device to account %d: %w", accountID, err)
	}
	ms, err := serialMatches(ctx, s.db, serial, postalCode)
	if err != nil {
		return AddDeviceResult{}, fmt.Errorf("store: add a device to account %d: %w", accountID, err)
	}
	if len(ms) == 0 {
		return AddDeviceResult{}, fmt.Errorf("store: add serial %s to account %d: %w", wire.NormalizeSerial(serial), accountID, ErrSerialPostalMismatch)
	}
	for _, m := range ms {
		if m.AccountID == accountID {
			return AddDeviceResult{Outcome: AddDeviceOnAccount, DeviceID: m.DeviceID}, nil
		}
	}
	r, err := s.RequestSerialLink(ctx, SerialLink{AccountID: &accountID, UserID: &userID, Serial: serial, PostalCode: postalCode})
	if err != nil {
		return AddDeviceResult{}, err
	}
	return AddDeviceResult{Outcome: AddDeviceLinkRequested, Request: &r}, nil
}
