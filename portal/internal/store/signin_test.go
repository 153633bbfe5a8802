package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
)

// signinFixture is a store at a clock the test moves, with one account and
// one user.
type signinFixture struct {
	s       *store.Store
	now     time.Time
	user    store.User
	account store.Account
}

func newSigninFixture(t *testing.T, url string) *signinFixture {
	t.Helper()
	storetest.Seed(t, url)
	f := &signinFixture{s: open(t, url), now: t0}
	f.s.SetClock(func() time.Time { return f.now })
	ctx := context.Background()
	var err error
	if f.account, err = f.s.CreateAccount(ctx, store.Account{CustomerNumber: "C-1", Name: "ABC", Language: domain.LanguageFrench}); err != nil {
		t.Fatal(err)
	}
	h := "$argon2id$old"
	if f.user, err = f.s.CreateUser(ctx, store.User{Email: "jp@abcco.example", Name: "Jean", Language: domain.LanguageFrench, PasswordHash: &h}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSessions(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := newSigninFixture(t, be.url(t))
			ctx := context.Background()
			id1, id2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
			if _, err := f.s.CreateSession(ctx, store.Session{ID: id1, UserID: f.user.ID, ExpiresAt: t0.Add(time.Hour)}, nil); err != nil {
				t.Fatal(err)
			}
			sess, u, accounts, err := f.s.SessionUser(ctx, id1)
			if err != nil || u.Email != f.user.Email || sess.AccountID != nil || !sess.LastSeenAt.Equal(t0) || !sess.ExpiresAt.Equal(t0.Add(time.Hour)) || accounts != nil {
				t.Fatalf("SessionUser = %+v, %+v, %+v, %v", sess, u, accounts, err)
			}
			if _, err := f.s.AddMembership(ctx, store.Membership{UserID: f.user.ID, AccountID: f.account.ID, Role: domain.RoleDelegate}, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			if _, _, accounts, _ = f.s.SessionUser(ctx, id1); len(accounts) != 1 || accounts[0] != (store.MemberAccount{AccountID: f.account.ID, Role: domain.RoleDelegate, CustomerNumber: "C-1", Name: "ABC"}) {
				t.Errorf("roles read with the session = %+v", accounts)
			}

			// Rotation: the new session replaces the old one.
			if _, err := f.s.CreateSession(ctx, store.Session{ID: id2, UserID: f.user.ID, AccountID: &f.account.ID, ExpiresAt: t0.Add(time.Hour)}, id1); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := f.s.SessionUser(ctx, id1); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("the replaced session: %v, want ENOTFOUND", err)
			}
			sess, _, _, _ = f.s.SessionUser(ctx, id2)
			if sess.AccountID == nil || *sess.AccountID != f.account.ID {
				t.Errorf("account of the session = %v", sess.AccountID)
			}

			// last_seen_at is written at most once a minute.
			f.now = t0.Add(30 * time.Second)
			if wrote, _ := f.s.TouchSession(ctx, sess); wrote {
				t.Error("touched within the minute")
			}
			f.now = t0.Add(2 * time.Minute)
			if wrote, err := f.s.TouchSession(ctx, sess); !wrote || err != nil {
				t.Errorf("TouchSession after 2 min = %v, %v", wrote, err)
			}
			sess, _, _, _ = f.s.SessionUser(ctx, id2)
			if !sess.LastSeenAt.Equal(f.now) {
				t.Errorf("last seen %v, want %v", sess.LastSeenAt, f.now)
			}
			if err := f.s.SetSessionAccount(ctx, id2, nil); err != nil {
				t.Fatal(err)
			}
			if err := f.s.SetSessionAccount(ctx, id1, nil); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("SetSessionAccount of a gone session: %v", err)
			}

			// A password change ends every session of the user.
			if _, err := f.s.CreateSession(ctx, store.Session{ID: id1, UserID: f.user.ID, ExpiresAt: t0.Add(time.Hour)}, nil); err != nil {
				t.Fatal(err)
			}
			if err := f.s.SetPasswordHash(ctx, f.user.ID, "$argon2id$new"); err != nil {
				t.Fatal(err)
			}
			for _, id := range [][]byte{id1, id2} {
				if _, _, _, err := f.s.SessionUser(ctx, id); domain.ErrorCode(err) != domain.ENOTFOUND {
					t.Errorf("a session survived the password change: %v", err)
				}
			}

			// Rehash swaps only the hash it read.
			if err := f.s.RehashPassword(ctx, f.user.ID, "$argon2id$stale", "$argon2id$lost"); err != nil {
				t.Fatal(err)
			}
			if u, _ := f.s.User(ctx, f.user.ID); *u.PasswordHash != "$argon2id$new" {
				t.Errorf("a rehash of a stale hash overwrote %s", *u.PasswordHash)
			}

			// Logout and pruning.
			if _, err := f.s.CreateSession(ctx, store.Session{ID: id1, UserID: f.user.ID, ExpiresAt: f.now.Add(time.Hour)}, nil); err != nil {
				t.Fatal(err)
			}
			if err := f.s.DeleteSession(ctx, id1); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := f.s.SessionUser(ctx, id1); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("a deleted session: %v", err)
			}
			if _, err := f.s.CreateSession(ctx, store.Session{ID: id2, UserID: f.user.ID, ExpiresAt: f.now.Add(time.Hour)}, nil); err != nil {
				t.Fatal(err)
			}
			f.now = f.now.Add(2 * time.Hour)
			if err := f.s.PruneSignIn(ctx, time.Hour, time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := f.s.SessionUser(ctx, id2); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("an expired session survived pruning: %v", err)
			}
		})
	}
}

func TestAttempts(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := newSigninFixture(t, be.url(t))
			ctx := context.Background()
			mail, ip := store.EmailSubject(" JP@abcco.example"), store.AddressSubject("127.0.2.1")
			if mail != "email:jp@abcco.example" {
				t.Errorf("EmailSubject = %q", mail)
			}
			var counts map[string]int
			var err error
			for i := range 3 {
				f.now = t0.Add(time.Duration(i) * time.Minute)
				if counts, err = f.s.RecordAttempt(ctx, store.AttemptLogin, f.now.Add(-10*time.Minute), mail, ip); err != nil {
					t.Fatal(err)
				}
			}
			if counts[mail] != 3 || counts[ip] != 3 {
				t.Errorf("counts = %v, want 3 each", counts)
			}
			// Another kind counts apart; the window forgets old attempts.
			counts, _ = f.s.RecordAttempt(ctx, store.AttemptReset, f.now.Add(-10*time.Minute), mail)
			if counts[mail] != 1 {
				t.Errorf("reset count = %d, want 1", counts[mail])
			}
			f.now = t0.Add(11*time.Minute + 30*time.Second)
			counts, _ = f.s.RecordAttempt(ctx, store.AttemptLogin, f.now.Add(-10*time.Minute), mail, ip)
			if counts[mail] != 2 {
				t.Errorf("count in the window = %d, want 2 (the minute-2 attempt and this one)", counts[mail])
			}
			if err := f.s.ClearAttempts(ctx, store.AttemptLogin, mail); err != nil {
				t.Fatal(err)
			}
			counts, _ = f.s.RecordAttempt(ctx, store.AttemptLogin, f.now.Add(-10*time.Minute), mail, ip)
			if counts[mail] != 1 || counts[ip] != 3 {
				t.Errorf("after clearing the e-mail: %v, want email 1, ip 3", counts)
			}
		})
	}
}

func TestOneTimeTokens(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := newSigninFixture(t, be.url(t))
			ctx := context.Background()
			reset, other := bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{4}, 32)
			msg := mail.Message{Key: "reset:test", To: f.user.Email, Lang: i18n.FR, Template: "password_reset",
				Data: map[string]any{"Name": "Jean", "Link": "http://portal.test/x", "Minutes": 60}}
			if _, err := f.s.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenReset, UserID: &f.user.ID, Hash: reset, ExpiresAt: t0.Add(time.Hour)}, msg); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenReset, UserID: &f.user.ID, Hash: other, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			var queued int
			if err := f.s.DB().QueryRowContext(ctx, `SELECT count(*) FROM email_outbox WHERE idempotency_key = 'reset:test'`).Scan(&queued); err != nil || queued != 1 {
				t.Errorf("e-mails queued with the link: %d, %v", queued, err)
			}
			// A token whose e-mail cannot be rendered is not stored.
			bad := mail.Message{Key: "bad", To: "not an address", Template: "password_reset"}
			if _, err := f.s.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenReset, UserID: &f.user.ID, Hash: bytes.Repeat([]byte{5}, 32), ExpiresAt: t0.Add(time.Hour)}, bad); err == nil {
				t.Error("a link was stored with an e-mail that cannot go")
			}
			if _, err := f.s.OneTimeToken(ctx, store.TokenReset, bytes.Repeat([]byte{5}, 32)); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("the link of the failed e-mail: %v", err)
			}

			if _, err := f.s.OneTimeToken(ctx, store.TokenEmailChange, reset); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("a reset link read as another kind: %v", err)
			}
			u, err := f.s.ResetPassword(ctx, reset, "$argon2id$reset")
			if err != nil || *u.PasswordHash != "$argon2id$reset" {
				t.Fatalf("ResetPassword = %+v, %v", u, err)
			}
			for _, h := range [][]byte{reset, other} { // used, and the other one voided
				if _, err := f.s.ResetPassword(ctx, h, "$argon2id$again"); domain.ErrorCode(err) != domain.ENOTFOUND {
					t.Errorf("a second use: %v, want ENOTFOUND", err)
				}
			}

			// Expiry.
			late := bytes.Repeat([]byte{6}, 32)
			if _, err := f.s.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenReset, UserID: &f.user.ID, Hash: late, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			f.now = t0.Add(time.Hour)
			if _, err := f.s.OneTimeToken(ctx, store.TokenReset, late); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Errorf("an expired link: %v", err)
			}

			// E-mail change: the address of the payload becomes the user's,
			// unless another user took it meanwhile.
			payload, _ := json.Marshal(store.EmailChange{Email: "New@abcco.example"})
			change := bytes.Repeat([]byte{7}, 32)
			if _, err := f.s.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenEmailChange, UserID: &f.user.ID, Hash: change, Payload: payload, ExpiresAt: f.now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if u, err := f.s.ConfirmEmailChange(ctx, change); err != nil || u.Email != "new@abcco.example" {
				t.Errorf("ConfirmEmailChange = %q, %v", u.Email, err)
			}
			if _, err := f.s.CreateUser(ctx, store.User{Email: "taken@abcco.example", Language: domain.LanguageFrench}); err != nil {
				t.Fatal(err)
			}
			payload, _ = json.Marshal(store.EmailChange{Email: "taken@abcco.example"})
			clash := bytes.Repeat([]byte{8}, 32)
			if _, err := f.s.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenEmailChange, UserID: &f.user.ID, Hash: clash, Payload: payload, ExpiresAt: f.now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.ConfirmEmailChange(ctx, clash); domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("an address taken meanwhile: %v, want ECONFLICT", err)
			}
			if _, err := f.s.OneTimeToken(ctx, store.TokenEmailChange, clash); err != nil {
				t.Errorf("the refused change used up its link: %v", err)
			}
		})
	}
}

func TestMemberAccountsAndOnePrimary(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := newSigninFixture(t, be.url(t))
			ctx := context.Background()
			b, _ := f.s.CreateAccount(ctx, store.Account{CustomerNumber: "C-2", Name: "Beta", Language: domain.LanguageFrench})
			for _, m := range []store.Membership{
				{UserID: f.user.ID, AccountID: b.ID, Role: domain.RoleDelegate},
				{UserID: f.user.ID, AccountID: f.account.ID, Role: domain.RolePrimary},
			} {
				if _, err := f.s.AddMembership(ctx, m, store.BySystem("test")); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.s.MemberAccounts(ctx, f.user.ID)
			if err != nil || len(got) != 2 || got[0].AccountID != f.account.ID || got[0].Role != domain.RolePrimary || got[1].Name != "Beta" {
				t.Errorf("MemberAccounts = %+v, %v; want the primary role first", got, err)
			}
			other, _ := f.s.CreateUser(ctx, store.User{Email: "x@abcco.example", Language: domain.LanguageFrench})
			_, err = f.s.AddMembership(ctx, store.Membership{UserID: other.ID, AccountID: f.account.ID, Role: domain.RolePrimary}, store.BySystem("test"))
			if domain.ErrorCode(err) != domain.ECONFLICT {
				t.Errorf("a second primary: %v, want ECONFLICT", err)
			}
		})
	}
}
