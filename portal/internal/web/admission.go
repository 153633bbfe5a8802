package web

import (
	"github.com/labstack/echo/v4"
)

// admit lets at most cap(slots) requests run at once; the others wait
// their turn in arrival order (a channel's waiters are served first in,
// first out).
func admit(slots chan struct{}) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			select {
			case slots <- struct{}{}:
			case <-c.Request().Context().Done():
				return c.Request().Context().Err()
			}
			defer func() { <-slots }()
			return next(c)
		}
	}
}
