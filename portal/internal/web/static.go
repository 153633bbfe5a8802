package web

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// static serves the embedded files under /static/: the stylesheet and the
// icon. The page links the stylesheet with a content hash in its URL, so a
// day of caching never shows a stale style after an upgrade. Folders are
// not listed.
func (s *Server) static(c echo.Context) error {
	name := strings.TrimPrefix(c.Request().URL.Path, "/static/")
	if info, err := fs.Stat(s.files, name); err != nil || info.IsDir() || !fs.ValidPath(name) {
		return echo.ErrNotFound
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFileFS(c.Response(), c.Request(), s.files, name)
	return nil
}
