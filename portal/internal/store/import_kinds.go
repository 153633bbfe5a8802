package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// importKinds are the kinds of import file and their columns, in the order
// they are best imported. Each column's doc is its documented format.
var importKinds = []ImportKind{
	{
		Name: "accounts",
		Doc:  "customer accounts; an account of the same customer number is updated",
		Columns: []ImportColumn{
			{"customer_number", true, "the supplier's key of the account"},
			{"name", true, "the account's name"},
			{"language", true, "fr or en: the language the account is written to in"},
		},
		keyColumns: []string{"customer_number"},
		parser:     func() lineParser { return parseAccountLine },
	},
	{
		Name: "locations",
		Doc:  "shipping locations; a location of the same account and code is updated",
		Columns: []ImportColumn{
			{"customer_number", true, "the account"},
			{"code", true, "the supplier's key of the location within the account"},
			{"attention", false, "attention name (the customer may change it online)"},
			{"suite", false, "suite / mail stop (the customer may change it online)"},
			{"phone", false, "phone (the customer may change it online)"},
			{"company", false, "company"},
			{"street", false, "street address"},
			{"city", false, "city"},
			{"province", false, "province or state"},
			{"postal_code", false, "postal code"},
			{"country", false, "country, e.g. CA"},
		},
		keyColumns: []string{"code", "customer_number"},
		parser:     func() lineParser { return parseLocationLine },
	},
	{
		Name: "contracts",
		Doc:  "contracts; a contract of the same number and account is updated, one of another account refused",
		Columns: []ImportColumn{
			{"number", true, "the contract number, unique across accounts"},
			{"customer_number", true, "the account"},
			{"billing_period", true, "quarterly or monthly"},
			{"bills", true, `the meters billed, separated by ";": black, colour, total (e.g. "black;colour")`},
			{"start", true, "first day, YYYY-MM-DD"},
			{"end", false, "last day, YYYY-MM-DD; empty: open-ended"},
			{"expected_monthly_volume", false, "pages a month, a whole number; empty: 0"},
		},
		keyColumns: []string{"number"},
		parser:     func() lineParser { return parseContractLine },
	},
	{
		Name: "devices",
		Doc:  "devices put under contract; a device already under the contract with the same values is left alone, with other values refused",
		Columns: []ImportColumn{
			{"serial", true, "matched as the collector keys it (case and padding do not matter)"},
			{"model", false, "the model the device reports wins"},
			{"product_code", false, "e.g. MX1"},
			{"customer_number", true, "the account"},
			{"contract_number", true, "a contract of that account"},
			{"location_id", false, "the id of a shipping location of that account"},
			{"location_code", false, "the code of a shipping location of that account, instead of location_id (both: the same location)"},
			{"replenishment", false, "eligible (default), active or ineligible"},
			{"opening_read_at", false, "when the opening read (installation or takeover meters, the first invoice bills from them) was taken: YYYY-MM-DD (midnight UTC) or RFC 3339; with at least one opening meter"},
			{"opening_black", false, "black meter of the opening read, a whole number"},
			{"opening_colour", false, "colour meter of the opening read"},
			{"opening_total", false, "total meter of the opening read; an opening read already stored is left alone if the same, an error if different"},
		},
		keyColumns: []string{"serial"},
		parser:     func() lineParser { return parseDeviceLine },
	},
	{
		Name: "users",
		Doc:  "users and their role on an account; a new user has no password and gets no e-mail here",
		Columns: []ImportColumn{
			{"email", true, "the user's key, whatever its case; a user may have a role on several accounts, one line each"},
			{"customer_number", true, "the account"},
			{"role", true, "primary (one an account), delegate (at most 2 an account) or back_office; checked line by line"},
			{"name", false, "the user's name"},
			{"phone", false, "the user's phone"},
			{"language", false, "fr or en; empty: kept, or the account's for a new user"},
		},
		keyColumns: []string{"email", "customer_number"},
		parser:     newUserParser,
	},
	{
		Name: "agents",
		Doc:  "agents registered to an account; an agent of another account is refused (moving one is an API call)",
		Columns: []ImportColumn{
			{"agent_id", true, "the agent's id, as it reports itself"},
			{"customer_number", true, "the account"},
		},
		keyColumns: []string{"agent_id"},
		parser:     func() lineParser { return parseAgentLine },
	},
}

// lineAccount returns the id of the account of a line's customer number.
func lineAccount(ctx context.Context, tx *sqlx.Tx, number string) (int64, *rowError) {
	var id int64
	if err := tx.GetContext(ctx, &id, tx.Rebind(`SELECT id FROM accounts WHERE customer_number = ?`), number); err != nil {
		return 0, &rowError{"customer_number", notFound(err, "no account has customer number %s", number)}
	}
	return id, nil
}

// accountNumber is the customer number of an account, to name it in an
// error.
func accountNumber(ctx context.Context, tx *sqlx.Tx, id int64) (string, error) {
	var number string
	err := tx.GetContext(ctx, &number, tx.Rebind(`SELECT customer_number FROM accounts WHERE id = ?`), id)
	return number, err
}

// stepError is a rowError for err in field, nil for no error.
func stepError(field string, err error) *rowError {
	if err == nil {
		return nil
	}
	return &rowError{field, err}
}

// lineLanguage is the language column of a line, checked; "" when empty.
func lineLanguage(l *csvLine) domain.Language {
	lang := domain.Language(strings.ToLower(l.get("language")))
	if lang != "" && !lang.Valid() {
		l.fail("language", "%q is not fr or en", lang)
	}
	return lang
}

func parseAccountLine(l *csvLine) (string, importStep) {
	a := Account{CustomerNumber: l.get("customer_number"), Name: l.get("name"), Language: lineLanguage(l)}
	return a.CustomerNumber, func(ctx context.Context, s *Store, tx *sqlx.Tx, _ Actor) (importOutcome, *rowError) {
		if err := a.check(); err != nil {
			return unchanged, &rowError{"", err}
		}
		var cur Account
		err := tx.GetContext(ctx, &cur, tx.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE customer_number = ?`+s.forUpdate()), a.CustomerNumber)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return created, stepError("customer_number", s.insertAccount(ctx, tx, &a))
		case err != nil:
			return unchanged, &rowError{"", err}
		case cur.Name == a.Name && cur.Language == a.Language:
			return unchanged, nil
		}
		// The supplier's system is the source of truth of a name. A
		// name or a language is no state: no state change is recorded.
		a.ID = cur.ID
		return updated, stepError("", writeAccount(ctx, tx, &a))
	}
}

// locationText are the text fields of a location by column.
func locationText(l *Location) map[string]*string {
	return map[string]*string{
		"attention": &l.Attention, "suite": &l.Suite, "phone": &l.Phone,
		"company": &l.Company, "street": &l.Street, "city": &l.City, "province": &l.Province,
		"postal_code": &l.PostalCode, "country": &l.Country,
	}
}

func parseLocationLine(l *csvLine) (string, importStep) {
	number, code := l.get("customer_number"), l.get("code")
	given := map[string]string{}
	for c := range locationText(&Location{}) {
		if l.has(c) {
			given[c] = l.get(c)
		}
	}
	return number + "\x00" + code, func(ctx context.Context, s *Store, tx *sqlx.Tx, _ Actor) (importOutcome, *rowError) {
		accountID, rerr := lineAccount(ctx, tx, number)
		if rerr != nil {
			return unchanged, rerr
		}
		var cur Location
		err := tx.GetContext(ctx, &cur, tx.Rebind(`SELECT `+locationColumns+` FROM shipping_locations WHERE account_id = ? AND code = ?`+s.forUpdate()), accountID, code)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return unchanged, &rowError{"", err}
		}
		next := cur
		for c, p := range locationText(&next) {
			if v, ok := given[c]; ok {
				*p = v
			}
		}
		switch {
		case err != nil:
			next.AccountID, next.Code = accountID, code
			return created, stepError("code", s.insertLocation(ctx, tx, &next))
		case next == cur:
			return unchanged, nil
		}
		return updated, stepError("code", s.writeLocation(ctx, tx, &next))
	}
}

// billsColumn parses the bills column: meters separated by ";".
func billsColumn(l *csvLine, c *Contract) {
	v := l.get("bills")
	for _, m := range strings.Split(v, ";") {
		switch strings.ToLower(strings.TrimSpace(m)) {
		case "black":
			c.BillsBlack = true
		case "colour", "color":
			c.BillsColour = true
		case "total":
			c.BillsTotal = true
		case "":
		default:
			l.fail("bills", "%q is not black, colour or total", strings.TrimSpace(m))
			return
		}
	}
	if v != "" && !c.BillsBlack && !c.BillsColour && !c.BillsTotal {
		l.fail("bills", "no meter billed")
	}
}

// dateColumn parses a YYYY-MM-DD column; nil when it is empty or wrong.
func dateColumn(l *csvLine, c string) *time.Time {
	v := l.get(c)
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		l.fail(c, "%q is not a date YYYY-MM-DD", v)
		return nil
	}
	return &t
}

func parseContractLine(l *csvLine) (string, importStep) {
	k := Contract{Number: l.get("number"), BillingPeriod: domain.BillingPeriod(strings.ToLower(l.get("billing_period")))}
	number := l.get("customer_number")
	if k.BillingPeriod != "" && !k.BillingPeriod.Valid() {
		l.fail("billing_period", "%q is not quarterly or monthly", k.BillingPeriod)
	}
	billsColumn(l, &k)
	if start := dateColumn(l, "start"); start != nil {
		k.Start = *start
	}
	k.End = dateColumn(l, "end")
	if k.End != nil && !k.Start.IsZero() && k.End.Before(k.Start) {
		l.fail("end", "the contract ends before it starts")
	}
	if v := l.get("expected_monthly_volume"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			l.fail("expected_monthly_volume", "%q is not a whole number of pages", v)
		}
		k.ExpectedMonthlyVolume = n
	}
	keepEnd, keepVolume := !l.has("end"), !l.has("expected_monthly_volume")
	return k.Number, func(ctx context.Context, s *Store, tx *sqlx.Tx, _ Actor) (importOutcome, *rowError) {
		accountID, rerr := lineAccount(ctx, tx, number)
		if rerr != nil {
			return unchanged, rerr
		}
		var cur Contract
		err := tx.GetContext(ctx, &cur, tx.Rebind(`SELECT `+contractColumns+` FROM contracts WHERE number = ?`+s.forUpdate()), k.Number)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return unchanged, &rowError{"", err}
		}
		k.AccountID = accountID
		if err != nil {
			if err := k.check(); err != nil {
				return unchanged, &rowError{"", err}
			}
			return created, stepError("number", s.insertContract(ctx, tx, &k))
		}
		cur.utc()
		if cur.AccountID != accountID {
			other, err := accountNumber(ctx, tx, cur.AccountID)
			if err != nil {
				return unchanged, &rowError{"", err}
			}
			return unchanged, &rowError{"number", domain.Errorf(domain.ECONFLICT, "contract %s belongs to account %s", k.Number, other)}
		}
		k.ID = cur.ID
		if keepEnd {
			k.End = cur.End
		}
		if keepVolume {
			k.ExpectedMonthlyVolume = cur.ExpectedMonthlyVolume
		}
		if err := k.check(); err != nil {
			return unchanged, &rowError{"", err}
		}
		if k.sameTerms(cur) {
			return unchanged, nil
		}
		return updated, stepError("", updateContractTerms(ctx, tx, k))
	}
}

// deviceLine is a line of a devices file.
type deviceLine struct {
	serial, model, product string
	customer, contract     string
	locationID             *int64
	locationCode           string
	replenishment          domain.ReplenishmentState
	opening                *OpeningRead
}

func parseDeviceLine(l *csvLine) (string, importStep) {
	row := deviceLine{serial: l.get("serial"), model: l.get("model"), product: l.get("product_code"),
		customer: l.get("customer_number"), contract: l.get("contract_number"), locationCode: l.get("location_code"),
		replenishment: domain.ReplenishmentState(l.get("replenishment"))}
	if row.serial != "" && serialKey(row.serial) == "" {
		l.fail("serial", "blank once normalised")
	}
	if v := l.get("location_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			l.fail("location_id", "%q is not a location id", v)
		}
		row.locationID = &id
	}
	if row.replenishment == "" {
		row.replenishment = domain.ReplenishmentEligible
	} else if !row.replenishment.Valid() {
		l.fail("replenishment", "%q is not eligible, active or ineligible", row.replenishment)
	}
	row.opening = openingColumns(l)
	return serialKey(row.serial), row.store
}

// openingColumns parses a device line's opening read: nil when its
// columns are all empty; a time and at least one meter otherwise.
func openingColumns(l *csvLine) *OpeningRead {
	var o OpeningRead
	meters := false
	for _, m := range []struct {
		column string
		value  **int64
	}{{"opening_black", &o.Black}, {"opening_colour", &o.Colour}, {"opening_total", &o.Total}} {
		v := l.get(m.column)
		if v == "" {
			continue
		}
		meters = true
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			l.fail(m.column, "%q is not a whole number", v)
			continue
		}
		if err := billing.CheckMeter(n); err != nil {
			l.fail(m.column, "%s", domain.ErrorMessage(err))
		}
		*m.value = &n
	}
	at := l.get("opening_read_at")
	switch {
	case at == "" && !meters:
		return nil
	case at == "":
		l.fail("opening_read_at", "an opening meter needs the time of its read")
		return nil
	case !meters:
		l.fail("opening_read_at", "an opening read needs at least one meter")
		return nil
	}
	t, err := time.Parse(time.DateOnly, at)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, at); err != nil {
			l.fail("opening_read_at", "%q is not a date YYYY-MM-DD or a time in RFC 3339", at)
			return nil
		}
	}
	o.At = t
	return &o
}

// store puts the device of the line under contract; a device already
// under that contract with those values is unchanged.
func (row deviceLine) store(ctx context.Context, s *Store, tx *sqlx.Tx, by Actor) (importOutcome, *rowError) {
	accountID, rerr := lineAccount(ctx, tx, row.customer)
	if rerr != nil {
		return unchanged, rerr
	}
	var contractID int64
	if err := tx.GetContext(ctx, &contractID, tx.Rebind(`SELECT id FROM contracts WHERE number = ? AND account_id = ?`), row.contract, accountID); err != nil {
		return unchanged, &rowError{"contract_number", notFound(err, "account %s has no contract %s", row.customer, row.contract)}
	}
	d := ContractedDevice{Key: serialKey(row.serial), Serial: wire.NormalizeSerial(row.serial), Model: row.model, ProductCode: row.product,
		ContractID: contractID, State: domain.ContractActive, Replenishment: row.replenishment, LocationID: row.locationID, Opening: row.opening}
	if err := checkOpening(&d, s.now()); err != nil {
		return unchanged, &rowError{"opening_read_at", err}
	}
	if d.LocationID != nil {
		var account int64
		if err := tx.GetContext(ctx, &account, tx.Rebind(`SELECT account_id FROM shipping_locations WHERE id = ?`), *d.LocationID); err != nil || account != accountID {
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return unchanged, &rowError{"location_id", err}
			}
			return unchanged, &rowError{"location_id", domain.Errorf(domain.EINVALID, "location %d is not a location of account %s", *d.LocationID, row.customer)}
		}
	}
	if row.locationCode != "" {
		var id int64
		if err := tx.GetContext(ctx, &id, tx.Rebind(`SELECT id FROM shipping_locations WHERE account_id = ? AND code = ?`), accountID, row.locationCode); err != nil {
			return unchanged, &rowError{"location_code", notFound(err, "account %s has no location of code %s", row.customer, row.locationCode)}
		}
		if d.LocationID != nil && *d.LocationID != id {
			return unchanged, &rowError{"location_code", domain.Errorf(domain.EINVALID, "location code %s is location %d, not location_id %d", row.locationCode, id, *d.LocationID)}
		}
		d.LocationID = &id
	}
	var cur []ContractedDevice
	if err := tx.SelectContext(ctx, &cur, tx.Rebind(`SELECT `+contractedColumns+` FROM devices WHERE device_key = ? AND contract_id = ?`), d.Key, contractID); err != nil {
		return unchanged, &rowError{"", err}
	}
	if len(cur) > 0 {
		c := cur[0]
		// The model is not compared: the one the device reports wins.
		if c.ProductCode != d.ProductCode || c.Replenishment != d.Replenishment || !eqID(c.LocationID, d.LocationID) {
			return unchanged, &rowError{"serial", domain.Errorf(domain.ECONFLICT, "serial %s is already under contract %s with other values", d.Serial, row.contract)}
		}
		// An opening read not stored yet is added to the device.
		d.ID = c.ID
		added, err := s.putOpeningRead(ctx, tx, &d)
		switch {
		case err != nil:
			return unchanged, &rowError{"opening_read_at", err}
		case added:
			return updated, nil
		}
		return unchanged, nil
	}
	if err := s.putDevice(ctx, tx, &d, by); err != nil {
		return unchanged, &rowError{"serial", constraint(err)}
	}
	return created, nil
}

func eqID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// userLine is what a line of a users file says of the user.
type userLine struct {
	line        int
	name, phone string
	hasName     bool
	hasPhone    bool
	language    domain.Language
}

// newUserParser returns the parser of a users file: a user on several
// lines (one an account) must be the same user on each.
func newUserParser() lineParser {
	seen := map[string]userLine{}
	return func(l *csvLine) (string, importStep) {
		email := normalEmail(l.get("email"))
		number := l.get("customer_number")
		role := domain.Role(strings.ToLower(l.get("role")))
		if email != "" && !strings.Contains(email, "@") {
			l.fail("email", "%q is not an e-mail address", email)
		}
		if role != "" && !role.Valid() {
			l.fail("role", "%q is not primary, delegate or back_office", role)
		}
		u := userLine{line: l.n, name: l.get("name"), phone: l.get("phone"), hasName: l.has("name"), hasPhone: l.has("phone"), language: lineLanguage(l)}
		if first, ok := seen[email]; ok && email != "" {
			switch {
			case first.name != u.name:
				l.fail("name", "user %s has another name on line %d", email, first.line)
			case first.phone != u.phone:
				l.fail("phone", "user %s has another phone on line %d", email, first.line)
			case first.language != u.language:
				l.fail("language", "user %s has another language on line %d", email, first.line)
			}
		} else {
			seen[email] = u
		}
		return email + "\x00" + number, func(ctx context.Context, s *Store, tx *sqlx.Tx, by Actor) (importOutcome, *rowError) {
			return u.store(ctx, s, tx, email, number, role, by)
		}
	}
}

// store creates or updates the user of the line and gives them the role on
// the account: created when the role is new, updated when the user or the
// role changed.
func (u userLine) store(ctx context.Context, s *Store, tx *sqlx.Tx, email, number string, role domain.Role, by Actor) (importOutcome, *rowError) {
	accountID, rerr := lineAccount(ctx, tx, number)
	if rerr != nil {
		return unchanged, rerr
	}
	outcome := unchanged
	cur, err := userByEmail(ctx, tx, email)
	switch {
	case domain.ErrorCode(err) == domain.ENOTFOUND:
		cur = User{Email: email, Name: u.name, Phone: u.phone, Language: u.language}
		if cur.Language == "" {
			if err := tx.GetContext(ctx, &cur.Language, tx.Rebind(`SELECT language FROM accounts WHERE id = ?`), accountID); err != nil {
				return unchanged, &rowError{"", err}
			}
		}
		if err := cur.check(); err != nil {
			return unchanged, &rowError{"email", err}
		}
		if err := s.insertUser(ctx, tx, &cur); err != nil {
			return unchanged, &rowError{"email", err}
		}
	case err != nil:
		return unchanged, &rowError{"", err}
	default:
		next := cur
		if u.hasName {
			next.Name = u.name
		}
		if u.hasPhone {
			next.Phone = u.phone
		}
		if u.language != "" {
			next.Language = u.language
		}
		if next != cur {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE users SET name = ?, phone = ?, language = ? WHERE id = ?`),
				next.Name, next.Phone, next.Language, next.ID); err != nil {
				return unchanged, &rowError{"", constraint(err)}
			}
			outcome = updated
		}
	}
	var old domain.Role
	err = tx.GetContext(ctx, &old, tx.Rebind(`SELECT role FROM memberships WHERE user_id = ? AND account_id = ?`), cur.ID, accountID)
	m := Membership{UserID: cur.ID, AccountID: accountID, Role: role}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return created, stepError("role", s.addMembership(ctx, tx, &m, by))
	case err != nil:
		return unchanged, &rowError{"", err}
	case old == role:
		return outcome, nil
	}
	return updated, stepError("role", s.changeRole(ctx, tx, m, old, by))
}

func parseAgentLine(l *csvLine) (string, importStep) {
	agentID, number := l.get("agent_id"), l.get("customer_number")
	return agentID, func(ctx context.Context, s *Store, tx *sqlx.Tx, by Actor) (importOutcome, *rowError) {
		accountID, rerr := lineAccount(ctx, tx, number)
		if rerr != nil {
			return unchanged, rerr
		}
		var cur *int64
		err := tx.GetContext(ctx, &cur, tx.Rebind(`SELECT account_id FROM agents WHERE id = ?`+s.forUpdate()), agentID)
		switch {
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return unchanged, &rowError{"", err}
		case cur != nil && *cur == accountID:
			return unchanged, nil
		case cur != nil:
			// Moving an agent moves where its reads land: a deliberate
			// call (PUT /api/v1/agents/ID/account), never a side effect.
			other, err := accountNumber(ctx, tx, *cur)
			if err != nil {
				return unchanged, &rowError{"", err}
			}
			return unchanged, &rowError{"agent_id", domain.Errorf(domain.ECONFLICT, "agent %s belongs to account %s", agentID, other)}
		}
		return created, stepError("agent_id", s.registerAgent(ctx, tx, agentID, accountID, by))
	}
}
