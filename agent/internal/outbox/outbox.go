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
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Defaults sized for a Raspberry Pi SD card: 64 MiB holds weeks of reads of
// a few hundred printers polled every 15 minutes.
const (
	DefaultMaxBytes = 64 << 20
	DefaultMaxAge   = 30 * 24 * time.Hour
)

var (
	bucketBatches = []byte("batches") // seq (8 bytes, big-endian) → entry
	// bucketBatchIDs holds the id drawn for each batch (seq → id), apart
	// from the entries so that a file of an agent that predates batch ids
	// reads as it is: its batches have none.
	bucketBatchIDs = []byte("batch_ids")
	bucketMeta     = []byte("meta")
	keyLastSeq     = []byte("last_seq")
	keyDropped     = []byte("dropped")
	// The tally (see Tally), one counter each.
	keyReadsCleaned   = []byte("reads_cleaned")
	keyReadsDropped   = []byte("reads_dropped")
	keyReadsRefused   = []byte("reads_refused")
	keyBatchesRefused = []byte("batches_refused")
)

// corruptSuffix marks an outbox file found corrupt and moved aside; the
// time it was moved follows.
const corruptSuffix = ".corrupt-"

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
	Seq uint64
	// BatchID is the id drawn when the batch was stored; "" for a batch
	// stored by an agent that predates batch ids.
	BatchID  string
	Payload  []byte
	Enqueued time.Time
}

// Tally counts what became of the reads, beyond the outbox's own bounds.
// It is kept in the file, so it counts since the outbox was created.
type Tally struct {
	ReadsCleaned   uint64 // reads the agent cleaned before storing them
	ReadsDropped   uint64 // reads the agent dropped: invalid even once cleaned
	ReadsRefused   uint64 // reads the collector refused, by its acks
	BatchesRefused uint64 // batches the collector refused whole
}

func (t *Tally) add(u Tally) {
	t.ReadsCleaned += u.ReadsCleaned
	t.ReadsDropped += u.ReadsDropped
	t.ReadsRefused += u.ReadsRefused
	t.BatchesRefused += u.BatchesRefused
}

// put writes the tally to the meta bucket.
func (t Tally) put(meta *bolt.Bucket) error {
	for _, f := range t.fields() {
		if err := putUint(meta, f.key, *f.n); err != nil {
			return err
		}
	}
	return nil
}

// fields pairs each counter of t with its key in the meta bucket.
func (t *Tally) fields() []struct {
	key []byte
	n   *uint64
} {
	return []struct {
		key []byte
		n   *uint64
	}{
		{keyReadsCleaned, &t.ReadsCleaned},
		{keyReadsDropped, &t.ReadsDropped},
		{keyReadsRefused, &t.ReadsRefused},
		{keyBatchesRefused, &t.BatchesRefused},
	}
}

// Stats describe the outbox for the agent's status message.
type Stats struct {
	Depth   int    // batches waiting
	Bytes   int64  // their payload bytes
	Dropped uint64 // batches dropped by the bounds, ever
	Tally
	// CorruptFiles counts the outbox files found corrupt and moved aside
	// that still lie next to this one.
	CorruptFiles int
}

// Outbox is safe for concurrent use.
type Outbox struct {
	db   *bolt.DB
	opts Options

	mu           sync.Mutex
	held         map[uint64]heldBatch // seq → what the file holds of it
	bytes        int64
	dropped      uint64
	tally        Tally
	corruptFiles int
	// lastSeq is the last number handed out, stored or only reserved.
	lastSeq uint64
}

// heldBatch mirrors a stored batch: its payload bytes and its batch id.
type heldBatch struct {
	size int64
	id   string
}

// settledBy reports whether an ack naming batchID settles the batch: the
// ids match, or the batch predates batch ids (its payload carries none for
// an ack to name). An ack for the same number but another id is a stale
// one, for a batch of an earlier installation.
func (h heldBatch) settledBy(batchID string) bool { return h.id == "" || h.id == batchID }

// Open opens (or creates) the outbox file. A file that is corrupt (a
// failing card, a power cut on a card that lies about syncing) is moved
// aside with a ".corrupt-<time>" suffix and a fresh outbox is started,
// loudly: the agent must keep reading printers rather than crash at every
// start. Any other failure (permission denied, a directory in the way, an
// I/O error) is returned and the file left as it is: its batches are
// sent once the operator fixes what is wrong.
func Open(path string, opts Options) (*Outbox, error) {
	opts = opts.withDefaults()
	o, err := openChecked(path, opts)
	var corrupt *corruptError
	if !errors.As(err, &corrupt) {
		return o, err
	}
	aside := path + corruptSuffix + opts.Now().UTC().Format("20060102T150405.000000000Z")
	if renameErr := os.Rename(path, aside); renameErr != nil {
		return nil, fmt.Errorf("outbox: %s is corrupt (%w) and moving it aside failed: %w", path, err, renameErr)
	}
	o, openErr := openChecked(path, opts)
	if openErr != nil {
		return nil, fmt.Errorf("outbox: start a new outbox in place of the corrupt one: %w", openErr)
	}
	opts.Logger.Error("outbox file corrupt; moved aside, starting a new one: the batches it held are not sent",
		"path", path, "moved_to", aside, "error", err.Error(), "corrupt_files", o.corruptFiles)
	return o, nil
}

// corruptError is a file that is no valid outbox: moving it aside is the
// cure. Everything else is an error of the system around the file.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return "corrupt file: " + e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

// recoverCorrupt turns a panic of bbolt over a damaged page into a
// corruptError in *err. Use it deferred, after
// defer debug.SetPanicOnFault(debug.SetPanicOnFault(true)), which makes
// a fault on the mapped file (a page past a truncated end) a panic too.
func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = &corruptError{fmt.Errorf("bbolt: %v", r)}
	}
}

// openChecked opens the file and checks it; a corrupt file is a *corruptError.
func openChecked(path string, opts Options) (*Outbox, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	o := &Outbox{db: db, opts: opts, held: map[uint64]heldBatch{}}
	if err := o.load(); err != nil {
		closeDB(db)
		var corrupt *corruptError
		if errors.As(err, &corrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("outbox: load %s: %w", path, err)
	}
	o.corruptFiles = countCorruptFiles(path)
	return o, nil
}

func openDB(path string) (db *bolt.DB, err error) {
	// A panic inside bolt.Open leaks its file handle: once, before the file
	// is moved aside.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(&err)
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, &corruptError{err}
	default:
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
}

// closeDB closes a database that failed its check; bbolt may panic there
// too, and the file is given up on anyway.
func closeDB(db *bolt.DB) {
	defer func() { _ = recover() }()
	db.Close()
}

// countCorruptFiles counts the files moved aside from path.
func countCorruptFiles(path string) int {
	entries, _ := os.ReadDir(filepath.Dir(path)) // a figure for the operator: best effort
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), filepath.Base(path)+corruptSuffix) {
			n++
		}
	}
	return n
}

// load checks the whole file, creates the buckets and mirrors what the
// file holds. Check walks every page first: a page bbolt cannot read
// would make it panic later, in whatever transaction came to it.
func (o *Outbox) load() (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverCorrupt(&err)
	err = o.db.View(func(tx *bolt.Tx) error {
		var problems []error
		for err := range tx.Check() {
			if len(problems) < 3 { // enough to say why; drain the rest
				problems = append(problems, err)
			}
		}
		if len(problems) > 0 {
			return &corruptError{errors.Join(problems...)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return o.db.Update(func(tx *bolt.Tx) error {
		var buckets [3]*bolt.Bucket
		for i, name := range [][]byte{bucketBatches, bucketBatchIDs, bucketMeta} {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return fmt.Errorf("outbox: create bucket %s: %w", name, err)
			}
			buckets[i] = b
		}
		batches, ids, meta := buckets[0], buckets[1], buckets[2]
		o.dropped = getUint(meta, keyDropped)
		o.lastSeq = getUint(meta, keyLastSeq)
		for _, f := range o.tally.fields() {
			*f.n = getUint(meta, f.key)
		}
		return batches.ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v) < entryHeader {
				return &corruptError{fmt.Errorf("malformed entry %x", k)}
			}
			h := heldBatch{size: int64(len(v) - entryHeader), id: string(ids.Get(k))}
			o.held[binary.BigEndian.Uint64(k)] = h
			o.bytes += h.size
			return nil
		})
	})
}

// NewBatchID draws a batch id: 128 random bits in 26 characters of
// base32, within wire.MaxBatchIDLen and its alphabet.
func NewBatchID() string { return rand.Text() }

// Append numbers the next batch and draws its batch id, lets build encode
// it with them, and stores it, all in one synced transaction: a sequence
// number is never handed out twice, even across a crash. It applies the
// bounds first, dropping the oldest batches to make room.
func (o *Outbox) Append(build func(seq uint64, batchID string) ([]byte, error)) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.opts.Now()
	id := NewBatchID()
	var seq uint64
	var size int64
	var dropped []uint64
	err := o.db.Update(func(tx *bolt.Tx) error {
		batches, ids, meta := tx.Bucket(bucketBatches), tx.Bucket(bucketBatchIDs), tx.Bucket(bucketMeta)
		seq = max(getUint(meta, keyLastSeq)+1, o.lastSeq+1, o.opts.SeqFloor)
		payload, err := build(seq, id)
		if err != nil {
			return err
		}
		size = int64(len(payload))
		if size > o.opts.MaxBytes {
			return fmt.Errorf("outbox: a batch of %d bytes is larger than the whole outbox (%d bytes)", size, o.opts.MaxBytes)
		}
		dropped, err = o.makeRoom(tx, size, now)
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
		if err := ids.Put(seqKey(seq), []byte(id)); err != nil {
			return fmt.Errorf("outbox: store the id of batch %d: %w", seq, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// The transaction committed: mirror it.
	for _, s := range dropped {
		o.bytes -= o.held[s].size
		delete(o.held, s)
	}
	o.dropped += uint64(len(dropped))
	o.lastSeq = seq
	o.held[seq] = heldBatch{size: size, id: id}
	o.bytes += size
	if len(dropped) > 0 {
		o.opts.Logger.Warn("outbox full or too old: dropped the oldest batches", "dropped", len(dropped),
			"dropped_total", o.dropped, "max_bytes", o.opts.MaxBytes, "max_age", o.opts.MaxAge.String())
	}
	return seq, nil
}

// Reserve hands out the next sequence number and a batch id without
// storing anything, for a batch that could not be written (a full or
// failing disk) and is sent from memory only. The number is never handed
// out again while the outbox is open; after a restart the clock floor
// (SeqFloor) keeps it unused.
func (o *Outbox) Reserve() (seq uint64, batchID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastSeq = max(o.lastSeq+1, o.opts.SeqFloor)
	return o.lastSeq, NewBatchID()
}

// makeRoom deletes, oldest first, the batches past the age bound and as
// many more as it takes for size more bytes to fit. It returns their
// sequence numbers; the caller mirrors them once the transaction commits.
func (o *Outbox) makeRoom(tx *bolt.Tx, size int64, now time.Time) ([]uint64, error) {
	var drop []uint64
	bytes := o.bytes
	c := tx.Bucket(bucketBatches).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		enqueued := enqueuedAt(v)
		if bytes+size <= o.opts.MaxBytes && now.Sub(enqueued) <= o.opts.MaxAge {
			break
		}
		seq := binary.BigEndian.Uint64(k)
		drop = append(drop, seq)
		bytes -= o.held[seq].size
	}
	for _, seq := range drop {
		if err := deleteBatch(tx, seq); err != nil {
			return nil, fmt.Errorf("outbox: drop batch %d: %w", seq, err)
		}
	}
	return drop, nil
}

func deleteBatch(tx *bolt.Tx, seq uint64) error {
	return errors.Join(tx.Bucket(bucketBatches).Delete(seqKey(seq)), tx.Bucket(bucketBatchIDs).Delete(seqKey(seq)))
}

// Ack deletes the batches with these sequence numbers, whatever their
// batch id (an ack of a collector that predates batch ids), and returns
// the numbers of those it held. Unknown numbers (already acknowledged, or
// dropped) are ignored: acks are re-sent too.
func (o *Outbox) Ack(seqs ...uint64) ([]uint64, error) {
	settled := make([]Settlement, len(seqs))
	for i, s := range seqs {
		settled[i] = Settlement{Seq: s}
	}
	deleted, err := o.settle(settled, false)
	return seqsOf(deleted), err
}

// seqsOf lists the sequence numbers of the settlements.
func seqsOf(settled []Settlement) []uint64 {
	var out []uint64
	for _, s := range settled {
		out = append(out, s.Seq)
	}
	return out
}

// Settlement is what an ack says of one batch.
type Settlement struct {
	Seq     uint64
	BatchID string
	// ReadsRefused is how many of its reads the collector refused;
	// Rejected, that it refused the batch whole.
	ReadsRefused int
	Rejected     bool
}

// Settle deletes the batches the settlements name by sequence number and
// batch id, and counts in the tally the reads and batches they say the
// collector refused, in one synced transaction. It returns the
// settlements that deleted a batch: a settlement of a batch already
// deleted (acks are re-sent), or naming another batch id than the one
// held under its number (a stale ack, for a batch of an earlier
// installation), deletes and counts nothing.
func (o *Outbox) Settle(settled ...Settlement) ([]Settlement, error) {
	return o.settle(settled, true)
}

func (o *Outbox) settle(settled []Settlement, byID bool) ([]Settlement, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var match []Settlement
	var tally Tally
	for _, s := range settled {
		h, ok := o.held[s.Seq]
		if !ok || byID && !h.settledBy(s.BatchID) ||
			slices.ContainsFunc(match, func(m Settlement) bool { return m.Seq == s.Seq }) {
			continue
		}
		match = append(match, s)
		if s.ReadsRefused > 0 { // a count from the collector's ack
			tally.ReadsRefused += uint64(s.ReadsRefused)
		}
		if s.Rejected {
			tally.BatchesRefused++
		}
	}
	if len(match) == 0 {
		return nil, nil
	}
	total := o.tally
	total.add(tally)
	err := o.db.Update(func(tx *bolt.Tx) error {
		for _, s := range match {
			if err := deleteBatch(tx, s.Seq); err != nil {
				return fmt.Errorf("outbox: delete batch %d: %w", s.Seq, err)
			}
		}
		if tally != (Tally{}) {
			return total.put(tx.Bucket(bucketMeta))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range match {
		o.bytes -= o.held[s.Seq].size
		delete(o.held, s.Seq)
	}
	o.tally = total
	return match, nil
}

// Count adds to the tally. The figures are kept in memory even when the
// file cannot take them (the error says so): the status still shows them.
func (o *Outbox) Count(t Tally) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tally.add(t)
	total := o.tally
	if err := o.db.Update(func(tx *bolt.Tx) error { return total.put(tx.Bucket(bucketMeta)) }); err != nil {
		return fmt.Errorf("outbox: count: %w", err)
	}
	return nil
}

// Get returns the batch with sequence number seq, and false when the
// outbox does not hold it (acknowledged, or dropped by the bounds).
func (o *Outbox) Get(seq uint64) (Entry, bool, error) {
	var e Entry
	var found bool
	err := o.db.View(func(tx *bolt.Tx) error {
		k := seqKey(seq)
		v := tx.Bucket(bucketBatches).Get(k)
		if len(v) < entryHeader {
			return nil
		}
		found = true
		e = entryOf(k, v, tx.Bucket(bucketBatchIDs))
		return nil
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("outbox: read batch %d: %w", seq, err)
	}
	return e, found, nil
}

// entryOf copies a stored batch out of the transaction: bbolt's memory is
// valid only inside it.
func entryOf(k, v []byte, ids *bolt.Bucket) Entry {
	return Entry{
		Seq:      binary.BigEndian.Uint64(k),
		BatchID:  string(ids.Get(k)),
		Enqueued: enqueuedAt(v),
		Payload:  append([]byte(nil), v[entryHeader:]...),
	}
}

// enqueuedAt reads the enqueue time in the header of a stored batch
// (at least entryHeader bytes: load refuses a file with a shorter one).
func enqueuedAt(v []byte) time.Time {
	// Append stored uint64(now.UnixNano()): converting back is its exact
	// inverse, bit for bit, and cannot overflow.
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))) //nolint:gosec // inverse of Append's int64 → uint64
}

// Seqs returns the sequence numbers waiting, in order.
func (o *Outbox) Seqs() []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]uint64, 0, len(o.held))
	for s := range o.held {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Stats returns the outbox's figures.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Stats{Depth: len(o.held), Bytes: o.bytes, Dropped: o.dropped, Tally: o.tally, CorruptFiles: o.corruptFiles}
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
