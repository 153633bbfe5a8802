package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/config"
	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/schedule"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/upload"
	"github.com/meterline/meterline/portal/internal/web"
	"github.com/meterline/meterline/shared/buildinfo"
	"github.com/meterline/meterline/shared/jobs"
	"github.com/meterline/meterline/shared/logging"
	"github.com/meterline/meterline/shared/ready"
)

// shutdownTimeout bounds how long requests in flight may take to finish
// once the portal is asked to stop.
const shutdownTimeout = 5 * time.Second

// gcPercent is the garbage collector's target when GOGC is not set. The
// portal's live heap is a few megabytes and a page of 50 devices
// allocates half a megabyte, so at Go's default of 100 it collected every
// ten pages: a fifth of its CPU under load (bench/portal-pages). 400
// costs a few tens of megabytes and gave the equipment page 40% more
// requests per second.
const gcPercent = 400

// run is the whole portal: it reads the configuration, opens the database,
// serves the web site until ctx is cancelled, then shuts down in order.
// Once the socket is bound it prints "portal listening on http://ADDR" to
// stdout; tests and scripts wait for that line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runAt(ctx, time.Now, args, stdout, stderr)
}

// runAt is run on the clock now: the time of the store, the web site, the
// e-mail sender and the scheduled jobs (the billing periods they close),
// which tests move.
func runAt(ctx context.Context, now func() time.Time, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "admin" {
		return runAdmin(ctx, args[1:], stdout, stderr)
	}
	cfg, err := config.Parse(args, os.Getenv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	info := buildinfo.Get()
	if cfg.Version {
		fmt.Fprintf(stdout, "meterline-portal %s\n", info)
		return nil
	}
	logger := logging.New(stderr, logging.Auto, cfg.LogLevel)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	logger.Info("starting meterline-portal", "version", info.String())

	st, err := store.Open(ctx, cfg.Database, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetClock(now)

	sender, err := newSender(cfg.SMTP, st, logger, now)
	if err != nil {
		return err
	}
	if err := st.SetBillingConfig(cfg.Billing); err != nil {
		return err
	}

	// The photos sent with meter reads: a folder of their own, outside
	// anything the site serves.
	photos, err := upload.OpenPhotos(cfg.Uploads.Dir, cfg.Uploads.MaxBytes)
	if err != nil {
		return err
	}
	defer photos.Close()
	logger.Info("meter-read photos are kept in " + cfg.Uploads.Dir)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	opts := siteOptions(cfg, st, logger, info.Version, ln.Addr())
	opts.Photos, opts.Now = photos, now
	site, err := web.New(opts)
	if err != nil {
		ln.Close()
		return err
	}
	// The portal's scheduled jobs (package schedule): each runs once
	// across the replicas sharing the database. The meter-read e-mails
	// link to the address users reach the portal at.
	// Expired sessions, links and old attempts are deleted by a job too.
	idle := cmp.Or(cfg.SignIn.SessionIdle, auth.DefaultSessionPolicy.Idle)
	scheduler, err := schedule.New(st.DB(), st.Dialect(), schedule.Config{MailRetention: cfg.MailRetention, Logger: logger,
		Billing:     schedule.Billing{Store: st, BaseURL: opts.BaseURL},
		PruneSignIn: func(ctx context.Context) error { return st.PruneSignIn(ctx, idle, 24*time.Hour) },
	}, jobs.Config{Logger: logger, Now: now})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           site,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "portal listening on http://%s\n", ln.Addr())
	logger.Info("serving", "addr", ln.Addr().String(), "database", string(st.Dialect()))
	if err := ready.Write(cfg.ReadyFile, ready.Addrs{"http": ln.Addr().String()}); err != nil {
		srv.Close()
		return err
	}

	// The sender and the scheduled jobs stop with the portal: on ctx's
	// end, or when serving fails. Rows and leases they hold then go back
	// when their lease expires.
	bgCtx, stopBackground := context.WithCancel(ctx)
	var background sync.WaitGroup
	if sender != nil {
		background.Go(func() { _ = sender.Run(bgCtx) }) // Run returns nil; it logs failed rounds
	}
	if scheduler != nil {
		background.Go(func() { _ = scheduler.Run(bgCtx) }) // likewise
	}
	defer func() { stopBackground(); background.Wait() }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	stopBackground()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down the web server: %w", err)
	}
	return nil
}

// siteOptions are the web site's options from the configuration; the
// public URL defaults to http:// and the address the portal listens on.
func siteOptions(cfg config.Config, st *store.Store, logger *slog.Logger, version string, addr net.Addr) web.Options {
	si := cfg.SignIn
	public := si.PublicURL
	if public == "" {
		public = "http://" + addr.String()
		logger.Info("e-mailed links point to " + public + ": set -public-url (" + config.EnvPublicURL + ") to the address users reach")
	}
	limit := func(l config.Limit, def web.RateLimit) web.RateLimit {
		if l == (config.Limit{}) {
			return def
		}
		return web.RateLimit{Window: l.Window, PerEmail: l.PerEmail, PerAddress: l.PerAddress}
	}
	sessions := auth.DefaultSessionPolicy
	if si.SessionIdle > 0 {
		sessions.Idle = si.SessionIdle
	}
	if si.SessionMaxAge > 0 {
		sessions.MaxAge = si.SessionMaxAge
	}
	if cfg.BackOfficeEmail == config.DefaultBackOfficeEmail {
		logger.Info("contact-us messages are e-mailed to " + cfg.BackOfficeEmail + ": set -backoffice-email (" + config.EnvBackOfficeEmail + ") to the back office's address")
	}
	return web.Options{
		Store: st, API: st, Logger: logger, Version: version,
		BaseURL:         public,
		BackOfficeEmail: cfg.BackOfficeEmail,
		SecureCookies:   si.SecureCookies,
		TrustedProxies:  si.TrustedProxies,
		Sessions:        sessions,
		Limits: web.Limits{
			Login:    limit(si.LoginLimit, web.DefaultLimits.Login),
			Reset:    limit(si.ResetLimit, web.DefaultLimits.Reset),
			Register: limit(si.RegisterLimit, web.DefaultLimits.Register),
		},
	}
}

// newSender returns the sender of the e-mail outbox over the SMTP server
// of c, or nil, said once in the log, when no SMTP host is configured:
// e-mails then wait in the outbox.
func newSender(c config.SMTP, st *store.Store, logger *slog.Logger, now func() time.Time) (*mail.Sender, error) {
	if !c.Enabled() {
		logger.Info("e-mail sending is off: no SMTP host (-smtp-host, " + config.EnvSMTPHost + "); e-mails wait in the outbox")
		return nil, nil
	}
	sender, err := mail.NewSender(st.DB(), st.Dialect(), mail.SMTPConfig{
		Host:     c.Host,
		Port:     c.Port,
		TLS:      mail.TLSMode(c.Mode),
		Username: c.User,
		Password: c.Password,
		From:     c.From,
	}, mail.SenderConfig{Logger: logger, Now: now})
	if err != nil {
		return nil, err
	}
	logger.Info("e-mail sending on", "smtp", net.JoinHostPort(c.Host, fmt.Sprint(c.Port)), "mode", c.Mode, "from", c.From)
	return sender, nil
}
