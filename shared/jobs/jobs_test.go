package jobs

import (
	"database/sql"
	"testing"
	"time"
)

// The scheduler's behaviour on the databases is tested by the portal
// (portal/internal/schedule), which has the drivers.

func TestNextRun(t *testing.T) {
	at := time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC)
	valid := func(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: true} }
	tests := []struct {
		name string
		l    Lease
		want time.Time
	}{
		{"never ran", Lease{}, time.Time{}},
		{"finished", Lease{LastFinishedAt: valid(at)}, at.Add(time.Hour)},
		{"running, never finished", Lease{LeaseUntil: valid(at)}, at},
		{"running past its due time", Lease{LastFinishedAt: valid(at), LeaseUntil: valid(at.Add(2 * time.Hour))}, at.Add(2 * time.Hour)},
	}
	for _, tt := range tests {
		if got := tt.l.NextRun(time.Hour); !got.Equal(tt.want) {
			t.Errorf("%s: NextRun = %v, want %v", tt.name, got, tt.want)
		}
	}
}
