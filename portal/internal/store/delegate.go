package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/shared/domain"
)

// InvitationAcceptPath is the portal path an invitation e-mail links to,
// the token in its "token" query parameter: the web serves it and calls
// AcceptInvitation.
const InvitationAcceptPath = "/invitations/accept"

// MaxInvitationTTL is the longest an invitation link may stay valid.
const MaxInvitationTTL = 30 * 24 * time.Hour

// Invitation is an invitation to become a delegate of an account (seed
// 000). Its token is never stored, only its SHA-256.
type Invitation struct {
	ID        int64           `db:"id"`
	AccountID int64           `db:"account_id"`
	Email     string          `db:"email"`
	Language  domain.Language `db:"language"`
	// InvitedBy is the primary user who invited.
	InvitedBy      int64      `db:"invited_by"`
	CreatedAt      time.Time  `db:"created_at"`
	ExpiresAt      time.Time  `db:"expires_at"`
	AcceptedAt     *time.Time `db:"accepted_at"`
	AcceptedUserID *int64     `db:"accepted_user_id"`
	CancelledAt    *time.Time `db:"cancelled_at"`
}

const invitationColumns = `id, account_id, email, language, invited_by, created_at, expires_at, accepted_at, accepted_user_id, cancelled_at`

func (in *Invitation) utc() {
	in.CreatedAt, in.ExpiresAt = in.CreatedAt.UTC(), in.ExpiresAt.UTC()
	for _, t := range []**time.Time{&in.AcceptedAt, &in.CancelledAt} {
		if *t != nil {
			u := (**t).UTC()
			*t = &u
		}
	}
}

// pendingInvitation is the SQL condition of an invitation (alias i) still
// waiting for its answer at time ?.
const pendingInvitation = `i.accepted_at IS NULL AND i.cancelled_at IS NULL AND i.expires_at > ?`

// DelegateInvite is what InviteDelegate needs.
type DelegateInvite struct {
	AccountID int64
	// InviterID must be the account's primary user.
	InviterID int64
	// Email is the address of the person invited.
	Email string
	// TTL is how long the link stays valid (up to MaxInvitationTTL).
	TTL time.Duration
	// BaseURL is the portal's URL (https://portal.example, no trailing
	// path): the link is BaseURL + InvitationAcceptPath + "?token=…".
	BaseURL string
}

// invitationMailData is what the delegate_invitation e-mail reads.
type invitationMailData struct {
	InviterName    string
	InviterEmail   string
	CustomerNumber string
	AccountName    string
	Link           string
	Expires        string
}

// InviteDelegate invites a person by e-mail to become a delegate of an
// account (seed 000) and queues the invitation e-mail, in the invitee's
// language if the address is a user's, else the account's, with a
// single-use link valid for TTL. It returns the invitation and the token
// of its link (for tests; the web never shows it: the link goes by
// e-mail only). An account has at most domain.MaxDelegates delegates,
// pending invitations counted: one more is ECONFLICT, as is inviting a
// user of the account or an address already invited and pending. Only
// the primary user invites: a delegate is EFORBIDDEN, a user with no role
// on the account ENOTFOUND.
func (s *Store) InviteDelegate(ctx context.Context, in DelegateInvite) (Invitation, string, error) {
	email := normalEmail(in.Email)
	switch {
	case !strings.Contains(email, "@") || len(email) > 254 || strings.ContainsAny(email, " \t\r\n<>,;"):
		return Invitation{}, "", domain.Errorf(domain.EINVALID, "%q is not an e-mail address", in.Email)
	case in.TTL <= 0 || in.TTL > MaxInvitationTTL:
		return Invitation{}, "", domain.Errorf(domain.EINVALID, "an invitation is valid for up to %v, not %v", MaxInvitationTTL, in.TTL)
	case in.BaseURL == "":
		return Invitation{}, "", domain.Errorf(domain.EINVALID, "the portal's base URL is needed for the link")
	}
	token, hash, err := newSecret()
	if err != nil {
		return Invitation{}, "", fmt.Errorf("store: invitation token: %w", err)
	}
	inv := Invitation{AccountID: in.AccountID, Email: email, InvitedBy: in.InviterID, CreatedAt: dbTime(s.now())}
	inv.ExpiresAt = inv.CreatedAt.Add(in.TTL)
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.lockAccount(ctx, tx, in.AccountID); err != nil {
			return err
		}
		if err := mustBePrimary(ctx, tx, in.AccountID, in.InviterID); err != nil {
			return err
		}
		var who struct {
			Number    string          `db:"customer_number"`
			Account   string          `db:"account_name"`
			Language  domain.Language `db:"language"`
			Inviter   string          `db:"name"`
			InviterAt string          `db:"email"`
		}
		if err := tx.GetContext(ctx, &who, tx.Rebind(`SELECT a.customer_number, a.name AS account_name, a.language, u.name, u.email
FROM accounts a, users u WHERE a.id = ? AND u.id = ?`), in.AccountID, in.InviterID); err != nil {
			return fmt.Errorf("read the account: %w", err)
		}
		inv.Language = who.Language
		var invitee struct {
			ID       int64           `db:"id"`
			Language domain.Language `db:"language"`
		}
		switch err := tx.GetContext(ctx, &invitee, tx.Rebind(`SELECT id, language FROM users WHERE lower(email) = ?`), email); {
		case err == nil:
			inv.Language = invitee.Language
			if _, err := memberRole(ctx, tx, in.AccountID, invitee.ID); err == nil {
				return domain.Errorf(domain.ECONFLICT, "%s already is a user of this account", email)
			}
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up the invitee: %w", err)
		}
		var pending []string
		if err := tx.SelectContext(ctx, &pending, tx.Rebind(`SELECT i.email FROM invitations i WHERE i.account_id = ? AND `+pendingInvitation), in.AccountID, inv.CreatedAt); err != nil {
			return fmt.Errorf("read the pending invitations: %w", err)
		}
		for _, p := range pending {
			if p == email {
				return domain.Errorf(domain.ECONFLICT, "%s is already invited", email)
			}
		}
		delegates, err := countDelegates(ctx, tx, in.AccountID)
		if err != nil {
			return err
		}
		if delegates+len(pending) >= domain.MaxDelegates {
			return domain.Errorf(domain.ECONFLICT, "account %d has %d delegates and %d pending invitations: %d at most", in.AccountID, delegates, len(pending), domain.MaxDelegates)
		}
		if err := tx.GetContext(ctx, &inv.ID, tx.Rebind(`INSERT INTO invitations (account_id, email, language, token_hash, invited_by, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), inv.AccountID, inv.Email, inv.Language, hash, inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt); err != nil {
			return constraint(err)
		}
		lang := i18n.Lang(inv.Language)
		_, err = s.outbox.Enqueue(ctx, tx, mail.Message{
			Key: "delegate-invitation:" + strconv.FormatInt(inv.ID, 10), To: email, Lang: lang, Template: "delegate_invitation",
			Data: invitationMailData{InviterName: who.Inviter, InviterEmail: who.InviterAt, CustomerNumber: who.Number, AccountName: who.Account,
				Link:    strings.TrimRight(in.BaseURL, "/") + InvitationAcceptPath + "?token=" + token,
				Expires: i18n.For(lang).DateTime(inv.ExpiresAt, time.UTC)},
		})
		return err
	})
	if err != nil {
		return Invitation{}, "", fmt.Errorf("store: invite %s to account %d: %w", email, in.AccountID, err)
	}
	return inv, token, nil
}

// newSecret returns a random URL-safe secret and its SHA-256.
func newSecret() (string, []byte, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	return secret, hashSecret(secret), nil
}

// mustBePrimary is nil when the user is the account's primary user,
// EFORBIDDEN when the user has another role on it, ENOTFOUND when none.
func mustBePrimary(ctx context.Context, q sqlx.ExtContext, accountID, userID int64) error {
	role, err := memberRole(ctx, q, accountID, userID)
	if err != nil {
		return err
	}
	if role != domain.RolePrimary {
		return domain.Errorf(domain.EFORBIDDEN, "only the primary user manages the users of an account")
	}
	return nil
}

// PendingInvitations lists the invitations of an account still waiting
// for an answer, oldest first.
func (s *Store) PendingInvitations(ctx context.Context, accountID int64) ([]Invitation, error) {
	var out []Invitation
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT `+invitationColumns+` FROM invitations i
WHERE i.account_id = ? AND `+pendingInvitation+` ORDER BY i.created_at, i.id`), accountID, dbTime(s.now()))
	if err != nil {
		return nil, fmt.Errorf("store: invitations of account %d: %w", accountID, err)
	}
	for i := range out {
		out[i].utc()
	}
	return out, nil
}

// CancelInvitation withdraws a pending invitation of an account: its link
// no longer works. Only the primary user cancels (EFORBIDDEN for another
// role); an invitation of another account, or no longer pending, is
// ENOTFOUND.
func (s *Store) CancelInvitation(ctx context.Context, accountID, primaryID, invitationID int64) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := mustBePrimary(ctx, tx, accountID, primaryID); err != nil {
			return err
		}
		now := dbTime(s.now())
		var id int64
		err := tx.GetContext(ctx, &id, tx.Rebind(`UPDATE invitations SET cancelled_at = ?
WHERE id = ? AND account_id = ? AND accepted_at IS NULL AND cancelled_at IS NULL AND expires_at > ? RETURNING id`), now, invitationID, accountID, now)
		return notFound(err, "account %d has no pending invitation %d", accountID, invitationID)
	})
	if err != nil {
		return fmt.Errorf("store: cancel invitation %d of account %d: %w", invitationID, accountID, err)
	}
	return nil
}

// AcceptedInvitation is what accepting an invitation did, and what the web
// needs next.
type AcceptedInvitation struct {
	Invitation Invitation
	Account    Account
	// User is the delegate: the user of the invited address, created if
	// there was none.
	User User
	// UserCreated: no user had the address; User is new.
	UserCreated bool
	// NeedsPassword: User has no password yet; the web starts its
	// set-password flow for User.ID (the invitation proved the address).
	NeedsPassword bool
}

// delegateMailData is what the delegate_accepted and delegate_withdrew
// e-mails read.
type delegateMailData struct {
	PrimaryName    string
	DelegateName   string
	DelegateEmail  string
	CustomerNumber string
	AccountName    string
}

// AcceptInvitation accepts the invitation of a token: the user of the
// invited address (created, without password, if there is none) becomes a
// delegate of the account, the invitation is used up, and each primary
// user of the account is told by e-mail in their language. A token
// unknown, expired, cancelled or already used is ENOTFOUND, the same
// answer for each; a user who already has a role on the account is
// ECONFLICT, as is an account that meanwhile has its delegates.
func (s *Store) AcceptInvitation(ctx context.Context, token string) (AcceptedInvitation, error) {
	var out AcceptedInvitation
	refused := domain.Errorf(domain.ENOTFOUND, "this invitation link is not valid: it has expired, was cancelled or was already used")
	if token == "" {
		return out, refused
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		now := dbTime(s.now())
		inv := &out.Invitation
		err := tx.GetContext(ctx, inv, tx.Rebind(`SELECT `+invitationColumns+` FROM invitations i WHERE i.token_hash = ? AND `+pendingInvitation+s.forUpdate()), hashSecret(token), now)
		if errors.Is(err, sql.ErrNoRows) {
			return refused
		}
		if err != nil {
			return fmt.Errorf("look up the invitation: %w", err)
		}
		inv.utc()
		if err := tx.GetContext(ctx, &out.Account, tx.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`), inv.AccountID); err != nil {
			return fmt.Errorf("read account %d: %w", inv.AccountID, err)
		}
		out.Account.CreatedAt = out.Account.CreatedAt.UTC()
		switch err := tx.GetContext(ctx, &out.User, tx.Rebind(`SELECT `+userColumns+` FROM users WHERE lower(email) = ?`), inv.Email); {
		case errors.Is(err, sql.ErrNoRows):
			out.User = User{Email: inv.Email, Language: inv.Language, CreatedAt: now}
			if err := tx.GetContext(ctx, &out.User.ID, tx.Rebind(`INSERT INTO users (email, name, phone, language, created_at)
VALUES (?, '', '', ?, ?) RETURNING id`), out.User.Email, out.User.Language, out.User.CreatedAt); err != nil {
				return fmt.Errorf("create the user: %w", constraint(err))
			}
			out.UserCreated = true
		case err != nil:
			return fmt.Errorf("look up the user: %w", err)
		}
		out.User.CreatedAt = out.User.CreatedAt.UTC()
		out.NeedsPassword = out.User.PasswordHash == nil
		if _, err := memberRole(ctx, tx, inv.AccountID, out.User.ID); err == nil {
			return domain.Errorf(domain.ECONFLICT, "%s already is a user of this account", inv.Email)
		}
		if err := s.addMembership(ctx, tx, &Membership{UserID: out.User.ID, AccountID: inv.AccountID, Role: domain.RoleDelegate, CreatedAt: now}, ByUser(out.User.ID)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE invitations SET accepted_at = ?, accepted_user_id = ? WHERE id = ?`), now, out.User.ID, inv.ID); err != nil {
			return fmt.Errorf("mark the invitation accepted: %w", err)
		}
		inv.AcceptedAt, inv.AcceptedUserID = &now, &out.User.ID
		return s.tellPrimaries(ctx, tx, "delegate_accepted", "delegate-accepted:"+strconv.FormatInt(inv.ID, 10), out.Account, out.User)
	})
	if err != nil {
		return AcceptedInvitation{}, fmt.Errorf("store: accept an invitation: %w", err)
	}
	return out, nil
}

// OpenInvitation is a pending invitation as the page of its link shows
// it, before it is accepted: the account and who invited.
type OpenInvitation struct {
	Invitation
	Account     Account
	InviterName string
}

// OpenInvitation reads the pending invitation of a token without using
// it: the page of the link shows it on GET (mail scanners open links) and
// accepts it on POST. A token unknown, expired, cancelled or already used
// is ENOTFOUND, the same answer for each, as AcceptInvitation's.
func (s *Store) OpenInvitation(ctx context.Context, token string) (OpenInvitation, error) {
	var out OpenInvitation
	refused := domain.Errorf(domain.ENOTFOUND, "this invitation link is not valid: it has expired, was cancelled or was already used")
	if token == "" {
		return out, refused
	}
	err := s.db.GetContext(ctx, &out.Invitation, s.db.Rebind(`SELECT `+invitationColumns+` FROM invitations i
WHERE i.token_hash = ? AND `+pendingInvitation), hashSecret(token), dbTime(s.now()))
	if errors.Is(err, sql.ErrNoRows) {
		return OpenInvitation{}, refused
	}
	if err != nil {
		return OpenInvitation{}, fmt.Errorf("store: look up an invitation: %w", err)
	}
	out.utc()
	if err := s.db.GetContext(ctx, &out.Account, s.db.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`), out.AccountID); err != nil {
		return OpenInvitation{}, fmt.Errorf("store: account of invitation %d: %w", out.ID, err)
	}
	out.Account.CreatedAt = out.Account.CreatedAt.UTC()
	if err := s.db.GetContext(ctx, &out.InviterName, s.db.Rebind(`SELECT name FROM users WHERE id = ?`), out.InvitedBy); err != nil {
		return OpenInvitation{}, fmt.Errorf("store: inviter of invitation %d: %w", out.ID, err)
	}
	return out, nil
}

// tellPrimaries queues e-mail template to each primary user of account
// about delegate, in each one's language; key identifies the event.
func (s *Store) tellPrimaries(ctx context.Context, tx *sqlx.Tx, template, key string, account Account, delegate User) error {
	var primaries []User
	if err := tx.SelectContext(ctx, &primaries, tx.Rebind(`SELECT u.id, u.email, u.name, u.phone, u.language, u.password_hash, u.created_at
FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.account_id = ? AND m.role = 'primary' ORDER BY u.id`), account.ID); err != nil {
		return fmt.Errorf("read the primary users: %w", err)
	}
	for _, p := range primaries {
		_, err := s.outbox.Enqueue(ctx, tx, mail.Message{
			Key: key + ":" + strconv.FormatInt(p.ID, 10), To: p.Email, Lang: i18n.Lang(p.Language), Template: template,
			Data: delegateMailData{PrimaryName: p.Name, DelegateName: delegate.Name, DelegateEmail: delegate.Email,
				CustomerNumber: account.CustomerNumber, AccountName: account.Name},
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// RemoveDelegate is the primary user ending a delegate's access to an
// account (seed 000), recorded with the primary as the actor. Only the
// primary removes (EFORBIDDEN for another role, ENOTFOUND for a user with
// none); a user who is not a delegate of the account is ENOTFOUND.
func (s *Store) RemoveDelegate(ctx context.Context, accountID, primaryID, delegateID int64) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := mustBePrimary(ctx, tx, accountID, primaryID); err != nil {
			return err
		}
		if role, err := memberRole(ctx, tx, accountID, delegateID); err != nil || role != domain.RoleDelegate {
			return domain.Errorf(domain.ENOTFOUND, "user %d is not a delegate of account %d", delegateID, accountID)
		}
		_, err := s.removeMembership(ctx, tx, delegateID, accountID, ByUser(primaryID))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: remove delegate %d of account %d: %w", delegateID, accountID, err)
	}
	return nil
}

// WithdrawDelegation is a delegate leaving an account (seed 000): the
// membership ends, recorded with the delegate as the actor, and each
// primary user is told by e-mail in their language. A user who is not a
// delegate of the account is ENOTFOUND (a primary cannot withdraw so).
func (s *Store) WithdrawDelegation(ctx context.Context, accountID, delegateID int64) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if role, err := memberRole(ctx, tx, accountID, delegateID); err != nil || role != domain.RoleDelegate {
			return domain.Errorf(domain.ENOTFOUND, "user %d is not a delegate of account %d", delegateID, accountID)
		}
		m, err := s.removeMembership(ctx, tx, delegateID, accountID, ByUser(delegateID))
		if err != nil {
			return err
		}
		var account Account
		if err := tx.GetContext(ctx, &account, tx.Rebind(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`), accountID); err != nil {
			return fmt.Errorf("read account %d: %w", accountID, err)
		}
		var delegate User
		if err := tx.GetContext(ctx, &delegate, tx.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), delegateID); err != nil {
			return fmt.Errorf("read user %d: %w", delegateID, err)
		}
		// A delegation is one membership, known by when it began: a user
		// invited again and withdrawing again is another e-mail.
		key := fmt.Sprintf("delegate-withdrew:%d:%d:%d", accountID, delegateID, m.CreatedAt.UnixMicro())
		return s.tellPrimaries(ctx, tx, "delegate_withdrew", key, account, delegate)
	})
	if err != nil {
		return fmt.Errorf("store: user %d withdraws from account %d: %w", delegateID, accountID, err)
	}
	return nil
}

// OrderAccount is an account a user may order for, with the user's role.
type OrderAccount struct {
	Account
	Role domain.Role `db:"role"`
}

// AccountsUserMayOrderFor lists the accounts where the user is primary or
// delegate (seed 000's "accounts I may order for"): those where the user
// is primary first, then by customer number.
func (s *Store) AccountsUserMayOrderFor(ctx context.Context, userID int64) ([]OrderAccount, error) {
	var out []OrderAccount
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT a.id, a.customer_number, a.name, a.language, a.created_at, m.role
FROM memberships m JOIN accounts a ON a.id = m.account_id
WHERE m.user_id = ? AND m.role IN ('primary', 'delegate')
ORDER BY CASE WHEN m.role = 'primary' THEN 0 ELSE 1 END, a.customer_number`), userID)
	if err != nil {
		return nil, fmt.Errorf("store: accounts user %d may order for: %w", userID, err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// AccountUser is a user with a role on an account.
type AccountUser struct {
	UserID   int64           `db:"id"`
	Email    string          `db:"email"`
	Name     string          `db:"name"`
	Phone    string          `db:"phone"`
	Language domain.Language `db:"language"`
	// HasPassword: the user has set a password (finished registering or
	// accepting an invitation).
	HasPassword bool        `db:"has_password"`
	Role        domain.Role `db:"role"`
	Since       time.Time   `db:"since"`
}

// AccountUsers lists the users with a role on an account: primary first,
// then delegates, then back office, each by e-mail. The manage-users
// page shows the primary and delegates; the back office all.
func (s *Store) AccountUsers(ctx context.Context, accountID int64) ([]AccountUser, error) {
	var out []AccountUser
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT u.id, u.email, u.name, u.phone, u.language,
       CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS has_password, m.role, m.created_at AS since
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.account_id = ?
ORDER BY CASE m.role WHEN 'primary' THEN 0 WHEN 'delegate' THEN 1 ELSE 2 END, u.email`), accountID)
	if err != nil {
		return nil, fmt.Errorf("store: users of account %d: %w", accountID, err)
	}
	for i := range out {
		out[i].Since = out[i].Since.UTC()
	}
	return out, nil
}
