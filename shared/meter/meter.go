// Package meter is how usage is read off a page counter: the one rule the
// collector (CounterUsage) and the portal's billing (estimates, jumps,
// regularisation) both apply, so that a counter reset means the same thing
// everywhere.
package meter

import "time"

// Point is one read's value of a counter.
type Point struct {
	At    time.Time
	Value int64
}

// Usage sums the rises between consecutive points (in time order). A
// point at a recorded reset starts counting afresh from its value: what
// the counter did across a reset is unknown (a new board starts anywhere,
// a wrap depends on the counter's width), so it counts as nothing rather
// than as a guess. A fall without a recorded reset (reads stored before
// resets were recorded, a manual read lower than the one before) counts as
// nothing too: usage is never negative.
func Usage(points []Point, resetAt []time.Time) int64 {
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
