package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The back office's reads (issue 15): they span every account, so only
// back-office pages call them. Changes to devices (confirm, reject,
// settle a conflict) are not here.

// AccountSummary is an account as the back office lists it.
type AccountSummary struct {
	Account
	// Devices counts its devices under contract, not removed.
	Devices int `db:"devices"`
	// Users counts the users with a role on it.
	Users int `db:"users"`
}

// AccountPage is one page of accounts and how many match in all.
type AccountPage struct {
	Accounts []AccountSummary
	Total    int
}

// likeEscape makes s a literal inside a LIKE pattern whose escape
// character is '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// BackOfficeAccounts lists the accounts whose customer number starts with
// search or whose name contains it, case aside ("" lists all), by
// customer number: limit rows (1 to 500; 50 when 0) from offset.
func (s *Store) BackOfficeAccounts(ctx context.Context, search string, limit, offset int) (AccountPage, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return AccountPage{}, err
	}
	offset = max(offset, 0)
	where, args := "", []any{}
	if search = strings.ToLower(strings.TrimSpace(search)); search != "" {
		p := likeEscape(search)
		where = ` WHERE lower(a.customer_number) LIKE ? ESCAPE '\' OR lower(a.name) LIKE ? ESCAPE '\'`
		args = append(args, p+"%", "%"+p+"%")
	}
	var page AccountPage
	if err := s.db.GetContext(ctx, &page.Total, s.db.Rebind(`SELECT count(*) FROM accounts a`+where), args...); err != nil {
		return AccountPage{}, fmt.Errorf("store: count accounts: %w", err)
	}
	err = s.db.SelectContext(ctx, &page.Accounts, s.db.Rebind(`SELECT a.id, a.customer_number, a.name, a.language, a.created_at,
       (SELECT count(*) FROM devices d WHERE d.account_id = a.id AND d.contract_id IS NOT NULL AND d.state IN ('active', 'pending_removal')) AS devices,
       (SELECT count(*) FROM memberships m WHERE m.account_id = a.id) AS users
FROM accounts a`+where+` ORDER BY a.customer_number LIMIT ? OFFSET ?`), append(args, limit, offset)...)
	if err != nil {
		return AccountPage{}, fmt.Errorf("store: list accounts: %w", err)
	}
	for i := range page.Accounts {
		page.Accounts[i].CreatedAt = page.Accounts[i].CreatedAt.UTC()
	}
	return page, nil
}

// UnconfirmedDevice is a device an agent of an account reported that the
// account has not under contract: the back office confirms or rejects it.
type UnconfirmedDevice struct {
	DeviceID       int64      `db:"id"`
	Serial         string     `db:"serial"`
	Vendor         string     `db:"vendor"`
	Model          string     `db:"model"`
	AccountID      int64      `db:"account_id"`
	CustomerNumber string     `db:"customer_number"`
	AccountName    string     `db:"account_name"`
	AgentID        string     `db:"agent_id"`
	FirstSeen      time.Time  `db:"first_seen"`
	LastSeen       time.Time  `db:"last_seen"`
	LastReadAt     *time.Time `db:"last_read_at"`
	// OtherAccounts counts the other accounts that hold the same serial:
	// more than 0 is a serial conflict.
	OtherAccounts int `db:"other_accounts"`
}

// UnconfirmedPage is one page of unconfirmed devices and how many there
// are in all.
type UnconfirmedPage struct {
	Devices []UnconfirmedDevice
	Total   int
}

// BackOfficeUnconfirmedDevices lists the unconfirmed devices, first
// reported first: limit rows (1 to 500; 50 when 0) from offset (index
// devices_unconfirmed).
func (s *Store) BackOfficeUnconfirmedDevices(ctx context.Context, limit, offset int) (UnconfirmedPage, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return UnconfirmedPage{}, err
	}
	var page UnconfirmedPage
	if err := s.db.GetContext(ctx, &page.Total, `SELECT count(*) FROM devices WHERE state = 'unconfirmed'`); err != nil {
		return UnconfirmedPage{}, fmt.Errorf("store: count unconfirmed devices: %w", err)
	}
	err = s.db.SelectContext(ctx, &page.Devices, s.db.Rebind(`SELECT d.id, d.serial, d.vendor, d.model, d.account_id,
       a.customer_number, a.name AS account_name, COALESCE(d.agent_id, '') AS agent_id, d.first_seen, d.last_seen, d.last_read_at,
       (SELECT count(DISTINCT o.account_id) FROM devices o
        WHERE o.device_key = d.device_key AND o.account_id IS NOT NULL AND o.account_id <> d.account_id) AS other_accounts
FROM devices d JOIN accounts a ON a.id = d.account_id
WHERE d.state = 'unconfirmed'
ORDER BY d.first_seen, d.id LIMIT ? OFFSET ?`), limit, max(offset, 0))
	if err != nil {
		return UnconfirmedPage{}, fmt.Errorf("store: list unconfirmed devices: %w", err)
	}
	for i := range page.Devices {
		d := &page.Devices[i]
		d.FirstSeen, d.LastSeen = d.FirstSeen.UTC(), d.LastSeen.UTC()
		if d.LastReadAt != nil {
			t := d.LastReadAt.UTC()
			d.LastReadAt = &t
		}
	}
	return page, nil
}

// ConflictDevice is one account's device of a serial several accounts
// hold.
type ConflictDevice struct {
	DeviceID       int64  `db:"id"`
	AccountID      int64  `db:"account_id"`
	CustomerNumber string `db:"customer_number"`
	AccountName    string `db:"account_name"`
	// State is the device's contract state ("unconfirmed", "active"…;
	// "" for none).
	State         string    `db:"state"`
	UnderContract bool      `db:"under_contract"`
	AgentID       string    `db:"agent"`
	LastSeen      time.Time `db:"last_seen"`
}

// SerialConflict is a serial two accounts or more hold: the back office
// settles which one it is (DESIGN §5: never merged).
type SerialConflict struct {
	Serial  string
	Devices []ConflictDevice
}

// BackOfficeSerialConflicts lists the serials several accounts hold, by
// serial, each with its devices by account.
func (s *Store) BackOfficeSerialConflicts(ctx context.Context) ([]SerialConflict, error) {
	var rows []struct {
		Key string `db:"device_key"`
		ConflictDevice
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT d.device_key, d.id, d.account_id, a.customer_number, a.name AS account_name,
       COALESCE(d.state, '') AS state, CASE WHEN d.contract_id IS NULL THEN 0 ELSE 1 END AS under_contract,
       COALESCE(d.agent_id, '') AS agent, d.last_seen
FROM devices d JOIN accounts a ON a.id = d.account_id
WHERE d.device_key IN (
    SELECT device_key FROM devices
    WHERE account_id IS NOT NULL AND device_key LIKE 'sn:%'
    GROUP BY device_key HAVING count(DISTINCT account_id) > 1)
ORDER BY d.device_key, a.customer_number, d.id`)
	if err != nil {
		return nil, fmt.Errorf("store: serial conflicts: %w", err)
	}
	var out []SerialConflict
	last := ""
	for _, r := range rows {
		if len(out) == 0 || r.Key != last {
			out = append(out, SerialConflict{Serial: strings.TrimPrefix(r.Key, "sn:")})
			last = r.Key
		}
		d := r.ConflictDevice
		d.LastSeen = d.LastSeen.UTC()
		c := &out[len(out)-1]
		c.Devices = append(c.Devices, d)
	}
	return out, nil
}
