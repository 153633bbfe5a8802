package outbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
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
		seq, err := o.Append(func(seq uint64) ([]byte, error) {
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

func TestAppendAckPending(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"), Options{})
	seqs := appendN(t, o, 5, 10)
	if !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5}) {
		t.Fatalf("seqs = %v", seqs)
	}
	if n, err := o.Ack(2, 4, 99, 4); err != nil || n != 2 {
		t.Fatalf("Ack = %d, %v", n, err)
	}
	// Acks arrive again: nothing more to delete.
	if n, _ := o.Ack(2); n != 0 {
		t.Errorf("second ack deleted %d", n)
	}
	pending, err := o.Pending(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, e := range pending {
		got = append(got, e.Seq)
		if want := fmt.Sprintf("batch %d ..", e.Seq); string(e.Payload) != want {
			t.Errorf("payload of %d = %q, want %q", e.Seq, e.Payload, want)
		}
	}
	if !slices.Equal(got, []uint64{1, 3, 5}) || !slices.Equal(o.Seqs(), got) {
		t.Errorf("pending = %v, Seqs = %v, want 1 3 5", got, o.Seqs())
	}
	if after, _ := o.Pending(3, 1); len(after) != 1 || after[0].Seq != 5 {
		t.Errorf("Pending(after 3, limit 1) = %v", after)
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
	pending, _ := o.Pending(0, 10)
	if len(pending) != 2 || pending[0].Seq != 2 || !pending[0].Enqueued.Equal(enqueued) {
		t.Fatalf("after restart: %+v", pending)
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
	if _, err := o.Append(func(uint64) ([]byte, error) { return make([]byte, 101), nil }); err == nil {
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
	if _, err := o.Append(func(uint64) ([]byte, error) { return nil, fmt.Errorf("encode failed") }); err == nil {
		t.Fatal("no error")
	}
	if seqs := appendN(t, o, 1, 1); seqs[0] != 1 {
		t.Errorf("a failed append used up seq: next is %d", seqs[0])
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	if err := os.WriteFile(path, []byte("this is not a bbolt file, it is what a dying SD card returns"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := open(t, path, Options{})
	if seqs := appendN(t, o, 1, 1); seqs[0] != 1 {
		t.Errorf("seq = %d", seqs[0])
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 1 {
		t.Errorf("corrupt file not kept aside: %v", matches)
	}
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
		if _, err := o.Append(func(uint64) ([]byte, error) { return payload, nil }); err != nil {
			b.Fatal(err)
		}
	}
}
