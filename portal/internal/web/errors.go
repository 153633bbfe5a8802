package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/shared/domain"
)

// statusOfCode maps Meterline's error codes to HTTP statuses. It is the one
// place where the two meet.
var statusOfCode = map[string]int{
	domain.EINVALID:      http.StatusBadRequest,
	domain.ESCHEMA:       http.StatusBadRequest,
	domain.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	domain.ENOTFOUND:     http.StatusNotFound,
	domain.ECONFLICT:     http.StatusConflict,
	domain.EUNAUTHORIZED: http.StatusUnauthorized,
	domain.EFORBIDDEN:    http.StatusForbidden,
	domain.EINTERNAL:     http.StatusInternalServerError,
	domain.EUNAVAILABLE:  http.StatusServiceUnavailable,
	domain.ESCHEMABEHIND: http.StatusServiceUnavailable,
}

// httpStatus returns the status an error is answered with: echo's own
// errors (no route, wrong method) keep theirs, domain errors map by code,
// anything else is a 500.
func httpStatus(err error) int {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	if status, ok := statusOfCode[domain.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// errorView is the data of the error page.
type errorView struct {
	Title   string
	Message string
}

// handleError is the server's HTTPErrorHandler: it logs server faults and
// answers with an error page in the visitor's language, which tells what
// happened without leaking the error's text.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := httpStatus(err)
	if status >= http.StatusInternalServerError {
		s.logger.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", status, "error", err)
	}
	if strings.HasPrefix(c.Request().URL.Path, apiPrefix+"/") || c.Request().URL.Path == apiPrefix {
		s.apiError(c, status, err)
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	p := printer(c)
	msg := p.T("error.other")
	if k := "error." + strconv.Itoa(status); p.Has(k) {
		msg = p.T(k)
	}
	view := errorView{Title: p.T("error.title", status), Message: msg}
	if rerr := c.Render(status, "error", view); rerr != nil {
		s.logger.Error("render error page", "error", rerr)
		_ = c.String(status, http.StatusText(status))
	}
}
