package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/meterline/meterline/e2e/fleetsim"
)

// Measurement names, as the table prints them.
const (
	nameBroker = "raw broker (QoS 1)"
	nameDB     = "raw database (COPY)"
	nameE2E    = "end to end"
)

const brokerWait = 10 * time.Second

// rawBroker publishes every batch payload of the fleet at QoS 1 to topics
// only one subscriber reads and measures the reads/s from the first
// publish to the last message received.
func rawBroker(ctx context.Context, o options, fleet *fleetsim.Fleet, m *meter, log *slog.Logger) (phaseResult, error) {
	res := phaseResult{name: nameBroker}
	batches := fleet.Batches()
	perAgent := map[string][]fleetsim.Batch{}
	for _, b := range batches {
		perAgent[b.AgentID] = append(perAgent[b.AgentID], b)
	}
	want := int64(len(batches))

	var (
		got      atomic.Int64
		gotBytes atomic.Int64
		lastNano atomic.Int64
		done     = make(chan struct{})
		doneOnce sync.Once
	)
	filter := o.rawTopic + "/+/reads"
	if o.rawShared {
		filter = "$share/ingestbench/" + filter
	}
	sub, err := connect(ctx, o.mqttURL, fmt.Sprintf("ingestbench-sub-%d", os.Getpid()))
	if err != nil {
		return res, err
	}
	defer sub.Disconnect(250)
	onMessage := func(_ paho.Client, m paho.Message) {
		gotBytes.Add(int64(len(m.Payload())))
		lastNano.Store(time.Now().UnixNano())
		if got.Add(1) == want {
			doneOnce.Do(func() { close(done) })
		}
	}
	if err := waitToken(ctx, sub.Subscribe(filter, 1, onMessage)); err != nil {
		return res, fmt.Errorf("subscribe %s: %w", filter, err)
	}

	pubs := make(map[string]paho.Client, len(perAgent))
	defer func() {
		for _, c := range pubs {
			c.Disconnect(250)
		}
	}()
	for _, id := range fleet.AgentIDs() {
		c, err := connect(ctx, o.mqttURL, fmt.Sprintf("ingestbench-pub-%d-%s", os.Getpid(), id))
		if err != nil {
			return res, err
		}
		pubs[id] = c
	}

	m.start()
	start := time.Now()
	errs := make(chan error, len(pubs))
	for id, c := range pubs {
		go func() { errs <- publishAll(ctx, c, o.rawTopic+"/"+id+"/reads", perAgent[id], o.inFlight) }()
	}
	var pubErr error
	for range pubs {
		pubErr = errors.Join(pubErr, <-errs)
	}
	published := time.Since(start)
	if pubErr != nil {
		m.stop()
		return res, pubErr
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(30 * time.Second): // everything is published; what has not arrived by now was dropped
	}
	m.stop()
	n := got.Load()
	res.reads = int(n) * fleet.Config().DevicesPerAgent
	res.bytes = gotBytes.Load()
	res.elapsed = time.Unix(0, lastNano.Load()).Sub(start)
	res.note = fmt.Sprintf("%s subscriber; all PUBACKs in %.2f s", map[bool]string{true: "shared", false: "plain"}[o.rawShared], published.Seconds())
	if n != want {
		return res, fmt.Errorf("%d of %d messages arrived: the broker dropped some (max_queued_messages?)", n, want)
	}
	log.Debug("raw broker done", "messages", n)
	return res, nil
}

// publishAll publishes the payloads in order at QoS 1, with at most
// window PUBACKs outstanding, and waits for the last.
func publishAll(ctx context.Context, c paho.Client, topicName string, batches []fleetsim.Batch, window int) error {
	toks := make([]paho.Token, 0, window)
	for _, b := range batches {
		if len(toks) == window {
			if err := waitToken(ctx, toks[0]); err != nil {
				return fmt.Errorf("publish to %s: %w", topicName, err)
			}
			toks = toks[1:]
		}
		toks = append(toks, c.Publish(topicName, 1, false, b.Payload))
	}
	for _, t := range toks {
		if err := waitToken(ctx, t); err != nil {
			return fmt.Errorf("publish to %s: %w", topicName, err)
		}
	}
	return nil
}

// connect connects an MQTT 3.1.1 client with a clean session.
func connect(ctx context.Context, url, clientID string) (paho.Client, error) {
	opts := paho.NewClientOptions().
		AddBroker(url).
		SetClientID(clientID).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(brokerWait).
		SetWriteTimeout(brokerWait).
		SetKeepAlive(30 * time.Second).
		// The handler only counts: paho may run it on its own goroutine.
		SetOrderMatters(true)
	c := paho.NewClient(opts)
	if err := waitToken(ctx, c.Connect()); err != nil {
		return nil, fmt.Errorf("connect %s to %s: %w", clientID, url, err)
	}
	return c, nil
}

// waitToken waits for a token, ctx or a minute, whichever ends first, and
// reports a subscription the broker refused.
func waitToken(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return errors.New("no answer from the broker in a minute")
	}
	if err := tok.Error(); err != nil {
		return err
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for filter, code := range st.Result() {
			if code > 2 {
				return fmt.Errorf("the broker refused %s (code %#x)", filter, code)
			}
		}
	}
	return nil
}
