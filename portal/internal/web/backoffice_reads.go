package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// The back office's view of the meter reads customers type in (issue 16):
// the reads waiting for review (lower than the last one, with their
// photo, or a jump) and the open requests to automate a device's reads.
// Reading only: the review itself is the billing back office's.

// boReadsView is the data of the back office's meter-read page.
type boReadsView struct {
	Reviews     []boReviewRow
	Automations []boAutomationRow
}

type boReviewRow struct {
	ID                          int64
	AccountID                   int64
	CustomerNumber, AccountName string
	Serial, Model               string
	Period                      string
	Black, Colour               string
	Flags                       []string
	HasPhoto                    bool
	By                          string
	Created                     timeView
}

type boAutomationRow struct {
	ID                          int64
	AccountID                   int64
	CustomerNumber, AccountName string
	Serial, Model               string
	Address, Contact, Phone     string
	Email                       string
	Date                        string
	Created                     timeView
}

// backOfficeReads lists the reads to review and the automation requests.
func (s *Server) backOfficeReads(c echo.Context) error {
	ctx, p := c.Request().Context(), printer(c)
	reviews, err := s.store.BillingReviewQueue(ctx, boPageSize)
	if err != nil {
		return err
	}
	automations, err := s.store.BackOfficeReadAutomations(ctx, boPageSize)
	if err != nil {
		return err
	}
	var view boReadsView
	for _, r := range reviews {
		row := boReviewRow{ID: r.ID, AccountID: r.AccountID, CustomerNumber: r.CustomerNumber, AccountName: r.AccountName,
			Serial: r.Serial, Model: r.Model, Period: periodDate(p, r.PeriodStart) + " – " + periodDate(p, r.PeriodEnd),
			Black: meterText(p, r.Black, true), Colour: meterText(p, r.Colour, true), HasPhoto: r.PhotoPath != nil, By: r.SubmittedBy,
			Created: s.timeView(p, r.ReadAt)}
		for _, f := range r.Flags {
			row.Flags = append(row.Flags, p.T("bo.reads.flag."+f))
		}
		view.Reviews = append(view.Reviews, row)
	}
	for _, a := range automations {
		row := boAutomationRow{ID: a.ID, AccountID: a.AccountID, CustomerNumber: a.CustomerNumber, AccountName: a.AccountName,
			Serial: a.Serial, Model: a.Model, Address: a.Address, Contact: a.ContactName, Phone: a.ContactPhone, Email: a.UserEmail,
			Date: p.T("bo.reads.any_date"), Created: s.timeView(p, a.CreatedAt)}
		if a.PreferredDate != nil {
			row.Date = periodDate(p, *a.PreferredDate)
		}
		view.Automations = append(view.Automations, row)
	}
	return s.render(c, http.StatusOK, "bo_reads", view)
}

// backOfficeReadPhoto shows the photo kept with a billing read, to the
// back office only: the folder is never served otherwise. The photo is
// served as the image kind its content was recognised as, in a sandbox,
// never sniffed as anything else.
func (s *Server) backOfficeReadPhoto(c echo.Context) error {
	id, err := pageParamID(c, "read")
	if err != nil {
		return err
	}
	if s.photos == nil {
		return echo.ErrNotFound
	}
	name, err := s.store.BillingReadPhoto(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f, kind, err := s.photos.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Content-Disposition", fmt.Sprintf(`inline; filename="read-%d.%s"`, id, strings.ToLower(kind.Ext)))
	return c.Stream(http.StatusOK, kind.ContentType, f)
}
