package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/ownership"
)

// The back office's devices: every device with its latest read, the
// devices an account's agent reported that the account had not registered
// (unconfirmed), to confirm under one of the account's contracts or to
// reject, and the serials two accounts claim, settled by rejecting the
// wrong claims and confirming the right one.

// allDevices shows the back office every device, of every account or none.
func (s *Server) allDevices(c echo.Context) error {
	devices, err := s.store.Devices(c.Request().Context())
	if err != nil {
		return err
	}
	return s.renderDevices(c, devices)
}

// boUnconfirmedView is an unconfirmed device on a page.
type boUnconfirmedView struct {
	store.UnconfirmedDevice
	// Name is its serial, or its key when it reported none.
	Name string
	// HasSerial tells whether it can go under contract.
	HasSerial bool
	FirstSeen timeView
	LastRead  timeView
	// Total is its latest total meter, formatted; "" without one.
	Total string
}

func (s *Server) unconfirmedView(p *i18n.Printer, d store.UnconfirmedDevice) boUnconfirmedView {
	v := boUnconfirmedView{UnconfirmedDevice: d, Name: d.Serial, HasSerial: strings.HasPrefix(d.Key, "sn:"),
		FirstSeen: s.timeView(p, d.FirstSeen)}
	if v.Name == "" {
		v.Name = d.Key
	}
	if d.LastReadAt.Valid {
		v.LastRead = s.timeView(p, d.LastReadAt.Time)
	} else {
		v.LastRead = timeView{Zero: true}
	}
	if d.LastTotal.Valid {
		v.Total = p.Number(d.LastTotal.Int64)
	}
	return v
}

// boUnconfirmedListView is the data of the list of unconfirmed devices.
type boUnconfirmedListView struct {
	// Account is the customer number the list is narrowed to, "" for all.
	Account string
	Count   string
	Devices []boUnconfirmedView
}

// unconfirmedDevices lists the devices waiting for review, of the account
// whose customer number ?account= gives, else of every account, each
// flagged when another account claims its serial.
func (s *Server) unconfirmedDevices(c echo.Context) error {
	ctx, p := c.Request().Context(), printer(c)
	view := boUnconfirmedListView{Account: strings.TrimSpace(c.QueryParam("account"))}
	var accountID int64
	if view.Account != "" {
		a, err := s.store.AccountByNumber(ctx, view.Account)
		if err != nil {
			return err
		}
		accountID = a.ID
	}
	devices, err := s.store.UnconfirmedDevices(ctx, accountID)
	if err != nil {
		return err
	}
	view.Count = p.N("bo.unconfirmed.count", int64(len(devices)))
	for _, d := range devices {
		view.Devices = append(view.Devices, s.unconfirmedView(p, d))
	}
	return s.render(c, http.StatusOK, "bo_unconfirmed", view)
}

// boClaimView is a device of a serial that devices of other accounts have
// too.
type boClaimView struct {
	ownership.SerialConflict
	Badge badgeView
	// Unconfirmed claims are the ones the back office confirms or rejects.
	Unconfirmed bool
	FirstSeen   timeView
	LastRead    timeView
}

func (s *Server) claimView(p *i18n.Printer, cf ownership.SerialConflict) boClaimView {
	v := boClaimView{SerialConflict: cf, Badge: stateBadge(p, cf.State.String), Unconfirmed: cf.State.String == string(domain.DeviceUnconfirmed),
		FirstSeen: timeView{Zero: true}, LastRead: timeView{Zero: true}}
	if cf.FirstSeen.Valid {
		v.FirstSeen = s.timeView(p, cf.FirstSeen.Time)
	}
	if cf.LastReadAt.Valid {
		v.LastRead = s.timeView(p, cf.LastReadAt.Time)
	}
	return v
}

// boConfirmForm is what the confirm form was given, to show it again.
type boConfirmForm struct {
	ContractID, LocationID int64
	ProductCode            string
}

// boDeviceView is the data of the page of one unconfirmed device.
type boDeviceView struct {
	Device boUnconfirmedView
	// Claims are the devices of its serial other accounts have.
	Claims    []boClaimView
	Contracts []store.Contract
	Locations []store.Location
	Form      boConfirmForm
	// Error is a catalogue key: why the last confirmation was refused.
	Error string
}

// unconfirmedDevice shows an unconfirmed device with the other accounts'
// claims on its serial, the form that confirms it under one of its
// account's contracts and the one that rejects it. A device that is not
// waiting for review is 404.
func (s *Server) unconfirmedDevice(c echo.Context) error {
	id, err := pageParamID(c, "device")
	if err != nil {
		return err
	}
	view, err := s.deviceView(c, id)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "bo_device", view)
}

// deviceView reads what the page of unconfirmed device id shows.
func (s *Server) deviceView(c echo.Context, id int64) (boDeviceView, error) {
	ctx, p := c.Request().Context(), printer(c)
	d, err := s.store.UnconfirmedDevice(ctx, id)
	if err != nil {
		return boDeviceView{}, err
	}
	view := boDeviceView{Device: s.unconfirmedView(p, d)}
	if d.Conflict {
		conflicts, err := s.store.SerialConflicts(ctx)
		if err != nil {
			return boDeviceView{}, err
		}
		for _, cf := range conflicts {
			if cf.DeviceKey == d.Key && cf.DeviceID != d.ID {
				view.Claims = append(view.Claims, s.claimView(p, cf))
			}
		}
	}
	if view.Contracts, err = s.store.Contracts(ctx, d.AccountID); err != nil {
		return boDeviceView{}, err
	}
	if view.Locations, err = s.store.Locations(ctx, d.AccountID); err != nil {
		return boDeviceView{}, err
	}
	if len(view.Contracts) == 1 {
		view.Form.ContractID = view.Contracts[0].ID
	}
	return view, nil
}

// confirmationForm reads the device page's confirm form: contract_id, and
// optionally product_code and location_id. An id that is not a number is
// EINVALID.
func confirmationForm(c echo.Context) (deviceConfirmation, error) {
	in := deviceConfirmation{ProductCode: c.FormValue("product_code")}
	if v := c.FormValue("contract_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return in, domain.Errorf(domain.EINVALID, "contract id %q is not a number", v)
		}
		in.ContractID = id
	}
	if v := c.FormValue("location_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return in, domain.Errorf(domain.EINVALID, "location id %q is not a number", v)
		}
		in.LocationID = &id
	}
	return in, in.check()
}

// confirmDevice puts an unconfirmed device under a contract of its
// account, recorded with the back-office user. A contract or location
// the store refuses (another account's, none) shows the page again with
// why; a device already reviewed is 409.
func (s *Server) confirmDevice(c echo.Context) error {
	id, err := pageParamID(c, "device")
	if err != nil {
		return err
	}
	in, err := confirmationForm(c)
	if err == nil {
		_, err = s.store.ConfirmDevice(c.Request().Context(), id, in.device(), backOfficeActor(c))
	}
	switch domain.ErrorCode(err) {
	case "":
		return c.Redirect(http.StatusSeeOther, reviewBack(c.FormValue("back"))+"?done=bo_device_confirmed")
	case domain.ECONFLICT:
		return pageError(http.StatusConflict, "bo.device.error.reviewed")
	case domain.EINVALID, domain.ENOTFOUND:
		view, verr := s.deviceView(c, id)
		if verr != nil {
			return verr
		}
		view.Form = boConfirmForm{ContractID: in.ContractID, ProductCode: in.ProductCode}
		if in.LocationID != nil {
			view.Form.LocationID = *in.LocationID
		}
		view.Error = "bo.device.error.invalid"
		if !view.Device.HasSerial {
			view.Error = "bo.device.error.no_serial"
		}
		return s.render(c, http.StatusBadRequest, "bo_device", view)
	}
	return err
}

// rejectDevice rejects an unconfirmed device, recorded with the
// back-office user: it keeps its reads, is never billed and no longer
// claims its serial. Rejecting it again changes nothing; a device under
// contract is 409.
func (s *Server) rejectDevice(c echo.Context) error {
	id, err := pageParamID(c, "device")
	if err != nil {
		return err
	}
	err = s.store.RejectDevice(c.Request().Context(), id, backOfficeActor(c))
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return pageError(http.StatusConflict, "bo.device.error.reviewed")
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, reviewBack(c.FormValue("back"))+"?done=bo_device_rejected")
}

// reviewBack is the list a review form sends the user back to: the
// conflicts when it came from them, else the unconfirmed devices.
func reviewBack(back string) string {
	if back == "conflicts" {
		return "/backoffice/devices/conflicts"
	}
	return "/backoffice/devices/unconfirmed"
}

// boConflictGroup is a serial and the devices of the accounts that claim
// it.
type boConflictGroup struct {
	Serial string
	Claims []boClaimView
}

// boConflictsView is the data of the serial conflicts page.
type boConflictsView struct {
	Count  string
	Groups []boConflictGroup
}

// serialConflicts lists the serials two or more accounts claim, each with
// its claims: an unconfirmed claim is confirmed (on its device's page) or
// rejected from here.
func (s *Server) serialConflicts(c echo.Context) error {
	p := printer(c)
	conflicts, err := s.store.SerialConflicts(c.Request().Context())
	if err != nil {
		return err
	}
	var view boConflictsView
	for _, cf := range conflicts { // by serial key: a group is a run
		if n := len(view.Groups); n == 0 || view.Groups[n-1].Claims[0].DeviceKey != cf.DeviceKey {
			view.Groups = append(view.Groups, boConflictGroup{Serial: strings.TrimPrefix(cf.DeviceKey, "sn:")})
		}
		g := &view.Groups[len(view.Groups)-1]
		g.Claims = append(g.Claims, s.claimView(p, cf))
	}
	view.Count = p.N("bo.conflicts.count", int64(len(view.Groups)))
	return s.render(c, http.StatusOK, "bo_conflicts", view)
}
