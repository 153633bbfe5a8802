package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// The API's JSON shapes: the store's types stay free of JSON.

type apiAccount struct {
	ID             int64           `json:"id"`
	CustomerNumber string          `json:"customer_number"`
	Name           string          `json:"name"`
	Language       domain.Language `json:"language"`
	CreatedAt      time.Time       `json:"created_at"`
}

func toAPIAccount(a store.Account) apiAccount {
	return apiAccount{ID: a.ID, CustomerNumber: a.CustomerNumber, Name: a.Name, Language: a.Language, CreatedAt: a.CreatedAt}
}

type apiLocation struct {
	ID         int64     `json:"id"`
	AccountID  int64     `json:"account_id"`
	Code       string    `json:"code"`
	Attention  string    `json:"attention"`
	Suite      string    `json:"suite"`
	Phone      string    `json:"phone"`
	Company    string    `json:"company"`
	Street     string    `json:"street"`
	City       string    `json:"city"`
	Province   string    `json:"province"`
	PostalCode string    `json:"postal_code"`
	Country    string    `json:"country"`
	CreatedAt  time.Time `json:"created_at"`
}

func toAPILocation(l store.Location) apiLocation {
	return apiLocation{ID: l.ID, AccountID: l.AccountID, Code: l.Code, Attention: l.Attention, Suite: l.Suite, Phone: l.Phone,
		Company: l.Company, Street: l.Street, City: l.City, Province: l.Province, PostalCode: l.PostalCode, Country: l.Country,
		CreatedAt: l.CreatedAt}
}

type apiContract struct {
	ID                    int64                `json:"id"`
	Number                string               `json:"number"`
	AccountID             int64                `json:"account_id"`
	BillingPeriod         domain.BillingPeriod `json:"billing_period"`
	BillsBlack            bool                 `json:"bills_black"`
	BillsColour           bool                 `json:"bills_colour"`
	BillsTotal            bool                 `json:"bills_total"`
	Start                 string               `json:"start"`
	End                   *string              `json:"end,omitempty"`
	ExpectedMonthlyVolume int64                `json:"expected_monthly_volume"`
}

const dateLayout = "2006-01-02"

func toAPIContract(c store.Contract) apiContract {
	out := apiContract{ID: c.ID, Number: c.Number, AccountID: c.AccountID, BillingPeriod: c.BillingPeriod,
		BillsBlack: c.BillsBlack, BillsColour: c.BillsColour, BillsTotal: c.BillsTotal,
		Start: c.Start.Format(dateLayout), ExpectedMonthlyVolume: c.ExpectedMonthlyVolume}
	if c.End != nil {
		e := c.End.Format(dateLayout)
		out.End = &e
	}
	return out
}

type apiDevice struct {
	ID            int64                     `json:"id"`
	Serial        string                    `json:"serial"`
	Model         string                    `json:"model"`
	ProductCode   string                    `json:"product_code"`
	AccountID     int64                     `json:"account_id"`
	ContractID    int64                     `json:"contract_id"`
	LocationID    *int64                    `json:"location_id,omitempty"`
	ReadContactID *int64                    `json:"read_contact_id,omitempty"`
	State         domain.ContractState      `json:"state"`
	Replenishment domain.ReplenishmentState `json:"replenishment"`
}

func toAPIDevice(d store.ContractedDevice) apiDevice {
	return apiDevice{ID: d.ID, Serial: d.Serial, Model: d.Model, ProductCode: d.ProductCode, AccountID: d.AccountID,
		ContractID: d.ContractID, LocationID: d.LocationID, ReadContactID: d.ReadContactID, State: d.State, Replenishment: d.Replenishment}
}

func mapAll[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}

func (s *Server) apiAccounts(c echo.Context) error {
	as, err := s.api.Accounts(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(as, toAPIAccount))
}

func (s *Server) apiAccount(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIAccount(a))
}

func (s *Server) apiCreateAccount(c echo.Context) error {
	var in apiAccount
	if err := bind(c, &in); err != nil {
		return err
	}
	a, err := s.api.CreateAccount(c.Request().Context(), store.Account{CustomerNumber: in.CustomerNumber, Name: in.Name, Language: in.Language})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAPIAccount(a))
}

// apiAccountPatch is the body of PATCH /accounts/:number: the fields to
// change, the others left out.
type apiAccountPatch struct {
	// CustomerNumber is the supplier's key: given, it must be the
	// account's own.
	CustomerNumber *string          `json:"customer_number"`
	Name           *string          `json:"name"`
	Language       *domain.Language `json:"language"`
}

func (s *Server) apiUpdateAccount(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	var in apiAccountPatch
	if err := bind(c, &in); err != nil {
		return err
	}
	if in.CustomerNumber != nil && strings.TrimSpace(*in.CustomerNumber) != a.CustomerNumber {
		return domain.Errorf(domain.EINVALID, "the customer number is the supplier's key of the account: it does not change")
	}
	setIf(&a.Name, in.Name)
	setIf(&a.Language, in.Language)
	if a, err = s.api.UpdateAccount(c.Request().Context(), a); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIAccount(a))
}

// setIf sets *dst to *v when v is given.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) apiLocations(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	ls, err := s.api.Locations(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(ls, toAPILocation))
}

func (s *Server) apiCreateLocation(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	var in apiLocation
	if err := bind(c, &in); err != nil {
		return err
	}
	l, err := s.api.CreateLocation(c.Request().Context(), store.Location{AccountID: a.ID, Code: in.Code,
		LocationContact: store.LocationContact{Attention: in.Attention, Suite: in.Suite, Phone: in.Phone},
		LocationAddress: store.LocationAddress{Company: in.Company, Street: in.Street, City: in.City, Province: in.Province,
			PostalCode: in.PostalCode, Country: in.Country}})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAPILocation(l))
}

// apiLocationPatch is the body of PATCH /accounts/:number/locations/:id:
// the fields to change, the customer's and the back office's alike.
type apiLocationPatch struct {
	Code       *string `json:"code"`
	Attention  *string `json:"attention"`
	Suite      *string `json:"suite"`
	Phone      *string `json:"phone"`
	Company    *string `json:"company"`
	Street     *string `json:"street"`
	City       *string `json:"city"`
	Province   *string `json:"province"`
	PostalCode *string `json:"postal_code"`
	Country    *string `json:"country"`
}

func (s *Server) apiUpdateLocation(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	id, err := pathID(c, "location")
	if err != nil {
		return err
	}
	l, err := s.api.Location(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if l.AccountID != a.ID {
		return domain.Errorf(domain.ENOTFOUND, "account %s has no location %d", a.CustomerNumber, id)
	}
	var in apiLocationPatch
	if err := bind(c, &in); err != nil {
		return err
	}
	for _, f := range []struct{ dst, v *string }{
		{&l.Code, in.Code}, {&l.Attention, in.Attention}, {&l.Suite, in.Suite}, {&l.Phone, in.Phone},
		{&l.Company, in.Company}, {&l.Street, in.Street}, {&l.City, in.City}, {&l.Province, in.Province},
		{&l.PostalCode, in.PostalCode}, {&l.Country, in.Country},
	} {
		setIf(f.dst, f.v)
	}
	if l, err = s.api.UpdateLocation(c.Request().Context(), l); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPILocation(l))
}

// pathID is the :id parameter of a request, a number (EINVALID otherwise);
// what names the thing in the error.
func pathID(c echo.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, domain.Errorf(domain.EINVALID, "%s id %q is not a number", what, c.Param("id"))
	}
	return id, nil
}

func (s *Server) apiContracts(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	cs, err := s.api.Contracts(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(cs, toAPIContract))
}

func parseDate(field, v string) (time.Time, error) {
	t, err := time.Parse(dateLayout, v)
	if err != nil {
		return time.Time{}, domain.Errorf(domain.EINVALID, "%s %q is not a date YYYY-MM-DD", field, v)
	}
	return t, nil
}

func (s *Server) apiCreateContract(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	var in apiContract
	if err := bind(c, &in); err != nil {
		return err
	}
	k := store.Contract{Number: in.Number, AccountID: a.ID, BillingPeriod: in.BillingPeriod, BillsBlack: in.BillsBlack,
		BillsColour: in.BillsColour, BillsTotal: in.BillsTotal, ExpectedMonthlyVolume: in.ExpectedMonthlyVolume}
	if k.Start, err = parseDate("start", in.Start); err != nil {
		return err
	}
	if in.End != nil {
		end, err := parseDate("end", *in.End)
		if err != nil {
			return err
		}
		k.End = &end
	}
	k, err = s.api.CreateContract(c.Request().Context(), k)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAPIContract(k))
}

func (s *Server) apiDevices(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	ds, err := s.api.AccountDevices(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(ds, toAPIDevice))
}

func (s *Server) apiPutDevice(c echo.Context) error {
	var in apiDevice
	if err := bind(c, &in); err != nil {
		return err
	}
	d, err := s.api.PutDeviceUnderContract(c.Request().Context(), store.ContractedDevice{Serial: in.Serial, Model: in.Model,
		ProductCode: in.ProductCode, ContractID: in.ContractID, LocationID: in.LocationID, ReadContactID: in.ReadContactID,
		Replenishment: in.Replenishment}, actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAPIDevice(d))
}

func (s *Server) apiSetDeviceState(c echo.Context) error {
	id, err := pathID(c, "device")
	if err != nil {
		return err
	}
	var in struct {
		State domain.ContractState `json:"state"`
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	if err := s.api.SetDeviceState(c.Request().Context(), id, in.State, actor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
