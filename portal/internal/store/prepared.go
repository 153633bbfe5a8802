package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Statements prepared once. database/sql prepares a statement on a
// connection the first time it runs there and keeps it, so the reads
// every page makes (the session and the user's roles, the equipment list,
// the account's requests) are parsed once per connection, not on every
// request: on SQLite parsing was a sixth of the equipment page's time.
// Each query is one of a few texts fixed in the code; the statements live
// as long as the store (Close closes them).

// selectPrepared is SelectContext with the statement of query.
func (s *Store) selectPrepared(ctx context.Context, dest any, query string, args ...any) error {
	st, err := s.prepared(ctx, query) //nolint:sqlclosecheck // the store keeps it until Close
	if err != nil {
		return err
	}
	return st.SelectContext(ctx, dest, args...)
}

// getPrepared is GetContext with the statement of query.
func (s *Store) getPrepared(ctx context.Context, dest any, query string, args ...any) error {
	st, err := s.prepared(ctx, query) //nolint:sqlclosecheck // the store keeps it until Close
	if err != nil {
		return err
	}
	return st.GetContext(ctx, dest, args...)
}

// prepared returns the statement of query, preparing it the first time.
func (s *Store) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := s.db.PreparexContext(ctx, s.db.Rebind(query)) //nolint:sqlclosecheck // kept until Close (closeStatements)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	prev, loaded := s.stmts.LoadOrStore(query, st)
	if loaded { // prepared at the same time by another request: keep one
		_ = st.Close() //nolint:sqlclosecheck // closed at once, the other one is kept
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// closeStatements closes the prepared statements.
func (s *Store) closeStatements() {
	s.stmts.Range(func(k, v any) bool {
		_ = v.(*sqlx.Stmt).Close()
		s.stmts.Delete(k)
		return true
	})
}
