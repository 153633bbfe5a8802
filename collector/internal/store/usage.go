package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/meter"
)

// counterPoint is one read's value of a counter, as scanned.
type counterPoint struct {
	At    time.Time `db:"read_at"`
	Value int64     `db:"value"`
}

// CounterUsage returns how far the device's counter of the kind (total,
// black or colour) advanced over its reads on time from from to to, both
// included: the sum of the rises between consecutive reads, restarting
// after each recorded counter reset (see meter.Usage). It is never negative.
func (s *Store) CounterUsage(ctx context.Context, deviceID int64, kind domain.CounterKind, from, to time.Time) (int64, error) {
	if !slices.Contains(resetKinds, string(kind)) {
		return 0, domain.Errorf(domain.EINVALID, "usage of counter %q: only %v are kept per read", kind, resetKinds)
	}
	from, to = dbTime(from), dbTime(to)
	column := string(kind) // one of resetKinds: a column of meter_reads
	var points []counterPoint
	err := s.db.SelectContext(ctx, &points, s.db.Rebind(`SELECT read_at, `+column+` AS value FROM meter_reads
WHERE device_id = ? AND read_at >= ? AND read_at <= ? AND NOT clock_ahead AND `+column+` IS NOT NULL
ORDER BY read_at`), deviceID, from, to)
	if err != nil {
		return 0, fmt.Errorf("store: usage of device %d %s: %w", deviceID, kind, err)
	}
	var resetAt []time.Time
	err = s.db.SelectContext(ctx, &resetAt, s.db.Rebind(`SELECT read_at FROM counter_resets
WHERE device_id = ? AND kind = ? AND read_at > ? AND read_at <= ?`), deviceID, string(kind), from, to)
	if err != nil {
		return 0, fmt.Errorf("store: counter resets of device %d %s: %w", deviceID, kind, err)
	}
	ps := make([]meter.Point, len(points))
	for i, p := range points {
		ps[i] = meter.Point(p)
	}
	return meter.Usage(ps, resetAt), nil
}
