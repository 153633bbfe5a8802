package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/wire"
)

// fleet gives an account n more devices under its contract at a second
// shipping location, each with one read an hour before testNow
// (storetest.InsertFleet: colour and mono devices, every fifth mono one
// at -3 "some remaining"), serials prefix + 00001….
func (e *env) fleet(a testAccount, n int, prefix string) store.Location {
	e.t.Helper()
	ctx := context.Background()
	loc, err := e.st.CreateLocation(ctx, store.Location{AccountID: a.ID, LocationAddress: store.LocationAddress{
		Company: a.Name, Street: "500 rue Principale", City: "Québec", Province: "QC", PostalCode: "G2G 2T9", Country: "CA"}})
	if err != nil {
		e.t.Fatal(err)
	}
	driver := schema.DriverSQLite
	if e.st.Dialect() == schema.Postgres {
		driver = schema.DriverPostgres
	}
	if err := storetest.InsertFleet(ctx, sqlx.NewDb(e.st.DB(), driver), storetest.Fleet{AccountID: a.ID, ContractID: a.contract.ID,
		LocationIDs: []int64{loc.ID}, Devices: n, Prefix: prefix, ReadAt: testNow.Add(-time.Hour)}); err != nil {
		e.t.Fatal(err)
	}
	return loc
}

// deviceID is the id of an account's device of a serial.
func (e *env) deviceID(a testAccount, serial string) int64 {
	e.t.Helper()
	d, err := e.st.AccountDeviceBySerial(context.Background(), a.ID, serial)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.ID
}

// requests are an account's requests, newest first.
func (e *env) requests(a testAccount) []store.Request {
	e.t.Helper()
	rs, err := e.st.AccountRequests(context.Background(), a.ID, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// rowOf returns the list's row of a device.
func rowOf(t *testing.T, page string, id int64) string {
	t.Helper()
	r := regexp.MustCompile(`(?s)<tr id="device-` + strconv.FormatInt(id, 10) + `"[^>]*>.*?</tr>`).FindString(page)
	if r == "" {
		t.Fatalf("no row for device %d in:\n%s", id, page)
	}
	return r
}

var deviceRows = regexp.MustCompile(`<tr id="device-\d+"`)

// TestEquipmentList: the account's devices by shipping address, 50 a
// page with links to the others, each with its model, meters, levels (a
// special value in words, never a percentage), last read in the viewer's
// language and whether reads are automatic; pending removal marked "*".
func TestEquipmentList(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			other := e.newAccount("two", "J3X 0E1")
			second := e.fleet(a, 120, "F-")
			colour, some := e.deviceID(a, "F-00001"), e.deviceID(a, "F-00005")
			if _, err := e.st.RequestRemoval(context.Background(), a.ID, a.primary.ID, e.deviceID(a, "F-00003"), ""); err != nil {
				t.Fatal(err)
			}
			b := e.browser()
			b.login(a.primary.Email)

			rec := b.get("/equipment")
			wantPage(t, rec, http.StatusOK, "Mon équipement", "121 appareils · page 1 sur 3",
				"Company one, 1 Street one, Montréal QC H2X 1Y4", "Company one, 500 rue Principale, Québec QC G2G 2T9",
				"en attente de suppression — plus de commande possible", "Les équipements marqués d&#39;un (*) sont en attente de suppression",
				`<a href="/equipment?page=2" rel="next">`, `<a href="/equipment?page=3" aria-label="Page 3">3</a>`,
				`<a href="/equipment?page=1" aria-current="page"`)
			page := rec.Body.String()
			if n := len(deviceRows.FindAllString(page, -1)); n != 50 {
				t.Errorf("page 1 has %d devices, want 50", n)
			}
			if strings.Contains(page, other.device.Serial) || strings.Contains(page, "Company two") {
				t.Error("the list shows another account's device")
			}
			// The account's first device: no read yet, reads by hand.
			r := rowOf(t, page, a.device.ID)
			for _, want := range []string{a.device.Serial, "Model one", "Aucun relevé", "Manuels", `href="/equipment/` + strconv.FormatInt(a.device.ID, 10) + `/remove"`} {
				if !strings.Contains(r, want) {
					t.Errorf("device without read lacks %q:\n%s", want, r)
				}
			}
			// A colour device read by an agent an hour ago.
			r = rowOf(t, page, colour)
			for _, want := range []string{"Xerox VersaLink C405", "Code de produit MX1", `<td class="num">10` + "\u202f" + `000</td>`,
				`<td class="num">4` + "\u202f" + `000</td>`, `<rect class="fill k" width="5"`, "5\u202f%", "Tambour\u00a0: 60\u202f%",
				`<time datetime="2026-03-02T09:00:00Z" title="il y a 1 h">2 mars 2026, 09:00 UTC</time>`, "Automatiques"} {
				if !strings.Contains(r, want) {
					t.Errorf("colour device lacks %q:\n%s", want, r)
				}
			}
			// -3 is "some remaining" in words: no bar, no percentage.
			r = rowOf(t, page, some)
			if !strings.Contains(r, "reste du toner") || strings.Contains(r, "<svg") || strings.Contains(r, "%") {
				t.Errorf("a -3 level must read \"reste du toner\", with no bar nor percentage:\n%s", r)
			}
			// Pending removal: "*", no removal link, "removal asked".
			r = rowOf(t, page, e.deviceID(a, "F-00003"))
			if !strings.Contains(r, `class="pending"`) || !strings.Contains(r, `<span class="pending-mark" title="en attente de suppression — plus de commande possible" aria-hidden="true">*</span>`) ||
				!strings.Contains(r, "Suppression demandée") || strings.Contains(r, "/remove") {
				t.Errorf("pending removal row:\n%s", r)
			}

			rec = b.get("/equipment?page=3&lang=en")
			wantPage(t, rec, http.StatusOK, "My equipment", "121 devices · page 3 of 3", `<a href="/equipment?lang=en&amp;page=2" rel="prev">`,
				"Company one, 500 rue Principale", "F-00120", "Devices marked (*) are pending removal")
			if n := len(deviceRows.FindAllString(rec.Body.String(), -1)); n != 21 {
				t.Errorf("page 3 has %d devices, want 21", n)
			}
			if r := rowOf(t, b.get("/equipment?page=1&lang=en").Body.String(), colour); !strings.Contains(r, "Mar 2, 2026, 09:00 UTC") || !strings.Contains(r, "Automatic") {
				t.Errorf("English last read and reads:\n%s", r)
			}
			wantPage(t, b.get("/equipment?page=4"), http.StatusNotFound)
			for _, bad := range []string{"0", "-1", "x", "1.5"} { // not a page number: the first page
				wantPage(t, b.get("/equipment?page="+bad), http.StatusOK, "121 appareils · page 1 sur 3")
			}
			_ = second
		})
	}
}

// TestEquipmentPager: the page links of a long list keep the first and
// last pages and the two around the current one, with gaps between.
func TestEquipmentPager(t *testing.T) {
	u, _ := url.Parse("/equipment?lang=fr")
	pg := newPager(u, 6, 10)
	var got []string
	for _, l := range pg.Links {
		s := strconv.Itoa(l.N)
		if l.Gap {
			s = "…" + s
		}
		if l.Current {
			s += "*"
		}
		got = append(got, s)
	}
	if strings.Join(got, " ") != "1 …4 5 6* 7 8 …10" || pg.Prev != "/equipment?lang=fr&page=5" || pg.Next != "/equipment?lang=fr&page=7" {
		t.Errorf("pager = %v prev %q next %q", got, pg.Prev, pg.Next)
	}
	if one := newPager(u, 1, 2); one.Prev != "" || one.Next == "" || len(one.Links) != 2 || one.Links[1].Gap {
		t.Errorf("pager of 2 = %+v", one)
	}
}

// TestEquipmentEmpty: an account without equipment says so and still
// offers to add a device.
func TestEquipmentEmpty(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	if err := e.st.SetDeviceState(context.Background(), a.device.ID, domain.ContractRemoved, store.BySystem("test")); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login(a.primary.Email)
	rec := b.get("/equipment")
	wantPage(t, rec, http.StatusOK, "0 appareil", "Aucun équipement sur ce compte pour l&#39;instant", `action="/equipment/add"`, "Aucune demande pour l&#39;instant.")
	if strings.Contains(rec.Body.String(), a.device.Serial) || strings.Contains(rec.Body.String(), "<table class=\"devices") {
		t.Error("a removed device is still listed")
	}
	wantPage(t, b.get("/equipment?page=2"), http.StatusNotFound)
}

// TestAddDevice: a device of the account says so; another account's
// serial with its postal code becomes a link request announced like any
// other; a mismatch is seed 000's error with a one-click link request,
// the same whether the serial exists or not; empty and oversized fields
// and posts without the CSRF token are refused and store nothing.
func TestAddDevice(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			other := e.newAccount("two", "J3X 0E1")
			b := e.browser()
			b.login(a.primary.Email)

			wantRedirect(t, b.post("/equipment/add", url.Values{"serial": {" snone "}, "postal_code": {"h2x1y4"}}), "/equipment?done=equipment_on_account")
			wantPage(t, b.get("/equipment?done=equipment_on_account"), http.StatusOK, "Cet appareil est déjà sur votre compte")
			if rs := e.requests(a); len(rs) != 0 {
				t.Errorf("adding a device of the account made requests: %+v", rs)
			}

			// A mismatch: the wrong postal code of an existing serial and
			// a serial that does not exist read the same.
			wrong := b.post("/equipment/add", url.Values{"serial": {other.device.Serial}, "postal_code": {"H2X 1Y4"}})
			wantPage(t, wrong, http.StatusBadRequest, "Enregistrement des fournitures au compteur : erreur", "Vérifiez si le numéro de série entré est correct.",
				"doit correspondre exactement au code postal inscrit dans nos dossiers", `action="/equipment/link"`,
				`<input type="hidden" name="serial" value="`+other.device.Serial+`">`, "Demander l&#39;association de ce numéro de série")
			unknown := b.post("/equipment/add", url.Values{"serial": {"NOPE12345"}, "postal_code": {"H2X 1Y4"}})
			wantPage(t, unknown, http.StatusBadRequest, "Vérifiez si le numéro de série entré est correct.")
			if w, u := strings.ReplaceAll(wrong.Body.String(), other.device.Serial, "S"), strings.ReplaceAll(unknown.Body.String(), "NOPE12345", "S"); w != u {
				t.Errorf("a wrong postal code and an unknown serial do not read the same:\n%s\n----\n%s", w, u)
			}
			if strings.Contains(wrong.Body.String(), "Company two") || strings.Contains(wrong.Body.String(), "J3X 0E1") {
				t.Error("the mismatch shows the other account's data")
			}
			// Another account's serial and postal code: a link request,
			// announced as any; nothing of the other account shows.
			rec := b.post("/equipment/add", url.Values{"serial": {other.device.Serial}, "postal_code": {"J3X 0E1"}})
			wantRedirect(t, rec, "/equipment?done=equipment_link_requested")
			page := b.get("/equipment?done=equipment_link_requested").Body.String()
			for _, want := range []string{"Votre demande est envoyée", "Association d&#39;un numéro de série", other.device.Serial, "En traitement"} {
				if !strings.Contains(page, want) {
					t.Errorf("after a link request the page lacks %q", want)
				}
			}
			for _, leak := range []string{"Company two", "CN-two", other.primary.Email, "1 Street two"} {
				if strings.Contains(page, leak) {
					t.Errorf("the page shows the other account's %q", leak)
				}
			}
			if rs := e.requests(a); len(rs) != 1 || rs[0].Kind != store.RequestSerialLink || rs[0].Serial != other.device.Serial || rs[0].PostalCode != "J3X0E1" {
				t.Fatalf("requests = %+v", rs)
			}

			// The one-click link request.
			wantRedirect(t, b.post("/equipment/link", url.Values{"serial": {"NOPE12345"}, "postal_code": {"H2X 1Y4"}}), "/equipment?done=equipment_link_requested")
			if rs := e.requests(a); len(rs) != 2 || rs[0].Serial != "NOPE12345" || rs[0].PostalCode != "H2X1Y4" || rs[0].UserID == nil || *rs[0].UserID != a.primary.ID {
				t.Fatalf("after the one-click link, requests = %+v", rs)
			}
			for name, form := range map[string]url.Values{
				"no serial":         {"serial": {"  "}, "postal_code": {"H2X 1Y4"}},
				"no postal code":    {"serial": {"SNONE"}},
				"serial too long":   {"serial": {strings.Repeat("S", 101)}, "postal_code": {"H2X 1Y4"}},
				"postal too long":   {"serial": {"SNONE"}, "postal_code": {strings.Repeat("H", 21)}},
				"control in serial": {"serial": {"SN\x07ONE"}, "postal_code": {"H2X 1Y4"}},
			} {
				for _, path := range []string{"/equipment/add", "/equipment/link"} {
					rec := b.post(path, form)
					want := "Le numéro de série ou le code postal est trop long"
					if strings.HasPrefix(name, "no ") {
						want = "Entrez le numéro de série et le code postal."
					}
					if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
						t.Errorf("%s to %s = %d, want 400 and %q", name, path, rec.Code, want)
					}
				}
			}
			// A form without the CSRF token is refused before anything.
			for _, path := range []string{"/equipment/add", "/equipment/link"} {
				wantPage(t, b.postRaw(path, url.Values{"serial": {"CSRF1"}, "postal_code": {"H2X 1Y4"}}), http.StatusForbidden, "Ce formulaire a expiré")
			}
			if rs := e.requests(a); len(rs) != 2 {
				t.Errorf("refused forms made requests: %+v", rs)
			}
			if rs := e.requests(other); len(rs) != 0 {
				t.Errorf("the other account got requests: %+v", rs)
			}
			en := b.post("/equipment/add?lang=en", url.Values{"serial": {"NOPE999"}, "postal_code": {"H2X 1Y4"}})
			wantPage(t, en, http.StatusBadRequest, "Check that the serial number entered is correct.", "must match exactly the postal code on file",
				"ask us to link serial number NOPE999 to your account", "Ask to link this serial number")
		})
	}
}

// TestRemovalRequest: asking to remove a device of the account marks it
// pending removal at once; asking again is refused; another account's
// device, a removed one and ids that are none are 404 and change nothing;
// an oversized reason is refused with the form.
func TestRemovalRequest(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			ctx := context.Background()
			a := e.newAccount("one", "H2X 1Y4")
			other := e.newAccount("two", "J3X 0E1")
			delegate := e.newUser("delegate@example.com", "Delegate")
			e.addRole(delegate, a.ID, domain.RoleDelegate)
			b := e.browser()
			b.login(delegate.Email)
			path := "/equipment/" + strconv.FormatInt(a.device.ID, 10) + "/remove"

			wantPage(t, b.get(path), http.StatusOK, "Demander la suppression d&#39;un équipement", a.device.Serial, "Model one",
				"Company one, 1 Street one, Montréal QC H2X 1Y4", `action="`+path+`"`, `name="reason"`)
			wantPage(t, b.post(path, url.Values{"reason": {strings.Repeat("r", 2001)}}), http.StatusBadRequest, "Le motif est trop long")
			wantPage(t, b.post(path, url.Values{"reason": {"a\x00b"}}), http.StatusBadRequest, "Le motif est trop long")
			wantPage(t, b.postRaw(path, url.Values{"reason": {"no token"}}), http.StatusForbidden)
			if d, _ := e.st.AccountEquipmentDevice(ctx, a.ID, a.device.ID); d.State != domain.ContractActive {
				t.Fatalf("refused removals changed the device: %s", d.State)
			}

			wantRedirect(t, b.post(path, url.Values{"reason": {"  Sold to another company  "}}), "/equipment?done=equipment_removal_requested")
			page := b.get("/equipment?done=equipment_removal_requested").Body.String()
			r := rowOf(t, page, a.device.ID)
			if !strings.Contains(r, "pending-mark") || !strings.Contains(r, "Suppression demandée") || !strings.Contains(page, "Suppression demandée : l&#39;équipement est marqué (*)") {
				t.Errorf("after the request the device is not shown pending removal:\n%s", r)
			}
			rs := e.requests(a)
			if len(rs) != 1 || rs[0].Kind != store.RequestRemoval || rs[0].Body != "Sold to another company" || *rs[0].UserID != delegate.ID {
				t.Fatalf("requests = %+v", rs)
			}
			if !strings.Contains(page, "<td>Suppression</td>") || !strings.Contains(page, "En traitement") {
				t.Error("the request is not listed as open")
			}
			wantPage(t, b.get(path), http.StatusOK, "La suppression de cet équipement est déjà demandée")
			if strings.Contains(b.get(path).Body.String(), `name="reason"`) {
				t.Error("a pending device still offers the removal form")
			}
			wantPage(t, b.post(path, url.Values{"reason": {"again"}}), http.StatusConflict, "La suppression de cet équipement est déjà demandée")

			// Another account's device, ids that are none: 404, nothing changes.
			theirs := "/equipment/" + strconv.FormatInt(other.device.ID, 10) + "/remove"
			for _, p := range []string{theirs, "/equipment/999999/remove", "/equipment/x/remove"} {
				wantPage(t, b.get(p), http.StatusNotFound)
				wantPage(t, b.post(p, url.Values{"reason": {"mine now"}}), http.StatusNotFound)
				wantPage(t, b.post(p, url.Values{"reason": {strings.Repeat("r", 2001)}}), http.StatusNotFound)
			}
			if d, _ := e.st.AccountEquipmentDevice(ctx, other.ID, other.device.ID); d.State != domain.ContractActive || len(e.requests(other)) != 0 {
				t.Errorf("another account's device changed: %s, %d requests", d.State, len(e.requests(other)))
			}

			// The back office removes it: gone from the list, 404, the
			// request done with its answer.
			if _, err := e.st.ResolveRequest(ctx, rs[0].ID, store.OutcomeDone, "Removed from the contract", store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			wantPage(t, b.get(path), http.StatusNotFound)
			wantPage(t, b.post(path, url.Values{"reason": {"x"}}), http.StatusNotFound)
			page = b.get("/equipment?lang=en").Body.String()
			if strings.Contains(page, `id="device-`+strconv.FormatInt(a.device.ID, 10)+`"`) {
				t.Error("a removed device is still listed")
			}
			for _, want := range []string{"<td>Removal</td>", `<span class="badge ok">Done</span>`, "Answer: Removed from the contract"} {
				if !strings.Contains(page, want) {
					t.Errorf("the resolved request lacks %q", want)
				}
			}
		})
	}
}

// TestGroupingRequest: two devices or more of the account are grouped on
// request; fewer, another account's device, ids that are not numbers, an
// oversized note and a post without the CSRF token are refused and store
// nothing.
func TestGroupingRequest(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			other := e.newAccount("two", "J3X 0E1")
			e.fleet(a, 3, "G-")
			g1, g2 := e.deviceID(a, "G-00001"), e.deviceID(a, "G-00002")
			id := func(n int64) string { return strconv.FormatInt(n, 10) }
			b := e.browser()
			b.login(a.primary.Email)
			page := b.get("/equipment").Body.String()
			if !strings.Contains(page, `<input type="checkbox" id="select-`+id(g1)+`" name="device" value="`+id(g1)+`">`) ||
				!strings.Contains(page, `<label for="select-`+id(g1)+`" class="sr-only">Choisir G-00001 pour le regrouper</label>`) {
				t.Errorf("no labelled checkbox for G-00001:\n%s", rowOf(t, page, g1))
			}

			for name, form := range map[string]url.Values{
				"none":           {"note": {"x"}},
				"one":            {"device": {id(g1)}},
				"the same twice": {"device": {id(g1), id(g1)}},
			} {
				rec := b.post("/equipment/group", form)
				wantPage(t, rec, http.StatusBadRequest, "Cochez au moins deux équipements à regrouper.")
				if name == "one" && !strings.Contains(rec.Body.String(), `value="`+id(g1)+`" checked>`) {
					t.Error("the ticked device is not ticked again")
				}
			}
			wantPage(t, b.post("/equipment/group", url.Values{"device": {id(g1), "x"}}), http.StatusBadRequest)
			rec := b.post("/equipment/group", url.Values{"device": {id(g1), id(g2)}, "note": {strings.Repeat("n", 2001)}})
			wantPage(t, rec, http.StatusBadRequest, "La remarque est trop longue", `value="`+id(g2)+`" checked>`)
			wantPage(t, b.post("/equipment/group", url.Values{"device": {id(g1), id(other.device.ID)}}), http.StatusNotFound)
			wantPage(t, b.postRaw("/equipment/group", url.Values{"device": {id(g1), id(g2)}}), http.StatusForbidden)
			if rs := e.requests(a); len(rs) != 0 {
				t.Fatalf("refused groupings made requests: %+v", rs)
			}

			wantRedirect(t, b.post("/equipment/group", url.Values{"device": {id(g2), id(g1), id(a.device.ID)}, "note": {"Same room"}}),
				"/equipment?done=equipment_grouping_requested")
			rs := e.requests(a)
			if len(rs) != 1 || rs[0].Kind != store.RequestGrouping || len(rs[0].Devices) != 3 || rs[0].Body != "Same room" {
				t.Fatalf("requests = %+v", rs)
			}
			page = b.get("/equipment?done=equipment_grouping_requested").Body.String()
			for _, want := range []string{"Votre demande de regroupement est envoyée", "<td>Regroupement</td>", "G-00001", "En traitement"} {
				if !strings.Contains(page, want) {
					t.Errorf("after grouping the page lacks %q", want)
				}
			}
			if len(e.requests(other)) != 0 {
				t.Error("the other account got a request")
			}
		})
	}
}

// TestEquipmentStoreFailure: a store failure is a 500 page that tells
// nothing of the error.
func TestEquipmentStoreFailure(t *testing.T) {
	s := newTestServer(t, &fakeStore{err: domain.Errorf(domain.EINTERNAL, "secret table detail")})
	rec := request(t, s, http.MethodGet, "/equipment")
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret table") {
		t.Errorf("GET /equipment on a failing store = %d:\n%s", rec.Code, rec.Body)
	}
}

// TestEquipmentRowsEscape: the rows written in Go escape every value as
// the templates do, in text and in attributes.
func TestEquipmentRowsEscape(t *testing.T) {
	p := i18n.For(i18n.EN)
	at := testNow.Add(-time.Hour)
	e := store.Equipment{DeviceID: 7, Serial: `<script>alert("s")</script>`, Model: `M"odel' <b>`, ProductCode: "&P",
		PendingRemoval: true, LastReadAt: &at, Total: p64(12), Supplies: []wire.Supply{
			{Index: 1, Kind: domain.SupplyToner, Colour: "black", Description: `Toner "<x>"`, State: domain.LevelMeasured, Percent: pint(40)},
			{Index: 2, Kind: domain.SupplyOther, Description: `<img src=x>`, State: domain.LevelUnknown},
		}}
	g := []equipmentGroup{{Address: `<Company> & "Sons"`, Devices: []equipmentRow{newEquipmentRow(e, p, testNow, time.UTC)}}}
	var b strings.Builder
	for _, piece := range equipmentGroupsHTML(g, newRowLabels(p)) {
		b.WriteString(string(piece))
	}
	out := b.String()
	for _, bad := range []string{"<script>", "<b>", "<img", `"s"`, `"<x>"`, "<Company>", `& "Sons"`} {
		if strings.Contains(out, bad) {
			t.Errorf("the rows hold %q unescaped:\n%s", bad, out)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;s&#34;)&lt;/script&gt;", "M&#34;odel&#39; &lt;b&gt;", "&amp;P", "&lt;Company&gt; &amp; &#34;Sons&#34;",
		`title="Toner &#34;&lt;x&gt;&#34;"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the rows lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "/equipment/7/remove") {
		t.Error("a device pending removal offers the removal link")
	}
}
