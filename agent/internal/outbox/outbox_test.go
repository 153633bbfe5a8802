package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
	bolt "go.etcd.io/bbolt"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func open(t *testing.T, path string, opts Options) *Outbox {
	t.Helper()
	o, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func appendN(t *testing.T, o *Outbox, n int, size int) []uint64 {
	t.Helper()
	var seqs []uint64
	for range n {
		seq, err := o.Append(func(seq uint64, _ string) ([]byte, error) {
			b := []byte(fmt.Sprintf("batch %d ", seq))
			for len(b) < size {
				b = append(b, '.')
			}
			return b, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// pending reads every batch the outbox holds, in order, the way the
// sender does: Seqs, then Get for each.
func pending(t *testing.T, o *Outbox) []Entry {
	t.Helper()
	var out []Entry
	for _, seq := range o.Seqs() {
		e, found, err := o.Get(seq)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			t.Fatalf("Seqs lists %d, Get does not find it", seq)
		}
		out = append(out, e)
	}
	return out
}

func TestAppendAckPending(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"), Options{})
	seqs := appendN(t, o, 5, 10)
	if !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("seqs = %v", seqs)
	}
	if deleted, err := o.Ack(2, 4, 99, 4); err != nil || !slices.Equal(deleted, []uint64{2, 4}) {
		t.Fatalf("Ack = %v, %v", deleted, err)
	}
	// Acks arrive again: nothing more to delete.
	if deleted, _ := o.Ack(2); len(deleted) != 0 {
		t.Errorf("second ack deleted %v", deleted)
	}
	var got []uint64
	for _, e := range pending(t, o) {
		got = append(got, e.Seq)
		if want := fmt.Sprintf("batch %d ..", e.Seq); string(e.Payload) != want {
			t.Errorf("payload of %d = %q, want %q", e.Seq, e.Payload, want)
		}
	}
	if !slices.Equal(got, []uint64{1, 3, 5}) {
		t.Errorf("pending = %v, want 1 3 5", got)
	}
	if _, found, err := o.Get(2); found || err != nil {
		t.Errorf("Get(2) after its ack = found %v, %v", found, err)
	}
	if st := o.Stats(); st.Depth != 3 || st.Bytes != 30 || st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	enqueued := time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)
	c := &clock{enqueued}
	o, err := Open(path, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 3, 10)
	o.Ack(1)
	o.Close()

	o = open(t, path, Options{Now: c.now})
	if p := pending(t, o); len(p) != 2 || p[0].Seq != 2 || !p[0].Enqueued.Equal(enqueued) {
		t.Fatalf("after restart: %+v", p)
	}
	// Numbering goes on where it stopped, never reusing a number.
	if seqs := appendN(t, o, 1, 10); seqs[0] != 4 {
		t.Errorf("next seq after restart = %d, want 4", seqs[0])
	}
}

func TestSeqFloor(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"), Options{SeqFloor: 1_000_000})
	if seqs := appendN(t, o, 2, 1); !slices.Equal(seqs, []uint64{1_000_000, 1_000_001}) {
		t.Errorf("seqs = %v", seqs)
	}
}

func TestBytesBoundDropsOldest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := Open(path, Options{MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 10, 20) // 200 bytes offered, 100 kept
	if got := o.Seqs(); !slices.Equal(got, []uint64{6, 7, 8, 9, 10}) {
		t.Errorf("kept %v, want the newest five", got)
	}
	if st := o.Stats(); st.Dropped != 5 || st.Bytes != 100 {
		t.Errorf("stats = %+v", st)
	}
	o.Close()
	// The drop count is reported after a restart too.
	o = open(t, path, Options{MaxBytes: 100})
	if st := o.Stats(); st.Dropped != 5 || st.Depth != 5 {
		t.Errorf("after restart: %+v", st)
	}
	if _, err := o.Append(func(uint64, string) ([]byte, error) { return make([]byte, 101), nil }); err == nil {
		t.Error("a batch larger than the outbox was accepted")
	}
}

func TestAgeBoundDropsOld(t *testing.T) {
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"), Options{MaxAge: time.Hour, Now: c.now})
	appendN(t, o, 2, 5)
	c.t = c.t.Add(90 * time.Minute)
	appendN(t, o, 1, 5)
	if got := o.Seqs(); !slices.Equal(got, []uint64{3}) || o.Stats().Dropped != 2 {
		t.Errorf("kept %v, stats %+v", got, o.Stats())
	}
}

func TestBuildErrorStoresNothing(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"), Options{})
	if _, err := o.Append(func(uint64, string) ([]byte, error) { return nil, fmt.Errorf("encode failed") }); err == nil {
		t.Fatal("no error")
	}
	if seqs := appendN(t, o, 1, 1); seqs[0] != 1 {
		t.Errorf("a failed append used up seq: next is %d", seqs[0])
	}
}

func TestBatchIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, Options{})
	ids := map[uint64]string{}
	for range 3 {
		seq, err := o.Append(func(seq uint64, id string) ([]byte, error) {
			ids[seq] = id
			return []byte("batch"), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if id := ids[seq]; len(id) > wire.MaxBatchIDLen || !topic.ValidAgentID(id) {
			t.Errorf("batch id %q is not a valid wire batch id", id)
		}
	}
	if len(slices.Compact(slices.Sorted(maps.Values(ids)))) != 3 {
		t.Errorf("ids drawn twice: %v", ids)
	}
	o.Close()

	o = open(t, path, Options{})
	for _, e := range pending(t, o) {
		if e.BatchID != ids[e.Seq] {
			t.Errorf("batch %d after a restart: id %q, want %q", e.Seq, e.BatchID, ids[e.Seq])
		}
	}
	if seq, id := o.Reserve(); !topic.ValidAgentID(id) || seq != 4 {
		t.Errorf("Reserve = %d, %q", seq, id)
	}
}

// held returns the batch id stored with each batch.
func held(t *testing.T, o *Outbox) map[uint64]string {
	t.Helper()
	ids := map[uint64]string{}
	for _, e := range pending(t, o) {
		ids[e.Seq] = e.BatchID
	}
	return ids
}

func TestSettle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, Options{})
	appendN(t, o, 4, 10)
	ids := held(t, o)
	// Batch 4 is a batch an agent stored before batch ids: none is kept.
	if err := o.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketBatchIDs).Delete(seqKey(4)) }); err != nil {
		t.Fatal(err)
	}
	o.Close()
	o = open(t, path, Options{})

	tests := []struct {
		name    string
		settle  []Settlement
		deleted []uint64
		tally   Tally // the total after it
	}{
		{"stale: another batch id under the number", []Settlement{{Seq: 1, BatchID: "EARLIER", Rejected: true}}, nil, Tally{}},
		{"no batch id for a batch that has one", []Settlement{{Seq: 1}}, nil, Tally{}},
		{"unknown number", []Settlement{{Seq: 99, BatchID: ids[1]}}, nil, Tally{}},
		{"stored", []Settlement{{Seq: 1, BatchID: ids[1]}}, []uint64{1}, Tally{}},
		{"some reads refused", []Settlement{{Seq: 2, BatchID: ids[2], ReadsRefused: 3}}, []uint64{2}, Tally{ReadsRefused: 3}},
		{"again: counted once", []Settlement{{Seq: 2, BatchID: ids[2], ReadsRefused: 3}}, nil, Tally{ReadsRefused: 3}},
		{"refused whole, listed twice", []Settlement{{Seq: 3, BatchID: ids[3], Rejected: true}, {Seq: 3, BatchID: ids[3], Rejected: true}},
			[]uint64{3}, Tally{ReadsRefused: 3, BatchesRefused: 1}},
		{"a batch stored without id settles by number", []Settlement{{Seq: 4, BatchID: "sha256:0123"}}, []uint64{4}, Tally{ReadsRefused: 3, BatchesRefused: 1}},
	}
	for _, tt := range tests {
		deleted, err := o.Settle(tt.settle...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := seqsOf(deleted); !slices.Equal(got, tt.deleted) {
			t.Errorf("%s: deleted %v, want %v", tt.name, got, tt.deleted)
		}
		if got := o.Stats().Tally; got != tt.tally {
			t.Errorf("%s: tally %+v, want %+v", tt.name, got, tt.tally)
		}
	}
	if st := o.Stats(); st.Depth != 0 || st.Bytes != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestTallySurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, Options{})
	appendN(t, o, 1, 10)
	if err := o.Count(Tally{ReadsCleaned: 2, ReadsDropped: 1}); err != nil {
		t.Fatal(err)
	}
	o.Count(Tally{ReadsCleaned: 1})
	if _, err := o.Settle(Settlement{Seq: 1, BatchID: held(t, o)[1], ReadsRefused: 4}); err != nil {
		t.Fatal(err)
	}
	o.Close()
	o = open(t, path, Options{})
	if got, want := o.Stats().Tally, (Tally{ReadsCleaned: 3, ReadsDropped: 1, ReadsRefused: 4}); got != want {
		t.Errorf("tally after a restart %+v, want %+v", got, want)
	}
}

// pageOf returns the page size of the outbox file at path and the id of
// its first page of the given bbolt type ("leaf", "branch", "freelist").
func pageOf(t *testing.T, path, typ string) (pageSize int, id int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pageSize = db.Info().PageSize
	err = db.View(func(tx *bolt.Tx) error {
		for id = 2; ; id++ {
			p, err := tx.Page(id)
			if err != nil {
				return fmt.Errorf("no %s page: %w", typ, err)
			}
			if p == nil {
				return fmt.Errorf("no %s page", typ)
			}
			if p.Type == typ {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return pageSize, id
}

// A damaged file (a card that fails, a power cut) is moved aside and a
// fresh outbox starts, whatever the damage: bbolt must not crash the agent
// at every start.
func TestCorruptFileMovedAside(t *testing.T) {
	zeroPage := func(typ string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			size, id := pageOf(t, path, typ)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, size), int64(id*size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	truncate := func(to func(size int64) int64) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, to(fi.Size())); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"not a bbolt file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("this is not a bbolt file, it is what a dying SD card returns"), 0o600)
		}},
		{"zeroed freelist page", zeroPage("freelist")},
		{"zeroed branch page", zeroPage("branch")},
		{"zeroed leaf page", zeroPage("leaf")},
		{"zeroed meta pages", func(t *testing.T, path string) {
			size, _ := pageOf(t, path, "leaf")
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			defer f.Close()
			f.WriteAt(make([]byte, 2*size), 0)
		}},
		{"truncated to half", truncate(func(size int64) int64 { return size / 2 })},
		{"truncated in the first page", truncate(func(int64) int64 { return 100 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			o := open(t, path, Options{})
			appendN(t, o, 200, 1000) // pages of every kind
			o.Close()
			tt.damage(t, path)
			damaged, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			var logs bytes.Buffer
			o = open(t, path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if st := o.Stats(); st.Depth != 0 || st.CorruptFiles != 1 {
				t.Errorf("stats of the new outbox %+v, want empty, one corrupt file", st)
			}
			if seqs := appendN(t, o, 1, 1); seqs[0] != 1 {
				t.Errorf("seq = %d", seqs[0])
			}
			matches, _ := filepath.Glob(path + ".corrupt-*")
			if len(matches) != 1 {
				t.Fatalf("corrupt file not kept aside: %v", matches)
			}
			if aside, _ := os.ReadFile(matches[0]); !bytes.Equal(aside, damaged) {
				t.Errorf("the file moved aside is not the damaged file")
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), matches[0]) {
				t.Errorf("no error line naming %s:\n%s", matches[0], logs.String())
			}
			o.Close()
			// The fresh outbox is sound: nothing more is moved aside.
			o = open(t, path, Options{})
			if matches, _ := filepath.Glob(path + ".corrupt-*"); len(matches) != 1 || o.Stats().Depth != 1 {
				t.Errorf("after a restart: %v moved aside, depth %d", matches, o.Stats().Depth)
			}
		})
	}
}

// An error of the system around the file is no corruption: Open fails and
// leaves the file where it is, so that its batches are sent once the
// operator fixes what is wrong.
func TestOpenErrorLeavesFile(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (path string)
		root  bool // runs as root too
	}{
		{"path is a directory", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "outbox.db")
			if err := os.MkdirAll(filepath.Join(path, "keep"), 0o700); err != nil {
				t.Fatal(err)
			}
			return path
		}, true},
		{"parent is a regular file", func(t *testing.T, dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "state"), []byte("a file"), 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "state", "outbox.db")
		}, true},
		{"permission denied", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "outbox.db")
			o := open(t, path, Options{})
			appendN(t, o, 1, 10)
			o.Close()
			if err := os.Chmod(path, 0o000); err != nil {
				t.Fatal(err)
			}
			return path
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.root && os.Geteuid() == 0 {
				t.Skip("root is not denied")
			}
			dir := t.TempDir()
			path := tt.setup(t, dir)
			before := listDir(t, dir)
			o, err := Open(path, Options{})
			if err == nil {
				o.Close()
				t.Fatal("Open succeeded")
			}
			var corrupt *corruptError
			if errors.As(err, &corrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q: want an error naming %s, not corruption", err, path)
			}
			if after := listDir(t, dir); !slices.Equal(after, before) {
				t.Errorf("files %v became %v", before, after)
			}
		})
	}
}

// listDir lists the files under dir, recursively.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		out = append(out, path)
		return nil
	})
	return out
}

func BenchmarkAppend(b *testing.B) {
	o, err := Open(filepath.Join(b.TempDir(), "outbox.db"), Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	payload := make([]byte, 12_000) // a round of about ten colour MFPs
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := o.Append(func(uint64, string) ([]byte, error) { return payload, nil }); err != nil {
			b.Fatal(err)
		}
	}
}
