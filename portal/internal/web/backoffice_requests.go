package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// The customers' requests as the back office handles them: serial links
// (registration or "add equipment" could not match a serial), removals,
// groupings and contact messages. Each is resolved once, done or
// rejected, with a note; resolving a removal done removes its device,
// rejected puts it back (the store does both).

// boRequestsShown is how many open requests of a kind the list shows,
// oldest first.
const boRequestsShown = 100

// boRequestRow is a request in a list.
type boRequestRow struct {
	store.Request
	Created timeView
	// Summary is what the request is about in one line.
	Summary string
	Badge   badgeView
}

func (s *Server) requestRow(p *i18n.Printer, r store.Request) boRequestRow {
	row := boRequestRow{Request: r, Created: s.timeView(p, r.CreatedAt), Badge: outcomeBadge(p, r)}
	switch r.Kind {
	case store.RequestContact:
		row.Summary = r.Subject
	case store.RequestSerialLink:
		row.Summary = r.Serial
	default:
		serials := make([]string, 0, len(r.Devices))
		for _, d := range r.Devices {
			serials = append(serials, d.Serial)
		}
		row.Summary = strings.Join(serials, ", ")
	}
	return row
}

// outcomeBadge says whether a request is open, done or rejected.
func outcomeBadge(p *i18n.Printer, r store.Request) badgeView {
	switch {
	case r.Open():
		return badgeView{Text: p.T("bo.request.open"), Class: "warn"}
	case r.Outcome == store.OutcomeDone:
		return badgeView{Text: p.T("bo.request.outcome.done"), Class: "ok"}
	}
	return badgeView{Text: p.T("bo.request.outcome.rejected"), Class: "muted"}
}

// boRequestsView is the data of the list of open requests of a kind.
type boRequestsView struct {
	Kind  store.RequestKind
	Kinds []boKindCount
	// Count says how many are open; More that the list shows only the
	// oldest.
	Count    string
	More     bool
	Requests []boRequestRow
}

// backOfficeRequests lists the open requests of the kind ?kind= names
// (serial links when none), oldest first, with the counts of every kind.
// A kind not known is 404.
func (s *Server) backOfficeRequests(c echo.Context) error {
	ctx, p := c.Request().Context(), printer(c)
	kind := store.RequestKinds[0]
	if k := c.QueryParam("kind"); k != "" {
		kind = store.RequestKind(k)
	}
	if !kind.Valid() {
		return echo.ErrNotFound
	}
	counts, err := s.store.BackOfficeOpenRequestCounts(ctx)
	if err != nil {
		return err
	}
	requests, err := s.store.BackOfficeOpenRequests(ctx, kind, boRequestsShown)
	if err != nil {
		return err
	}
	view := boRequestsView{Kind: kind, Kinds: kindCounts(counts, kind), Count: p.N("bo.requests.count", int64(counts[kind])),
		More: counts[kind] > len(requests)}
	for _, r := range requests {
		view.Requests = append(view.Requests, s.requestRow(p, r))
	}
	return s.render(c, http.StatusOK, "bo_requests", view)
}

// boRequestView is the data of the page of one request.
type boRequestView struct {
	boRequestRow
	Resolved timeView
	// ResolvedBy names who resolved it: a user's name and e-mail, or a
	// part of the system.
	ResolvedBy string
	// FormOutcome and FormNote are what the resolve form was given, Error
	// why it was refused (a catalogue key).
	FormOutcome, FormNote string
	Error                 string
}

// backOfficeRequest shows a request whole and, while it is open, the form
// that resolves it.
func (s *Server) backOfficeRequest(c echo.Context) error {
	id, err := pageParamID(c, "request")
	if err != nil {
		return err
	}
	view, err := s.requestView(c, id)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "bo_request", view)
}

func (s *Server) requestView(c echo.Context, id int64) (boRequestView, error) {
	ctx, p := c.Request().Context(), printer(c)
	r, err := s.store.BackOfficeRequest(ctx, id)
	if err != nil {
		return boRequestView{}, err
	}
	view := boRequestView{boRequestRow: s.requestRow(p, r), Resolved: timeView{Zero: true}}
	if r.ResolvedAt != nil {
		view.Resolved = s.timeView(p, *r.ResolvedAt)
	}
	switch {
	case r.ResolvedByUserID != nil:
		u, err := s.store.User(ctx, *r.ResolvedByUserID)
		if err != nil {
			return boRequestView{}, err
		}
		view.ResolvedBy = u.Email
		if u.Name != "" {
			view.ResolvedBy = u.Name + " <" + u.Email + ">"
		}
	case r.ResolvedBySystem != nil:
		view.ResolvedBy = *r.ResolvedBySystem
	}
	return view, nil
}

// resolveRequest closes an open request done or rejected, with a note,
// recorded with the back-office user, and goes back to the list of its
// kind. A request already resolved is 409; an outcome or note the store
// refuses shows the page again with why.
func (s *Server) resolveRequest(c echo.Context) error {
	id, err := pageParamID(c, "request")
	if err != nil {
		return err
	}
	outcome, note := store.RequestOutcome(c.FormValue("outcome")), c.FormValue("note")
	r, err := s.store.ResolveRequest(c.Request().Context(), id, outcome, note, backOfficeActor(c))
	switch domain.ErrorCode(err) {
	case "":
		return c.Redirect(http.StatusSeeOther, "/backoffice/requests?"+url.Values{"kind": {string(r.Kind)}, "done": {"bo_request_resolved"}}.Encode())
	case domain.ECONFLICT:
		return pageError(http.StatusConflict, "bo.request.error.resolved")
	case domain.EINVALID:
		view, verr := s.requestView(c, id)
		if verr != nil {
			return verr
		}
		view.FormOutcome, view.FormNote, view.Error = string(outcome), note, "bo.request.error.invalid"
		return s.render(c, http.StatusBadRequest, "bo_request", view)
	}
	return err
}
