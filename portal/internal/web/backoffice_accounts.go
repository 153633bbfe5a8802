package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
)

// boAccountsView is the data of the back office's account search.
type boAccountsView struct {
	Query    string
	Accounts []boAccountRow
	// Count says how many accounts match, Shown which of them the page
	// shows ("1–50").
	Count, Shown string
	// Prev and Next are the neighbouring pages, "" when none.
	Prev, Next string
}

// boAccountRow is an account in the list, its counts formatted.
type boAccountRow struct {
	store.AccountSummary
	Devices, Users string
}

// backOfficeAccounts lists the accounts whose customer number starts with
// ?q= or whose name contains it, a page (?page=) at a time.
func (s *Server) backOfficeAccounts(c echo.Context) error {
	p := printer(c)
	q := strings.TrimSpace(c.QueryParam("q"))
	page := pageNumber(c.QueryParam("page"))
	res, err := s.store.BackOfficeAccounts(c.Request().Context(), q, boPageSize, (page-1)*boPageSize)
	if err != nil {
		return err
	}
	view := boAccountsView{Query: q, Count: p.N("bo.accounts.count", int64(res.Total))}
	for _, a := range res.Accounts {
		view.Accounts = append(view.Accounts, boAccountRow{AccountSummary: a, Devices: p.Number(int64(a.Devices)), Users: p.Number(int64(a.Users))})
	}
	link := func(n int) string {
		v := url.Values{"page": {strconv.Itoa(n)}}
		if q != "" {
			v.Set("q", q)
		}
		return "/backoffice/accounts?" + v.Encode()
	}
	if first := (page - 1) * boPageSize; len(res.Accounts) > 0 {
		view.Shown = p.T("bo.accounts.shown", p.Number(int64(first+1)), p.Number(int64(first+len(res.Accounts))))
	}
	if page > 1 {
		view.Prev = link(page - 1)
	}
	if page*boPageSize < res.Total {
		view.Next = link(page + 1)
	}
	return s.render(c, http.StatusOK, "bo_accounts", view)
}

// boAccountView is the data of the back office's page of one account.
type boAccountView struct {
	store.Account
	Locations   []store.Location
	Contracts   []boContractView
	Users       []store.Member
	Devices     []boAccountDevice
	Unconfirmed []boUnconfirmedView
	Agents      []boAgentView
	Requests    []boRequestRow
}

type boContractView struct {
	store.Contract
	Start, End string
}

// boAccountDevice is a device under contract of the account.
type boAccountDevice struct {
	store.ContractedDevice
	Contract string
	// Location is the street of its location, "" when it has none.
	Location string
	Badge    badgeView
}

type boAgentView struct {
	store.Agent
	LastSeen timeView
}

// backOfficeAccount shows an account whole: its locations, contracts,
// users and their roles, devices and their states, the devices waiting
// for review, its agents and its latest requests.
func (s *Server) backOfficeAccount(c echo.Context) error {
	id, err := pageParamID(c, "account")
	if err != nil {
		return err
	}
	ctx, p := c.Request().Context(), printer(c)
	a, err := s.store.Account(ctx, id)
	if err != nil {
		return err
	}
	view := boAccountView{Account: a}
	if view.Locations, err = s.store.Locations(ctx, id); err != nil {
		return err
	}
	contracts, err := s.store.Contracts(ctx, id)
	if err != nil {
		return err
	}
	if view.Users, err = s.store.Members(ctx, id); err != nil {
		return err
	}
	devices, err := s.store.AccountDevices(ctx, id)
	if err != nil {
		return err
	}
	unconfirmed, err := s.store.UnconfirmedDevices(ctx, id)
	if err != nil {
		return err
	}
	agents, err := s.store.Agents(ctx, &id)
	if err != nil {
		return err
	}
	requests, err := s.store.AccountRequests(ctx, id, 20)
	if err != nil {
		return err
	}

	numbers := map[int64]string{}
	for _, k := range contracts {
		numbers[k.ID] = k.Number
		view.Contracts = append(view.Contracts, newContractView(k))
	}
	streets := map[int64]string{}
	for _, l := range view.Locations {
		streets[l.ID] = l.Street
	}
	for _, d := range devices {
		dv := boAccountDevice{ContractedDevice: d, Contract: numbers[d.ContractID], Badge: stateBadge(p, string(d.State))}
		if d.LocationID != nil {
			dv.Location = streets[*d.LocationID]
		}
		view.Devices = append(view.Devices, dv)
	}
	for _, d := range unconfirmed {
		view.Unconfirmed = append(view.Unconfirmed, s.unconfirmedView(p, d))
	}
	for _, g := range agents {
		view.Agents = append(view.Agents, boAgentView{Agent: g, LastSeen: s.timeView(p, g.LastSeen)})
	}
	for _, r := range requests {
		view.Requests = append(view.Requests, s.requestRow(p, r))
	}
	return s.render(c, http.StatusOK, "bo_account", view)
}

func newContractView(k store.Contract) boContractView {
	v := boContractView{Contract: k, Start: k.Start.Format(dateLayout)}
	if k.End != nil {
		v.End = k.End.Format(dateLayout)
	}
	return v
}
