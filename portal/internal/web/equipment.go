package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// My equipment (seed 000, "Mon équipement"): the current account's devices
// under contract, a page at a time, with their shipping address, meters,
// supply levels and last read; adding a device by serial number and postal
// code; asking the back office to remove a device or to group devices; and
// the account's requests with where they stand.

// automaticReads is how recent a device's latest read must be for its
// reads to count as automatic. Every stored read comes from an agent,
// which polls every few minutes: a device an agent reads has a read far
// younger than a week, one without has only its last reported meters.
const automaticReads = 7 * 24 * time.Hour

// equipmentPageSize is how many devices a page of the list shows: a page
// stays quick to build and to read however many devices the account has.
const equipmentPageSize = 50

// equipmentRequestsShown is how many of the account's latest requests
// the page lists.
const equipmentRequestsShown = 20

// Lengths the add form takes, checked before the store sees them; the
// inputs carry them as maxlength (the store checks notes and reasons).
const (
	maxSerialInput = 100
	maxPostalInput = 20
)

// equipmentView is the data of the equipment page.
type equipmentView struct {
	// Count is how many devices the account has, in words; PageOf says
	// which page this is, "" when there is one page.
	Count  string
	PageOf string
	Page   int
	Groups []equipmentGroup
	// Rows are the Groups as the table's row groups (equipment_html.go),
	// in pieces to print one after the other.
	Rows  []template.HTML
	Pager *pager
	// ReadsLegend explains the Reads column's two values.
	ReadsLegend string
	Add         addDeviceForm
	Group       groupForm
	Requests    []requestView
}

// equipmentGroup is the devices of the page at one shipping address (the
// list is in address order).
type equipmentGroup struct {
	locationID int64
	Address    string
	None       bool
	Devices    []equipmentRow
}

// equipmentRow is one device as the list shows it.
type equipmentRow struct {
	ID           int64
	Serial       string
	Model        string
	ModelUnknown bool
	ProductCode  string
	// Pending: its removal is asked; shown with "*", no longer orderable.
	Pending  bool
	Selected bool
	Black    counterView
	Colour   counterView
	Total    counterView
	Toners   []levelView
	Others   []supplyView
	LastRead readTimeView
	// Automatic: an agent read it within automaticReads.
	Automatic bool
}

// addDeviceForm is the "add equipment" form as typed, with its problem:
// Error a catalogue key, or Mismatch for seed 000's error, which offers
// to ask the back office to link the serial.
type addDeviceForm struct {
	Serial     string
	PostalCode string
	Error      string
	Mismatch   bool
}

// groupForm is the grouping form as sent: the ticked devices, the note,
// and its problem (a catalogue key).
type groupForm struct {
	Selected map[int64]bool
	Note     string
	Error    string
}

// requestView is a request of the account as the page lists it.
type requestView struct {
	Date    readTimeView
	Kind    string
	Devices string
	State   string
	// Class is the state's badge class: warn (open), ok or error.
	Class  string
	Answer string
}

// pager links the pages of a list: previous, next, and the page numbers
// around the current one, the first and the last (Gap between two links
// that do not follow each other).
type pager struct {
	Prev, Next string
	Links      []pageLink
}

type pageLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool
}

// equipment shows a page of the current account's equipment (?page=N; a
// page past the last is 404).
func (s *Server) equipment(c echo.Context) error {
	view, err := s.equipmentView(c, pageNumber(c.QueryParam("page")), addDeviceForm{}, groupForm{})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "equipment", view)
}

// equipmentView reads and formats a page of the list, with the forms as
// given. A page past the last one does not exist.
func (s *Server) equipmentView(c echo.Context, page int, add addDeviceForm, group groupForm) (equipmentView, error) {
	ctx := c.Request().Context()
	account := currentAccount(c).AccountID
	list, err := s.store.AccountEquipmentPage(ctx, account, automaticReads, equipmentPageSize, (page-1)*equipmentPageSize)
	if err != nil {
		return equipmentView{}, err
	}
	pages := max(1, (list.Total+equipmentPageSize-1)/equipmentPageSize)
	if page > pages {
		return equipmentView{}, echo.ErrNotFound
	}
	requests, err := s.store.AccountRequests(ctx, account, 50)
	if err != nil {
		return equipmentView{}, err
	}
	p := printer(c)
	days := int(automaticReads / (24 * time.Hour))
	view := equipmentView{
		Count:       p.N("equipment.count", int64(list.Total)),
		Page:        page,
		ReadsLegend: p.T("equipment.reads.legend", days),
		Add:         add,
		Group:       group,
	}
	if pages > 1 {
		view.PageOf = p.T("equipment.page", page, pages)
		view.Pager = newPager(c.Request().URL, page, pages)
	}
	now := s.now()
	for _, e := range list.Devices {
		var locID int64
		if e.Location != nil {
			locID = e.Location.ID
		}
		if n := len(view.Groups); n == 0 || view.Groups[n-1].locationID != locID {
			g := equipmentGroup{locationID: locID, None: e.Location == nil, Address: p.T("equipment.no_location")}
			if e.Location != nil {
				g.Address = addressLine(*e.Location)
			}
			view.Groups = append(view.Groups, g)
		}
		row := newEquipmentRow(e, p, now, s.loc)
		row.Selected = group.Selected[e.DeviceID]
		g := &view.Groups[len(view.Groups)-1]
		g.Devices = append(g.Devices, row)
	}
	view.Rows = equipmentGroupsHTML(view.Groups, newRowLabels(p))
	view.Requests = requestViews(requests, p, now, s.loc)
	return view, nil
}

// newEquipmentRow formats a device for the list: meters in the page's
// language, levels as bars only when measured (a special value is its
// state in words, never a percentage), the last read in full.
func newEquipmentRow(e store.Equipment, p *i18n.Printer, now time.Time, loc *time.Location) equipmentRow {
	r := equipmentRow{
		ID:          e.DeviceID,
		Serial:      e.Serial,
		Model:       e.Model,
		ProductCode: e.ProductCode,
		Pending:     e.PendingRemoval,
		Automatic:   e.Automatic,
	}
	if r.Model == "" {
		r.Model, r.ModelUnknown = p.T("equipment.no_model"), true
	}
	if e.ProductCode != "" {
		r.ProductCode = p.T("equipment.product_code", e.ProductCode)
	}
	unreported := &store.Read{Unreported: e.Unreported}
	r.Black = billingCounter(unreported, e.Black, domain.CounterBlack, p)
	r.Colour = billingCounter(unreported, e.Colour, domain.CounterColour, p)
	r.Total = counter(e.Total, p)
	r.Toners, r.Others = supplies(e.Supplies, p)
	if e.LastReadAt == nil {
		r.LastRead = readTimeView{None: true, Text: p.T("device.no_read")}
	} else {
		r.LastRead = readTimeView{
			Text:  p.DateTime(*e.LastReadAt, loc),
			Title: p.Ago(*e.LastReadAt, now, loc),
			ISO:   e.LastReadAt.UTC().Format(time.RFC3339),
		}
	}
	return r
}

// requestViews lists the account's latest equipment requests (removal,
// grouping, serial link; contact messages have their page), newest first.
func requestViews(rs []store.Request, p *i18n.Printer, now time.Time, loc *time.Location) []requestView {
	var out []requestView
	for _, r := range rs {
		if r.Kind == store.RequestContact {
			continue
		}
		v := requestView{
			Date: readTimeView{Text: p.DateTime(r.CreatedAt, loc), Title: p.Ago(r.CreatedAt, now, loc), ISO: r.CreatedAt.UTC().Format(time.RFC3339)},
			Kind: p.T("equipment.request." + string(r.Kind)),
		}
		var serials []string
		for _, d := range r.Devices {
			serials = append(serials, d.Serial)
		}
		if len(serials) == 0 && r.Serial != "" {
			serials = []string{r.Serial}
		}
		v.Devices = strings.Join(serials, ", ")
		switch {
		case r.Open():
			v.State, v.Class = p.T("equipment.request.open"), "warn"
		case r.Outcome == store.OutcomeDone:
			v.State, v.Class = p.T("equipment.request.done"), "ok"
		default:
			v.State, v.Class = p.T("equipment.request.rejected"), "error"
		}
		if !r.Open() && r.Note != "" {
			v.Answer = p.T("equipment.request.answer", r.Note)
		}
		out = append(out, v)
		if len(out) == equipmentRequestsShown {
			break
		}
	}
	return out
}

// newPager links the pages of a list of pages pages, page being shown;
// the links keep the request's query (the language…) but for page.
func newPager(u *url.URL, page, pages int) *pager {
	link := func(n int) string { return withQuery(u, "page", strconv.Itoa(n)) }
	pg := &pager{}
	if page > 1 {
		pg.Prev = link(page - 1)
	}
	if page < pages {
		pg.Next = link(page + 1)
	}
	last := 0
	for n := 1; n <= pages; n++ {
		if n != 1 && n != pages && (n < page-2 || n > page+2) {
			continue
		}
		pg.Links = append(pg.Links, pageLink{N: n, URL: link(n), Current: n == page, Gap: last != 0 && n != last+1})
		last = n
	}
	return pg
}

// renderEquipmentForm shows the list again with a form's problem, on the
// page the form was sent from (its hidden field; the first if that page
// is gone).
func (s *Server) renderEquipmentForm(c echo.Context, add addDeviceForm, group groupForm) error {
	view, err := s.equipmentView(c, pageNumber(c.FormValue("page")), add, group)
	if errors.Is(err, echo.ErrNotFound) {
		view, err = s.equipmentView(c, 1, add, group)
	}
	if err != nil {
		return err
	}
	return s.render(c, http.StatusBadRequest, "equipment", view)
}

// lineProblem is the catalogue key of what is wrong with a one-line field:
// missing (when required), longer than limit or holding a control
// character; "" when it is fine.
func lineProblem(value string, limit int, required bool, missing, invalid string) string {
	switch {
	case value == "" && required:
		return missing
	case utf8.RuneCountInString(value) > limit || strings.IndexFunc(value, unicode.IsControl) >= 0 || !utf8.ValidString(value):
		return invalid
	}
	return ""
}

// deviceForm reads the serial number and postal code of the add and link
// forms, and what is wrong with them.
func deviceForm(c echo.Context) addDeviceForm {
	f := addDeviceForm{Serial: strings.TrimSpace(c.FormValue("serial")), PostalCode: strings.TrimSpace(c.FormValue("postal_code"))}
	const missing, invalid = "equipment.add.error.missing", "equipment.add.error.too_long"
	f.Error = lineProblem(f.Serial, maxSerialInput, true, missing, invalid)
	if f.Error == "" {
		f.Error = lineProblem(f.PostalCode, maxPostalInput, true, missing, invalid)
	}
	return f
}

// addDevice is "add equipment": a serial number and the postal code of its
// shipping address. A device of the account says so; a device the account
// does not hold becomes a link request for the back office, which the
// page announces as any link request, never naming who holds it. No
// match is seed 000's error, with a button asking the back office to link
// the serial.
func (s *Server) addDevice(c echo.Context) error {
	form := deviceForm(c)
	if form.Error != "" {
		return s.renderEquipmentForm(c, form, groupForm{})
	}
	res, err := s.store.AddDevice(c.Request().Context(), currentAccount(c).AccountID, mustVisitor(c).user.ID, form.Serial, form.PostalCode)
	switch {
	case errors.Is(err, store.ErrSerialPostalMismatch):
		form.Mismatch = true
		return s.renderEquipmentForm(c, form, groupForm{})
	case domain.ErrorCode(err) == domain.EINVALID:
		form.Error = "equipment.add.error.too_long"
		return s.renderEquipmentForm(c, form, groupForm{})
	case err != nil:
		return err
	case res.Outcome == store.AddDeviceOnAccount:
		return c.Redirect(http.StatusSeeOther, "/equipment?done=equipment_on_account")
	}
	return c.Redirect(http.StatusSeeOther, "/equipment?done=equipment_link_requested")
}

// linkSerial is the one-click answer to seed 000's error: ask the back
// office to link the serial (and the postal code given) to the account.
func (s *Server) linkSerial(c echo.Context) error {
	form := deviceForm(c)
	if form.Error != "" {
		return s.renderEquipmentForm(c, form, groupForm{})
	}
	account, user := currentAccount(c).AccountID, mustVisitor(c).user.ID
	_, err := s.store.RequestSerialLink(c.Request().Context(), store.SerialLink{AccountID: &account, UserID: &user,
		Serial: form.Serial, PostalCode: form.PostalCode})
	if domain.ErrorCode(err) == domain.EINVALID {
		form.Error = "equipment.add.error.too_long"
		return s.renderEquipmentForm(c, form, groupForm{})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/equipment?done=equipment_link_requested")
}

// groupDevices asks the back office to group the ticked devices (two or
// more, all of the account's equipment: another account's device is 404).
func (s *Server) groupDevices(c echo.Context) error {
	form := groupForm{Selected: map[int64]bool{}, Note: strings.TrimSpace(c.FormValue("note"))}
	params, err := c.FormParams()
	if err != nil {
		return pageError(http.StatusBadRequest, "error.400")
	}
	var ids []int64
	for _, v := range params["device"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return pageError(http.StatusBadRequest, "error.400")
		}
		if !form.Selected[id] {
			ids = append(ids, id)
		}
		form.Selected[id] = true
	}
	if len(ids) < 2 {
		form.Error = "equipment.group.error.few"
		return s.renderEquipmentForm(c, addDeviceForm{}, form)
	}
	if len(ids) > equipmentPageSize {
		return pageError(http.StatusBadRequest, "error.400")
	}
	slices.Sort(ids)
	_, err = s.store.RequestGrouping(c.Request().Context(), currentAccount(c).AccountID, mustVisitor(c).user.ID, ids, form.Note)
	if domain.ErrorCode(err) == domain.EINVALID {
		form.Error = "equipment.group.error.note"
		return s.renderEquipmentForm(c, addDeviceForm{}, form)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/equipment?done=equipment_grouping_requested")
}

// removalView is the data of the page that asks to remove a device.
type removalView struct {
	ID      int64
	Serial  string
	Model   string
	Address string
	Pending bool
	Reason  string
	Error   string
}

// equipmentDevice reads the device of the path, one of the current
// account's equipment: any other id is 404.
func (s *Server) equipmentDevice(c echo.Context) (store.ContractedDevice, error) {
	id, err := pageParamID(c, "device")
	if err != nil {
		return store.ContractedDevice{}, err
	}
	return s.store.AccountEquipmentDevice(c.Request().Context(), currentAccount(c).AccountID, id)
}

// newRemovalView is the removal page of the device of the route, which
// must be the account's equipment (404 otherwise).
func (s *Server) newRemovalView(c echo.Context) (removalView, error) {
	d, err := s.equipmentDevice(c)
	if err != nil {
		return removalView{}, err
	}
	v := removalView{ID: d.ID, Serial: d.Serial, Model: d.Model, Pending: d.State == domain.ContractPendingRemoval}
	if v.Model == "" {
		v.Model = printer(c).T("equipment.no_model")
	}
	if d.LocationID != nil {
		l, err := s.store.AccountLocation(c.Request().Context(), d.AccountID, *d.LocationID)
		if err != nil {
			return v, err
		}
		v.Address = addressLine(l)
	}
	return v, nil
}

// removalForm shows a device of the account and a form asking to remove it
// (a device whose removal is asked already says so, without the form).
func (s *Server) removalForm(c echo.Context) error {
	v, err := s.newRemovalView(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "equipment_remove", v)
}

// requestRemoval asks the back office to remove a device of the account:
// the device is pending removal at once. Asking twice is 409; a device
// that is not the account's equipment (another account's, removed) 404.
func (s *Server) requestRemoval(c echo.Context) error {
	id, err := pageParamID(c, "device")
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(c.FormValue("reason"))
	_, err = s.store.RequestRemoval(c.Request().Context(), currentAccount(c).AccountID, mustVisitor(c).user.ID, id, reason)
	switch domain.ErrorCode(err) {
	case "":
		return c.Redirect(http.StatusSeeOther, "/equipment?done=equipment_removal_requested")
	case domain.ECONFLICT:
		return pageError(http.StatusConflict, "equipment.remove.already")
	case domain.EINVALID:
		// The reason is refused before the device is looked at: look now,
		// so that another account's device is 404 all the same.
		v, err := s.newRemovalView(c)
		if err != nil {
			return err
		}
		v.Reason, v.Error = reason, "equipment.remove.error.reason"
		return s.render(c, http.StatusBadRequest, "equipment_remove", v)
	}
	return err
}
