package store

import (
	"context"
	"testing"
)

// TestSQLiteCommitsAreDurable checks that the collector's SQLite database
// syncs every commit (synchronous FULL = 2): a batch is acknowledged once
// committed, and the agent then forgets it, so a commit must survive a
// power cut.
func TestSQLiteCommitsAreDurable(t *testing.T) {
	s := openStore(t, dialects[0])
	var synchronous int
	if err := s.db.GetContext(context.Background(), &synchronous, `PRAGMA synchronous`); err != nil {
		t.Fatal(err)
	}
	if synchronous != 2 {
		t.Errorf("PRAGMA synchronous = %d, want 2 (FULL)", synchronous)
	}
}
