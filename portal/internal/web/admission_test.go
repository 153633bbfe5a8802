package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestAdmission: no more requests run at once than there are slots, every
// one runs in the end, and one whose client leaves while waiting is
// dropped with 503 without running.
func TestAdmission(t *testing.T) {
	e := echo.New()
	slots := make(chan struct{}, 2)
	release := make(chan struct{})
	entered := make(chan struct{}, 5)
	var running, most, ran atomic.Int32
	e.GET("/", func(c echo.Context) error {
		entered <- struct{}{}
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
		ran.Add(1)
		return c.NoContent(http.StatusOK)
	}, admit(slots))

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
		})
	}
	// Two run, three wait: the slots are full before any is released.
	<-entered
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a request whose client left = %d, want 503", rec.Code)
	}
	close(release)
	wg.Wait()
	if most.Load() > 2 || ran.Load() != 5 {
		t.Errorf("at most %d ran at once, %d in all; want at most 2, 5", most.Load(), ran.Load())
	}
}
