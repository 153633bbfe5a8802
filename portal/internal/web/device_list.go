package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
)

// deviceListView is the data of the device list page.
type deviceListView struct {
	// Count says how many devices there are, in words.
	Count   string
	Devices []deviceView
}

func (s *Server) renderDevices(c echo.Context, devices []store.DeviceSummary) error {
	p := printer(c)
	now := s.now()
	view := deviceListView{Count: p.N("devices.count", int64(len(devices)))}
	for _, d := range devices {
		view.Devices = append(view.Devices, newDeviceView(d, p, now, s.loc))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, "device_list", view)
}
