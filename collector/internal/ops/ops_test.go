package ops

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestEndpoints(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "some_metric 1\n") })
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused\nby peer") }
	// blocked honours its context, as checks must.
	blocked := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	// stubborn ignores it: the page must not wait for it.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stubborn := func(context.Context) error { <-release; return nil }
	panicky := func(context.Context) error { panic("boom") }
	leaky := func(context.Context) error {
		return errors.New(`dial tcp db.internal:5432: password authentication failed for user "meterline_user" (password s3cret)`)
	}

	// The page names the failed checks; what went wrong (a database error
	// can carry its host and user) goes to the log only.
	tests := []struct {
		name       string
		checks     map[string]Check
		path       string
		wantStatus int
		want       []string
		notWant    []string
		wantLog    []string
	}{
		{"healthz", nil, "/healthz", 200, []string{"ok\n"}, nil, nil},
		{"metrics", nil, "/metrics", 200, []string{"some_metric 1"}, nil, nil},
		{"unknown path", nil, "/nope", 404, nil, nil, nil},
		{"ready without checks", nil, "/readyz", 200, []string{"ready\n"}, nil, nil},
		{"ready", map[string]Check{"database": ok, "mqtt": ok}, "/readyz", 200, []string{"ready\n"}, nil, nil},
		{"one check fails", map[string]Check{"database": ok, "mqtt": down}, "/readyz", 503,
			[]string{"not ready: mqtt\n"}, []string{"database", "connection refused", "\nready"}, []string{"check=mqtt", "connection refused"}},
		{"a check times out", map[string]Check{"database": blocked, "mqtt": ok}, "/readyz", 503,
			[]string{"not ready: database\n"}, []string{"mqtt", "deadline"}, []string{"check=database"}},
		{"a check ignores its timeout", map[string]Check{"database": stubborn}, "/readyz", 503,
			[]string{"not ready: database\n"}, []string{"no answer"}, []string{"no answer in"}},
		{"a check panics", map[string]Check{"database": panicky}, "/readyz", 503,
			[]string{"not ready: database\n"}, []string{"boom"}, []string{"check panicked: boom"}},
		{"all fail", map[string]Check{"database": down, "mqtt": down}, "/readyz", 503,
			[]string{"not ready: database\n", "not ready: mqtt\n"}, []string{"connection refused"}, nil},
		{"database error with a secret", map[string]Check{"database": leaky}, "/readyz", 503,
			[]string{"not ready: database\n"}, []string{"db.internal", "s3cret", "meterline_user"}, []string{"db.internal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			s := New(Config{Metrics: metrics, CheckTimeout: 50 * time.Millisecond}, slog.New(slog.NewTextHandler(&syncWriter{w: &log}, nil)))
			for name, c := range tt.checks {
				s.AddCheck(name, c)
			}
			status, body := get(t, s, tt.path)
			if status != tt.wantStatus {
				t.Errorf("GET %s = %d, want %d; body:\n%s", tt.path, status, tt.wantStatus, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s body lacks %q:\n%s", tt.path, w, body)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("GET %s body has %q:\n%s", tt.path, w, body)
				}
			}
			for _, w := range tt.wantLog {
				if !strings.Contains(log.String(), w) {
					t.Errorf("GET %s: log lacks %q:\n%s", tt.path, w, log.String())
				}
			}
		})
	}
}

// syncWriter serialises the writes of checks that fail side by side.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestPprofHidesTheCommandLine: the profiler is served when asked for, but
// not /debug/pprof/cmdline, which shows the flags (-mqtt-password…).
func TestPprofHidesTheCommandLine(t *testing.T) {
	s := New(Config{Pprof: true}, discard())
	if status, body := get(t, s, "/debug/pprof/"); status != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ = %d, want 200 and the profiles:\n%s", status, body)
	}
	if status, _ := get(t, s, "/debug/pprof/goroutine?debug=1"); status != 200 {
		t.Errorf("GET /debug/pprof/goroutine = %d, want 200", status)
	}
	status, body := get(t, s, "/debug/pprof/cmdline")
	if status != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/cmdline = %d, want 404", status)
	}
	if strings.Contains(body, os.Args[0]) {
		t.Errorf("GET /debug/pprof/cmdline shows the command line:\n%s", body)
	}
	if status, _ := get(t, New(Config{}, discard()), "/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ without Pprof = %d, want 404", status)
	}
}

func TestDrainingIsNotReady(t *testing.T) {
	s := New(Config{}, discard())
	s.AddCheck("database", func(context.Context) error { return nil })
	if status, _ := get(t, s, "/readyz"); status != 200 {
		t.Fatalf("readyz before draining = %d, want 200", status)
	}
	s.SetDraining()
	if status, body := get(t, s, "/readyz"); status != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("readyz while draining = %d %q, want 503 saying it is shutting down", status, body)
	}
	if status, _ := get(t, s, "/healthz"); status != 200 {
		t.Errorf("healthz while draining = %d, want 200: the process still serves", status)
	}
	if status, _ := get(t, s, "/metrics"); status != 404 {
		t.Errorf("metrics without a handler = %d, want 404", status)
	}
}

func TestStartAndShutdown(t *testing.T) {
	s := New(Config{}, discard())
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("Start returned %q, want the bound port", addr)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded, want an error")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("healthz answered after Shutdown")
	}
}

func TestStartBadAddress(t *testing.T) {
	s := New(Config{}, discard())
	if _, err := s.Start("127.0.0.1:nope"); err == nil || !strings.Contains(err.Error(), "ops: listen") {
		t.Errorf("Start on a bad address = %v, want a listen error", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of a server never started = %v", err)
	}
}
