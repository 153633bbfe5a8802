package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/upload"
	"github.com/meterline/meterline/shared/domain"
)

// The meter-read page (issue 16, seed 003, "Relevé compteurs de votre
// équipement"): the devices of the current account whose read campaign
// waits for the customer, the form to type a device's meters in (with the
// photo a lower meter needs), and the request to automate the reads. The
// campaign's invitation and reminder e-mails link to /reads; a signed-out
// visitor goes through sign-in and comes back (authorize's ?next=).

// readsView is the data of the meter-read page.
type readsView struct {
	Count string
	Rows  []readRow
	// Colour: some device bills a colour meter (the column is shown).
	Colour bool
	// Automate: some device could still have its reads automated.
	Automate bool
}

// readRow is a device of the table.
type readRow struct {
	DeviceID           int64
	Status, StatusKind string
	Model, Serial      string
	Location           string
	LastDate           string
	Black, Colour      string
	// Action is the button's words: enter, correct or see.
	Action              string
	Primary             bool
	AutomationRequested bool
}

// reads lists the current account's devices whose campaign waits for a
// read, or closed lately.
func (s *Server) reads(c echo.Context) error {
	p := printer(c)
	entries, err := s.store.MeterReadsToEnter(c.Request().Context(), currentAccount(c).AccountID, s.now())
	if err != nil {
		return err
	}
	view := readsView{Count: p.N("reads.count", int64(len(entries)))}
	for _, e := range entries {
		row := readRow{DeviceID: e.DeviceID, Model: e.Model, Serial: e.Serial, Location: locationLine(e.Location),
			LastDate: p.T("reads.never"), Black: "—", Colour: "—", AutomationRequested: e.AutomationRequested}
		row.Status, row.StatusKind = readStatus(p, e)
		if l := e.LastBilled; l != nil {
			row.LastDate = readDate(p, l.ReadAt, s.loc)
			if l.Estimated() {
				row.LastDate += " (" + p.T("reads.estimated") + ")"
			}
			row.Black, row.Colour = meterText(p, l.Black, e.Meters.Black), meterText(p, l.Colour, e.Meters.Colour)
		}
		if !e.Meters.Colour {
			row.Colour = p.T("reads.not_billed")
		}
		switch e.Status() {
		case store.ReadToEnter:
			row.Action, row.Primary = p.T("reads.action.enter"), true
		case store.ReadEntered:
			row.Action = p.T("reads.action.correct")
		default:
			row.Action = p.T("reads.action.see")
		}
		view.Colour = view.Colour || e.Meters.Colour
		view.Automate = view.Automate || !e.AutomationRequested
		view.Rows = append(view.Rows, row)
	}
	return s.render(c, http.StatusOK, "reads", view)
}

// readStatus is a campaign's status in words and its badge's kind.
func readStatus(p *i18n.Printer, e store.MeterReadEntry) (text, kind string) {
	switch e.Status() {
	case store.ReadToEnter:
		return p.T("reads.status.to_enter"), "warn"
	case store.ReadEntered:
		if e.Entered.Review == billing.ReviewPending {
			return p.T("reads.status.review"), "muted"
		}
		return p.T("reads.status.entered"), "ok"
	case store.ReadDone:
		return p.T("reads.status.done"), "ok"
	}
	return p.T("reads.status.closed"), "error"
}

// meterText is a meter of the last invoice: its number, "—" when the
// invoice had none.
func meterText(p *i18n.Printer, v *int64, billed bool) string {
	if v == nil || !billed {
		return "—"
	}
	return p.Number(*v)
}

// readDate is a calendar date the way seed 003 writes it (05/01/2022).
func readDate(p *i18n.Printer, t time.Time, loc *time.Location) string {
	return t.In(loc).Format(p.T("reads.format.date"))
}

// periodDate is a period's date: a calendar date, whatever the zone.
func periodDate(p *i18n.Printer, t time.Time) string {
	return t.UTC().Format(p.T("reads.format.date"))
}

// locationLine is a location's address on one line.
func locationLine(l *store.LocationAddress) string {
	if l == nil {
		return ""
	}
	var parts []string
	for _, s := range []string{l.Company, l.Street, strings.TrimSpace(l.PostalCode + " " + l.City)} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// readFormView is the data of a device's entry form.
type readFormView struct {
	DeviceID       int64
	Model, Serial  string
	Location       string
	Period         string
	Deadline       string
	AfterDeadline  string
	Open           bool
	Refusal        string
	AskBlack       bool
	AskColour      bool
	Black, Colour  string
	LastBlack      string
	LastColour     string
	Entered        string
	EnteredReview  bool
	PhotoHelp      string
	PhotoNeeded    bool
	Accept         string
	Problems       []string
	CanAutomate    bool
	AutomationSent bool
}

// photoAccept is what the file picker offers: the kinds upload takes.
var photoAccept = strings.Join([]string{upload.JPEG.ContentType, upload.PNG.ContentType, upload.WebP.ContentType, upload.HEIC.ContentType, ".heic", ".heif"}, ",")

func (s *Server) newReadFormView(p *i18n.Printer, e store.MeterReadEntry) readFormView {
	v := readFormView{DeviceID: e.DeviceID, Model: e.Model, Serial: e.Serial, Location: locationLine(e.Location),
		Period: p.T("read.period", periodDate(p, e.PeriodStart), periodDate(p, e.PeriodEnd)), Open: e.Open(),
		AskBlack: e.Meters.Black, AskColour: e.Meters.Colour, Accept: photoAccept,
		CanAutomate: !e.AutomationRequested, AutomationSent: e.AutomationRequested}
	if s.photos != nil {
		v.PhotoHelp = p.T("read.photo.help", sizeText(p, s.photos.MaxBytes()))
	}
	if e.ClosesAt != nil {
		v.Deadline = p.T("read.deadline.at", p.DateTime(*e.ClosesAt, s.loc))
	} else {
		v.Deadline = p.T("read.deadline.reminders", p.N("read.reminders", int64(e.Reminders)))
	}
	v.AfterDeadline = p.T("read.after_deadline")
	switch e.Status() {
	case store.ReadClosed:
		v.Refusal = p.T("read.refused.closed")
	case store.ReadDone:
		v.Refusal = p.T("read.refused.done", readDate(p, e.Entered.ReadAt, s.loc))
	case store.ReadByAgent:
		v.Refusal = p.T("read.refused.agent")
	}
	// Prefilled with the last invoice's meters (seed 003), or with the
	// read already entered, which the customer may correct.
	if l := e.LastBilled; l != nil {
		v.Black, v.Colour = numberField(l.Black), numberField(l.Colour)
		key, date := "read.last", readDate(p, l.ReadAt, s.loc)
		if l.Estimated() {
			key = "read.last.estimated"
		}
		v.LastBlack, v.LastColour = lastText(p, key, l.Black, date), lastText(p, key, l.Colour, date)
	} else {
		v.LastBlack, v.LastColour = p.T("read.last.none"), p.T("read.last.none")
	}
	if r := e.Entered; r != nil {
		v.Black, v.Colour = numberField(r.Black), numberField(r.Colour)
		date := p.DateTime(r.ReadAt, s.loc)
		if e.Meters.Colour {
			v.Entered = p.T("read.entered", date, meterText(p, r.Black, true), meterText(p, r.Colour, true))
		} else {
			v.Entered = p.T("read.entered.mono", date, meterText(p, r.Black, true))
		}
		v.EnteredReview = r.Review == billing.ReviewPending
	}
	return v
}

func lastText(p *i18n.Printer, key string, v *int64, date string) string {
	if v == nil {
		return p.T("read.last.none")
	}
	return p.T(key, p.Number(*v), date)
}

func numberField(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

// sizeText is a size limit in words: "8 Mo", "8 MB".
func sizeText(p *i18n.Printer, n int64) string {
	const mib = 1 << 20
	if n >= mib && n%mib == 0 {
		return p.T("reads.size.mib", n/mib)
	}
	return p.T("reads.size.kib", (n+1023)/1024)
}

// readEntry reads the :device of the path and its campaign in the current
// account: another account's device, or one with no campaign, is 404.
func (s *Server) readEntry(c echo.Context) (store.MeterReadEntry, error) {
	id, err := pageParamID(c, "device")
	if err != nil {
		return store.MeterReadEntry{}, err
	}
	return s.store.MeterReadToEnter(c.Request().Context(), currentAccount(c).AccountID, id, s.now())
}

// readForm shows a device's entry form, or why a read is no longer taken.
func (s *Server) readForm(c echo.Context) error {
	e, err := s.readEntry(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "read_form", s.newReadFormView(printer(c), e))
}

// submitRead records the meters typed in for a device, with the photo of
// its counters when one is attached. The photo is checked and stored
// first (the store records its name with the read), and removed again
// when the read is refused.
func (s *Server) submitRead(c echo.Context) error {
	e, err := s.readEntry(c)
	if err != nil {
		return err
	}
	p := printer(c)
	view := s.newReadFormView(p, e)
	if !e.Open() {
		return s.render(c, http.StatusConflict, "read_form", view)
	}
	in := store.ManualRead{AccountID: currentAccount(c).AccountID, UserID: mustVisitor(c).user.ID, DeviceID: e.DeviceID}
	status := http.StatusBadRequest
	for _, m := range []struct {
		ask         bool
		field, name string
		dst         **int64
		shown       *string
	}{
		{e.Meters.Black, "black", p.T("read.black"), &in.Black, &view.Black},
		{e.Meters.Colour, "colour", p.T("read.colour"), &in.Colour, &view.Colour},
	} {
		if !m.ask {
			continue
		}
		raw := c.FormValue(m.field)
		*m.shown = raw
		n, problem := parseMeter(p, m.name, raw)
		if problem != "" {
			view.Problems = append(view.Problems, problem)
			continue
		}
		*m.dst = &n
	}
	photo, problem, photoStatus := s.receivePhoto(c, p)
	if problem != "" {
		view.Problems = append(view.Problems, problem)
		status = photoStatus
	}
	if view.Problems != nil {
		s.dropPhoto(photo)
		return s.render(c, status, "read_form", view)
	}
	in.Photo = photo
	_, err = s.store.SubmitManualRead(c.Request().Context(), in, s.now())
	if err != nil {
		s.dropPhoto(photo)
		return s.readRefused(c, p, view, err)
	}
	done := "read_saved"
	if saved, err := s.store.MeterReadToEnter(c.Request().Context(), in.AccountID, in.DeviceID, s.now()); err == nil && saved.Entered != nil && saved.Entered.Review == billing.ReviewPending {
		done = "read_review"
	}
	return c.Redirect(http.StatusSeeOther, "/reads?done="+done)
}

// readRefused answers a read the store refused: in words on the form for
// what the customer can fix, with the reason when the campaign closed
// meanwhile.
func (s *Server) readRefused(c echo.Context, p *i18n.Printer, view readFormView, err error) error {
	switch {
	case errors.Is(err, store.ErrReadCampaignClosed), errors.Is(err, store.ErrReadCorrectionClosed), errors.Is(err, store.ErrReadByAgent):
		e, rerr := s.readEntry(c)
		if rerr != nil {
			return rerr
		}
		return s.render(c, http.StatusConflict, "read_form", s.newReadFormView(p, e))
	case errors.Is(err, billing.ErrPhotoRequired):
		view.Problems, view.PhotoNeeded = []string{p.T("read.error.photo_needed")}, true
	case errors.Is(err, billing.ErrMeterMissing):
		view.Problems = []string{p.T("read.error.missing", p.T("read.colour"))}
	case errors.Is(err, billing.ErrMeterNegative):
		view.Problems = []string{p.T("read.error.negative")}
	case errors.Is(err, billing.ErrMeterTooLarge):
		view.Problems = []string{p.T("read.error.too_large", p.Number(billing.MaxMeter))}
	case errors.Is(err, billing.ErrNothingToRecord):
		view.Problems = []string{p.T("read.error.nothing")}
	default:
		return err
	}
	return s.render(c, http.StatusBadRequest, "read_form", view)
}

// parseMeter reads a meter typed in: a whole number, spaces allowed (a
// customer copies "39 684"); a problem in words otherwise.
func parseMeter(p *i18n.Printer, name, raw string) (int64, string) {
	digits := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\u202f' {
			return -1
		}
		return r
	}, raw)
	if digits == "" {
		return 0, p.T("read.error.missing", name)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case err != nil && strings.HasPrefix(digits, "-"):
		return 0, p.T("read.error.negative")
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, p.T("read.error.too_large", p.Number(billing.MaxMeter))
	case err != nil:
		return 0, p.T("read.error.number", name)
	case n < 0:
		return 0, p.T("read.error.negative")
	case n > billing.MaxMeter:
		return 0, p.T("read.error.too_large", p.Number(billing.MaxMeter))
	}
	return n, ""
}

// receivePhoto stores the photo attached to the form, if any: nil without
// one; a problem in words (and its status) for a file refused.
func (s *Server) receivePhoto(c echo.Context, p *i18n.Printer) (*store.StoredPhoto, string, int) {
	fh, err := c.FormFile("photo")
	if errors.Is(err, http.ErrMissingFile) || (err == nil && fh.Size == 0 && fh.Filename == "") {
		return nil, "", 0
	}
	if err != nil {
		return nil, p.T("read.error.not_image"), http.StatusBadRequest
	}
	if s.photos == nil {
		return nil, p.T("read.error.no_uploads"), http.StatusServiceUnavailable
	}
	tooLarge := p.T("read.error.photo_large", sizeText(p, s.photos.MaxBytes()))
	if fh.Size > s.photos.MaxBytes() {
		return nil, tooLarge, http.StatusRequestEntityTooLarge
	}
	f, err := fh.Open()
	if err != nil {
		return nil, p.T("read.error.not_image"), http.StatusBadRequest
	}
	defer f.Close()
	saved, err := s.photos.Save(f)
	switch {
	case errors.Is(err, upload.ErrTooLarge):
		return nil, tooLarge, http.StatusRequestEntityTooLarge
	case errors.Is(err, upload.ErrEmpty):
		return nil, p.T("read.error.photo_empty"), http.StatusBadRequest
	case errors.Is(err, upload.ErrNotImage):
		return nil, p.T("read.error.not_image"), http.StatusBadRequest
	case err != nil:
		s.logger.Error("store a meter-read photo", "error", err)
		return nil, p.T("read.error.no_uploads"), http.StatusServiceUnavailable
	}
	return &store.StoredPhoto{Name: saved.Name}, "", 0
}

// dropPhoto removes a photo whose read was not recorded.
func (s *Server) dropPhoto(photo *store.StoredPhoto) {
	if photo == nil || s.photos == nil {
		return
	}
	if err := s.photos.Remove(photo.Name); err != nil {
		s.logger.Warn("remove a photo of a refused read", "photo", photo.Name, "error", err)
	}
}

// automateView is the data of the request to automate a device's reads
// (seed 003, "Automatiser le relevé de vos compteurs").
type automateView struct {
	AccountName, CustomerNumber string
	Devices                     []automateDevice
	DeviceID                    int64
	Street, PostalCode, City    string
	FirstName, LastName         string
	Email, Phone, Date          string
	Today, LastDay              string
	Problems                    []string
}

type automateDevice struct {
	ID    int64
	Label string
}

// newAutomateView lists the devices of the meter-read page whose reads are
// not yet being automated, and prefills the address of the chosen one and
// the contact from the user.
func (s *Server) newAutomateView(c echo.Context, deviceID int64) (automateView, error) {
	acc, u := currentAccount(c), mustVisitor(c).user
	entries, err := s.store.MeterReadsToEnter(c.Request().Context(), acc.AccountID, s.now())
	if err != nil {
		return automateView{}, err
	}
	today := s.now().In(s.loc)
	v := automateView{AccountName: acc.Name, CustomerNumber: acc.CustomerNumber, DeviceID: deviceID, Email: u.Email, Phone: u.Phone,
		Today: today.Format(time.DateOnly), LastDay: today.AddDate(1, 0, 0).Format(time.DateOnly)}
	v.FirstName, v.LastName, _ = strings.Cut(strings.TrimSpace(u.Name), " ")
	for _, e := range entries {
		if e.AutomationRequested {
			continue
		}
		v.Devices = append(v.Devices, automateDevice{ID: e.DeviceID, Label: strings.TrimSpace(e.Model + " " + e.Serial + " — " + locationLine(e.Location))})
		if (e.DeviceID == deviceID || len(entries) == 1) && e.Location != nil {
			v.DeviceID, v.Street, v.PostalCode, v.City = e.DeviceID, e.Location.Street, e.Location.PostalCode, e.Location.City
		}
	}
	return v, nil
}

// automateForm shows the request form, for ?device= when given.
func (s *Server) automateForm(c echo.Context) error {
	id, _ := strconv.ParseInt(c.QueryParam("device"), 10, 64)
	v, err := s.newAutomateView(c, id)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "read_automate", v)
}

// automate records a request to automate a device's reads. The device is
// one of the current account's: another's is 404.
func (s *Server) automate(c echo.Context) error {
	p := printer(c)
	id, _ := strconv.ParseInt(c.FormValue("device"), 10, 64)
	v, err := s.newAutomateView(c, id)
	if err != nil {
		return err
	}
	v.DeviceID = id
	for _, f := range []struct {
		dst        *string
		field, key string
		required   bool
	}{
		{&v.Street, "street", "automate.street", true},
		{&v.PostalCode, "postal_code", "automate.postal_code", true},
		{&v.City, "city", "automate.city", true},
		{&v.FirstName, "first_name", "automate.first_name", true},
		{&v.LastName, "last_name", "automate.last_name", true},
		{&v.Phone, "phone", "automate.phone", false},
		{&v.Date, "date", "", false},
	} {
		*f.dst = strings.TrimSpace(c.FormValue(f.field))
		if f.required && *f.dst == "" {
			v.Problems = append(v.Problems, p.T("automate.error.missing", p.T(f.key)))
		}
	}
	if id <= 0 {
		v.Problems = append(v.Problems, p.T("automate.error.device"))
	}
	var date *time.Time
	if v.Date != "" {
		d, err := time.Parse(time.DateOnly, v.Date)
		if err != nil {
			v.Problems = append(v.Problems, p.T("automate.error.date"))
		}
		date = &d
	}
	if v.Problems != nil {
		return s.render(c, http.StatusBadRequest, "read_automate", v)
	}
	_, err = s.store.RequestReadAutomation(c.Request().Context(), store.ReadAutomation{AccountID: currentAccount(c).AccountID,
		UserID: mustVisitor(c).user.ID, DeviceID: id, Address: fmt.Sprintf("%s, %s %s", v.Street, v.PostalCode, v.City),
		ContactName: v.FirstName + " " + v.LastName, ContactPhone: v.Phone, PreferredDate: date})
	switch domain.ErrorCode(err) {
	case "":
		return c.Redirect(http.StatusSeeOther, "/reads?done=automation_asked")
	case domain.ECONFLICT:
		v.Problems = []string{p.T("automate.error.already")}
	case domain.EINVALID:
		v.Problems = []string{p.T("automate.error.invalid")}
		if errors.Is(err, store.ErrAutomationDate) {
			v.Problems = []string{p.T("automate.error.date")}
		}
	default:
		return err
	}
	return s.render(c, http.StatusBadRequest, "read_automate", v)
}
