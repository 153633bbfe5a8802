package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/meterline/meterline/shared/domain"
)

// counterPoint is one read's value of a counter.
type counterPoint struct {
	At    time.Time `db:"read_at"`
	Value int64     `db:"value"`
}

// CounterUsage returns how far the device's counter of the kind (total,
// black or colour) advanced over its reads on time from from to to, both
// included: the sum of the rises between consecutive reads, restarting
// after each recorded counter reset (see usageOf). It is never negative.
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
	return usageOf(points, resetAt), nil
}

// usageOf sums the rises between consecutive points (in time order). A
// point at a recorded reset starts counting afresh from its value: what
// the counter did across a reset is unknown (a new board starts anywhere,
// a wrap depends on the counter's width), so it counts as nothing rather
// than as a guess. A fall without a recorded reset (reads stored before
// resets were recorded) counts as nothing too: usage is never negative.
func usageOf(points []counterPoint, resetAt []time.Time) int64 {
	reset := make(map[int64]bool, len(resetAt))
	for _, t := range resetAt {
		reset[t.UnixMicro()] = true
	}
	var sum int64
	for i := 1; i < len(points); i++ {
		if reset[points[i].At.UnixMicro()] {
			continue
		}
		if rise := points[i].Value - points[i-1].Value; rise > 0 {
			sum += rise
		}
	}
	return sum
}
