package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// home sends visitors of the site's root to the device list.
func (s *Server) home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/devices")
}
