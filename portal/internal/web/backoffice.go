package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// The back office (issue 15): the pages of the users with the back-office
// role, across every account — accounts and their users
// (backoffice_accounts.go), the devices to review (backoffice_devices.go)
// and the customers' requests (backoffice_requests.go). Their routes have
// the access level backOffice: anyone else gets 404. Every change is
// recorded with the back-office user as its author (backOfficeActor).

// BackOfficeStore is what the back office needs of the database: reads
// across every account, the review of devices and the requests.
type BackOfficeStore interface {
	// Devices lists every device with its latest read.
	Devices(ctx context.Context) ([]store.DeviceSummary, error)

	BackOfficeAccounts(ctx context.Context, search string, limit, offset int) (store.AccountPage, error)
	Account(ctx context.Context, id int64) (store.Account, error)
	AccountByNumber(ctx context.Context, number string) (store.Account, error)
	Locations(ctx context.Context, accountID int64) ([]store.Location, error)
	Contracts(ctx context.Context, accountID int64) ([]store.Contract, error)
	Members(ctx context.Context, accountID int64) ([]store.Member, error)
	AccountDevices(ctx context.Context, accountID int64) ([]store.ContractedDevice, error)
	Agents(ctx context.Context, accountID *int64) ([]store.Agent, error)
	AccountRequests(ctx context.Context, accountID int64, limit int) ([]store.Request, error)

	UnconfirmedDevice(ctx context.Context, id int64) (store.UnconfirmedDevice, error)
	ReviewStore

	BackOfficeOpenRequests(ctx context.Context, kind store.RequestKind, limit int) ([]store.Request, error)
	BackOfficeOpenRequestCounts(ctx context.Context) (map[store.RequestKind]int, error)
	BackOfficeRequest(ctx context.Context, id int64) (store.Request, error)
	ResolveRequest(ctx context.Context, id int64, outcome store.RequestOutcome, note string, by store.Actor) (store.Request, error)

	// Meter reads to review, requests to automate reads (backoffice_reads.go).
	BillingReviewQueue(ctx context.Context, limit int) ([]store.BillingReadDetail, error)
	BackOfficeReadAutomations(ctx context.Context, limit int) ([]store.ReadAutomationRequest, error)
	BillingReadPhoto(ctx context.Context, readID int64) (string, error)
}

// boPageSize is how many rows a back-office list shows at once.
const boPageSize = 50

// boSection is an entry of the back office's menu: its catalogue key
// (bo.nav.KEY), its page, and the routes it is the current entry on.
type boSection struct {
	key, path string
	routes    []string
}

// boSections are the back office's menu, in its order.
var boSections = []boSection{
	{"home", "/backoffice", []string{"/backoffice"}},
	{"accounts", "/backoffice/accounts", []string{"/backoffice/accounts", "/backoffice/accounts/:account"}},
	{"unconfirmed", "/backoffice/devices/unconfirmed", []string{"/backoffice/devices/unconfirmed", "/backoffice/devices/:device"}},
	{"conflicts", "/backoffice/devices/conflicts", []string{"/backoffice/devices/conflicts"}},
	{"requests", "/backoffice/requests", []string{"/backoffice/requests", "/backoffice/requests/:request"}},
	{"devices", "/backoffice/devices", []string{"/backoffice/devices"}},
	{"reads", "/backoffice/reads", []string{"/backoffice/reads"}},
}

// backOfficeNav is the back office's menu on the page of route (echo's
// route path), nil on a page that is not the back office's.
func backOfficeNav(route string, p *i18n.Printer) []menuItem {
	if route != "/backoffice" && !strings.HasPrefix(route, "/backoffice/") {
		return nil
	}
	out := make([]menuItem, 0, len(boSections))
	for _, sec := range boSections {
		out = append(out, menuItem{Label: p.T("bo.nav." + sec.key), Path: sec.path, Current: slices.Contains(sec.routes, route)})
	}
	return out
}

// backOfficeActor is who makes a change from a back-office page: the
// signed-in back-office user.
func backOfficeActor(c echo.Context) store.Actor {
	return store.ByUser(mustVisitor(c).user.ID)
}

// pageParamID reads the path parameter name, the id of an object: a page
// whose id is not a positive number does not exist (404).
func pageParamID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.ErrNotFound
	}
	return id, nil
}

// pageNumber reads a ?page= number, 1 when absent or not a page number.
func pageNumber(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// timeView is an instant on a page: relative in the text ("il y a 3
// min"), absolute in the title; Zero when there is none.
type timeView struct {
	Zero             bool
	Text, Title, ISO string
}

func (s *Server) timeView(p *i18n.Printer, t time.Time) timeView {
	if t.IsZero() {
		return timeView{Zero: true}
	}
	return timeView{Text: p.Ago(t, s.now(), s.loc), Title: p.DateTime(t, s.loc), ISO: t.UTC().Format(time.RFC3339)}
}

// stateBadge shows a device's state (contract or review state) in words.
func stateBadge(p *i18n.Printer, state string) badgeView {
	class := map[string]string{
		string(domain.ContractActive):         "ok",
		string(domain.ContractPendingRemoval): "warn",
		string(domain.DeviceUnconfirmed):      "warn",
	}[state]
	if class == "" {
		class = "muted"
	}
	if state == "" {
		state = "none"
	}
	return badgeView{Text: p.T("bo.state." + state), Class: class}
}

// boKindCount is how many requests of a kind are open.
type boKindCount struct {
	Kind    store.RequestKind
	Count   int64
	Current bool
}

// boHomeView is the data of the back office's home: the work waiting.
type boHomeView struct {
	Unconfirmed int64
	Conflicts   int64
	Requests    []boKindCount
}

// backOfficeHome counts the work waiting: devices to review, serials two
// accounts claim, and open requests by kind, each linking to its list.
func (s *Server) backOfficeHome(c echo.Context) error {
	ctx := c.Request().Context()
	unconfirmed, err := s.store.UnconfirmedDevices(ctx, 0)
	if err != nil {
		return err
	}
	conflicts, err := s.store.SerialConflicts(ctx)
	if err != nil {
		return err
	}
	serials := map[string]bool{}
	for _, cf := range conflicts {
		serials[cf.DeviceKey] = true
	}
	counts, err := s.store.BackOfficeOpenRequestCounts(ctx)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "bo_home", boHomeView{Unconfirmed: int64(len(unconfirmed)), Conflicts: int64(len(serials)), Requests: kindCounts(counts, "")})
}

// kindCounts lists the open requests by kind, in the back office's order.
func kindCounts(counts map[store.RequestKind]int, current store.RequestKind) []boKindCount {
	out := make([]boKindCount, 0, len(store.RequestKinds))
	for _, k := range store.RequestKinds {
		out = append(out, boKindCount{Kind: k, Count: int64(counts[k]), Current: k == current})
	}
	return out
}
