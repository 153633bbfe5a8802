package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// health answers load balancers and supervisors: 200 when the portal and
// its database answer, 503 otherwise. It is plain text, not a page.
func (s *Server) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	c.Response().Header().Set("Cache-Control", "no-store")
	if err := s.store.Ping(ctx); err != nil {
		s.logger.Warn("health check failed", "error", err)
		return c.String(http.StatusServiceUnavailable, "unavailable\n")
	}
	return c.String(http.StatusOK, "ok\n")
}
