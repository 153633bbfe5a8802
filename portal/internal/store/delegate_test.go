package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

const portalURL = "https://portal.example/"

func invite(s *store.Store, f fixture, email string) (store.Invitation, string, error) {
	return s.InviteDelegate(context.Background(), store.DelegateInvite{AccountID: f.account.ID, InviterID: f.user.ID, Email: email, TTL: 72 * time.Hour, BaseURL: portalURL})
}

func TestDelegates(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			s.SetClock(func() time.Time { return now })
			f := customer(t, s, "1") // account and primary in French
			other := customer(t, s, "2")
			known, err := s.CreateUser(ctx, store.User{Email: "known@abcco.com", Name: "Known", Language: domain.LanguageEnglish})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetPasswordHash(ctx, known.ID, "$argon2id$x"); err != nil {
				t.Fatal(err)
			}

			// A new address: the account's language; a user's: theirs.
			inv1, tok1, err := invite(s, f, " New@ABCCO.com ")
			if err != nil {
				t.Fatal(err)
			}
			if inv1.Email != "new@abcco.com" || inv1.Language != domain.LanguageFrench || !inv1.ExpiresAt.Equal(now.Add(72*time.Hour)) || len(tok1) < 40 {
				t.Errorf("invitation = %+v, token %q", inv1, tok1)
			}
			inv2, tok2, err := invite(s, f, "known@abcco.com")
			if err != nil || inv2.Language != domain.LanguageEnglish {
				t.Fatalf("invitation of a user = %+v, %v", inv2, err)
			}
			mails := outbox(t, s)
			if len(mails) != 2 {
				t.Fatalf("outbox = %+v", mails)
			}
			if m := mails[0]; m.To != "new@abcco.com" || m.Template != "delegate_invitation" || m.Language != "fr" ||
				!strings.Contains(m.Text, "https://portal.example"+store.InvitationAcceptPath+"?token="+tok1) || !strings.Contains(m.Text, f.user.Email) ||
				!strings.Contains(m.Subject, "compte 1") {
				t.Errorf("invitation e-mail = %+v", m)
			}
			if m := mails[1]; m.To != "known@abcco.com" || m.Language != "en" || !strings.Contains(m.Text, tok2) {
				t.Errorf("invitation e-mail to a user = %+v", m)
			}

			// Pending invitations count against the two delegates.
			for _, tc := range []struct {
				name  string
				in    store.DelegateInvite
				want  string
				email string
			}{
				{"a third", store.DelegateInvite{AccountID: f.account.ID, InviterID: f.user.ID, Email: "third@abcco.com"}, domain.ECONFLICT, ""},
				{"invited twice", store.DelegateInvite{AccountID: f.account.ID, InviterID: f.user.ID, Email: "NEW@abcco.com"}, domain.ECONFLICT, ""},
				{"the primary", store.DelegateInvite{AccountID: f.account.ID, InviterID: f.user.ID, Email: f.user.Email}, domain.ECONFLICT, ""},
				{"not an address", store.DelegateInvite{AccountID: f.account.ID, InviterID: f.user.ID, Email: "nobody"}, domain.EINVALID, ""},
				{"two addresses", store.DelegateInvite{AccountID: f.account.ID, InviterID: f.user.ID, Email: "a@b.c, d@e.f"}, domain.EINVALID, ""},
				{"a user of another account", store.DelegateInvite{AccountID: f.account.ID, InviterID: other.user.ID, Email: "x@abcco.com"}, domain.ENOTFOUND, ""},
				{"missing account", store.DelegateInvite{AccountID: 999999, InviterID: f.user.ID, Email: "x@abcco.com"}, domain.ENOTFOUND, ""},
				{"no TTL", store.DelegateInvite{AccountID: f.account.ID, InviterID: f.user.ID, Email: "x@abcco.com", TTL: -1}, domain.EINVALID, ""},
			} {
				if tc.in.TTL == 0 {
					tc.in.TTL = time.Hour
				}
				tc.in.BaseURL = portalURL
				_, _, err := s.InviteDelegate(ctx, tc.in)
				code(t, tc.name, err, tc.want)
			}
			if p, err := s.PendingInvitations(ctx, f.account.ID); err != nil || len(p) != 2 || p[0].ID != inv1.ID {
				t.Errorf("pending = %+v, %v", p, err)
			}

			// Accepting creates the user, without password, as delegate, and
			// tells the primary in the primary's language.
			now = now.Add(time.Hour)
			acc, err := s.AcceptInvitation(ctx, tok1)
			if err != nil {
				t.Fatal(err)
			}
			if !acc.UserCreated || !acc.NeedsPassword || acc.User.Email != "new@abcco.com" || acc.User.ID == 0 || acc.User.Language != domain.LanguageFrench ||
				acc.Account.ID != f.account.ID || acc.Invitation.AcceptedAt == nil || !acc.Invitation.AcceptedAt.Equal(now) {
				t.Errorf("accepted = %+v", acc)
			}
			delegate := acc.User
			if u, err := s.UserByEmail(ctx, "new@abcco.com"); err != nil || u.PasswordHash != nil {
				t.Errorf("created user = %+v, %v", u, err)
			}
			mails = outbox(t, s)
			if m := mails[len(mails)-1]; m.To != f.user.Email || m.Template != "delegate_accepted" || m.Language != "fr" || !strings.Contains(m.Text, "new@abcco.com") {
				t.Errorf("e-mail to the primary = %+v", m)
			}
			_, err = s.AcceptInvitation(ctx, tok1)
			code(t, "used twice", err, domain.ENOTFOUND)
			_, err = s.AcceptInvitation(ctx, "forged")
			code(t, "forged token", err, domain.ENOTFOUND)
			_, err = s.AcceptInvitation(ctx, "")
			code(t, "empty token", err, domain.ENOTFOUND)

			mayOrder, err := s.AccountsUserMayOrderFor(ctx, delegate.ID)
			if err != nil || len(mayOrder) != 1 || mayOrder[0].ID != f.account.ID || mayOrder[0].Role != domain.RoleDelegate || mayOrder[0].CustomerNumber != "1" {
				t.Errorf("accounts the delegate may order for = %+v, %v", mayOrder, err)
			}

			// A delegate does not manage users.
			_, _, err = s.InviteDelegate(ctx, store.DelegateInvite{AccountID: f.account.ID, InviterID: delegate.ID, Email: "x@abcco.com", TTL: time.Hour, BaseURL: portalURL})
			code(t, "a delegate invites", err, domain.EFORBIDDEN)
			code(t, "a delegate removes", s.RemoveDelegate(ctx, f.account.ID, delegate.ID, delegate.ID), domain.EFORBIDDEN)
			code(t, "a delegate cancels", s.CancelInvitation(ctx, f.account.ID, delegate.ID, inv2.ID), domain.EFORBIDDEN)

			// Expired: the link is refused and the place is free again.
			now = inv2.ExpiresAt
			_, err = s.AcceptInvitation(ctx, tok2)
			code(t, "expired", err, domain.ENOTFOUND)
			if p, _ := s.PendingInvitations(ctx, f.account.ID); len(p) != 0 {
				t.Errorf("pending after expiry = %+v", p)
			}
			inv3, tok3, err := invite(s, f, "known@abcco.com")
			if err != nil {
				t.Fatal(err)
			}
			// Cancelled: refused too; another account cannot cancel it.
			code(t, "cancel through another account", s.CancelInvitation(ctx, other.account.ID, other.user.ID, inv3.ID), domain.ENOTFOUND)
			if err := s.CancelInvitation(ctx, f.account.ID, f.user.ID, inv3.ID); err != nil {
				t.Fatal(err)
			}
			code(t, "cancel twice", s.CancelInvitation(ctx, f.account.ID, f.user.ID, inv3.ID), domain.ENOTFOUND)
			_, err = s.AcceptInvitation(ctx, tok3)
			code(t, "cancelled", err, domain.ENOTFOUND)

			// An existing user with a password: nothing to set.
			_, tok4, err := invite(s, f, "known@abcco.com")
			if err != nil {
				t.Fatal(err)
			}
			acc, err = s.AcceptInvitation(ctx, tok4)
			if err != nil || acc.UserCreated || acc.NeedsPassword || acc.User.ID != known.ID {
				t.Errorf("accepted by a user = %+v, %v", acc, err)
			}
			// Two delegates: no room for a third.
			_, _, err = invite(s, f, "third@abcco.com")
			code(t, "a third after two accepted", err, domain.ECONFLICT)
			users, err := s.AccountUsers(ctx, f.account.ID)
			if err != nil || len(users) != 3 || users[0].Role != domain.RolePrimary || users[1].Email != "known@abcco.com" || !users[1].HasPassword ||
				users[2].Email != "new@abcco.com" || users[2].HasPassword || users[2].Role != domain.RoleDelegate {
				t.Errorf("account users = %+v, %v", users, err)
			}

			// The primary removes one, recorded as the primary's change.
			code(t, "remove the primary", s.RemoveDelegate(ctx, f.account.ID, f.user.ID, f.user.ID), domain.ENOTFOUND)
			code(t, "remove through another account", s.RemoveDelegate(ctx, other.account.ID, other.user.ID, known.ID), domain.ENOTFOUND)
			if err := s.RemoveDelegate(ctx, f.account.ID, f.user.ID, known.ID); err != nil {
				t.Fatal(err)
			}
			if last := lastChange(t, s, store.EntityAccount, f.account.ID); deref(last.Old) != "delegate" || last.New != nil || last.ByUserID == nil || *last.ByUserID != f.user.ID {
				t.Errorf("removal recorded as %+v", last)
			}
			if m, _ := s.AccountsUserMayOrderFor(ctx, known.ID); len(m) != 0 {
				t.Errorf("a removed delegate may still order for %+v", m)
			}

			// The other withdraws; the primary is told.
			before := len(outbox(t, s))
			code(t, "the primary withdraws", s.WithdrawDelegation(ctx, f.account.ID, f.user.ID), domain.ENOTFOUND)
			if err := s.WithdrawDelegation(ctx, f.account.ID, delegate.ID); err != nil {
				t.Fatal(err)
			}
			code(t, "withdraw twice", s.WithdrawDelegation(ctx, f.account.ID, delegate.ID), domain.ENOTFOUND)
			mails = outbox(t, s)
			if len(mails) != before+1 {
				t.Fatalf("outbox after withdrawal: %d e-mails, want %d", len(mails), before+1)
			}
			if m := mails[len(mails)-1]; m.To != f.user.Email || m.Template != "delegate_withdrew" || m.Language != "fr" || !strings.Contains(m.Subject, "new@abcco.com") {
				t.Errorf("withdrawal e-mail = %+v", m)
			}
			if last := lastChange(t, s, store.EntityAccount, f.account.ID); last.ByUserID == nil || *last.ByUserID != delegate.ID {
				t.Errorf("withdrawal recorded as %+v", last)
			}
			// Invited again and withdrawing again is another e-mail.
			_, tok5, err := invite(s, f, "new@abcco.com")
			if err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Minute)
			if _, err := s.AcceptInvitation(ctx, tok5); err != nil {
				t.Fatal(err)
			}
			if err := s.WithdrawDelegation(ctx, f.account.ID, delegate.ID); err != nil {
				t.Fatal(err)
			}
			if n := countTemplate(outbox(t, s), "delegate_withdrew"); n != 2 {
				t.Errorf("%d withdrawal e-mails, want 2", n)
			}
			if m, _ := s.AccountsUserMayOrderFor(ctx, f.user.ID); len(m) != 1 || m[0].Role != domain.RolePrimary {
				t.Errorf("the primary may order for %+v", m)
			}
		})
	}
}

func countTemplate(mails []sent, template string) int {
	n := 0
	for _, m := range mails {
		if m.Template == template {
			n++
		}
	}
	return n
}

// TestInvitationsRace: invitations sent at once never promise a third
// delegate.
func TestInvitationsRace(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openMigrated(t, b.url(t))
			f := customer(t, s, "1")
			const n = 6
			errs := make(chan error, n)
			for i := range n {
				go func() {
					_, _, err := invite(s, f, "d"+string(rune('a'+i))+"@abcco.com")
					errs <- err
				}()
			}
			sentOK := 0
			for range n {
				err := <-errs
				switch domain.ErrorCode(err) {
				case "":
					sentOK++
				case domain.ECONFLICT:
				default:
					t.Errorf("InviteDelegate: %v", err)
				}
			}
			if sentOK != domain.MaxDelegates {
				t.Errorf("%d invitations sent at once, want %d", sentOK, domain.MaxDelegates)
			}
		})
	}
}
