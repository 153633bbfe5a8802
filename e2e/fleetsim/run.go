package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// brokerWait bounds every wait on the broker (connect, subscribe): a guard
// against a hung broker, not a measure of anything.
const brokerWait = 10 * time.Second

// connectParallel is how many agents connect at once.
const connectParallel = 16

// step is what one run measures; guarded by Fleet.mu.
type step struct {
	first   time.Time
	lastAck time.Time
	bytes   int64
}

// run publishes every unacknowledged batch of rounds [0, upTo) and waits
// for their acknowledgements.
func (f *Fleet) run(ctx context.Context, upTo int) (Result, error) {
	f.runMu.Lock()
	defer f.runMu.Unlock()
	if err := f.connect(ctx); err != nil {
		return Result{}, err
	}
	st := &step{}
	f.mu.Lock()
	f.step = st
	before := f.progressLocked()
	f.mu.Unlock()

	var wg sync.WaitGroup
	for _, a := range f.agents {
		wg.Go(func() { f.runAgent(ctx, a, upTo) })
	}
	wg.Wait()
	f.doneTo = max(f.doneTo, upTo)

	f.mu.Lock()
	f.step = nil
	after := f.progressLocked()
	missing := 0
	for _, a := range f.agents {
		for r := range upTo {
			if !a.acked[r] {
				missing++
			}
		}
	}
	f.mu.Unlock()

	res := Result{
		Batches:      after.AckedBatches - before.AckedBatches,
		Reads:        after.AckedReads - before.AckedReads,
		Published:    after.Published - before.Published,
		Resent:       after.Resent - before.Resent,
		Bytes:        st.bytes,
		FirstPublish: st.first,
		LastAck:      st.lastAck,
	}
	if !st.first.IsZero() && st.lastAck.After(st.first) {
		res.Duration = st.lastAck.Sub(st.first)
		res.ReadsPerSecond = float64(res.Reads) / res.Duration.Seconds()
	}
	if missing > 0 {
		return res, fmt.Errorf("%w: %d of the %d batches of rounds 1-%d missing: %w",
			ErrIncomplete, missing, upTo*len(f.agents), upTo, ctx.Err())
	}
	return res, nil
}

// pending is a published batch waiting for its acknowledgement.
type pending struct {
	due      time.Time
	attempts int
}

// runAgent publishes an agent's unacknowledged batches of rounds [0, upTo),
// oldest first, at most InFlight at once, and re-sends each one not
// acknowledged in time, until all are acknowledged or ctx ends.
func (f *Fleet) runAgent(ctx context.Context, a *agent, upTo int) {
	inFlight := map[int]*pending{}
	next := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		f.mu.Lock()
		for r := range inFlight {
			if a.acked[r] {
				delete(inFlight, r)
			}
		}
		for next < upTo && a.acked[next] {
			next++
		}
		f.mu.Unlock()

		now := time.Now()
		for r, p := range inFlight {
			if !now.Before(p.due) {
				f.cfg.Logger.Debug("batch not acknowledged in time; sending it again", "agent_id", a.id, "seq", r+1, "attempt", p.attempts+1)
				f.publish(a, r, true)
				p.attempts++
				p.due = now.Add(f.backoff(p.attempts))
			}
		}
		for len(inFlight) < f.cfg.InFlight && next < upTo {
			if _, ok := inFlight[next]; !ok && !f.isAcked(a, next) {
				f.publish(a, next, false)
				inFlight[next] = &pending{due: now.Add(f.cfg.AckTimeout), attempts: 1}
			}
			next++
		}
		if len(inFlight) == 0 && next >= upTo {
			return
		}

		var earliest time.Time
		for _, p := range inFlight {
			if earliest.IsZero() || p.due.Before(earliest) {
				earliest = p.due
			}
		}
		timer.Reset(max(time.Until(earliest), 0))
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select { // drain a tick that raced with the wake-up
			case <-timer.C:
			default:
			}
		}
	}
}

// backoff is the wait after the given number of publishes of one batch:
// AckTimeout, doubled on each re-send, up to 8 × AckTimeout.
func (f *Fleet) backoff(attempts int) time.Duration {
	return f.cfg.AckTimeout << min(attempts-1, 3) // 1, 2, 4, 8
}

func (f *Fleet) isAcked(a *agent, r int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return a.acked[r]
}

// publish hands batch r of agent a to its MQTT client at QoS 1. The
// PUBACK is not waited for: only the collector's acknowledgement counts,
// and a publish that failed is sent again after AckTimeout like any
// unacknowledged batch.
func (f *Fleet) publish(a *agent, r int, resend bool) {
	now := time.Now()
	payload := a.batches[r].Payload
	f.mu.Lock()
	f.published++
	if resend {
		f.resent++
	}
	if st := f.step; st != nil {
		if st.first.IsZero() {
			st.first = now
		}
		st.bytes += int64(len(payload))
	}
	f.mu.Unlock()
	a.client.Publish(a.readsTopic, 1, false, payload)
}

// onAck records an acknowledgement received by agent a.
func (f *Fleet) onAck(a *agent, payload []byte) {
	ack, err := wire.DecodeAck(payload)
	if err != nil || ack.AgentID != a.id {
		f.cfg.Logger.Warn("ignoring an acknowledgement that is not this agent's", "agent_id", a.id, "error", err, "ack_agent_id", ack.AgentID)
		return
	}
	now := time.Now()
	f.mu.Lock()
	for _, seq := range ack.Sequences {
		if seq < 1 || seq > uint64(len(a.acked)) || a.acked[seq-1] {
			continue
		}
		a.acked[seq-1] = true
		f.ackedB++
		f.ackedR += a.batches[seq-1].Reads
		if f.step != nil {
			f.step.lastAck = now
		}
	}
	f.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default: // the agent has been told already
	}
}

func (f *Fleet) progressLocked() Progress {
	return Progress{
		Published: f.published, Resent: f.resent,
		AckedBatches: f.ackedB, AckedReads: f.ackedR,
		TotalBatches: len(f.agents) * f.cfg.Rounds,
	}
}

// connect connects every agent that is not connected, each subscribed to
// its acks topic before anything is published.
func (f *Fleet) connect(ctx context.Context) error {
	if f.connected {
		return nil
	}
	if f.cfg.BrokerURL == "" {
		return errors.New("fleetsim: no broker URL")
	}
	errs := make([]error, len(f.agents))
	sem := make(chan struct{}, connectParallel)
	var wg sync.WaitGroup
	for i, a := range f.agents {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = f.connectAgent(ctx, a)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.disconnect()
		return err
	}
	f.connected = true
	return nil
}

func (f *Fleet) connectAgent(ctx context.Context, a *agent) error {
	a.readsTopic = topic.For(a.id, topic.Reads)
	acks := topic.For(a.id, topic.Acks)
	subscribed := make(chan error, 1)
	username := f.cfg.Username
	if username == "" && f.cfg.Password != "" {
		username = a.id
	}
	log := f.cfg.Logger.With("agent_id", a.id)
	opts := paho.NewClientOptions().
		AddBroker(f.cfg.BrokerURL).
		SetClientID(a.id).
		SetUsername(username).
		SetPassword(f.cfg.Password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		// paho reconnects by itself; what a broker restart loses is
		// re-sent after AckTimeout, as the agent re-sends it.
		SetAutoReconnect(true).
		SetMaxReconnectInterval(time.Second).
		SetConnectTimeout(brokerWait).
		SetWriteTimeout(brokerWait).
		SetKeepAlive(30 * time.Second).
		// The ack handler only marks batches and never blocks, so paho may
		// run it on its own goroutine.
		SetOrderMatters(true).
		// Subscribe on every connect: a clean session forgets it.
		SetOnConnectHandler(func(c paho.Client) {
			err := waitToken(c.Subscribe(acks, 1, func(_ paho.Client, m paho.Message) { f.onAck(a, m.Payload()) }))
			if err != nil {
				log.Warn("subscribe to acknowledgements failed", "error", err)
			}
			select {
			case subscribed <- err:
			default: // a reconnection: nobody waits
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			log.Warn("connection to the broker lost; reconnecting", "error", err)
		})
	a.client = paho.NewClient(opts)
	if err := waitCtx(ctx, a.client.Connect()); err != nil {
		return fmt.Errorf("fleetsim: agent %s: connect to the broker: %w", a.id, err)
	}
	select {
	case err := <-subscribed:
		if err != nil {
			return fmt.Errorf("fleetsim: agent %s: subscribe to %s: %w", a.id, acks, err)
		}
	case <-time.After(2 * brokerWait):
		return fmt.Errorf("fleetsim: agent %s: subscribe to %s: no answer in %s", a.id, acks, 2*brokerWait)
	case <-ctx.Done():
		return fmt.Errorf("fleetsim: agent %s: subscribe: %w", a.id, ctx.Err())
	}
	return nil
}

// waitToken waits for a token, no longer than brokerWait, and reports a
// subscription the broker refused.
func waitToken(tok paho.Token) error {
	if !tok.WaitTimeout(brokerWait) {
		return fmt.Errorf("no answer in %s", brokerWait)
	}
	if err := tok.Error(); err != nil {
		return err
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for filter, code := range st.Result() {
			if code > 2 { // 0x80: refused (an ACL, most likely)
				return fmt.Errorf("the broker refused %s (code %#x)", filter, code)
			}
		}
	}
	return nil
}

// waitCtx waits for a token, ctx or brokerWait, whichever ends first.
func waitCtx(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(brokerWait + time.Second):
		return fmt.Errorf("no answer in %s", brokerWait)
	}
}

// disconnect closes every agent's connection.
func (f *Fleet) disconnect() {
	var wg sync.WaitGroup
	for _, a := range f.agents {
		if c := a.client; c != nil {
			wg.Go(func() { c.Disconnect(250) })
			a.client = nil
		}
	}
	wg.Wait()
	f.connected = false
}
