package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// apiPrefix is where the back-office API lives.
const apiPrefix = "/api/v1"

// APIStore is what the back-office API needs of the database.
type APIStore interface {
	Authenticate(ctx context.Context, secret string) (store.APIToken, error)
	Accounts(ctx context.Context) ([]store.Account, error)
	AccountByNumber(ctx context.Context, number string) (store.Account, error)
	CreateAccount(ctx context.Context, a store.Account) (store.Account, error)
	UpdateAccount(ctx context.Context, a store.Account) (store.Account, error)
	Locations(ctx context.Context, accountID int64) ([]store.Location, error)
	Location(ctx context.Context, id int64) (store.Location, error)
	CreateLocation(ctx context.Context, l store.Location) (store.Location, error)
	UpdateLocation(ctx context.Context, l store.Location) (store.Location, error)
	Contracts(ctx context.Context, accountID int64) ([]store.Contract, error)
	CreateContract(ctx context.Context, c store.Contract) (store.Contract, error)
	AccountDevices(ctx context.Context, accountID int64) ([]store.ContractedDevice, error)
	PutDeviceUnderContract(ctx context.Context, d store.ContractedDevice, by store.Actor) (store.ContractedDevice, error)
	SetDeviceState(ctx context.Context, id int64, state domain.ContractState, by store.Actor) error
	Members(ctx context.Context, accountID int64) ([]store.Member, error)
	AddMember(ctx context.Context, accountID int64, u store.User, role domain.Role, by store.Actor) (store.Member, error)
	Agents(ctx context.Context, accountID *int64) ([]store.Agent, error)
	Agent(ctx context.Context, id string) (store.Agent, error)
	RegisterAgent(ctx context.Context, agentID string, accountID int64, by store.Actor) error
	Import(ctx context.Context, kind string, r io.Reader, by store.Actor) (store.ImportResult, error)
	ReviewStore
	BillingStore
}

// apiRoute is one route of the API and the scope a token needs to use it.
type apiRoute struct {
	method, path string
	scope        store.TokenScope
	handle       echo.HandlerFunc
}

// apiRoutes is the API's whole route table: every route names the scope it
// needs, and requireScope is the one place that checks it.
func (s *Server) apiRoutes() []apiRoute {
	return []apiRoute{
		{http.MethodGet, "/accounts", store.ScopeRead, s.apiAccounts},
		{http.MethodPost, "/accounts", store.ScopeWrite, s.apiCreateAccount},
		{http.MethodGet, "/accounts/:number", store.ScopeRead, s.apiAccount},
		{http.MethodPatch, "/accounts/:number", store.ScopeWrite, s.apiUpdateAccount},
		{http.MethodGet, "/accounts/:number/locations", store.ScopeRead, s.apiLocations},
		{http.MethodPost, "/accounts/:number/locations", store.ScopeWrite, s.apiCreateLocation},
		{http.MethodPatch, "/accounts/:number/locations/:id", store.ScopeWrite, s.apiUpdateLocation},
		{http.MethodGet, "/accounts/:number/contracts", store.ScopeRead, s.apiContracts},
		{http.MethodPost, "/accounts/:number/contracts", store.ScopeWrite, s.apiCreateContract},
		{http.MethodGet, "/accounts/:number/devices", store.ScopeRead, s.apiDevices},
		{http.MethodGet, "/accounts/:number/users", store.ScopeRead, s.apiMembers},
		{http.MethodPost, "/accounts/:number/users", store.ScopeWrite, s.apiAddMember},
		{http.MethodPost, "/devices", store.ScopeWrite, s.apiPutDevice},
		{http.MethodPut, "/devices/:id/state", store.ScopeWrite, s.apiSetDeviceState},
		{http.MethodGet, "/agents", store.ScopeRead, s.apiAgents},
		{http.MethodPut, "/agents/:id/account", store.ScopeWrite, s.apiAssignAgent},
		{http.MethodGet, "/import", store.ScopeRead, s.apiImportKinds},
		{http.MethodPost, "/import/:kind", store.ScopeWrite, s.apiImport},
		{http.MethodGet, "/devices/unconfirmed", store.ScopeRead, s.apiUnconfirmedDevices},
		{http.MethodGet, "/devices/conflicts", store.ScopeRead, s.apiSerialConflicts},
		{http.MethodPost, "/devices/:id/confirm", store.ScopeWrite, s.apiConfirmDevice},
		{http.MethodPost, "/devices/:id/reject", store.ScopeWrite, s.apiRejectDevice},
		{http.MethodGet, "/billing-reads", store.ScopeRead, s.apiBillingReads},
		{http.MethodGet, "/billing-reads.csv", store.ScopeRead, s.apiBillingReadsCSV},
		{http.MethodGet, "/billing-reads/review", store.ScopeRead, s.apiBillingReview},
		{http.MethodPost, "/billing-reads/:id/review", store.ScopeWrite, s.apiReviewBillingRead},
		{http.MethodPost, "/devices/:id/extra-read", store.ScopeWrite, s.apiRequestExtraRead},
	}
}

// mountAPI registers the API under apiPrefix when the server has an API
// store.
func (s *Server) mountAPI(e *echo.Echo) {
	if s.api == nil {
		return
	}
	g := e.Group(apiPrefix)
	for _, r := range s.apiRoutes() {
		g.Add(r.method, r.path, r.handle, s.requireScope(r.scope))
	}
}

// tokenKey is where requireScope leaves the request's token.
const tokenKey = "api.token"

// requireScope authenticates the bearer token of a request and lets it
// through when the token's scope allows need: no, unknown, expired or
// revoked token is 401, a token of too small a scope 403.
func (s *Server) requireScope(need store.TokenScope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get(echo.HeaderAuthorization)
			secret, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || strings.TrimSpace(secret) == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="meterline"`)
				return domain.Errorf(domain.EUNAUTHORIZED, "an Authorization: Bearer token is required")
			}
			tok, err := s.api.Authenticate(c.Request().Context(), strings.TrimSpace(secret))
			if err != nil {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="meterline", error="invalid_token"`)
				return err
			}
			if !tok.Scope.Allows(need) {
				return domain.Errorf(domain.EFORBIDDEN, "this route needs a %s token; token %q is %s", need, tok.Name, tok.Scope)
			}
			c.Set(tokenKey, tok)
			return next(c)
		}
	}
}

// actor is who makes a change through the API: the token, by name.
func actor(c echo.Context) store.Actor {
	tok, _ := c.Get(tokenKey).(store.APIToken)
	return store.BySystem("api:" + tok.Name)
}

// apiErrorBody is the JSON of every API error.
type apiErrorBody struct {
	Error apiErrorDetail `json:"error"`
}

type apiErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Errors are the errors of an import, each with its line and field.
	Errors []store.ImportError `json:"errors,omitempty"`
}

// apiError answers an API request with a JSON error; the message of an
// internal error leaks nothing.
func (s *Server) apiError(c echo.Context, status int, err error) {
	d := apiErrorDetail{Code: domain.ErrorCode(err), Message: domain.ErrorMessage(err)}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		d.Code, d.Message = strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_")), http.StatusText(he.Code)
	}
	if ie, ok := store.AsImportErrors(err); ok {
		d.Errors = ie
	}
	if status >= http.StatusInternalServerError {
		d.Code, d.Message = domain.EINTERNAL, "internal error"
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if jerr := c.JSON(status, apiErrorBody{Error: d}); jerr != nil {
		s.logger.Error("write API error", "error", jerr)
	}
}

// bind decodes a JSON body into v; a body that is not JSON is EINVALID.
func bind(c echo.Context, v any) error {
	if err := (&echo.DefaultBinder{}).BindBody(c, v); err != nil {
		return domain.Errorf(domain.EINVALID, "the body is not the expected JSON")
	}
	return nil
}

// accountOf returns the account the :number parameter names.
func (s *Server) accountOf(c echo.Context) (store.Account, error) {
	return s.api.AccountByNumber(c.Request().Context(), c.Param("number"))
}
