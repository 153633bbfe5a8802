package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// RequestKind is what a customer asks the back office (migration 0013).
type RequestKind string

// Request kinds.
const (
	// RequestRemoval: remove a device; it is pending_removal meanwhile.
	RequestRemoval RequestKind = "removal"
	// RequestGrouping: group devices that share a shipping address.
	RequestGrouping RequestKind = "grouping"
	// RequestSerialLink: link a serial to an account (seed 000: the postal
	// code did not match, or another account holds the serial).
	RequestSerialLink RequestKind = "serial_link"
	// RequestContact: a contact-us message.
	RequestContact RequestKind = "contact"
)

// RequestKinds lists the kinds, in the order the back office shows them.
var RequestKinds = []RequestKind{RequestSerialLink, RequestRemoval, RequestGrouping, RequestContact}

// Valid reports whether k is a known kind.
func (k RequestKind) Valid() bool { return slices.Contains(RequestKinds, k) }

// RequestOutcome is how the back office resolved a request.
type RequestOutcome string

// Outcomes.
const (
	OutcomeDone     RequestOutcome = "done"
	OutcomeRejected RequestOutcome = "rejected"
)

// Valid reports whether o is a known outcome.
func (o RequestOutcome) Valid() bool { return o == OutcomeDone || o == OutcomeRejected }

// RequestDevice is a device a request is about.
type RequestDevice struct {
	ID     int64  `db:"id"`
	Serial string `db:"serial"`
	Model  string `db:"model"`
}

// Request is a request the back office handles.
type Request struct {
	ID   int64       `db:"id"`
	Kind RequestKind `db:"kind"`
	// AccountID is nil for a link request made while registering.
	AccountID *int64 `db:"account_id"`
	// CustomerNumber and AccountName are the account's ("" without one).
	CustomerNumber string `db:"customer_number"`
	AccountName    string `db:"account_name"`
	// UserID is who asked, nil for a registration not yet confirmed;
	// UserEmail is that user's address.
	UserID    *int64 `db:"user_id"`
	UserEmail string `db:"user_email"`
	// Name, Email and Phone are the contact details given with a link
	// request (registration).
	Name  string `db:"name"`
	Email string `db:"email"`
	Phone string `db:"phone"`
	// Serial and PostalCode (normalised) of a link request; Serial also
	// names the device of a removal.
	Serial     string `db:"serial"`
	PostalCode string `db:"postal_code"`
	// Subject and Body of a contact message; Body is the customer's note
	// for the other kinds.
	Subject string `db:"subject"`
	Body    string `db:"body"`
	// Devices of a removal (one) or a grouping (two or more).
	Devices   []RequestDevice `db:"-"`
	CreatedAt time.Time       `db:"created_at"`
	// Resolution: all empty while the request is open.
	ResolvedAt       *time.Time     `db:"resolved_at"`
	ResolvedByUserID *int64         `db:"resolved_by_user_id"`
	ResolvedBySystem *string        `db:"resolved_by_system"`
	Outcome          RequestOutcome `db:"outcome"`
	Note             string         `db:"note"`
}

// Open reports whether the back office has not resolved the request yet.
func (r Request) Open() bool { return r.ResolvedAt == nil }

const requestSelect = `SELECT q.id, q.kind, q.account_id, COALESCE(a.customer_number, '') AS customer_number,
       COALESCE(a.name, '') AS account_name, q.user_id, COALESCE(u.email, '') AS user_email,
       q.name, q.email, q.phone, q.serial, q.postal_code, q.subject, q.body, q.created_at,
       q.resolved_at, q.resolved_by_user_id, q.resolved_by_system, COALESCE(q.outcome, '') AS outcome, q.note
FROM customer_requests q
LEFT JOIN accounts a ON a.id = q.account_id
LEFT JOIN users u ON u.id = q.user_id`

// Limits of what a customer types into a request.
const (
	maxSubject = 200
	maxBody    = 5000
	maxNote    = 2000
)

// MaxContactSubject and MaxContactBody are the longest subject and text of
// a contact-us message, in characters: the form states them.
const (
	MaxContactSubject = maxSubject
	MaxContactBody    = maxBody
)

// memberRole returns a user's role on an account. A user with none gets
// ENOTFOUND, as if the account did not exist.
func memberRole(ctx context.Context, q sqlx.ExtContext, accountID, userID int64) (domain.Role, error) {
	var role domain.Role
	err := sqlx.GetContext(ctx, q, &role, q.Rebind(`SELECT role FROM memberships WHERE user_id = ? AND account_id = ?`), userID, accountID)
	if err != nil {
		return "", notFound(err, "account %d does not exist", accountID)
	}
	return role, nil
}

// checkRequester checks that a user may ask something for an account: any
// role on it will do (the web decides which pages each role sees);
// ENOTFOUND otherwise.
func checkRequester(ctx context.Context, q sqlx.ExtContext, accountID, userID int64) error {
	_, err := memberRole(ctx, q, accountID, userID)
	return err
}

// RequestRemoval asks the back office to remove a device of an account
// (seed 000). The device turns pending_removal at once, recorded with the
// user: shown with "*", no longer orderable. Only an active device under
// contract of the account can be asked for: one already pending removal
// is ECONFLICT; a device of another account, not under contract or
// removed is ENOTFOUND, as is an account the user has no role on. reason
// is optional (at most 2000 characters).
func (s *Store) RequestRemoval(ctx context.Context, accountID, userID, deviceID int64, reason string) (Request, error) {
	reason = strings.TrimSpace(reason)
	if err := checkText("reason", reason, maxNote); err != nil {
		return Request{}, err
	}
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := checkRequester(ctx, tx, accountID, userID); err != nil {
			return err
		}
		var d RequestDevice
		var state string
		err := tx.QueryRowxContext(ctx, tx.Rebind(`SELECT id, serial, model, state FROM devices
WHERE id = ? AND account_id = ? AND contract_id IS NOT NULL AND state IN ('active', 'pending_removal')`+s.forUpdate()), deviceID, accountID).Scan(&d.ID, &d.Serial, &d.Model, &state)
		if err != nil {
			return notFound(err, "account %d has no device %d", accountID, deviceID)
		}
		if state == string(domain.ContractPendingRemoval) {
			return domain.Errorf(domain.ECONFLICT, "the removal of device %s is already asked", d.Serial)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE devices SET state = ? WHERE id = ?`), domain.ContractPendingRemoval, d.ID); err != nil {
			return constraint(err)
		}
		if err := s.recordChange(ctx, tx, EntityDevice, d.ID, "state", &state, strp(string(domain.ContractPendingRemoval)), ByUser(userID)); err != nil {
			return err
		}
		id, err = s.insertRequest(ctx, tx, Request{Kind: RequestRemoval, AccountID: &accountID, UserID: &userID, Serial: d.Serial, Body: reason}, d.ID)
		return err
	})
	if err != nil {
		return Request{}, fmt.Errorf("store: ask the removal of device %d of account %d: %w", deviceID, accountID, err)
	}
	return s.request(ctx, "q.id = ?", id)
}

// RequestGrouping asks the back office to group devices of an account that
// share a shipping address (seed 000). It needs two devices or more, each
// under contract of the account and not removed (ENOTFOUND otherwise, as
// for an account the user has no role on); note is optional.
func (s *Store) RequestGrouping(ctx context.Context, accountID, userID int64, deviceIDs []int64, note string) (Request, error) {
	ids := slices.Clone(deviceIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	note = strings.TrimSpace(note)
	switch {
	case len(ids) < 2:
		return Request{}, domain.Errorf(domain.EINVALID, "grouping needs two devices or more")
	case len(ids) > 1000:
		return Request{}, domain.Errorf(domain.EINVALID, "grouping takes at most 1000 devices")
	}
	if err := checkText("note", note, maxNote); err != nil {
		return Request{}, err
	}
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := checkRequester(ctx, tx, accountID, userID); err != nil {
			return err
		}
		q, args, err := sqlx.In(`SELECT count(*) FROM devices
WHERE account_id = ? AND contract_id IS NOT NULL AND state IN ('active', 'pending_removal') AND id IN (?)`, accountID, ids)
		if err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("check the devices: %w", err)
		}
		if n != len(ids) {
			return domain.Errorf(domain.ENOTFOUND, "a device to group is not one of account %d", accountID)
		}
		id, err = s.insertRequest(ctx, tx, Request{Kind: RequestGrouping, AccountID: &accountID, UserID: &userID, Body: note}, ids...)
		return err
	})
	if err != nil {
		return Request{}, fmt.Errorf("store: ask to group devices of account %d: %w", accountID, err)
	}
	return s.request(ctx, "q.id = ?", id)
}

// SerialLink is a request to link a serial to an account, made when the
// serial and postal code a customer gave do not match what is on file, or
// match a device of another account (seed 000's "send us the serial").
type SerialLink struct {
	// AccountID and UserID are nil while registering: no account and no
	// confirmed user yet. With both, the user must have a role on the
	// account (ENOTFOUND otherwise).
	AccountID *int64
	UserID    *int64
	// Serial is required; PostalCode is the one the customer gave.
	Serial     string
	PostalCode string
	// Name, Email and Phone say whom to answer; Email is required
	// without a user.
	Name, Email, Phone string
	Note               string
	// Reason says why the request was made (LinkNoMatch, LinkHasPrimary;
	// "" for an "add equipment" request); it is kept as the subject.
	Reason string
}

// Reasons of a serial-link request made while registering.
const (
	// LinkNoMatch: the serial and postal code matched no device on file.
	LinkNoMatch = "no_match"
	// LinkHasPrimary: the account already has a primary user.
	LinkHasPrimary = "has_primary"
)

// RequestSerialLink records a serial-link request for the back office and
// returns it. The same serial asked again by the same account (or, while
// registering, the same e-mail) while a request is open returns the open
// request instead of a second one.
func (s *Store) RequestSerialLink(ctx context.Context, l SerialLink, mails ...mail.Message) (Request, error) {
	r := Request{
		Kind: RequestSerialLink, AccountID: l.AccountID, UserID: l.UserID, Subject: l.Reason,
		Serial: wire.NormalizeSerial(l.Serial), PostalCode: NormalPostalCode(l.PostalCode),
		Name: strings.TrimSpace(l.Name), Email: normalEmail(l.Email), Phone: strings.TrimSpace(l.Phone),
		Body: strings.TrimSpace(l.Note),
	}
	if r.Serial == "" {
		return Request{}, domain.Errorf(domain.EINVALID, "a link request needs a serial number")
	}
	if (l.AccountID == nil) != (l.UserID == nil) {
		return Request{}, domain.Errorf(domain.EINVALID, "a link request names both an account and a user, or neither")
	}
	if l.UserID == nil && !strings.Contains(r.Email, "@") {
		return Request{}, domain.Errorf(domain.EINVALID, "%q is not an e-mail address", r.Email)
	}
	for _, f := range []struct{ name, value string }{{"serial", r.Serial}, {"postal code", r.PostalCode}, {"name", r.Name}, {"e-mail", r.Email}, {"phone", r.Phone}} {
		if err := checkLine(f.name, f.value, maxContactField); err != nil {
			return Request{}, err
		}
	}
	if err := checkText("note", r.Body, maxNote); err != nil {
		return Request{}, err
	}
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		same := `q.kind = 'serial_link' AND q.resolved_at IS NULL AND q.serial = ? AND q.email = ? AND q.account_id IS NULL`
		args := []any{r.Serial, r.Email}
		if l.AccountID != nil {
			if err := checkRequester(ctx, tx, *l.AccountID, *l.UserID); err != nil {
				return err
			}
			same, args = `q.kind = 'serial_link' AND q.resolved_at IS NULL AND q.serial = ? AND q.account_id = ?`, []any{r.Serial, *l.AccountID}
		}
		err := tx.GetContext(ctx, &id, tx.Rebind(`SELECT q.id FROM customer_requests q WHERE `+same+` ORDER BY q.id LIMIT 1`), args...)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("look for an open request: %w", err)
		}
		if id, err = s.insertRequest(ctx, tx, r); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, mails...)
	})
	if err != nil {
		return Request{}, fmt.Errorf("store: ask to link serial %s: %w", r.Serial, err)
	}
	return s.request(ctx, "q.id = ?", id)
}

// ContactMessage is a contact-us message of a user about an account.
type ContactMessage struct {
	AccountID int64
	UserID    int64
	// Subject is one line (at most 200 characters), Body at most 5000;
	// both are required.
	Subject string
	Body    string
}

// contactMailData is what the contact_message e-mail reads.
type contactMailData struct {
	RequestID      int64
	CustomerNumber string
	AccountName    string
	UserName       string
	UserEmail      string
	Subject        string
	Body           string
}

// SendContactMessage stores a contact-us message for the back office and,
// in the same transaction, queues it by e-mail to backOfficeAddress (a
// configuration value) in the writer's language; the writer's address is
// in the message. An account the user has no role on is ENOTFOUND.
func (s *Store) SendContactMessage(ctx context.Context, m ContactMessage, backOfficeAddress string) (Request, error) {
	m.Subject, m.Body = strings.TrimSpace(m.Subject), strings.TrimSpace(m.Body)
	switch {
	case m.Subject == "":
		return Request{}, domain.Errorf(domain.EINVALID, "a message needs a subject")
	case m.Body == "":
		return Request{}, domain.Errorf(domain.EINVALID, "a message needs a text")
	}
	if err := checkLine("subject", m.Subject, maxSubject); err != nil {
		return Request{}, err
	}
	if err := checkText("message", m.Body, maxBody); err != nil {
		return Request{}, err
	}
	var id int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := checkRequester(ctx, tx, m.AccountID, m.UserID); err != nil {
			return err
		}
		var err error
		if id, err = s.insertRequest(ctx, tx, Request{Kind: RequestContact, AccountID: &m.AccountID, UserID: &m.UserID, Subject: m.Subject, Body: m.Body}); err != nil {
			return err
		}
		var who struct {
			Number   string          `db:"customer_number"`
			Account  string          `db:"account_name"`
			Name     string          `db:"name"`
			Email    string          `db:"email"`
			Language domain.Language `db:"language"`
		}
		if err := tx.GetContext(ctx, &who, tx.Rebind(`SELECT a.customer_number, a.name AS account_name, u.name, u.email, u.language
FROM accounts a, users u WHERE a.id = ? AND u.id = ?`), m.AccountID, m.UserID); err != nil {
			return fmt.Errorf("read the writer: %w", err)
		}
		_, err = s.outbox.Enqueue(ctx, tx, mail.Message{
			Key: "contact:" + strconv.FormatInt(id, 10), To: backOfficeAddress, Lang: i18n.Lang(who.Language), Template: "contact_message",
			Data: contactMailData{RequestID: id, CustomerNumber: who.Number, AccountName: who.Account, UserName: who.Name, UserEmail: who.Email,
				Subject: m.Subject, Body: m.Body},
		})
		return err
	})
	if err != nil {
		return Request{}, fmt.Errorf("store: contact message of account %d: %w", m.AccountID, err)
	}
	return s.request(ctx, "q.id = ?", id)
}

// insertRequest stores r (open) with its devices and returns its id.
func (s *Store) insertRequest(ctx context.Context, tx *sqlx.Tx, r Request, deviceIDs ...int64) (int64, error) {
	var id int64
	err := tx.GetContext(ctx, &id, tx.Rebind(`INSERT INTO customer_requests
(kind, account_id, user_id, serial, postal_code, name, email, phone, subject, body, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		r.Kind, r.AccountID, r.UserID, r.Serial, r.PostalCode, r.Name, r.Email, r.Phone, r.Subject, r.Body, dbTime(s.now()))
	if err != nil {
		return 0, fmt.Errorf("insert the request: %w", constraint(err))
	}
	for _, d := range deviceIDs {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO customer_request_devices (request_id, device_id) VALUES (?, ?)`), id, d); err != nil {
			return 0, fmt.Errorf("insert the request's device %d: %w", d, constraint(err))
		}
	}
	return id, nil
}

// AccountRequests lists the requests of an account, newest first, open
// and resolved, at most limit (1 to 500; 50 when 0).
func (s *Store) AccountRequests(ctx context.Context, accountID int64, limit int) ([]Request, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	return s.requests(ctx, `q.account_id = ? ORDER BY q.created_at DESC, q.id DESC LIMIT ?`, accountID, limit)
}

// BackOfficeOpenRequests lists the open requests of a kind, oldest first,
// at most limit (1 to 500; 50 when 0). A back-office read: it spans
// every account.
func (s *Store) BackOfficeOpenRequests(ctx context.Context, kind RequestKind, limit int) ([]Request, error) {
	if !kind.Valid() {
		return nil, domain.Errorf(domain.EINVALID, "request kind %q is not known", kind)
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	return s.requests(ctx, `q.kind = ? AND q.resolved_at IS NULL ORDER BY q.created_at, q.id LIMIT ?`, kind, limit)
}

// BackOfficeOpenRequestCounts counts the open requests of each kind.
func (s *Store) BackOfficeOpenRequestCounts(ctx context.Context) (map[RequestKind]int, error) {
	var rows []struct {
		Kind RequestKind `db:"kind"`
		N    int         `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT kind, count(*) AS n FROM customer_requests WHERE resolved_at IS NULL GROUP BY kind`); err != nil {
		return nil, fmt.Errorf("store: count open requests: %w", err)
	}
	out := make(map[RequestKind]int, len(RequestKinds))
	for _, k := range RequestKinds {
		out[k] = 0
	}
	for _, r := range rows {
		out[r.Kind] = r.N
	}
	return out, nil
}

// BackOfficeRequest returns a request of any account by id (ENOTFOUND when
// there is none). A back-office read.
func (s *Store) BackOfficeRequest(ctx context.Context, id int64) (Request, error) {
	return s.request(ctx, "q.id = ?", id)
}

// ResolveRequest closes an open request with an outcome, an optional note
// and who resolved it. Resolving a removal done removes its device;
// rejected puts it back to active (each recorded with the actor). A
// request already resolved is ECONFLICT, one that does not exist
// ENOTFOUND. The other kinds change nothing else: the back office links
// a serial or groups devices with the tools it has for that.
func (s *Store) ResolveRequest(ctx context.Context, id int64, outcome RequestOutcome, note string, by Actor) (Request, error) {
	note = strings.TrimSpace(note)
	if !outcome.Valid() {
		return Request{}, domain.Errorf(domain.EINVALID, "outcome %q is not done or rejected", outcome)
	}
	if err := by.check(); err != nil {
		return Request{}, err
	}
	if err := checkText("note", note, maxNote); err != nil {
		return Request{}, err
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var cur struct {
			Kind       RequestKind `db:"kind"`
			ResolvedAt *time.Time  `db:"resolved_at"`
		}
		if err := tx.GetContext(ctx, &cur, tx.Rebind(`SELECT kind, resolved_at FROM customer_requests WHERE id = ?`+s.forUpdate()), id); err != nil {
			return notFound(err, "request %d does not exist", id)
		}
		if cur.ResolvedAt != nil {
			return domain.Errorf(domain.ECONFLICT, "request %d is already resolved", id)
		}
		userID, system := by.columns()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE customer_requests
SET resolved_at = ?, resolved_by_user_id = ?, resolved_by_system = ?, outcome = ?, note = ? WHERE id = ?`),
			dbTime(s.now()), userID, system, outcome, note, id); err != nil {
			return constraint(err)
		}
		if cur.Kind != RequestRemoval {
			return nil
		}
		next := domain.ContractRemoved
		if outcome == OutcomeRejected {
			next = domain.ContractActive
		}
		return s.endPendingRemoval(ctx, tx, id, next, by)
	})
	if err != nil {
		return Request{}, fmt.Errorf("store: resolve request %d: %w", id, err)
	}
	return s.request(ctx, "q.id = ?", id)
}

// endPendingRemoval moves the devices of removal request id that are
// still pending removal to next, recording each change.
func (s *Store) endPendingRemoval(ctx context.Context, tx *sqlx.Tx, id int64, next domain.ContractState, by Actor) error {
	var devices []int64
	if err := tx.SelectContext(ctx, &devices, tx.Rebind(`SELECT d.id FROM devices d
JOIN customer_request_devices rd ON rd.device_id = d.id
WHERE rd.request_id = ? AND d.state = 'pending_removal' ORDER BY d.id`+s.forUpdate()), id); err != nil {
		return fmt.Errorf("read the devices of request %d: %w", id, err)
	}
	old := string(domain.ContractPendingRemoval)
	for _, d := range devices {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE devices SET state = ? WHERE id = ?`), next, d); err != nil {
			return constraint(err)
		}
		if err := s.recordChange(ctx, tx, EntityDevice, d, "state", &old, strp(string(next)), by); err != nil {
			return err
		}
	}
	return nil
}

// request returns the one request where selects (ENOTFOUND when none).
func (s *Store) request(ctx context.Context, where string, args ...any) (Request, error) {
	rs, err := s.requests(ctx, where, args...)
	if err != nil {
		return Request{}, err
	}
	if len(rs) == 0 {
		return Request{}, domain.Errorf(domain.ENOTFOUND, "no such request")
	}
	return rs[0], nil
}

// requests runs requestSelect with where (and its ORDER BY) and fills in
// the devices of the requests found with one more query.
func (s *Store) requests(ctx context.Context, where string, args ...any) ([]Request, error) {
	var out []Request
	err := s.selectPrepared(ctx, &out, requestSelect+` WHERE `+where, args...) // where is one of the texts of this file
	if err != nil {
		return nil, fmt.Errorf("store: requests: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	byID := make(map[int64]int, len(out))
	ids := make([]int64, len(out))
	for i := range out {
		r := &out[i]
		r.CreatedAt = r.CreatedAt.UTC()
		if r.ResolvedAt != nil {
			t := r.ResolvedAt.UTC()
			r.ResolvedAt = &t
		}
		byID[r.ID], ids[i] = i, r.ID
	}
	q, qargs, err := sqlx.In(`SELECT rd.request_id, d.id, d.serial, d.model FROM customer_request_devices rd
JOIN devices d ON d.id = rd.device_id WHERE rd.request_id IN (?) ORDER BY rd.request_id, d.serial, d.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: request devices: %w", err)
	}
	var devices []struct {
		RequestID int64 `db:"request_id"`
		RequestDevice
	}
	if err := s.db.SelectContext(ctx, &devices, s.db.Rebind(q), qargs...); err != nil {
		return nil, fmt.Errorf("store: request devices: %w", err)
	}
	for _, d := range devices {
		r := &out[byID[d.RequestID]]
		r.Devices = append(r.Devices, d.RequestDevice)
	}
	return out, nil
}

// maxPage is the most rows a page may hold.
const maxPage = 500

// pageLimit checks a page size: 0 is 50, more than maxPage or less than 0
// is EINVALID.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return 50, nil
	case limit < 0 || limit > maxPage:
		return 0, domain.Errorf(domain.EINVALID, "a page holds 1 to %d rows, not %d", maxPage, limit)
	}
	return limit, nil
}

// checkText is checkLine for text of several lines: line breaks and tabs
// are allowed.
func checkText(field, value string, limit int) error {
	if utf8.RuneCountInString(value) > limit {
		return domain.Errorf(domain.EINVALID, "%s is longer than %d characters", field, limit)
	}
	bad := func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }
	if strings.IndexFunc(value, bad) >= 0 || !utf8.ValidString(value) {
		return domain.Errorf(domain.EINVALID, "%s holds a character that is not allowed", field)
	}
	return nil
}
