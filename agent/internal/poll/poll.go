// Package poll reads many printers concurrently, each within its own
// deadline, and hands the reads of every complete round to a Sink.
package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meterline/meterline/shared/wire"
)

// Defaults for Options.
const (
	DefaultDeviceTimeout = 2 * time.Minute
	DefaultConcurrency   = 32
)

// DefaultInterval is the time between the starts of two poll rounds when
// the configuration says nothing.
const DefaultInterval = 15 * time.Minute

// ReadFunc reads one device. The context carries the device's deadline.
type ReadFunc func(ctx context.Context, target string) (wire.DeviceRead, error)

// ErrDeviceTimeout says that a device did not finish its read in time.
var ErrDeviceTimeout = errors.New("device read timed out")

// ReadOne reads one target, giving up after timeout even if read ignores
// its context: a device that hangs must not hold up its caller.
func ReadOne(ctx context.Context, read ReadFunc, target string, timeout time.Duration) (wire.DeviceRead, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		read wire.DeviceRead
		err  error
	}
	done := make(chan result, 1) // buffered: an abandoned read can still finish
	go func() {
		r, err := read(ctx, target)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		if res.err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && errors.Is(res.err, context.DeadlineExceeded) {
			return wire.DeviceRead{}, fmt.Errorf("%w: no complete read within %s", ErrDeviceTimeout, timeout)
		}
		return res.read, res.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return wire.DeviceRead{}, fmt.Errorf("%w: no complete read within %s", ErrDeviceTimeout, timeout)
		}
		return wire.DeviceRead{}, ctx.Err()
	}
}

// Options tune a Poller; zero values take the defaults.
type Options struct {
	// DeviceTimeout bounds the read of one device.
	DeviceTimeout time.Duration
	// Concurrency bounds how many devices are read at once.
	Concurrency int
}

// TargetError is the failure to read one target.
type TargetError struct {
	Target string
	Err    error
}

// Error implements error.
func (e *TargetError) Error() string { return fmt.Sprintf("read %s: %v", e.Target, e.Err) }

// Unwrap returns the cause.
func (e *TargetError) Unwrap() error { return e.Err }

// Result is the outcome of reading a list of targets: the reads of the
// devices that answered, in target order, and the failures.
type Result struct {
	Reads  []wire.DeviceRead
	Errors []*TargetError
}

// Sink takes the reads of each complete poll round. The MQTT uplink is
// one; the durable outbox, when it comes, is another.
type Sink interface {
	Deliver(ctx context.Context, reads []wire.DeviceRead) error
}

// FailureSink is a Sink that also wants to know which targets failed a
// round (to report a device that stopped answering). Round calls Failed
// before Deliver, with the round's failures, when there are any.
type FailureSink interface {
	Sink
	Failed(ctx context.Context, failures []*TargetError)
}

// Poller reads targets with a bounded number of concurrent reads.
type Poller struct {
	read ReadFunc
	opts Options
	log  *slog.Logger
}

// New returns a Poller that reads each device with read.
func New(read ReadFunc, opts Options, log *slog.Logger) *Poller {
	if opts.DeviceTimeout <= 0 {
		opts.DeviceTimeout = DefaultDeviceTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	return &Poller{read: read, opts: opts, log: log}
}

// ReadAll reads every target, at most Concurrency at a time, each within
// DeviceTimeout. A slow or dead device holds one slot for at most its
// timeout and fails alone.
func (p *Poller) ReadAll(ctx context.Context, targets []string) Result {
	reads := make([]wire.DeviceRead, len(targets))
	errs := make([]error, len(targets))
	slots := make(chan struct{}, p.opts.Concurrency)
	var wg sync.WaitGroup
	for i, target := range targets {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			reads[i], errs[i] = ReadOne(ctx, p.read, target, p.opts.DeviceTimeout)
		})
	}
	wg.Wait()

	var res Result
	for i, target := range targets {
		if errs[i] != nil {
			res.Errors = append(res.Errors, &TargetError{Target: target, Err: errs[i]})
			continue
		}
		res.Reads = append(res.Reads, reads[i])
	}
	return res
}

// minInterval keeps a broken Interval func (zero, negative) from spinning
// the loop; configuration never goes below it anyway.
const minInterval = time.Second

// Schedule is what a running poll loop asks again and again, so that the
// targets and the interval can change without a restart.
type Schedule struct {
	// Targets lists the devices to read; it is asked at the start of
	// every round.
	Targets func() []string
	// Interval is the time between the starts of two rounds; it is asked
	// after every round and on every receive on Changed. Below one second
	// it counts as one second.
	Interval func() time.Duration
	// A receive on Wake starts a round at once (poll now, new printers
	// found). A nil Wake never does.
	Wake <-chan struct{}
	// A receive on Changed says that Interval may have changed: the next
	// round is planned again from the last round's start, so that a
	// shorter interval takes effect at once and a longer one pushes the
	// round back. A nil Changed never does.
	Changed <-chan struct{}
}

// RunSchedule polls as s says, the first round at once, and hands each
// complete round's reads to sink, until ctx is cancelled. Each round
// starts Interval after the start of the one before (at once when a round
// took longer than that). A round cut short by cancellation is dropped
// whole; a round that completed is delivered even if cancellation comes
// during delivery, so that nothing is sent half-done.
func (p *Poller) RunSchedule(ctx context.Context, s Schedule, sink Sink) error {
	interval := func() time.Duration { return max(s.Interval(), minInterval) }
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		started := time.Now()
		p.Round(ctx, s.Targets(), sink)
		planned := interval()
		timer.Reset(time.Until(started.Add(planned)))
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-s.Wake:
				break wait
			case <-timer.C:
				break wait
			case <-s.Changed:
				if now := interval(); now != planned {
					p.log.Debug("next poll round planned again", "interval", now.String(), "was", planned.String())
					planned = now
					timer.Reset(time.Until(started.Add(planned)))
				}
			}
		}
	}
}

// Round reads every target once and delivers the reads.
func (p *Poller) Round(ctx context.Context, targets []string, sink Sink) {
	started := time.Now()
	res := p.ReadAll(ctx, targets)
	if ctx.Err() != nil {
		p.log.Info("poll round stopped before its end; nothing sent", "targets", len(targets))
		return
	}
	for _, r := range res.Reads {
		p.log.Debug("device read", "target", r.Address, "serial", r.Serial, "model", r.Model,
			"counters", len(r.Counters), "supplies", len(r.Supplies))
	}
	for _, e := range res.Errors {
		p.log.Warn("device read failed", "target", e.Target, "error", e.Err.Error())
	}
	p.log.Info("poll round done",
		"devices_read", len(res.Reads), "devices_failed", len(res.Errors),
		"duration_seconds", time.Since(started).Seconds())
	if fs, ok := sink.(FailureSink); ok && len(res.Errors) > 0 {
		fs.Failed(context.WithoutCancel(ctx), res.Errors)
	}
	if len(res.Reads) == 0 {
		return
	}
	if err := sink.Deliver(context.WithoutCancel(ctx), res.Reads); err != nil {
		p.log.Error("deliver reads", "devices_read", len(res.Reads), "error", err.Error())
	}
}
