package web

import (
	"net/http"
	"runtime"

	"github.com/labstack/echo/v4"
)

// Pages are served a few at a time, the others waiting their turn in
// arrival order. Under load, letting every request run at once makes the
// runtime and the database pool share the CPU among all of them in no
// particular order (database/sql even hands a free connection to a
// waiter at random): some requests lose every draw, and the slowest
// percent waited several times the median (bench/portal-pages: the
// dashboard's p99 was 7 times its p50 at 50 connections). In turn, p99 is
// close to p50, for the same requests per second.

// defaultPageConcurrency is how many pages run at once when Options say
// nothing: twice the CPUs the runtime uses, so that a page waiting for
// the database leaves the CPU to another.
func defaultPageConcurrency() int { return 2 * runtime.GOMAXPROCS(0) }

// admit lets a request in once one of the slots is free; a request whose
// client goes away while it waits is dropped. Channel senders waiting on
// a full channel are served first in, first out.
func admit(slots chan struct{}) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			select {
			case slots <- struct{}{}:
			case <-c.Request().Context().Done():
				return echo.NewHTTPError(http.StatusServiceUnavailable).WithInternal(c.Request().Context().Err())
			}
			defer func() { <-slots }()
			return next(c)
		}
	}
}
