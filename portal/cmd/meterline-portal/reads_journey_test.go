package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/portal/internal/mail/mailtest"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema/schematest"
)

// readsContact is the meter-read contact of the journey's device.
const readsContact = "alexandra.martin@interparking.example"

// The journey's quarter, and the day its campaign opens: the first
// quarter of 2026, whose tolerance window closed on 7 April.
var (
	readsQuarter = billing.Period{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}
	readsDay     = time.Date(2026, 4, 8, 9, 0, 0, 0, time.UTC)
)

// readsJourney is what the meter-read journey seeds: a colour device
// under contract and its last invoiced read, of the quarter before.
type readsJourney struct {
	accountID, deviceID int64
	contact             store.User
}

// TestBrowserMeterReads is seed 003 in a real browser (Debian chromium
// driven by chromedp) against a portal started by run on a clock moved
// to the day after the first quarter's window closed, with a real SMTP
// server: the portal's own period-close job opens the device's campaign
// and e-mails the invitation; the test reads it from the SMTP server and
// follows its link to /reads, with sign-in on the way, the table, a read
// lower than the last one refused without a photo and accepted with one
// (a PNG picked in the file field), then the pages in French and in
// English. It saves screenshots of them in the folder it names in its
// log (-screenshots).
func TestBrowserMeterReads(t *testing.T) {
	bin := os.Getenv(EnvChromium)
	if bin == "" {
		t.Skipf("%s is not set: skipping the meter-read browser test (set it to a Chromium binary, e.g. /usr/bin/chromium)", EnvChromium)
	}
	shots := screenshotFolder(t, "screenshots of the meter-read journey")

	db := schematest.SQLiteURL(t)
	seed := seedReadsJourney(t, db)
	smtp := mailtest.Start(t)
	uploads := filepath.Join(t.TempDir(), "uploads")
	base := startPortalAt(t, movedClock(readsDay), "-database", db, "-upload-dir", uploads, "-smtp-host", "127.0.0.1", "-smtp-port", fmt.Sprint(smtp.Port()),
		"-smtp-mode", "none", "-mail-from", "Meterline <noreply@meterline.test>")

	// The close job (schedule.JobPeriodClose) runs as the portal starts:
	// no agent read the device, so its campaign opens and the invitation
	// goes to its meter-read contact, in French.
	fr := i18n.For(i18n.FR)
	invitation := waitMessage(t, smtp, readsContact, "the meter-read invitation", func(m mailtest.Message) bool { return m.Link("/reads") != "" })
	link := invitation.Link("/reads")
	if link != base+"/reads" {
		t.Fatalf("the invitation links to %s, want %s/reads", link, base)
	}
	if !strings.Contains(invitation.Subject, "Relevé des compteurs de votre équipement") || invitation.Lang != "fr" ||
		!strings.Contains(invitation.Text, "RDG3923656030") || !strings.Contains(invitation.Text, fr.Date(readsQuarter.End)) {
		t.Errorf("the invitation is not the French one about the device and the quarter: %q (%s)\n%s", invitation.Subject, invitation.Lang, invitation.Text)
	}

	b := newBrowser(t, bin)
	shot := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(shots, name+".png"), b.screenshot(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Signed out, the link goes through sign-in and comes back.
	b.run(t, "the invitation's link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)))
	b.run(t, "sign in on the way",
		chromedp.SendKeys(chromedp.CSS(`#email`), readsContact),
		chromedp.SendKeys(chromedp.CSS(`#password`), journeyPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`table.reads`)),
	)
	if url, _ := chromedp.Run(b.ctx, chromedp.Location()); url != base+"/reads" {
		t.Errorf("after sign-in the browser is at %s, want %s/reads", url, base)
	}
	if text := b.text(t); !strings.Contains(text, "RDG3923656030") || !strings.Contains(text, fr.Number(39684)) || !strings.Contains(text, "À renseigner") {
		t.Errorf("the meter-read page lacks the device, its last read or its status:\n%s", text)
	}
	shot("reads-to-enter.fr")

	// The entry form, prefilled; a lower black meter without a photo is
	// refused, in words.
	form := fmt.Sprintf(`form[action="/reads/%d"]`, seed.deviceID)
	b.run(t, "the device's form",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/reads/%d"]`, seed.deviceID))),
		chromedp.WaitVisible(chromedp.CSS(form+` #black`)),
	)
	shot("read-form.fr")
	b.run(t, "a lower read without a photo",
		chromedp.SetValue(chromedp.CSS(`#black`), "39600"),
		chromedp.SetValue(chromedp.CSS(`#colour`), "90120"),
		chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.error`)),
	)
	if text := b.text(t); !strings.Contains(text, "joignez une photo") {
		t.Errorf("the refusal does not ask for a photo:\n%s", text)
	}
	shot("read-form-photo-needed.fr")

	// With the photo of the counters: accepted, to be checked.
	photo := filepath.Join(t.TempDir(), "compteurs.png")
	if err := os.WriteFile(photo, counterPNG(t), 0o600); err != nil {
		t.Fatal(err)
	}
	b.run(t, "the read with its photo",
		chromedp.SetValue(chromedp.CSS(`#black`), "39600"),
		chromedp.SetValue(chromedp.CSS(`#colour`), "90120"),
		chromedp.SetUploadFiles(chromedp.CSS(`#photo`), []string{photo}),
		chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if text := b.text(t); !strings.Contains(text, "il sera vérifié") || !strings.Contains(text, "En vérification") {
		t.Errorf("after the read the page does not say it was saved for review:\n%s", text)
	}
	shot("reads-saved.fr")
	checkJourneyRead(t, db, seed, uploads)

	// The pages in both languages.
	for _, lang := range []string{"fr", "en"} {
		for _, p := range []struct{ name, path, ready string }{
			{"reads", "/reads", `table.reads`},
			{"read-form-entered", fmt.Sprintf("/reads/%d", seed.deviceID), form + ` #black`},
			{"read-automate", fmt.Sprintf("/reads/automate?device=%d", seed.deviceID), `#street`},
		} {
			b.run(t, p.name+" "+lang, chromedp.Navigate(base+p.path+sep(p.path)+"lang="+lang), chromedp.WaitVisible(chromedp.CSS(p.ready)))
			shot(p.name + "." + lang)
		}
	}
	if text := b.text(t); !strings.Contains(text, "Automate your meter reads") {
		t.Errorf("the English automation form is not in English:\n%s", text)
	}
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

// seedReadsJourney stores seed 003's customer: an account, its location,
// a colour contract since the fourth quarter of 2025, a device whose
// meter-read contact has a password, and the device's read of that
// quarter, typed in on 5 January. Its campaign is the close job's to
// open.
func seedReadsJourney(t *testing.T, db string) readsJourney {
	t.Helper()
	ctx := context.Background()
	storetest.Seed(t, db)
	st, err := store.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := auth.NewHasher(auth.TestParams)
	must(err)
	hash, err := h.Hash(journeyPassword)
	must(err)
	var j readsJourney
	j.contact, err = st.CreateUser(ctx, store.User{Email: readsContact, Name: "Alexandra Martin", Phone: "01 40 22 08 80",
		Language: domain.LanguageFrench, PasswordHash: &hash})
	must(err)
	acc, err := st.CreateAccount(ctx, store.Account{CustomerNumber: "CL001007", Name: "Interparking Services", Language: domain.LanguageFrench})
	must(err)
	j.accountID = acc.ID
	_, err = st.AddMembership(ctx, store.Membership{UserID: j.contact.ID, AccountID: acc.ID, Role: domain.RolePrimary}, store.BySystem("test"))
	must(err)
	loc, err := st.CreateLocation(ctx, store.Location{AccountID: acc.ID, LocationAddress: store.LocationAddress{
		Company: "Interparking Services", Street: "30 rue de Gramont", City: "Paris", PostalCode: "75002", Country: "FR"}})
	must(err)
	q4Start := readsQuarter.Start.AddDate(0, -3, 0)
	k, err := st.CreateContract(ctx, store.Contract{Number: "CL001007-K1", AccountID: acc.ID, BillingPeriod: domain.BillingQuarterly,
		BillsBlack: true, BillsColour: true, Start: q4Start})
	must(err)
	d, err := st.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: "RDG3923656030", Model: "7855V_F", ContractID: k.ID,
		LocationID: &loc.ID, ReadContactID: &j.contact.ID}, store.BySystem("test"))
	must(err)
	j.deviceID = d.ID
	_, err = storetest.InsertBillingRead(ctx, st.DB(), st.Dialect(), storetest.BillingRead{DeviceID: d.ID, ContractID: k.ID,
		PeriodStart: q4Start, PeriodEnd: readsQuarter.Start.AddDate(0, 0, -1), Source: "manual", UserID: &j.contact.ID,
		ReadAt: readsQuarter.Start.AddDate(0, 0, 4), Black: ptr(int64(39684)), Colour: ptr(int64(89675))})
	must(err)
	return j
}

func ptr[T any](v T) *T { return &v }

// movedClock is the real clock moved to start: it runs on from there.
func movedClock(start time.Time) func() time.Time {
	origin := time.Now()
	return func() time.Time { return start.Add(time.Since(origin)) }
}

// checkJourneyRead checks the read the browser entered: the quarter's
// billing read, manual, typed in on the moved clock's day, flagged lower
// with its photo, waiting for review, its photo in the upload folder and
// nowhere else.
func checkJourneyRead(t *testing.T, db string, j readsJourney, uploads string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.CurrentBillingRead(ctx, j.deviceID, readsQuarter.End)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != billing.SourceManual || !billing.Date(r.ReadAt).Equal(billing.Date(readsDay)) || r.Black == nil || *r.Black != 39600 ||
		r.Colour == nil || *r.Colour != 90120 || r.Flags.String() != "lower_than_previous photo" || r.Review != billing.ReviewPending || r.PhotoPath == nil {
		t.Fatalf("the read entered: %+v", r)
	}
	stored, err := os.ReadFile(filepath.Join(uploads, *r.PhotoPath))
	if err != nil || !bytes.Equal(stored, counterPNG(t)) {
		t.Errorf("the photo in the upload folder: %d bytes, %v", len(stored), err)
	}
}

// counterPNG is the "photo" the customer picks: a small PNG.
func counterPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 24))
	for x := range 64 {
		img.Set(x, 12, color.RGBA{R: 20, G: 160, B: 60, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
