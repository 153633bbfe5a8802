package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// TestOpenInvitation: the page of an invitation link reads the invitation
// without using it; once accepted, cancelled or expired, the token is
// ENOTFOUND like a forged one.
func TestOpenInvitation(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			s.SetClock(func() time.Time { return now })
			f := customer(t, s, "1")

			inv, tok, err := invite(s, f, "new@abcco.com")
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // reading twice uses nothing
				got, err := s.OpenInvitation(ctx, tok)
				if err != nil || got.ID != inv.ID || got.Email != "new@abcco.com" || got.Account.ID != f.account.ID ||
					got.Account.CustomerNumber != "1" || got.InviterName != f.user.Name || !got.ExpiresAt.Equal(inv.ExpiresAt) {
					t.Fatalf("OpenInvitation = %+v, %v", got, err)
				}
			}
			for _, bad := range []string{"", "forged", tok + "x"} {
				_, err := s.OpenInvitation(ctx, bad)
				code(t, "token "+bad, err, domain.ENOTFOUND)
			}
			if _, err := s.AcceptInvitation(ctx, tok); err != nil {
				t.Fatal(err)
			}
			_, err = s.OpenInvitation(ctx, tok)
			code(t, "accepted", err, domain.ENOTFOUND)

			inv2, tok2, err := invite(s, f, "second@abcco.com")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CancelInvitation(ctx, f.account.ID, f.user.ID, inv2.ID); err != nil {
				t.Fatal(err)
			}
			_, err = s.OpenInvitation(ctx, tok2)
			code(t, "cancelled", err, domain.ENOTFOUND)

			_, tok3, err := s.InviteDelegate(ctx, store.DelegateInvite{AccountID: f.account.ID, InviterID: f.user.ID,
				Email: "third@abcco.com", TTL: time.Hour, BaseURL: portalURL})
			if err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Hour)
			_, err = s.OpenInvitation(ctx, tok3)
			code(t, "expired", err, domain.ENOTFOUND)
		})
	}
}
