package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

func TestTokens(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := openMigrated(t, b.url(t))
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			s.SetClock(func() time.Time { return now })
			_, _, err := s.CreateToken(ctx, " ", store.ScopeRead, 0)
			code(t, "no name", err, domain.EINVALID)
			_, _, err = s.CreateToken(ctx, "x", "admin", 0)
			code(t, "scope admin", err, domain.EINVALID)
			tok, secret, err := s.CreateToken(ctx, "erp", store.ScopeRead, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(now.Add(time.Hour)) || len(secret) < 40 {
				t.Errorf("token %+v, secret %q", tok, secret)
			}
			got, err := s.Authenticate(ctx, secret)
			if err != nil || got.ID != tok.ID || got.LastUsedAt == nil || !got.LastUsedAt.Equal(now) {
				t.Fatalf("Authenticate = %+v, %v", got, err)
			}
			// Within a minute, last_used_at is not rewritten.
			now = now.Add(30 * time.Second)
			if got, err = s.Authenticate(ctx, secret); err != nil || !got.LastUsedAt.Equal(now.Add(-30*time.Second)) {
				t.Errorf("Authenticate 30 s later = %+v, %v", got.LastUsedAt, err)
			}
			_, err = s.Authenticate(ctx, secret+"x")
			code(t, "wrong secret", err, domain.EUNAUTHORIZED)
			_, err = s.Authenticate(ctx, "nonsense")
			code(t, "no prefix", err, domain.EUNAUTHORIZED)
			now = now.Add(time.Hour)
			_, err = s.Authenticate(ctx, secret)
			code(t, "expired", err, domain.EUNAUTHORIZED)

			tok2, secret2, err := s.CreateToken(ctx, "erp2", store.ScopeWrite, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeToken(ctx, tok2.ID); err != nil {
				t.Fatal(err)
			}
			_, err = s.Authenticate(ctx, secret2)
			code(t, "revoked", err, domain.EUNAUTHORIZED)
			code(t, "revoke unknown", s.RevokeToken(ctx, 999999), domain.ENOTFOUND)
		})
	}
}
