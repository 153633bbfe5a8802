package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// deviceListView is the data of the device list page.
type deviceListView struct {
	// Count says how many devices there are, in words.
	Count   string
	Devices []deviceView
}

// deviceList shows every device with its counters, supply levels, status
// and last read time. The page refreshes itself every 30 seconds.
func (s *Server) deviceList(c echo.Context) error {
	devices, err := s.store.Devices(c.Request().Context())
	if err != nil {
		return err
	}
	p := printer(c)
	now := s.now()
	view := deviceListView{Count: p.N("devices.count", int64(len(devices)))}
	for _, d := range devices {
		view.Devices = append(view.Devices, newDeviceView(d, p, now, s.loc))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Render(http.StatusOK, "device_list", view)
}
