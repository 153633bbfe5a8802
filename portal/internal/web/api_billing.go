package web

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// BillingStore is what the API's billing routes need: a period's billing
// reads (the export an invoicing system consumes) and the back office's
// review queue.
type BillingStore interface {
	BillingReadsOfPeriod(ctx context.Context, periodEnd time.Time) ([]store.BillingReadDetail, error)
	BillingReviewQueue(ctx context.Context, limit int) ([]store.BillingReadDetail, error)
	ReviewBillingRead(ctx context.Context, id int64, accept bool, by store.Actor) error
	RequestExtraRead(ctx context.Context, deviceID int64, reason string, by store.Actor) (store.PollRequest, error)
}

// apiBillingRead is a billing read in the API: the export's columns
// (billing.ExportColumns), with the same names, and the read's and
// device's ids.
type apiBillingRead struct {
	ID             int64  `json:"id"`
	DeviceID       int64  `json:"device_id"`
	CustomerNumber string `json:"customer_number"`
	ContractNumber string `json:"contract_number"`
	Serial         string `json:"serial"`
	Model          string `json:"model"`
	PeriodStart    string `json:"period_start"`
	PeriodEnd      string `json:"period_end"`
	ReadAt         string `json:"read_at"`
	Black          *int64 `json:"black"`
	Colour         *int64 `json:"colour"`
	Total          *int64 `json:"total"`
	Source         string `json:"source"`
	Method         string `json:"method"`
	Flags          string `json:"flags"`
	Review         string `json:"review"`
}

func toAPIBillingRead(d store.BillingReadDetail) apiBillingRead {
	rec := d.ExportRow().Record()
	return apiBillingRead{ID: d.ID, DeviceID: d.DeviceID, CustomerNumber: d.CustomerNumber, ContractNumber: d.ContractNumber,
		Serial: d.Serial, Model: d.Model, PeriodStart: rec[4], PeriodEnd: rec[5], ReadAt: rec[6],
		Black: d.Black, Colour: d.Colour, Total: d.Total, Source: d.Source, Method: d.Method, Flags: d.Flags.String(), Review: d.Review}
}

// billingReadsOf reads the period_end parameter and the period's reads.
func (s *Server) billingReadsOf(c echo.Context) ([]store.BillingReadDetail, time.Time, error) {
	raw := c.QueryParam("period_end")
	if raw == "" {
		return nil, time.Time{}, domain.Errorf(domain.EINVALID, "period_end=YYYY-MM-DD is required")
	}
	end, err := store.ParsePeriodEnd(raw)
	if err != nil {
		return nil, time.Time{}, err
	}
	rows, err := s.api.BillingReadsOfPeriod(c.Request().Context(), end)
	return rows, end, err
}

// apiBillingReads is GET /billing-reads?period_end=YYYY-MM-DD: the
// period's billing reads as JSON.
func (s *Server) apiBillingReads(c echo.Context) error {
	rows, _, err := s.billingReadsOf(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(rows, toAPIBillingRead))
}

// apiBillingReadsCSV is GET /billing-reads.csv?period_end=YYYY-MM-DD: the
// same as CSV (billing.WriteCSV), offered as a file to save.
func (s *Server) apiBillingReadsCSV(c echo.Context) error {
	rows, end, err := s.billingReadsOf(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := billing.WriteCSV(&buf, store.ExportRows(rows)); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="billing-reads-`+end.Format(time.DateOnly)+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// apiBillingReview is GET /billing-reads/review: the reads waiting for
// the back office, oldest first (?limit, default 50).
func (s *Server) apiBillingReview(c echo.Context) error {
	limit := 0
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return domain.Errorf(domain.EINVALID, "limit %q is not a number", v)
		}
		limit = n
	}
	rows, err := s.api.BillingReviewQueue(c.Request().Context(), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(rows, toAPIBillingRead))
}

// apiReviewBillingRead is POST /billing-reads/:id/review with
// {"accept": true|false}: the back office's decision.
func (s *Server) apiReviewBillingRead(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Errorf(domain.ENOTFOUND, "no billing read %q", c.Param("id"))
	}
	var in struct {
		Accept *bool `json:"accept"`
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	if in.Accept == nil {
		return domain.Errorf(domain.EINVALID, `{"accept": true} or {"accept": false} is required`)
	}
	if err := s.api.ReviewBillingRead(c.Request().Context(), id, *in.Accept, actor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiPollRequest is an extra read asked of a device's agent.
type apiPollRequest struct {
	ID          int64      `json:"id"`
	DeviceID    int64      `json:"device_id"`
	AgentID     string     `json:"agent_id"`
	Reason      string     `json:"reason"`
	RequestedAt time.Time  `json:"requested_at"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
}

// apiRequestExtraRead is POST /devices/:id/extra-read with {"reason": …}:
// the device's agent is asked to read it now (poll_now, published by the
// collector). 202: the request is recorded, not yet carried out.
func (s *Server) apiRequestExtraRead(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Errorf(domain.ENOTFOUND, "no device %q", c.Param("id"))
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	p, err := s.api.RequestExtraRead(c.Request().Context(), id, in.Reason, actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, apiPollRequest{ID: p.ID, DeviceID: p.DeviceID, AgentID: p.AgentID, Reason: p.Reason,
		RequestedAt: p.RequestedAt, SentAt: p.SentAt})
}
