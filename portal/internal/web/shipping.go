package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// Shipping details (seed 000, "Détails de l'adresse"): the current
// account's shipping locations. Only the attention name, the suite / mail
// stop and the phone are edited online; the company, street, city,
// province, postal code and country are shown read-only, with how to have
// them changed (the back office, through the contact page).

// shippingView is the data of the shipping page.
type shippingView struct {
	Locations []shippingLocation
}

// shippingLocation is one location: its address, read-only, and its
// contact as stored or as typed, with the form's problem (catalogue key).
type shippingLocation struct {
	ID int64
	N  int
	store.LocationAddress
	store.LocationContact
	Error string
}

// shippingView reads the account's locations; failed, when set, replaces
// the stored contact of its location with what was typed and its problem.
func (s *Server) shippingView(c echo.Context, failed *shippingLocation) (shippingView, error) {
	locations, err := s.store.Locations(c.Request().Context(), currentAccount(c).AccountID)
	if err != nil {
		return shippingView{}, err
	}
	var v shippingView
	for i, l := range locations {
		sl := shippingLocation{ID: l.ID, N: i + 1, LocationAddress: l.LocationAddress, LocationContact: l.LocationContact}
		if failed != nil && failed.ID == l.ID {
			sl.LocationContact, sl.Error = failed.LocationContact, failed.Error
		}
		v.Locations = append(v.Locations, sl)
	}
	return v, nil
}

// shipping shows the account's shipping locations.
func (s *Server) shipping(c echo.Context) error {
	v, err := s.shippingView(c, nil)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "shipping", v)
}

// saveShipping changes the contact of a location of the account (attention
// name, suite / mail stop, phone), recorded with the user; a location of
// another account is 404, a field too long or on several lines 400.
func (s *Server) saveShipping(c echo.Context) error {
	ctx := c.Request().Context()
	account := currentAccount(c).AccountID
	id, err := pageParamID(c, "location")
	if err != nil {
		return err
	}
	if _, err := s.store.AccountLocation(ctx, account, id); err != nil {
		return err
	}
	contact := store.LocationContact{
		Attention: strings.TrimSpace(c.FormValue("attention")),
		Suite:     strings.TrimSpace(c.FormValue("suite")),
		Phone:     strings.TrimSpace(c.FormValue("phone")),
	}
	err = s.store.UpdateLocationContact(ctx, account, id, contact, store.ByUser(mustVisitor(c).user.ID))
	if domain.ErrorCode(err) == domain.EINVALID {
		v, err := s.shippingView(c, &shippingLocation{ID: id, LocationContact: contact, Error: "shipping.error.invalid"})
		if err != nil {
			return err
		}
		return s.render(c, http.StatusBadRequest, "shipping", v)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/shipping?done=shipping_saved#location-"+strconv.FormatInt(id, 10))
}

// addressLine is a shipping location on one line, as lists show it:
// company, street, suite, then city, province and postal code.
func addressLine(l store.Location) string {
	var parts []string
	for _, p := range []string{l.Company, l.Street, l.Suite, strings.Join(strings.Fields(l.City+" "+l.Province+" "+l.PostalCode), " ")} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}
