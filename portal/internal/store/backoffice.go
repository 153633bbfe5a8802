package store

import (
	"context"
	"fmt"
	"strings"
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
