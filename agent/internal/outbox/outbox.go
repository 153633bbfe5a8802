// Package outbox is the agent's durable queue of read batches: a batch is
// written to disk (fsync'd) before it is published and deleted only when
// the collector acknowledges that it committed it. A broker's PUBACK is not
// enough (brokers drop QoS 1 messages under load), so what is not
// acknowledged is sent again, with backoff, across restarts.
//
// The store is bbolt: one file, every commit synced, safe on power loss.
// The outbox is bounded in bytes and in age; past a bound the oldest
// batches are dropped and counted, never silently.
package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Defaults sized for a Raspberry Pi SD card: 64 MiB holds weeks of reads of
// a few hundred printers polled every 15 minutes.
const (
	DefaultMaxBytes = 64 << 20
	DefaultMaxAge   = 30 * 24 * time.Hour
)

var (
	bucketBatches = []byte("batches") // seq (8 bytes, big-endian) → entry
	bucketMeta    = []byte("meta")
	keyLastSeq    = []byte("last_seq")
	keyDropped    = []byte("dropped")
)

// entryHeader is the enqueue time (Unix nanoseconds) stored before the
// payload, so the age bound survives restarts.
const entryHeader = 8

// Options bound the outbox. Zero fields take the defaults.
type Options struct {
	MaxBytes int64
	MaxAge   time.Duration
	// SeqFloor is the smallest sequence number to hand out: the agent passes
	// the last number it used before it had an outbox, or a clock reading,
	// so that a lost state file never restarts numbering where the
	// collector would take new batches for duplicates.
	SeqFloor uint64
	Now      func() time.Time
	Logger   *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Entry is one batch waiting for its acknowledgement.
type Entry struct {
	Seq      uint64
	Payload  []byte
	Enqueued time.Time
}

// Stats describe the outbox for the agent's status message.
type Stats struct {
	Depth   int    // batches waiting
	Bytes   int64  // their payload bytes
	Dropped uint64 // batches dropped by the bounds, ever
}

// Outbox is safe for concurrent use.
type Outbox struct {
	db   *bolt.DB
	opts Options

	mu      sync.Mutex
	sizes   map[uint64]int64 // seq → payload bytes, mirrors the file
	bytes   int64
	dropped uint64
	// lastSeq is the last number handed out, stored or only reserved.
	lastSeq uint64
}

// Open opens (or creates) the outbox file. A file that is not a valid
// outbox (corrupted by a failing card, say) is moved aside with a
// ".corrupt-<time>" suffix and a fresh outbox is started, loudly: the agent
// must keep reading printers rather than refuse to start.
func Open(path string, opts Options) (*Outbox, error) {
	opts = opts.withDefaults()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil && !errors.Is(err, bolt.ErrTimeout) && fileExists(path) {
		aside := fmt.Sprintf("%s.corrupt-%d", path, opts.Now().Unix())
		if renameErr := os.Rename(path, aside); renameErr != nil {
			return nil, fmt.Errorf("outbox: open %s: %w (and moving it aside failed: %v)", path, err, renameErr)
		}
		opts.Logger.Error("outbox file unreadable; moved aside, starting a new one: the batches it held are lost",
			"path", path, "moved_to", aside, "error", err.Error())
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	o := &Outbox{db: db, opts: opts, sizes: map[uint64]int64{}}
	if err := o.load(); err != nil {
		db.Close()
		return nil, err
	}
	return o, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// load creates the buckets and mirrors the sizes of what the file holds.
func (o *Outbox) load() error {
	return o.db.Update(func(tx *bolt.Tx) error {
		batches, err := tx.CreateBucketIfNotExists(bucketBatches)
		if err != nil {
			return fmt.Errorf("outbox: create bucket: %w", err)
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("outbox: create bucket: %w", err)
		}
		o.dropped = getUint(meta, keyDropped)
		o.lastSeq = getUint(meta, keyLastSeq)
		return batches.ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v) < entryHeader {
				return fmt.Errorf("outbox: malformed entry %x", k)
			}
			size := int64(len(v) - entryHeader)
			o.sizes[binary.BigEndian.Uint64(k)] = size
			o.bytes += size
			return nil
		})
	})
}

// Append numbers the next batch, lets build encode it with that number, and
// stores it, all in one synced transaction: a sequence number is never
// handed out twice, even across a crash. It applies the bounds first,
// dropping the oldest batches to make room.
func (o *Outbox) Append(build func(seq uint64) ([]byte, error)) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.opts.Now()
	var seq uint64
	var size int64
	var dropped []uint64
	err := o.db.Update(func(tx *bolt.Tx) error {
		batches, meta := tx.Bucket(bucketBatches), tx.Bucket(bucketMeta)
		seq = max(getUint(meta, keyLastSeq)+1, o.lastSeq+1, o.opts.SeqFloor)
		payload, err := build(seq)
		if err != nil {
			return err
		}
		size = int64(len(payload))
		if size > o.opts.MaxBytes {
			return fmt.Errorf("outbox: a batch of %d bytes is larger than the whole outbox (%d bytes)", size, o.opts.MaxBytes)
		}
		dropped, err = o.makeRoom(batches, size, now)
		if err != nil {
			return err
		}
		if len(dropped) > 0 {
			if err := putUint(meta, keyDropped, o.dropped+uint64(len(dropped))); err != nil {
				return err
			}
		}
		if err := putUint(meta, keyLastSeq, seq); err != nil {
			return err
		}
		v := make([]byte, entryHeader+len(payload))
		binary.BigEndian.PutUint64(v, uint64(now.UnixNano()))
		copy(v[entryHeader:], payload)
		if err := batches.Put(seqKey(seq), v); err != nil {
			return fmt.Errorf("outbox: store batch %d: %w", seq, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// The transaction committed: mirror it.
	for _, s := range dropped {
		o.bytes -= o.sizes[s]
		delete(o.sizes, s)
	}
	o.dropped += uint64(len(dropped))
	o.lastSeq = seq
	o.sizes[seq] = size
	o.bytes += size
	if len(dropped) > 0 {
		o.opts.Logger.Warn("outbox full or too old: dropped the oldest batches", "dropped", len(dropped),
			"dropped_total", o.dropped, "max_bytes", o.opts.MaxBytes, "max_age", o.opts.MaxAge.String())
	}
	return seq, nil
}

// Reserve hands out the next sequence number without storing anything, for
// a batch that could not be written (a full or failing disk) and is sent
// from memory only. The number is never handed out again while the outbox
// is open; after a restart the clock floor (SeqFloor) keeps it unused.
func (o *Outbox) Reserve() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastSeq = max(o.lastSeq+1, o.opts.SeqFloor)
	return o.lastSeq
}

// makeRoom deletes, oldest first, the batches past the age bound and as
// many more as it takes for size more bytes to fit. It returns their
// sequence numbers; the caller mirrors them once the transaction commits.
func (o *Outbox) makeRoom(batches *bolt.Bucket, size int64, now time.Time) ([]uint64, error) {
	var drop []uint64
	bytes := o.bytes
	c := batches.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		enqueued := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		if bytes+size <= o.opts.MaxBytes && now.Sub(enqueued) <= o.opts.MaxAge {
			break
		}
		seq := binary.BigEndian.Uint64(k)
		drop = append(drop, seq)
		bytes -= o.sizes[seq]
	}
	for _, seq := range drop {
		if err := batches.Delete(seqKey(seq)); err != nil {
			return nil, fmt.Errorf("outbox: drop batch %d: %w", seq, err)
		}
	}
	return drop, nil
}

// Ack deletes the acknowledged batches and returns how many it held.
// Unknown numbers (already acknowledged, or dropped) are ignored: acks are
// re-sent too.
func (o *Outbox) Ack(seqs ...uint64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var held []uint64
	for _, s := range seqs {
		if _, ok := o.sizes[s]; ok && !slices.Contains(held, s) {
			held = append(held, s)
		}
	}
	if len(held) == 0 {
		return 0, nil
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		batches := tx.Bucket(bucketBatches)
		for _, s := range held {
			if err := batches.Delete(seqKey(s)); err != nil {
				return fmt.Errorf("outbox: delete batch %d: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, s := range held {
		o.bytes -= o.sizes[s]
		delete(o.sizes, s)
	}
	return len(held), nil
}

// Pending returns up to limit batches waiting for acknowledgement, oldest
// first, starting after the sequence number after (0: from the start).
func (o *Outbox) Pending(after uint64, limit int) ([]Entry, error) {
	var out []Entry
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketBatches).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, Entry{
				Seq:      binary.BigEndian.Uint64(k),
				Enqueued: time.Unix(0, int64(binary.BigEndian.Uint64(v))),
				// bbolt's memory is valid only inside the transaction.
				Payload: append([]byte(nil), v[entryHeader:]...),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: list pending batches: %w", err)
	}
	return out, nil
}

// Get returns the batch with sequence number seq, and false when the
// outbox does not hold it (acknowledged, or dropped by the bounds).
func (o *Outbox) Get(seq uint64) (Entry, bool, error) {
	var e Entry
	var found bool
	err := o.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBatches).Get(seqKey(seq))
		if len(v) < entryHeader {
			return nil
		}
		found = true
		e = Entry{
			Seq:      seq,
			Enqueued: time.Unix(0, int64(binary.BigEndian.Uint64(v))),
			Payload:  append([]byte(nil), v[entryHeader:]...),
		}
		return nil
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("outbox: read batch %d: %w", seq, err)
	}
	return e, found, nil
}

// Seqs returns the sequence numbers waiting, in order.
func (o *Outbox) Seqs() []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]uint64, 0, len(o.sizes))
	for s := range o.sizes {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Stats returns the outbox's depth, size and drop count.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Stats{Depth: len(o.sizes), Bytes: o.bytes, Dropped: o.dropped}
}

// Close closes the file.
func (o *Outbox) Close() error {
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("outbox: close: %w", err)
	}
	return nil
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func getUint(b *bolt.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putUint(b *bolt.Bucket, key []byte, n uint64) error {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, n)
	if err := b.Put(key, v); err != nil {
		return fmt.Errorf("outbox: write %s: %w", key, err)
	}
	return nil
}
