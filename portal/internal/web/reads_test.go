package web

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

// The last invoiced read of the test campaigns (seed 003's numbers).
const (
	lastBlack  = 39684
	lastColour = 89675
)

// readCampaign is a device's open campaign for the fourth quarter of 2025
// and its third quarter's invoiced read, written as the billing jobs
// would: what the meter-read page works on.
type readCampaign struct {
	id, lastReadID int64
}

// openCampaign bills colour on a's contract and opens the campaign of a's
// device. The campaign's e-mails come from the billing jobs; the browser
// test enqueues its own (see inviteToReads there).
func (e *env) openCampaign(a testAccount) readCampaign {
	e.t.Helper()
	ctx, db, d := context.Background(), e.st.DB(), e.st.Dialect()
	if _, err := db.ExecContext(ctx, schema.Rebind(d, `UPDATE contracts SET bills_colour = ? WHERE id = ?`), true, a.contract.ID); err != nil {
		e.t.Fatal(err)
	}
	var c readCampaign
	var err error
	c.lastReadID, err = storetest.InsertBillingRead(ctx, db, d, storetest.BillingRead{DeviceID: a.device.ID, ContractID: a.contract.ID,
		PeriodStart: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2025, 9, 30, 0, 0, 0, 0, time.UTC),
		Source: "manual", UserID: &a.primary.ID, ReadAt: time.Date(2025, 10, 2, 9, 0, 0, 0, time.UTC), Black: p64(lastBlack), Colour: p64(lastColour)})
	if err != nil {
		e.t.Fatal(err)
	}
	c.id, err = storetest.InsertCampaign(ctx, db, d, storetest.Campaign{DeviceID: a.device.ID, ContractID: a.contract.ID,
		PeriodStart: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC),
		ContactUserID: &a.primary.ID, Reminders: 2, CreatedAt: time.Date(2026, 1, 2, 6, 0, 0, 0, time.UTC)})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// readRow is a device's billing read for the campaign's period.
type storedRead struct {
	Source string  `db:"source"`
	Black  int64   `db:"black"`
	Colour int64   `db:"colour"`
	Flags  string  `db:"flags"`
	Review string  `db:"review"`
	Photo  *string `db:"photo_path"`
}

// currentRead is the device's current read of the campaign's period, nil
// when none.
func (e *env) currentRead(deviceID int64) *storedRead {
	e.t.Helper()
	var r storedRead
	err := e.st.DB().QueryRowContext(context.Background(), schema.Rebind(e.st.Dialect(), `SELECT source, black, colour, flags, review, photo_path
FROM billing_reads WHERE device_id = ? AND superseded_at IS NULL AND period_end > ?`), deviceID, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)).
		Scan(&r.Source, &r.Black, &r.Colour, &r.Flags, &r.Review, &r.Photo)
	if err != nil {
		return nil
	}
	return &r
}

// photoFiles counts the files of the photo folder.
func (e *env) photoFiles() int {
	e.t.Helper()
	entries, err := os.ReadDir(e.photos.Dir())
	if err != nil {
		e.t.Fatal(err)
	}
	return len(entries)
}

// upload is a file of a multipart form.
type uploadFile struct {
	name, contentType string
	data              []byte
}

// postMultipart submits a multipart form with a file, carrying the CSRF
// token unless the form says csrf="".
func (b *browser) postMultipart(target string, form url.Values, file *uploadFile) *httptest.ResponseRecorder {
	b.e.t.Helper()
	if b.cookies["ml_csrf"] == nil {
		b.get("/login")
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if _, set := form[csrfField]; !set {
		if c := b.cookies["ml_csrf"]; c != nil {
			_ = mw.WriteField(csrfField, c.Value)
		}
	}
	for k, vs := range form {
		for _, v := range vs {
			if v != "" {
				_ = mw.WriteField(k, v)
			}
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="photo"; filename="`+file.name+`"`)
		h.Set("Content-Type", file.contentType)
		w, _ := mw.CreatePart(h)
		_, _ = w.Write(file.data)
	}
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, target, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// counterPhoto is a small PNG: a photo of the counters, as far as the
// portal can tell.
func counterPhoto(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 16))
	for x := range 32 {
		img.Set(x, 8, color.RGBA{G: 180, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readForm(black, colour string) url.Values {
	return url.Values{"black": {black}, "colour": {colour}}
}

// TestReadsPage: the e-mailed link to /reads goes through sign-in and back;
// the page lists the device with seed 003's columns, in both languages.
func TestReadsPage(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			e.openCampaign(a)
			other := e.newAccount("two", "J3X 0E1")

			b := e.browser()
			wantRedirect(t, b.get("/reads"), "/login?next=%2Freads")
			wantPage(t, b.get("/login?next=%2Freads"), http.StatusOK, `name="next" value="/reads"`)
			wantRedirect(t, b.post("/login", url.Values{"email": {a.primary.Email}, "password": {testPassword}, "next": {"/reads"}}), "/reads")

			fr := i18n.For(i18n.FR)
			wantPage(t, b.get("/reads"), http.StatusOK, "Relevé compteurs de votre (vos) équipement(s)", "1 enregistrement trouvé",
				"À renseigner", "Model one", a.device.Serial, a.location.Street, "02/10/2025", fr.Number(lastBlack), fr.Number(lastColour),
				`href="/reads/`+id64(a.device.ID)+`"`, "Renseigner les compteurs", "48 h après la 3ᵉ relance", `href="/reads/automate"`)
			en := i18n.For(i18n.EN)
			wantPage(t, b.get("/reads?lang=en"), http.StatusOK, "Meter reads of your equipment", "1 record found", "To enter",
				"Oct 2, 2025", en.Number(lastBlack), en.Number(lastColour), "Enter the meters")
			wantPage(t, b.get("/dashboard"), http.StatusOK, `href="/reads"`, "Relevés de compteurs")

			// Another account has no campaign: nothing to enter, and
			// nothing of the first account.
			ob := e.browser()
			ob.login(other.primary.Email)
			rec := ob.get("/reads")
			wantPage(t, rec, http.StatusOK, "Aucun relevé à renseigner")
			if strings.Contains(rec.Body.String(), a.device.Serial) {
				t.Error("another account sees the device")
			}
		})
	}
}

// TestReadEntry walks every rule of a read typed in, on both databases.
func TestReadEntry(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			c := e.openCampaign(a)
			other := e.newAccount("two", "J3X 0E1")
			e.openCampaign(other)
			b := e.browser()
			b.login(a.primary.Email)
			path := "/reads/" + id64(a.device.ID)

			wantPage(t, b.get(path), http.StatusOK, `enctype="multipart/form-data"`, `name="black"`, `value="39684"`, `name="colour"`, `value="89675"`,
				"Valeur au dernier relevé : "+i18n.For(i18n.FR).Number(lastBlack)+" (02/10/2025)", "48 heures après la 3ᵉ relance", "2 relances envoyées à ce jour",
				"facture est émise sur une estimation", `type="file"`, `name="photo"`, "64 Ko au plus", `name="csrf"`)
			wantPage(t, b.get(path+"?lang=en"), http.StatusOK, "Value at the last read: 39,684 (Oct 2, 2025)", "48 hours after the 3rd e-mail reminder")

			// Another account's device, a device without a campaign, an id
			// that does not exist: 404, read or written.
			for _, id := range []string{id64(other.device.ID), "999999", "x"} {
				wantPage(t, b.get("/reads/"+id), http.StatusNotFound)
				wantPage(t, b.postMultipart("/reads/"+id, readForm("50000", "95000"), nil), http.StatusNotFound)
			}
			if e.currentRead(other.device.ID) != nil {
				t.Fatal("a read was recorded for another account's device")
			}

			// CSRF missing: refused, nothing recorded.
			f := readForm("40000", "90000")
			f.Set(csrfField, "")
			wantPage(t, b.postMultipart(path, f, nil), http.StatusForbidden)

			// Lower than the last read without a photo: refused, in words.
			wantPage(t, b.postMultipart(path, readForm("39000", "90000"), nil), http.StatusBadRequest,
				"Un compteur est inférieur au dernier relevé : joignez une photo", `value="39000"`, "obligatoire : un compteur est inférieur")
			// A text file renamed .jpg and sent as a JPEG: refused by its
			// content, nothing kept.
			text := &uploadFile{"compteurs.jpg", "image/jpeg", []byte("noir 39000 couleur 90000\n")}
			wantPage(t, b.postMultipart(path, readForm("39000", "90000"), text), http.StatusBadRequest, "n&#39;est pas une image JPEG, PNG, WebP ou HEIC")
			// A photo over the limit.
			big := &uploadFile{"compteurs.png", "image/png", append(counterPhoto(t), make([]byte, testPhotoMax)...)}
			wantPage(t, b.postMultipart(path, readForm("39000", "90000"), big), http.StatusRequestEntityTooLarge, "La photo dépasse 64 Ko")
			// A form far over any limit is refused before it is read, so
			// before the session is: in the browser's language (English,
			// since the ?lang=en above).
			huge := &uploadFile{"compteurs.png", "image/png", make([]byte, maxFormBytes+2*testPhotoMax)}
			wantPage(t, b.postMultipart(path, readForm("39000", "90000"), huge), http.StatusRequestEntityTooLarge, "The form sent is too large")
			// Out of bounds, not a number.
			wantPage(t, b.postMultipart(path, readForm("-5", "90000"), nil), http.StatusBadRequest, "ne peut pas être négatif")
			wantPage(t, b.postMultipart(path, readForm("40000", "1000000000"), nil), http.StatusBadRequest, "Un compteur ne dépasse pas")
			wantPage(t, b.postMultipart(path, readForm("40000", "9e4"), nil), http.StatusBadRequest, "Compteur couleur : entrez un nombre entier")
			wantPage(t, b.postMultipart(path, readForm("40000", ""), nil), http.StatusBadRequest, "Compteur couleur : ce compteur est obligatoire")
			if r := e.currentRead(a.device.ID); r != nil || e.photoFiles() != 0 {
				t.Fatalf("refused forms left a read %+v or %d photo files", r, e.photoFiles())
			}

			// A usual read: saved, the campaign read.
			wantRedirect(t, b.postMultipart(path, readForm("41 000", "90100"), nil), "/reads?done=read_saved")
			if r := e.currentRead(a.device.ID); r == nil || r.Source != "manual" || r.Black != 41000 || r.Colour != 90100 || r.Review != "none" {
				t.Errorf("read = %+v", r)
			}
			wantPage(t, b.get("/reads?done=read_saved"), http.StatusOK, "Votre relevé est enregistré", "Renseigné", "Corriger")
			wantPage(t, b.get(path), http.StatusOK, "Vous avez renseigné ce relevé le", `value="41000"`)

			// Corrected lower, with a photo: accepted, flagged, reviewed.
			photo := &uploadFile{"IMG_0042.PNG", "application/octet-stream", counterPhoto(t)}
			wantRedirect(t, b.postMultipart(path, readForm("39000", "90100"), photo), "/reads?done=read_review")
			r := e.currentRead(a.device.ID)
			if r == nil || r.Black != 39000 || r.Flags != "lower_than_previous photo" || r.Review != "pending" || r.Photo == nil || !strings.HasSuffix(*r.Photo, ".png") {
				t.Fatalf("lower read = %+v", r)
			}
			if e.photoFiles() != 1 {
				t.Errorf("%d photo files, want 1", e.photoFiles())
			}
			if stored, err := os.ReadFile(e.photos.Dir() + "/" + *r.Photo); err != nil || !bytes.Equal(stored, photo.data) {
				t.Errorf("stored photo: %d bytes, %v", len(stored), err)
			}
			wantPage(t, b.get("/reads"), http.StatusOK, "En vérification")

			// The campaign closes: the read is refused with the reason.
			if err := storetest.CloseCampaign(context.Background(), e.st.DB(), e.st.Dialect(), c.id, testNow.Add(30*time.Minute)); err != nil {
				t.Fatal(err)
			}
			wantPage(t, b.get(path), http.StatusOK, "À renseigner avant le 2 mars 2026, 10:30 UTC")
			e.clock.Advance(31 * time.Minute)
			wantPage(t, b.get(path), http.StatusOK, "votre relevé du", "ne peut plus être modifié")
			wantPage(t, b.postMultipart(path, readForm("42000", "91000"), nil), http.StatusConflict, "La campagne de relevé de cette période est clôturée")
			if r := e.currentRead(a.device.ID); r == nil || r.Black != 39000 {
				t.Errorf("after the close the read changed: %+v", r)
			}
		})
	}
}

// TestReadRefusedAfterClose: a campaign that closed without a read refuses
// it, saying the invoice is estimated and regularised next period.
func TestReadRefusedAfterClose(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	c := e.openCampaign(a)
	if err := storetest.CloseCampaign(context.Background(), e.st.DB(), e.st.Dialect(), c.id, testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.login(a.primary.Email)
	path := "/reads/" + id64(a.device.ID)
	wantPage(t, b.get("/reads"), http.StatusOK, "Clôturé : facture estimée", "Voir")
	wantPage(t, b.get(path), http.StatusOK, "Votre facture est émise sur une estimation ; vous régulariserez avec le relevé de la période suivante")
	if strings.Contains(b.get(path).Body.String(), `name="black"`) {
		t.Error("the closed campaign still shows the form")
	}
	wantPage(t, b.postMultipart(path, readForm("42000", "91000"), nil), http.StatusConflict, "clôturée")
	wantPage(t, b.postMultipart(path+"?lang=en", readForm("42000", "91000"), nil), http.StatusConflict, "This period&#39;s meter-read campaign is closed")
	if r := e.currentRead(a.device.ID); r != nil {
		t.Errorf("a read was recorded after the close: %+v", r)
	}
}

// TestReadAutomation: seed 003's request to automate the reads.
func TestReadAutomation(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnvAt(t, be.url(t))
			a := e.newAccount("one", "H2X 1Y4")
			e.openCampaign(a)
			other := e.newAccount("two", "J3X 0E1")
			e.openCampaign(other)
			b := e.browser()
			b.login(a.primary.Email)
			wantPage(t, b.get("/reads/automate"), http.StatusOK, "Automatiser le relevé de vos compteurs", a.CustomerNumber, a.device.Serial,
				`value="`+a.location.Street+`"`, `value="H2X 1Y4"`, `value="Primary"`, `value="one"`, a.primary.Email, `type="date"`)

			form := url.Values{"device": {id64(a.device.ID)}, "street": {"1 Street one"}, "postal_code": {"H2X 1Y4"}, "city": {"Montréal"},
				"first_name": {"Alexandra"}, "last_name": {"Martin"}, "phone": {"514 555 0101"}, "date": {"2026-03-10"}}
			for _, tc := range []struct {
				name  string
				edit  func(url.Values)
				code  int
				words string
			}{
				{"no street", func(f url.Values) { f.Set("street", " ") }, http.StatusBadRequest, "Adresse : ce champ est obligatoire"},
				{"no last name", func(f url.Values) { f.Del("last_name") }, http.StatusBadRequest, "Nom : ce champ est obligatoire"},
				{"a date past", func(f url.Values) { f.Set("date", "2026-03-01") }, http.StatusBadRequest, "entre aujourd&#39;hui et dans un an"},
				{"not a date", func(f url.Values) { f.Set("date", "demain") }, http.StatusBadRequest, "entre aujourd&#39;hui et dans un an"},
				{"another account's device", func(f url.Values) { f.Set("device", id64(other.device.ID)) }, http.StatusNotFound, ""},
			} {
				f := url.Values{}
				for k, v := range form {
					f[k] = append([]string(nil), v...)
				}
				tc.edit(f)
				rec := b.post("/reads/automate", f)
				if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.words) {
					t.Errorf("%s: %d, want %d with %q\n%s", tc.name, rec.Code, tc.code, tc.words, rec.Body)
				}
			}
			wantRedirect(t, b.post("/reads/automate", form), "/reads?done=automation_asked")
			wantPage(t, b.get("/reads?done=automation_asked"), http.StatusOK, "un technicien vous appellera", "Automatisation demandée")
			wantPage(t, b.post("/reads/automate", form), http.StatusBadRequest)
			var address, contact string
			err := e.st.DB().QueryRowContext(context.Background(), schema.Rebind(e.st.Dialect(),
				`SELECT address, contact_name FROM read_automation_requests WHERE device_id = ? AND account_id = ?`), a.device.ID, a.ID).Scan(&address, &contact)
			if err != nil || address != "1 Street one, H2X 1Y4 Montréal" || contact != "Alexandra Martin" {
				t.Errorf("request stored: %q %q %v", address, contact, err)
			}
		})
	}
}

// TestBackOfficeReads: the back office lists the read to review and shows
// its photo; nobody else can.
func TestBackOfficeReads(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("one", "H2X 1Y4")
	e.openCampaign(a)
	staff := e.newUser("staff@supplier.example", "Staff")
	supplier := e.newAccount("supplier", "H3B 2Y5")
	e.addRole(staff, supplier.ID, domain.RoleBackOffice)
	b := e.browser()
	b.login(a.primary.Email)
	photo := counterPhoto(t)
	wantRedirect(t, b.postMultipart("/reads/"+id64(a.device.ID), readForm("100", "90000"), &uploadFile{"p.png", "image/png", photo}), "/reads?done=read_review")
	var readID int64
	if err := e.st.DB().QueryRow(schema.Rebind(e.st.Dialect(), `SELECT id FROM billing_reads WHERE review = 'pending'`)).Scan(&readID); err != nil {
		t.Fatal(err)
	}
	photoPath := "/backoffice/reads/" + id64(readID) + "/photo"
	wantPage(t, b.get("/backoffice/reads"), http.StatusNotFound)
	wantPage(t, b.get(photoPath), http.StatusNotFound)

	sb := e.browser()
	sb.login(staff.Email)
	wantPage(t, sb.get("/backoffice/reads"), http.StatusOK, a.device.Serial, a.CustomerNumber, "inférieur au précédent", a.primary.Email, `href="`+photoPath+`"`)
	rec := sb.get(photoPath)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/png" || !bytes.Equal(rec.Body.Bytes(), photo) ||
		!strings.Contains(rec.Header().Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("photo: %d %q %d bytes, CSP %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), rec.Header().Get("Content-Security-Policy"))
	}
	wantPage(t, sb.get("/backoffice/reads/999999/photo"), http.StatusNotFound)
}
