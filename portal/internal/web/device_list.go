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

// deviceList shows the current account's devices under contract with
// their counters, supply levels, status and last read time. The page
// refreshes itself every 30 seconds.
func (s *Server) deviceList(c echo.Context) error {
	devices, err := s.store.AccountDeviceSummaries(c.Request().Context(), currentAccount(c).AccountID)
	if err != nil {
		return err
	}
	return s.renderDevices(c, devices)
}

func (s *Server) renderDevices(c echo.Context, devices []store.DeviceSummary) error {
	p := printer(c)
	now := s.now()
	view := deviceListView{Count: p.N("devices.count", int64(len(devices)))}
	for _, d := range devices {
		view.Devices = append(view.Devices, newDeviceView(d, p, now, s.loc))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Render(http.StatusOK, "device_list", view)
}
