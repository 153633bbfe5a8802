package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Kinds of attempt the rate limits count (table auth_attempts).
const (
	AttemptLogin    = "login"
	AttemptReset    = "reset"
	AttemptRegister = "register"
)

// EmailSubject and AddressSubject name what an attempt counts against: an
// e-mail address (whatever its case) or a client address.
func EmailSubject(email string) string { return "email:" + normalEmail(email) }

// AddressSubject is the subject of a client address, as the caller
// reduced it (one IPv4 address, an IPv6 /64).
func AddressSubject(addr string) string { return "ip:" + addr }

// RecordAttempt records one attempt of kind against each subject and
// returns, per subject, the attempts of kind since since, this one
// included. The attempt is written before it is counted, so a burst of
// simultaneous attempts cannot all read a count from before the burst;
// every replica counts the same rows.
func (s *Store) RecordAttempt(ctx context.Context, kind string, since time.Time, subjects ...string) (map[string]int, error) {
	now := dbTime(s.now())
	counts := make(map[string]int, len(subjects))
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for _, sub := range subjects {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO auth_attempts (kind, subject, at) VALUES (?, ?, ?)`), kind, sub, now); err != nil {
				return fmt.Errorf("record: %w", err)
			}
			var n int
			if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT count(*) FROM auth_attempts WHERE kind = ? AND subject = ? AND at > ?`),
				kind, sub, dbTime(since)); err != nil {
				return fmt.Errorf("count: %w", err)
			}
			counts[sub] = n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s attempt: %w", kind, err)
	}
	return counts, nil
}

// ClearAttempts forgets the attempts of kind against subject: a successful
// sign-in clears its e-mail's failures.
func (s *Store) ClearAttempts(ctx context.Context, kind, subject string) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM auth_attempts WHERE kind = ? AND subject = ?`), kind, subject); err != nil {
		return fmt.Errorf("store: clear %s attempts: %w", kind, err)
	}
	return nil
}
