package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// prepared returns query, in the store's placeholders, as a statement
// prepared once for the pool: database/sql prepares it on a connection
// the first time it runs there and keeps it. The reads every page makes
// (the session, the user's accounts, the equipment list) are then parsed
// once per connection, not on every request, which on SQLite was a sixth
// of the equipment page's time. query must be one of a few texts fixed in
// the code: each is kept until Close.
func (s *Store) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := s.db.PreparexContext(ctx, s.db.Rebind(query))
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// closeStatements closes the prepared statements.
func (s *Store) closeStatements() {
	s.stmts.Range(func(k, v any) bool {
		v.(*sqlx.Stmt).Close()
		s.stmts.Delete(k)
		return true
	})
}
