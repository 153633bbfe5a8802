package web

import "github.com/labstack/echo/v4"

// routes is the site's whole route table. Each handler lives in a file of
// its own, named after the page and its action (device_list.go).
func (s *Server) routes(e *echo.Echo) {
	e.GET("/", s.home)
	e.GET("/healthz", s.health)
	e.HEAD("/healthz", s.health)
	e.GET("/static/*", s.static)

	e.GET("/devices", s.deviceList)
}
