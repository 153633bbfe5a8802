package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// TestShipping: the account's locations, the address read-only with how
// to have it changed, attention / suite / phone edited online and
// recorded with the user; only those change, whatever the form holds.
func TestShipping(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			ctx := context.Background()
			a := e.newAccount("one", "H2X 1Y4")
			other := e.newAccount("two", "J3X 0E1")
			second := e.fleet(a, 1, "S-")
			delegate := e.newUser("delegate@example.com", "Delegate")
			e.addRole(delegate, a.ID, domain.RoleDelegate)
			b := e.browser()
			b.login(delegate.Email)
			id := strconv.FormatInt(a.location.ID, 10)

			rec := b.get("/shipping")
			wantPage(t, rec, http.StatusOK, "<h1>Adresse détaillée</h1>", "Adresse d&#39;expédition 1", "Adresse d&#39;expédition 2",
				"<dd>1 Street one</dd>", "<dd>H2X 1Y4</dd>", "<dd>500 rue Principale</dd>", "<dd>G2G 2T9</dd>",
				`action="/shipping/`+id+`"`, `name="attention"`, `name="suite"`, `name="phone"`,
				"ne sont modifiés que par notre service à la clientèle", `<a href="/contact">Contactez-nous</a>`)
			page := rec.Body.String()
			for _, field := range []string{`name="company"`, `name="street"`, `name="city"`, `name="postal_code"`, `name="country"`, `name="province"`} {
				if strings.Contains(page, field) {
					t.Errorf("the address field %s is editable", field)
				}
			}
			if strings.Contains(page, "Company two") || strings.Contains(page, "1 Street two") {
				t.Error("the page shows another account's location")
			}
			wantPage(t, b.get("/shipping?lang=en"), http.StatusOK, "Shipping details", "Shipping address 2", "Suite / mail stop",
				"are changed by our customer service only", `<a href="/contact">Contact us</a>`)

			form := url.Values{"attention": {"  Jean Picard "}, "suite": {"Bureau 101"}, "phone": {"(418) 555-1234"},
				"company": {"Hijack Inc"}, "street": {"1 Fake St"}, "postal_code": {"A1A 1A1"}}
			wantRedirect(t, b.post("/shipping/"+id, form), "/shipping?done=shipping_saved#location-"+id)
			l, err := e.st.AccountLocation(ctx, a.ID, a.location.ID)
			if err != nil {
				t.Fatal(err)
			}
			if l.LocationContact != (store.LocationContact{Attention: "Jean Picard", Suite: "Bureau 101", Phone: "(418) 555-1234"}) || l.LocationAddress != a.location.LocationAddress {
				t.Errorf("after the save the location is %+v", l)
			}
			changes, err := e.st.StateChanges(ctx, store.EntityLocation, a.location.ID)
			if err != nil || len(changes) != 3 || changes[0].ByUserID == nil || *changes[0].ByUserID != delegate.ID {
				t.Errorf("recorded changes = %+v, %v", changes, err)
			}
			wantPage(t, b.get("/shipping?done=shipping_saved"), http.StatusOK, "Les détails de l&#39;expédition sont enregistrés.",
				`value="Jean Picard"`, `value="Bureau 101"`, `value="(418) 555-1234"`)

			// Fields may be emptied.
			wantRedirect(t, b.post("/shipping/"+id, url.Values{"attention": {""}, "suite": {""}, "phone": {""}}), "/shipping?done=shipping_saved#location-"+id)
			if l, _ := e.st.AccountLocation(ctx, a.ID, a.location.ID); l.LocationContact != (store.LocationContact{}) {
				t.Errorf("emptied contact = %+v", l.LocationContact)
			}

			// Too long or on two lines: 400, what was typed shown again on
			// its location, nothing stored.
			for name, f := range map[string]url.Values{
				"attention too long": {"attention": {strings.Repeat("a", 101)}, "phone": {"514"}},
				"phone on two lines": {"phone": {"514\n555"}},
			} {
				rec := b.post("/shipping/"+id, f)
				wantPage(t, rec, http.StatusBadRequest, "Chaque champ tient sur une ligne de 100 caractères au plus.")
				if name == "attention too long" && !strings.Contains(rec.Body.String(), `value="514"`) {
					t.Errorf("%s: the typed phone is not shown again", name)
				}
			}
			if l, _ := e.st.AccountLocation(ctx, a.ID, a.location.ID); l.LocationContact != (store.LocationContact{}) {
				t.Errorf("refused saves stored %+v", l.LocationContact)
			}

			// Another account's location, ids that are none: 404.
			theirs := strconv.FormatInt(other.location.ID, 10)
			for _, p := range []string{theirs, "999999", "x"} {
				wantPage(t, b.post("/shipping/"+p, url.Values{"attention": {"Mallory"}}), http.StatusNotFound)
				wantPage(t, b.post("/shipping/"+p, url.Values{"attention": {strings.Repeat("a", 101)}}), http.StatusNotFound)
			}
			if l, _ := e.st.AccountLocation(ctx, other.ID, other.location.ID); l.Attention != "" {
				t.Errorf("another account's location changed: %+v", l)
			}
			// No CSRF token: refused.
			wantPage(t, b.postRaw("/shipping/"+strconv.FormatInt(second.ID, 10), url.Values{"attention": {"No token"}}), http.StatusForbidden)
			if l, _ := e.st.AccountLocation(ctx, a.ID, second.ID); l.Attention != "" {
				t.Errorf("a post without token changed the location: %+v", l)
			}
		})
	}
}

// TestShippingTile: the dashboard's shipping tile leads to the page, no
// longer to "coming later".
func TestShippingTile(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	b := e.browser()
	b.login(a.primary.Email)
	rec := b.get("/shipping")
	if strings.Contains(rec.Body.String(), "Cette page arrive dans une prochaine version") {
		t.Error("/shipping still says it comes later")
	}
	wantPage(t, b.get("/dashboard"), http.StatusOK, `<h2><a href="/shipping">Adresse détaillée</a></h2>`)
}

// TestAddressLine: a location on one line, empty parts left out.
func TestAddressLine(t *testing.T) {
	l := store.Location{LocationContact: store.LocationContact{Suite: "Bureau 101"},
		LocationAddress: store.LocationAddress{Company: "ABC Co", Street: "500 rue Principale", City: "Québec", Province: "QC", PostalCode: "G2G 2T9"}}
	if got := addressLine(l); got != "ABC Co, 500 rue Principale, Bureau 101, Québec QC G2G 2T9" {
		t.Errorf("addressLine = %q", got)
	}
	if got := addressLine(store.Location{LocationAddress: store.LocationAddress{City: "Varennes"}}); got != "Varennes" {
		t.Errorf("addressLine of a city = %q", got)
	}
}
