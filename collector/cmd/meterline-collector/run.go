package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meterline/meterline/collector/internal/broker"
	"github.com/meterline/meterline/collector/internal/config"
	"github.com/meterline/meterline/collector/internal/ingest"
	"github.com/meterline/meterline/collector/internal/metrics"
	"github.com/meterline/meterline/collector/internal/ops"
	"github.com/meterline/meterline/collector/internal/store"
	"github.com/meterline/meterline/shared/buildinfo"
	"github.com/meterline/meterline/shared/logging"
	"github.com/meterline/meterline/shared/ready"
	"github.com/meterline/meterline/shared/redact"
)

// shutdownTimeout bounds the drain of the ingest queue on shutdown; what is
// left unacknowledged then is delivered again by the broker.
const shutdownTimeout = 30 * time.Second

// opsShutdownTimeout bounds the wait for scrapes and probes in progress
// when the operations server stops.
const opsShutdownTimeout = 5 * time.Second

// agentsOnlineEvery is how often the agents_online gauge is refreshed from
// the database: agents change state rarely, and a count is cheap.
const agentsOnlineEvery = 15 * time.Second

// run is the whole collector: it reads the configuration from args and
// getenv, writes -version and -config-dump output to stdout and logs to
// stderr, and serves until ctx is cancelled, then shuts down in order:
// readiness off (/readyz answers 503), ingest (drain, acknowledge,
// disconnect), embedded broker, operations server, database.
//
// Tests call it as main does. Once subscribed it writes the -ready-file,
// if any (see shared/ready), with the bound addresses: "ops" for the
// operations server unless -http-listen is empty, "broker" when it embeds
// a broker.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case cfg.Version:
		_, err := fmt.Fprintln(stdout, "meterline-collector", buildinfo.Get())
		return err
	case cfg.ConfigDump:
		return cfg.Dump(stdout)
	}

	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	logger.Info("meterline-collector starting", "version", buildinfo.Get().String(), "database", redact.URL(cfg.DatabaseURL))

	if cfg.DatabaseDefaulted {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, logger.With("component", "store"))
	if err != nil {
		return err
	}
	defer st.Close()

	if cfg.Migrate {
		applied, err := st.Migrate(ctx)
		if err == nil {
			logger.Info("schema up to date", "applied", len(applied))
		}
		return err
	}

	// The operations server starts before anything that can take a while
	// (schema, broker, subscription) so that /healthz answers early;
	// /readyz says when the collector can take messages. -migrate has no
	// use for it, and would collide with a collector serving on the host.
	m := metrics.New()
	// svc is set once ingest runs; the mqtt check reads it.
	var svc atomic.Pointer[ingest.Service]
	var opsServer *ops.Server
	bound := ready.Addrs{}
	if cfg.HTTPListen != "" {
		opsServer = ops.New(ops.Config{Metrics: m.Handler(), Pprof: cfg.Pprof}, logger.With("component", "ops"))
		opsServer.AddCheck("database", st.Ping) // ops bounds each check
		opsServer.AddCheck("mqtt", func(context.Context) error { return mqttReady(svc.Load()) })
		addr, err := opsServer.Start(cfg.HTTPListen)
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opsShutdownTimeout)
			defer cancel()
			if err := opsServer.Shutdown(ctx); err != nil {
				logger.Warn("ops server shutdown", "error", err)
			}
		}()
		logger.Info("ops listening", "addr", addr)
		bound["ops"] = addr
	}

	if err := st.Prepare(ctx); err != nil {
		return err
	}
	stopGauge := refreshAgentsOnline(st, m, logger)
	defer stopGauge()
	stopPartitions := keepPartitions(st, logger.With("component", "store"))
	defer stopPartitions()
	stopPruning := pruneDeadLetters(st, store.DeadLetterRetention{
		MaxAge: cfg.DeadLetterMaxAge, MaxRows: cfg.DeadLetterMaxRows, MaxPerAgent: cfg.DeadLetterMaxPerAgent,
	}, m, logger.With("component", "store"))
	defer stopPruning()

	brokerURL, mqttUser, mqttPassword := cfg.MQTTURL, cfg.MQTTUsername, string(cfg.MQTTPassword)
	if cfg.EmbeddedBroker() {
		b, err := startBroker(cfg, logger.With("component", "broker"))
		if err != nil {
			return err
		}
		defer b.Close()
		logger.Info("broker listening", "addr", b.Addr(), "passwords", cfg.BrokerPasswordFile != "")
		bound["broker"] = b.Addr()
		brokerURL = b.LocalURL()
		mqttUser, mqttPassword = b.CollectorLogin()
	}

	ingestSvc, err := ingest.Start(ingest.Config{
		Client: ingest.ClientConfig{
			BrokerURL:  brokerURL,
			Username:   mqttUser,
			Password:   mqttPassword,
			TLS:        cfg.MQTTTLS,
			ClientID:   cfg.ClientID,
			ShareGroup: cfg.ShareGroup,
		},
		Pipeline: ingest.PipelineConfig{
			Workers:       cfg.IngestWorkers,
			QueueSize:     cfg.IngestQueue,
			BatchMaxReads: cfg.IngestBatchReads,
			BatchMaxWait:  cfg.IngestBatchWait,
			Metrics:       m,
		},
	}, st, logger.With("component", "ingest"))
	if err != nil {
		return err
	}
	svc.Store(ingestSvc)
	m.SetQueueDepth(ingestSvc.QueueDepth)
	stopPollRequests := sendPollRequests(st, ingestSvc, logger.With("component", "commands"))
	defer stopPollRequests() // stopped before ingest below; once is enough
	logger.Info("collector started", "mqtt", redact.URL(brokerURL), "share_group", cfg.ShareGroup, "client_id", cfg.ClientID)
	if err := ready.Write(cfg.ReadyFile, bound); err != nil {
		return err
	}

	<-ctx.Done()
	logger.Info("collector stopping")
	// Not ready from now on: a balancer or orchestrator stops counting on
	// this replica while it drains.
	if opsServer != nil {
		opsServer.SetDraining()
	}
	stopPollRequests()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := ingestSvc.Stop(stopCtx); err != nil {
		return err
	}
	logger.Info("ingest stopped")
	return nil
}

// startBroker starts the embedded broker, with the password file if one
// is given.
func startBroker(cfg config.Config, logger *slog.Logger) (*broker.Broker, error) {
	var opts []broker.Option
	if cfg.BrokerPasswordFile != "" {
		passwords, err := broker.ReadPasswordFile(cfg.BrokerPasswordFile)
		if err != nil {
			return nil, err
		}
		logger.Info("broker passwords read", "users", passwords.Len())
		opts = append(opts, broker.WithPasswords(passwords))
	}
	b, err := broker.Start(cfg.BrokerListen, logger, opts...)
	if errors.Is(err, broker.ErrPasswordsRequired) {
		return nil, fmt.Errorf("%w: give -broker-password-file (%s), or listen on 127.0.0.1", err, config.EnvBrokerPasswords)
	}
	return b, err
}

// mqttReady is the mqtt readiness check: ingest runs and its connection to
// the broker is up.
func mqttReady(svc *ingest.Service) error {
	switch {
	case svc == nil:
		return errors.New("not subscribed yet")
	case !svc.Connected():
		return errors.New("connection to the broker is down; reconnecting")
	}
	return nil
}

// refreshAgentsOnline sets the agents_online gauge from the database now
// and every agentsOnlineEvery, until the returned stop is called.
func refreshAgentsOnline(st *store.Store, m *metrics.Metrics, logger *slog.Logger) (stop func()) {
	return periodically(agentsOnlineEvery, func(ctx context.Context) {
		refresh, done := context.WithTimeout(ctx, 5*time.Second)
		defer done()
		n, err := st.AgentsOnline(refresh)
		switch {
		case err == nil:
			m.SetAgentsOnline(n)
		case ctx.Err() == nil:
			logger.Warn("agents online not refreshed", "error", err)
		}
	})
}

// pollRequestsEvery is how often the extra reads the back office asked
// for are looked for: an agent polls within about that long (a variable
// for the tests).
var pollRequestsEvery = 15 * time.Second

// sendPollRequests publishes the agents' poll_now commands of the extra
// reads asked for through the portal (poll_requests) now and every
// pollRequestsEvery, while connected, until the returned stop is called;
// stop may be called more than once.
func sendPollRequests(st *store.Store, svc *ingest.Service, logger *slog.Logger) (stop func()) {
	return sync.OnceFunc(periodically(pollRequestsEvery, func(ctx context.Context) {
		if !svc.Connected() {
			return
		}
		round, done := context.WithTimeout(ctx, pollRequestsEvery)
		defer done()
		n, err := ingest.SendPollRequests(round, st, svc, time.Now())
		if err != nil && ctx.Err() == nil {
			logger.Warn("poll requests not all sent; retrying later", "error", err)
		}
		if n > 0 {
			logger.Info("poll_now commands published", "count", n)
		}
	}))
}

// partitionsEvery is how often the months ahead of meter_reads partitions
// are checked: they are created months in advance, so a day is plenty.
const partitionsEvery = 24 * time.Hour

// keepPartitions creates the partitions of meter_reads for the months
// ahead now and every partitionsEvery, until the returned stop is called.
// A failure is logged and retried next time: reads of a month without a
// partition land in the default one meanwhile, and are moved later.
func keepPartitions(st *store.Store, logger *slog.Logger) (stop func()) {
	return periodically(partitionsEvery, func(ctx context.Context) {
		upkeep, done := context.WithTimeout(ctx, time.Minute)
		defer done()
		created, err := st.EnsurePartitions(upkeep, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("meter_reads partitions not created; retrying later", "error", err)
		case created > 0:
			logger.Info("meter_reads partitions created", "count", created)
		}
	})
}

// deadLettersEvery is how often dead letters are pruned: the bounds are
// loose enough that an hour past them does no harm.
const deadLettersEvery = time.Hour

// pruneDeadLetters removes the dead letters beyond their retention now
// and every deadLettersEvery, until the returned stop is called, and keeps
// the dead letter metrics. A failure is logged and retried next time.
func pruneDeadLetters(st *store.Store, keep store.DeadLetterRetention, m *metrics.Metrics, logger *slog.Logger) (stop func()) {
	return periodically(deadLettersEvery, func(ctx context.Context) {
		prune, done := context.WithTimeout(ctx, 5*time.Minute)
		defer done()
		p, err := st.PruneDeadLetters(prune, keep, time.Now())
		switch {
		case err != nil:
			if ctx.Err() == nil {
				logger.Warn("dead letters not pruned; retrying later", "error", err)
			}
			return
		case p.Skipped:
			logger.Debug("dead letters pruned by another collector")
			return
		}
		m.DeadLettersPruned(metrics.PrunedAge, p.Age)
		m.DeadLettersPruned(metrics.PrunedAgentCap, p.AgentCap)
		m.DeadLettersPruned(metrics.PrunedCount, p.Count)
		m.SetDeadLettersStored(p.Left)
		if p.Age+p.AgentCap+p.Count > 0 {
			logger.Info("dead letters pruned", "by_age", p.Age, "by_agent_cap", p.AgentCap, "by_count", p.Count, "left", p.Left)
		}
	})
}

// periodically runs fn now and every interval, until the returned stop is
// called; stop waits for a run in progress, so that what fn uses (the
// store) can be closed after it.
func periodically(interval time.Duration, fn func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			fn(ctx)
			select {
			case <-ticker.C:
			case <-ctx.Done():
				return
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
