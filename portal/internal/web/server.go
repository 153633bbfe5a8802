// Package web is the portal's web site: an echo server rendering HTML pages
// on the server, in French or English. It is the only package that knows
// echo; handlers read the request, call the store and render a view, and
// nothing below them sees an echo.Context.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
)

// assets holds the templates and the static files, parsed and served from
// the binary itself.
//
//go:embed templates static
var assets embed.FS

// Store is what the web site needs of the database.
type Store interface {
	// Devices returns every device with its latest read.
	Devices(ctx context.Context) ([]store.DeviceSummary, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}

// Options configure a Server.
type Options struct {
	Store Store
	// API is the back-office API's store; nil leaves /api/v1 out.
	API    APIStore
	Logger *slog.Logger
	// Version is the build shown in the footer.
	Version string
	// Now tells the time; nil means time.Now. Tests pin it.
	Now func() time.Time
	// Location is the time zone times are shown in; nil means time.Local.
	Location *time.Location
}

// Server is the portal's HTTP handler.
type Server struct {
	echo   *echo.Echo
	store  Store
	api    APIStore
	logger *slog.Logger
	now    func() time.Time
	loc    *time.Location
	// files are the static files, served under /static/.
	files fs.FS
}

// New builds the web site. It parses every template, so a broken template
// fails here, at start-up, and not on the first request for its page.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("web: no store")
	}
	s := &Server{store: opts.Store, api: opts.API, logger: opts.Logger, now: opts.Now, loc: opts.Location}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	r, err := newRenderer(assets, opts.Version)
	if err != nil {
		return nil, err
	}
	if s.files, err = fs.Sub(assets, "static"); err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Renderer = r
	e.HTTPErrorHandler = s.handleError
	e.Use(s.logRequest, s.recoverPanic, securityHeaders, language)
	s.echo = e
	s.routes(e)
	s.mountAPI(e)
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.echo.ServeHTTP(w, r)
}
