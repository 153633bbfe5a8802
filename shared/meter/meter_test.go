package meter

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)

// TestUsage checks the usage rule on its own: rises add up, a recorded
// reset restarts the count, nothing is ever negative.
func TestUsage(t *testing.T) {
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	points := func(values ...int64) []Point {
		p := make([]Point, len(values))
		for i, v := range values {
			p[i] = Point{At: h(i), Value: v}
		}
		return p
	}
	tests := []struct {
		name   string
		points []Point
		resets []time.Time
		want   int64
	}{
		{"no reads", nil, nil, 0},
		{"one read", points(500), nil, 0},
		{"rises add up", points(100, 150, 150, 400), nil, 300},
		{"a 32-bit wrap restarts the count", points(4294967000, 4294967290, 200, 900), []time.Time{h(2)}, 290 + 700},
		{"a board swap restarts the count", points(100000, 100500, 12, 112), []time.Time{h(2)}, 500 + 100},
		{"two resets", points(1000, 1100, 5, 55, 3, 13), []time.Time{h(2), h(4)}, 100 + 50 + 10},
		{"a fall not recorded as a reset counts as nothing", points(1000, 1100, 5, 55), nil, 100 + 50},
		{"a reset recorded where the counter rose restarts all the same", points(10, 20, 30), []time.Time{h(2)}, 10},
		{"a reset at another time changes nothing", points(10, 20, 30), []time.Time{h(2).Add(time.Minute)}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Usage(tt.points, tt.resets); got != tt.want {
				t.Errorf("Usage = %d, want %d", got, tt.want)
			}
		})
	}
}
