package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/meterline/meterline/agent/internal/alerts"
	"github.com/meterline/meterline/agent/internal/config"
	"github.com/meterline/meterline/agent/internal/discover"
	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/outbox"
	"github.com/meterline/meterline/agent/internal/poll"
	"github.com/meterline/meterline/agent/internal/remote"
	"github.com/meterline/meterline/agent/internal/uplink"
	"github.com/meterline/meterline/shared/buildinfo"
	"github.com/meterline/meterline/shared/logging"
	"github.com/meterline/meterline/shared/redact"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// shutdownTimeout bounds the goodbye to the broker on a clean stop.
const shutdownTimeout = 10 * time.Second

// daemon is "meterline-agent run": poll the configured targets and the
// printers discovered in the configured ranges every poll_interval, store
// each round's reads in the outbox and publish them until the collector
// acknowledges them, until ctx is cancelled.
func (a *app) daemon(ctx context.Context, args []string) error {
	fs := a.flagSet("run", "--config FILE [flags]")
	path := fs.String("config", "", "the agent's TOML configuration file")
	levelName := fs.String("log-level", "info", "log level: debug, info, warn or error")
	dump := fs.Bool("config-dump", false, "print the effective configuration (file, defaults and environment; secrets redacted) and exit")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(a.stderr, "run: --config is required (meterline-agent -sample-config prints an example)")
		fs.Usage()
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*levelName)); err != nil {
		return fmt.Errorf("--log-level: %q is not debug, info, warn or error", *levelName)
	}
	cfg, err := config.Load(*path, a.env)
	if err != nil {
		return err
	}
	if *dump {
		out, err := config.Dump(cfg)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(out)
		return err
	}
	log := newLogger(a.stderr, level).With("agent_id", cfg.AgentID)
	version := buildinfo.Get().Version
	log.Info("meterline agent starting", "version", version, "config", *path,
		"targets", len(cfg.Targets), "ranges", len(cfg.Ranges), "credentials", len(cfg.SNMPCredentials()), "poll_interval", cfg.PollInterval.String(), "broker", redact.URL(cfg.MQTT.URL))

	box, err := openOutbox(cfg, a.now, log)
	if err != nil {
		return err
	}
	defer box.Close()
	sender := uplink.NewSender(box, uplink.SenderOptions{
		AgentID:    cfg.AgentID,
		AckTimeout: cfg.Outbox.AckTimeout.Duration,
		Now:        a.now,
	}, log.With("task", "uplink"))
	// The collector may change what is polled and how often (a retained
	// config) and ask for a round or a sweep now (commands), within what
	// the local file allows.
	pollNow, discoverNow := make(chan struct{}, 1), make(chan struct{}, 1)
	rc := remote.New(remote.Options{
		Local:       remote.LocalSettings(cfg),
		Allow:       cfg.RemoteAllow,
		StateDir:    cfg.StateDir,
		PollNow:     pollNow,
		DiscoverNow: discoverNow,
		Log:         log,
	})
	report := func() uplink.StatusReport {
		r := sender.Report()
		r.ConfigRefused = strings.Join(rc.Refused(), "\n")
		return r
	}
	pub, err := uplink.Start(ctx, uplink.MQTTOptions{
		URL:      cfg.MQTT.URL,
		Username: cfg.MQTT.Username,
		Password: cfg.MQTT.Password.Reveal(),
		ClientID: cfg.MQTT.ClientID,
		AgentID:  cfg.AgentID,
		Version:  version,
		TLS: uplink.TLSOptions{
			CAFile:             cfg.MQTT.CAFile,
			CertFile:           cfg.MQTT.CertFile,
			KeyFile:            cfg.MQTT.KeyFile,
			InsecureSkipVerify: cfg.MQTT.InsecureSkipVerify,
		},
		KeepAlive:            cfg.MQTT.KeepAlive.Duration,
		MaxReconnectInterval: cfg.MQTT.MaxReconnectInterval.Duration,
		Report:               report,
		Now:                  a.now,
	}, log)
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	pub.Subscribe(topic.Acks, sender.HandleAck)
	pub.OnConnect(sender.Reconnected)

	rc.Attach(pub)

	events := uplink.NewEventQueue(pub, log.With("task", "events"))
	pub.OnConnect(events.Poke)
	sink := alerts.NewSink(sender, cfg.AgentID, cfg.StateDir, events, a.now, log.With("task", "alerts"))

	// The poll loop hands each round to the outbox and goes on; the sender
	// publishes from it, whatever the broker does.
	sendCtx, stopSending := context.WithCancel(ctx)
	var sending sync.WaitGroup
	sending.Go(func() { sender.Run(sendCtx, pub) })
	sending.Go(func() { events.Run(sendCtx) })
	runErr := a.serve(ctx, cfg, rc, schedule{pollNow: pollNow, discoverNow: discoverNow}, sink, log)
	stopSending()
	sending.Wait()

	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := pub.Close(closeCtx); err != nil {
		log.Warn("say offline to the broker", "error", err.Error())
	}
	if st := sender.Stats(); st.Depth > 0 {
		log.Info("read batches wait in the outbox for the next start", "batches", st.Depth, "bytes", st.Bytes)
	}
	log.Info("meterline agent stopped")
	return runErr
}

// outboxFile is the outbox's name in the state directory.
const outboxFile = "outbox.db"

// openOutbox opens the outbox in the state directory. Its sequence numbers
// start past those of the legacy sequence file and the clock (see
// uplink.SeqFloor).
func openOutbox(cfg config.Config, now func() time.Time, log *slog.Logger) (*outbox.Outbox, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	floor, err := uplink.SeqFloor(cfg.StateDir, now())
	if err != nil {
		return nil, err
	}
	return outbox.Open(filepath.Join(cfg.StateDir, outboxFile), outbox.Options{
		MaxBytes: cfg.Outbox.MaxBytes,
		MaxAge:   cfg.Outbox.MaxAge.Duration,
		SeqFloor: floor,
		Now:      now,
		Logger:   log.With("task", "outbox"),
	})
}

// schedule carries the requests for a poll round or a discovery sweep
// out of turn (commands, new printers found, changed settings).
type schedule struct {
	pollNow     chan struct{}
	discoverNow chan struct{}
}

// serve wires the poller and the discovery loop: it polls the targets and
// the printers discovered in the ranges until ctx is cancelled, handing
// each round's reads to sink. What is polled, swept and how often comes
// from rc, the local file's settings with the collector's remote
// configuration over them, read again at every round and sweep. Discovery
// runs beside polling, never in its way; the credential that worked on a
// printer found is the first the poller tries, and new printers start a
// round at once.
func (a *app) serve(ctx context.Context, cfg config.Config, rc *remote.Controller, sched schedule, sink poll.Sink, log *slog.Logger) error {
	pr, err := printerReader(cfg.ProfilesFile)
	if err != nil {
		return err
	}
	pr.Log = log.With("task", "poll")
	all := cfg.SNMPCredentials()
	reader := poll.NewCredentialReader(a.dial, remote.SelectCredentials(all, rc.Settings().Credentials), a.now)
	reader.Printer = pr
	inventory := discover.NewInventory()
	read := func(ctx context.Context, target string) (wire.DeviceRead, error) {
		r, err := reader.Read(ctx, target)
		if err == nil {
			inventory.MarkRead(target, a.now())
		}
		return r, err
	}
	poller := poll.New(read, poll.Options{DeviceTimeout: cfg.DeviceTimeout.Duration, Concurrency: cfg.Concurrency}, log)

	var wg sync.WaitGroup
	defer wg.Wait()
	discoveryChanges := rc.Changes()
	discoveryCredentials := cfg.DiscoveryCredentials()
	wg.Go(func() {
		discover.RunSchedule(ctx, a.dial, inventory, discover.Schedule{
			Plan: func() (discover.Plan, error) {
				s := rc.Settings()
				ranges, err := netrange.Parse(s.Ranges, cfg.Exclude)
				return discover.Plan{
					Ranges:      ranges,
					Credentials: remote.SelectCredentials(discoveryCredentials, s.Credentials),
					Interval:    s.DiscoveryInterval,
				}, err
			},
			Wake:    sched.discoverNow,
			Changed: discoveryChanges,
			Found: func(all, added []discover.Device) {
				for _, d := range all {
					reader.Use(d.Address, d.Credential)
				}
				if len(added) > 0 {
					select {
					case sched.pollNow <- struct{}{}:
					default: // a wake-up is already pending
					}
				}
			},
		}, discover.Options{
			Port:        cfg.DiscoveryUDPPort(),
			Concurrency: cfg.DiscoveryConcurrency,
			ReadTimeout: cfg.DeviceTimeout.Duration,
			Now:         a.now,
			Printer:     reader.Printer,
		}, log.With("task", "discovery"))
	})
	return poller.RunSchedule(ctx, poll.Schedule{
		Targets: func() []string {
			s := rc.Settings()
			// The collector may have picked other credentials since the
			// last round.
			reader.SetCredentials(remote.SelectCredentials(all, s.Credentials))
			return discover.Targets(s.Targets, inventory.Devices())
		},
		Interval: func() time.Duration { return rc.Settings().PollInterval },
		Wake:     sched.pollNow,
		Changed:  rc.Changes(),
	}, sink)
}

// newLogger logs text for a person at a terminal, JSON for a journal or a
// log shipper.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return logging.New(w, logging.Auto, level)
}
