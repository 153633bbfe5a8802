package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/meterline/meterline/collector/internal/broker"
	"github.com/meterline/meterline/collector/internal/config"
	"github.com/meterline/meterline/collector/internal/ingest"
	"github.com/meterline/meterline/collector/internal/store"
	"github.com/meterline/meterline/shared/buildinfo"
	"github.com/meterline/meterline/shared/schema"
)

// shutdownTimeout bounds the drain of the ingest queue on shutdown; what is
// left unacknowledged then is delivered again by the broker.
const shutdownTimeout = 30 * time.Second

// run is the whole collector: it reads the configuration from args and
// getenv, writes -version and -config-dump output to stdout and logs to
// stderr, and serves until ctx is cancelled, then shuts down in order:
// ingest (drain, acknowledge, disconnect), embedded broker, database.
//
// Tests call it as main does. It logs "broker listening" with the bound
// address (addr) when it embeds a broker, then "collector started" once
// subscribed.
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

	logger := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	logger.Info("meterline-collector starting", "version", buildinfo.Get().String(), "database", config.RedactURL(cfg.DatabaseURL))

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
	if err := prepareSchema(ctx, st); err != nil {
		return err
	}

	brokerURL := cfg.MQTTURL
	if cfg.EmbeddedBroker() {
		b, err := broker.Start(cfg.BrokerListen, logger.With("component", "broker"))
		if err != nil {
			return err
		}
		defer b.Close()
		logger.Info("broker listening", "addr", b.Addr())
		brokerURL = b.LocalURL()
	}

	svc, err := ingest.Start(ingest.Config{
		Client: ingest.ClientConfig{
			BrokerURL:  brokerURL,
			Username:   cfg.MQTTUsername,
			Password:   string(cfg.MQTTPassword),
			ClientID:   cfg.ClientID,
			ShareGroup: cfg.ShareGroup,
		},
	}, st, logger.With("component", "ingest"))
	if err != nil {
		return err
	}
	logger.Info("collector started", "mqtt", config.RedactURL(brokerURL), "share_group", cfg.ShareGroup, "client_id", cfg.ClientID)

	<-ctx.Done()
	logger.Info("collector stopping")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := svc.Stop(stopCtx); err != nil {
		return err
	}
	logger.Info("ingest stopped")
	return nil
}

// prepareSchema brings the embedded SQLite database up to date, so that a
// first run on a single box just works, and refuses to start on a
// PostgreSQL schema that is behind: there an operator migrates, once, with
// -migrate.
func prepareSchema(ctx context.Context, st *store.Store) error {
	if st.Dialect() == schema.SQLite {
		_, err := st.Migrate(ctx)
		return err
	}
	if err := st.CheckSchema(ctx); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	return nil
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
