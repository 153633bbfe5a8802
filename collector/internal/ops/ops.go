// Package ops is the collector's operations HTTP server: Prometheus
// metrics on /metrics, liveness on /healthz and readiness on /readyz.
//
// /healthz answers 200 for as long as the process serves HTTP: a process
// that cannot is the one to restart. /readyz runs the readiness checks
// (the database answers, the broker connection is up) and answers 503 when
// one fails or once shutdown has begun, so that a load balancer or an
// orchestrator stops counting on this replica before it goes away. It names
// the checks that failed, never their errors (a database error can carry a
// host name, a user or worse): those go to the log.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckTimeout bounds each readiness check.
const DefaultCheckTimeout = 2 * time.Second

// Check is a readiness check: nil when the thing it checks is usable. It
// must return once ctx is done.
type Check func(ctx context.Context) error

// Config configures a Server.
type Config struct {
	// Metrics serves /metrics; nil leaves the path out.
	Metrics http.Handler
	// Pprof serves Go's profiler under /debug/pprof/.
	Pprof bool
	// CheckTimeout bounds each readiness check; zero means
	// DefaultCheckTimeout.
	CheckTimeout time.Duration
}

// Server is the operations HTTP server. Add checks before Start.
type Server struct {
	cfg    Config
	logger *slog.Logger
	mux    *http.ServeMux

	mu     sync.Mutex
	checks []namedCheck

	draining atomic.Bool
	srv      *http.Server
	served   chan error
}

type namedCheck struct {
	name  string
	check Check
}

// New returns a server that is not listening yet.
func New(cfg Config, logger *slog.Logger) *Server {
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = DefaultCheckTimeout
	}
	s := &Server{cfg: cfg, logger: logger, mux: http.NewServeMux()}
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if cfg.Pprof {
		// No /debug/pprof/cmdline: the command line can hold secrets
		// (-mqtt-password, -database). Index answers 404 for it.
		s.mux.HandleFunc("/debug/pprof/", pprof.Index)
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return s
}

// AddCheck adds a named readiness check. Checks run in the order added.
func (s *Server) AddCheck(name string, check Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, namedCheck{name, check})
}

// SetDraining makes /readyz answer 503 from now on: shutdown has begun.
func (s *Server) SetDraining() { s.draining.Store(true) }

// ServeHTTP serves the operations endpoints; Start uses it, tests may too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start listens on addr (host:port; port 0 picks one) and serves in the
// background. It returns the bound address.
func (s *Server) Start(addr string) (string, error) {
	if s.srv != nil {
		return "", errors.New("ops: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("ops: listen on %s: %w", addr, err)
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A scrape of a busy process can take a while to write.
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.served = make(chan error, 1)
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else if err != nil {
			s.logger.Error("ops server stopped", "error", err)
		}
		s.served <- err
	}()
	return ln.Addr().String(), nil
}

// Shutdown stops the server, letting the requests in progress finish
// until ctx ends. It is a no-op on a server never started.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	s.SetDraining()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
		return fmt.Errorf("ops: shutdown: %w", err)
	}
	if err := <-s.served; err != nil {
		return fmt.Errorf("ops: serve: %w", err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeText(w, http.StatusServiceUnavailable, "draining: shutting down\n")
		return
	}
	s.mu.Lock()
	checks := append([]namedCheck(nil), s.checks...)
	s.mu.Unlock()

	// The checks run side by side so that the page takes as long as the
	// slowest, not the sum.
	failures := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { failures[i] = s.run(r.Context(), c) })
	}
	wg.Wait()

	var b strings.Builder
	for i, c := range checks {
		if failures[i] != nil {
			fmt.Fprintf(&b, "not ready: %s\n", c.name)
			s.logger.Warn("not ready", "check", c.name, "error", failures[i])
		}
	}
	if b.Len() > 0 {
		writeText(w, http.StatusServiceUnavailable, b.String())
		return
	}
	writeText(w, http.StatusOK, "ready\n")
}

// run runs one check within the timeout. A check that ignores its context
// is abandoned at the timeout rather than holding up the page.
func (s *Server) run(ctx context.Context, c namedCheck) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- c.check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer in %s", s.cfg.CheckTimeout)
	}
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
