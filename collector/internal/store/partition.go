package store

import (
	"context"
	"fmt"
	"time"

	"github.com/meterline/meterline/shared/schema"
)

// PartitionMonthsAhead is how many months of meter_reads partitions exist
// ahead of the current one, so that reads never wait for upkeep.
const PartitionMonthsAhead = 3

// EnsurePartitions creates the monthly partitions of meter_reads from the
// month before now's to PartitionMonthsAhead months after it, and returns
// how many it created. Replicas may call it at once: the database function
// serialises them. SQLite has no partitions: it does nothing there.
func (s *Store) EnsurePartitions(ctx context.Context, now time.Time) (int, error) {
	if s.dialect != schema.Postgres {
		return 0, nil
	}
	now = now.UTC()
	var created int
	err := s.db.QueryRowContext(ctx, `SELECT meterline_create_meter_read_partitions($1, $2)`,
		now.AddDate(0, -1, 0), now.AddDate(0, PartitionMonthsAhead, 0)).Scan(&created)
	if err != nil {
		return 0, fmt.Errorf("store: create meter_reads partitions: %w", err)
	}
	return created, nil
}
