package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// saveAt stores the reads as one batch of agent-1, the store's clock set
// to now.
func saveAt(t *testing.T, s *Store, now time.Time, seq uint64, reads ...wire.DeviceRead) {
	t.Helper()
	s.now = func() time.Time { return now }
	if _, _, err := s.SaveBatch(context.Background(), "agent-1", batchOf(seq, reads...), now); err != nil {
		t.Fatalf("SaveBatch seq %d: %v", seq, err)
	}
}

func deviceID(t *testing.T, s *Store, serial string) int64 {
	t.Helper()
	var id int64
	if err := s.db.Get(&id, s.db.Rebind(`SELECT id FROM devices WHERE device_key = ?`), "sn:"+serial); err != nil {
		t.Fatalf("device %s: %v", serial, err)
	}
	return id
}

// TestClockAheadRead checks that a read stamped further ahead of the
// collector's clock than wire.ClockSkewTolerance is stored, flagged, and
// does not become what is shown as its device's latest state.
func TestClockAheadRead(t *testing.T) {
	now := time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)
	type device struct {
		Model    string    `db:"model"`
		LastSeen time.Time `db:"last_seen"`
		Latest   string    `db:"-"` // read_at and total of LatestReads, "" when none
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
		want device
		// flagged is, for each stored read by time, whether it is clock_ahead.
		flagged []bool
	}{
		{
			name: "a read 23 hours ahead does not pin the device",
			run: func(t *testing.T, s *Store) {
				saveAt(t, s, now, 1, modelRead("SN1", now.Add(-time.Hour), 100, "Right"))
				saveAt(t, s, now, 2, modelRead("SN1", now.Add(23*time.Hour), 110, "Wrong"))
			},
			want:    device{Model: "Right", LastSeen: now.Add(-time.Hour), Latest: show2(now.Add(-time.Hour), 100)},
			flagged: []bool{false, true},
		},
		{
			name: "a later read on time wins over an earlier read stamped ahead",
			run: func(t *testing.T, s *Store) {
				saveAt(t, s, now, 1, modelRead("SN1", now.Add(-time.Hour), 100, "Right"))
				saveAt(t, s, now, 2, modelRead("SN1", now.Add(23*time.Hour), 110, "Wrong"))
				saveAt(t, s, now.Add(time.Hour), 3, modelRead("SN1", now.Add(time.Hour), 120, "Newer"))
			},
			want:    device{Model: "Newer", LastSeen: now.Add(time.Hour), Latest: show2(now.Add(time.Hour), 120)},
			flagged: []bool{false, false, true},
		},
		{
			name: "in one batch, the newest read on time wins",
			run: func(t *testing.T, s *Store) {
				saveAt(t, s, now, 1,
					modelRead("SN1", now.Add(-time.Hour), 100, "Right"),
					modelRead("SN1", now.Add(2*time.Hour), 110, "Wrong"))
			},
			want:    device{Model: "Right", LastSeen: now.Add(-time.Hour), Latest: show2(now.Add(-time.Hour), 100)},
			flagged: []bool{false, true},
		},
		{
			name: "a device first heard ahead has no latest read until one on time",
			run: func(t *testing.T, s *Store) {
				saveAt(t, s, now, 1, modelRead("SN1", now.Add(23*time.Hour), 110, "Ahead"))
			},
			want:    device{Model: "Ahead", LastSeen: now},
			flagged: []bool{true},
		},
		{
			name: "then a read on time, even an older one, becomes its latest",
			run: func(t *testing.T, s *Store) {
				saveAt(t, s, now, 1, modelRead("SN1", now.Add(23*time.Hour), 110, "Ahead"))
				saveAt(t, s, now, 2, modelRead("SN1", now.Add(-2*time.Hour), 100, "Backlog"))
			},
			want:    device{Model: "Backlog", LastSeen: now.Add(-2 * time.Hour), Latest: show2(now.Add(-2*time.Hour), 100)},
			flagged: []bool{false, true},
		},
		{
			name: "a read within the tolerance counts as now",
			run: func(t *testing.T, s *Store) {
				saveAt(t, s, now, 1, modelRead("SN1", now.Add(-time.Hour), 100, "Right"))
				saveAt(t, s, now, 2, modelRead("SN1", now.Add(wire.ClockSkewTolerance), 110, "Slightly fast"))
			},
			want:    device{Model: "Slightly fast", LastSeen: now.Add(wire.ClockSkewTolerance), Latest: show2(now.Add(wire.ClockSkewTolerance), 110)},
			flagged: []bool{false, false},
		},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := migratedStore(t, d)
					tt.run(t, s)
					var got device
					if err := s.db.Get(&got, `SELECT model, last_seen FROM devices`); err != nil {
						t.Fatal(err)
					}
					got.LastSeen = got.LastSeen.UTC()
					for _, l := range mustLatest(t, s) {
						got.Latest = show2(l.ReadAt, *l.Total)
					}
					if got != tt.want {
						t.Errorf("device = %+v, want %+v", got, tt.want)
					}
					var flagged []bool
					if err := s.db.Select(&flagged, `SELECT clock_ahead FROM meter_reads ORDER BY read_at`); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(flagged, tt.flagged) {
						t.Errorf("clock_ahead of the reads by time = %v, want %v", flagged, tt.flagged)
					}
				})
			}
		})
	}
}

func modelRead(serial string, at time.Time, total int64, model string) wire.DeviceRead {
	r := read(serial, at, total)
	r.Model = model
	return r
}

func show2(at time.Time, total int64) string {
	return fmt.Sprintf("%s total %d", at.UTC().Format(time.RFC3339), total)
}

// colourRead is a read with total, black and colour counters; a negative
// value leaves that counter out.
func colourRead(serial string, at time.Time, total, black, colour int64) wire.DeviceRead {
	r := wire.DeviceRead{Serial: serial, Address: "127.0.0.1", ReadAt: at}
	for _, c := range []wire.Counter{{Kind: domain.CounterTotal, Value: total}, {Kind: domain.CounterBlack, Value: black}, {Kind: domain.CounterColour, Value: colour}} {
		if c.Value >= 0 {
			r.Counters = append(r.Counters, c)
		}
	}
	return r
}

// resetRow is a counter_resets row as the tests compare it: times as
// hours after t0.
type resetRow struct {
	Kind          string
	Previous      int64
	PreviousHour  int
	Value         int64
	Hour          int
	DetectedAtSet bool
}

func mustResets(t *testing.T, s *Store) []resetRow {
	t.Helper()
	var rows []struct {
		Kind           string    `db:"kind"`
		PreviousValue  int64     `db:"previous_value"`
		PreviousReadAt time.Time `db:"previous_read_at"`
		Value          int64     `db:"value"`
		ReadAt         time.Time `db:"read_at"`
		DetectedAt     time.Time `db:"detected_at"`
	}
	err := s.db.Select(&rows, `SELECT kind, previous_value, previous_read_at, value, read_at, detected_at FROM counter_resets ORDER BY kind, read_at`)
	if err != nil {
		t.Fatal(err)
	}
	out := []resetRow{}
	for _, r := range rows {
		out = append(out, resetRow{r.Kind, r.PreviousValue, int(r.PreviousReadAt.Sub(t0).Hours()), r.Value, int(r.ReadAt.Sub(t0).Hours()), !r.DetectedAt.IsZero()})
	}
	return out
}

// TestCounterResets checks that a counter lower than the same kind in the
// device's read just before it (by read time) is recorded as a reset, for
// reads arriving in order, out of order, twice, or stamped ahead.
func TestCounterResets(t *testing.T) {
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	tests := []struct {
		name    string
		batches [][]wire.DeviceRead // saved one after the other
		want    []resetRow
	}{
		{
			name:    "counters that only rise are no reset",
			batches: [][]wire.DeviceRead{{colourRead("A", h(0), 100, 60, 40)}, {colourRead("A", h(1), 150, 80, 70), colourRead("A", h(2), 150, 80, 70)}},
			want:    []resetRow{},
		},
		{
			name: "a board swap resets every counter",
			batches: [][]wire.DeviceRead{
				{colourRead("A", h(0), 100000, 60000, 40000)},
				{colourRead("A", h(1), 12, 10, 2)},
			},
			want: []resetRow{
				{"black", 60000, 0, 10, 1, true},
				{"colour", 40000, 0, 2, 1, true},
				{"total", 100000, 0, 12, 1, true},
			},
		},
		{
			name: "a 32-bit wrap of one counter, within one batch",
			batches: [][]wire.DeviceRead{
				{read("A", h(0), 4294967000), read("A", h(1), 4294967290), read("A", h(2), 200), read("A", h(3), 900)},
			},
			want: []resetRow{{"total", 4294967290, 1, 200, 2, true}},
		},
		{
			name: "devices are compared with their own reads only",
			batches: [][]wire.DeviceRead{
				{read("A", h(0), 5000), read("B", h(0), 10)},
				{read("B", h(1), 20), read("A", h(1), 5010)},
			},
			want: []resetRow{},
		},
		{
			name: "a backlog read is compared with the read before it",
			batches: [][]wire.DeviceRead{
				{read("A", h(0), 1000), read("A", h(2), 1200)},
				{read("A", h(1), 900)}, // late, and lower than the read of 0
			},
			want: []resetRow{{"total", 1000, 0, 900, 1, true}},
		},
		{
			name: "a backlog read that fills the gap of a reset moves it",
			batches: [][]wire.DeviceRead{
				{read("A", h(0), 1000), read("A", h(3), 30)}, // reset from 0 to 3
				{read("A", h(1), 1100), read("A", h(2), 10)}, // it happened between 1 and 2
			},
			want: []resetRow{{"total", 1100, 1, 10, 2, true}},
		},
		{
			name: "a backlog read that shows the counter rose across a recorded reset clears it",
			batches: [][]wire.DeviceRead{
				{read("A", h(0), 1000), read("A", h(2), 30)}, // reset from 0 to 2
				{read("A", h(1), 20)},                        // the reset was between 0 and 1
			},
			want: []resetRow{{"total", 1000, 0, 20, 1, true}},
		},
		{
			name: "reads sent again record nothing twice",
			batches: [][]wire.DeviceRead{
				{read("A", h(0), 1000), read("A", h(1), 10)},
				{read("A", h(0), 1000), read("A", h(1), 10)},
			},
			want: []resetRow{{"total", 1000, 0, 10, 1, true}},
		},
		{
			name: "a read without the kind is skipped: the read before that has it counts",
			batches: [][]wire.DeviceRead{
				{colourRead("A", h(0), 1000, 600, 400)},
				{colourRead("A", h(1), -1, 610, 410)},
				{colourRead("A", h(2), 5, 615, 415)},
			},
			want: []resetRow{{"total", 1000, 0, 5, 2, true}},
		},
		{
			name: "a backlog read is the one before a newer read when the latest lacks the kind",
			batches: [][]wire.DeviceRead{
				{colourRead("A", h(0), 1000, 600, 400), colourRead("A", h(2), -1, 620, 420)},
				{colourRead("A", h(1), 50, 610, 410), colourRead("A", h(3), 60, 630, 430)}, // 1 late, 3 in order
			},
			want: []resetRow{{"total", 1000, 0, 50, 1, true}},
		},
		{
			name: "reads in order and late in one batch",
			batches: [][]wire.DeviceRead{
				{read("A", h(0), 100), read("A", h(2), 300), read("B", h(0), 100)},
				{read("A", h(3), 30), read("A", h(1), 200), read("A", h(4), 40), read("B", h(1), 10)},
			},
			want: []resetRow{{"total", 100, 0, 10, 1, true}, {"total", 300, 2, 30, 3, true}}, // B, then A
		},
		{
			name: "a read stamped ahead takes no part",
			batches: [][]wire.DeviceRead{
				{read("A", h(0), 1000)},
				{read("A", time.Date(2025, 4, 1, 20, 0, 0, 0, time.UTC), 1005)}, // ahead of the store's clock
				{read("A", h(1), 1010), read("A", h(2), 1020)},
			},
			want: []resetRow{},
		},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := migratedStore(t, d)
					for i, reads := range tt.batches {
						mustSave(t, s, batchOf(uint64(i+1), reads...))
					}
					if got := mustResets(t, s); !reflect.DeepEqual(got, tt.want) {
						t.Errorf("counter resets:\n got %+v\nwant %+v", got, tt.want)
					}
				})
			}
		})
	}
}

// TestCounterUsage checks CounterUsage over stored reads: a wrap on one
// device, a board swap on another, a read stamped ahead left out.
func TestCounterUsage(t *testing.T) {
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	tests := []struct {
		name     string
		kind     domain.CounterKind
		from, to time.Time
		want     int64
	}{
		{"wrap, whole span", domain.CounterTotal, h(0), h(4), 290 + 700},
		{"wrap, before it", domain.CounterTotal, h(0), h(1), 290},
		{"wrap, from the wrap on", domain.CounterTotal, h(2), h(4), 700},
		{"board swap, black", domain.CounterBlack, h(0), h(4), 400 + 100},
		{"board swap, colour", domain.CounterColour, h(0), h(4), 100 + 30},
		{"nothing in the span", domain.CounterTotal, h(10), h(20), 0},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			s := migratedStore(t, d)
			mustSave(t, s, batchOf(1,
				read("WRAP", h(0), 4294967000), read("WRAP", h(1), 4294967290), read("WRAP", h(2), 200), read("WRAP", h(3), 900),
				colourRead("SWAP", h(0), 90000, 60000, 30000), colourRead("SWAP", h(1), 90500, 60400, 30100),
				colourRead("SWAP", h(2), 3, 2, 1), colourRead("SWAP", h(3), 133, 102, 31),
			))
			// Stamped ahead of the store's clock: left out, or it would count
			// the fall from 900 to 0 and the rise back.
			mustSave(t, s, batchOf(2, read("WRAP", time.Date(2025, 4, 1, 20, 0, 0, 0, time.UTC), 0)))
			ids := map[domain.CounterKind]int64{domain.CounterTotal: deviceID(t, s, "WRAP"), domain.CounterBlack: deviceID(t, s, "SWAP"), domain.CounterColour: deviceID(t, s, "SWAP")}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := s.CounterUsage(context.Background(), ids[tt.kind], tt.kind, tt.from, tt.to)
					if err != nil {
						t.Fatal(err)
					}
					if got != tt.want {
						t.Errorf("CounterUsage(%s, %s..%s) = %d, want %d", tt.kind, tt.from, tt.to, got, tt.want)
					}
				})
			}
			if _, err := s.CounterUsage(context.Background(), ids[domain.CounterTotal], domain.CounterFax, h(0), h(4)); domain.ErrorCode(err) != domain.EINVALID {
				t.Errorf("CounterUsage(fax) error = %v, want %s", err, domain.EINVALID)
			}
		})
	}
}
