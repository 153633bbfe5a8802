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
	var pe *pageErr
	if errors.As(err, &pe) {
		return pe.status
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	if status, ok := statusOfCode[domain.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// pageErr is an error a handler answers with the error page and a message
// of its own (a catalogue key) instead of its status's.
type pageErr struct {
	status int
	key    string
}

func (e *pageErr) Error() string { return strconv.Itoa(e.status) + " " + e.key }

// pageError returns a pageErr.
func pageError(status int, key string) error { return &pageErr{status: status, key: key} }

// errorView is the data of the error page.
type errorView struct {
	Title   string
	Message string
}

// isAPIPath reports whether a path is the back-office API's.
func isAPIPath(p string) bool { return p == apiPrefix || strings.HasPrefix(p, apiPrefix+"/") }

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
	if isAPIPath(c.Request().URL.Path) {
		s.apiError(c, status, err)
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	p := printer(c)
	msg := p.T("error.other")
	var pe *pageErr
	if k := "error." + strconv.Itoa(status); errors.As(err, &pe) {
		msg = p.T(pe.key)
	} else if p.Has(k) {
		msg = p.T(k)
	}
	view := errorView{Title: p.T("error.title", status), Message: msg}
	if rerr := s.render(c, status, "error", view); rerr != nil {
		s.logger.Error("render error page", "error", rerr)
		_ = c.String(status, http.StatusText(status))
	}
}
