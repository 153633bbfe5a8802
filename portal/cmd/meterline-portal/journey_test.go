package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meterline/meterline/portal/internal/mail/mailtest"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema/schematest"
)

var screenshotDir = flag.String("screenshots", "", "folder the browser journey saves its screenshots in (default: a new folder under the system's temporary folder, named in the test's log)")

// journeyPassword is the password the journey's users choose.
const journeyPassword = "Carton-de-toner-42"

// TestBrowserJourney is a customer's first visit, in a real browser
// (Debian chromium driven by chromedp) against a portal started by run
// with a real SMTP server: registering with a serial and its postal code,
// the confirmation e-mail and its link, choosing the password, signing
// out and in again, inviting a delegate who accepts by the e-mailed link.
// It saves screenshots of the main pages in French and in English.
func TestBrowserJourney(t *testing.T) {
	bin := os.Getenv(EnvChromium)
	if bin == "" {
		t.Skipf("%s is not set: skipping the browser journey (set it to a Chromium binary, e.g. /usr/bin/chromium)", EnvChromium)
	}
	shots := screenshotFolder(t, "screenshots of the journey")

	db := schematest.SQLiteURL(t)
	seedJourney(t, db)
	smtp := mailtest.Start(t)
	base := startPortal(t, "-database", db, "-smtp-host", "127.0.0.1", "-smtp-port", fmt.Sprint(smtp.Port()),
		"-smtp-mode", "none", "-mail-from", "Meterline <noreply@meterline.test>")

	b := newBrowser(t, bin)
	shot := func(name string) {
		t.Helper()
		png := b.screenshot(t)
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The sign-in and registration pages before sign-in follow the
	// browser's language choice (?lang= here).
	for _, lang := range []string{"fr", "en"} {
		b.run(t, "login page", chromedp.Navigate(base+"/login?lang="+lang), chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)))
		shot("login." + lang)
	}
	b.run(t, "registration form",
		chromedp.Navigate(base+"/register?lang=fr"),
		chromedp.WaitVisible(chromedp.CSS(`#serial`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Jeanne Picard"),
		chromedp.SendKeys(chromedp.CSS(`#address`), "500 boul. Charest E., Québec"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "jeanne.picard@laurentienne.example"),
		chromedp.SendKeys(chromedp.CSS(`#phone`), "418 555 0199"),
		chromedp.SendKeys(chromedp.CSS(`#serial`), " jrn0001 "),   // case and padding do not matter
		chromedp.SendKeys(chromedp.CSS(`#postal_code`), "g1k3j4"), // nor spaces and case here
		chromedp.Click(chromedp.CSS(`input[name=read_contact]`)),
		chromedp.Click(chromedp.CSS(`input[name=terms]`)),
	)
	shot("register.fr")
	b.run(t, "register", chromedp.Click(chromedp.CSS(`button[value=register]`)), chromedp.WaitVisible(chromedp.CSS(`body`)))
	if text := b.text(t); !strings.Contains(strings.ToLower(text), "courriel") {
		t.Fatalf("after registering, the page says nothing of the e-mail sent:\n%s", text)
	}

	confirm := waitMail(t, smtp, "jeanne.picard@laurentienne.example", "/register/confirm")
	b.run(t, "confirmation link",
		chromedp.Navigate(confirm),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), journeyPassword),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), journeyPassword),
	)
	shot("register-confirm.fr")
	b.run(t, "choose the password", chromedp.Submit(chromedp.CSS(`#confirm`)), chromedp.WaitVisible(chromedp.CSS(`ul.tiles`)))

	// Signed out, then in again with the new password.
	b.run(t, "sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)))
	b.signIn(t, base, "jeanne.picard@laurentienne.example", journeyPassword)
	if text := b.text(t); !strings.Contains(text, "Imprimerie Laurentienne") {
		t.Errorf("the dashboard does not name the account:\n%s", text)
	}

	// The main pages, in the user's language, then in the other one
	// (the language switch of the page's header).
	pages := []string{"/dashboard", "/equipment", "/shipping", "/users", "/accounts", "/profile", "/contact"}
	for _, lang := range []string{"fr", "en"} {
		for _, p := range pages {
			b.run(t, "page "+p, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS(`main`)))
			shot(strings.TrimPrefix(p, "/") + "." + lang)
			if p == "/equipment" && !strings.Contains(b.text(t), "JRN0001") {
				t.Errorf("%s (%s) does not list the registered device", p, lang)
			}
		}
		if lang == "fr" {
			b.run(t, "switch to English", chromedp.Click(chromedp.CSS(`form[action="/language"] button`)), chromedp.WaitVisible(chromedp.CSS(`html[lang=en]`)))
		}
	}

	journeyDelegate(t, b, base, smtp, shot)
}

// screenshotFolder is the folder a browser test saves its screenshots
// in: -screenshots, else a new one under the system's temporary folder;
// what names it in the test's log.
func screenshotFolder(t *testing.T, what string) string {
	t.Helper()
	shots := *screenshotDir
	if shots == "" {
		var err error
		if shots, err = os.MkdirTemp("", "meterline-screenshots-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", what, shots)
	return shots
}

// seedJourney stores what the back office knows before the customer
// comes: an account with a shipping location, a contract and a device
// under it, and no user.
func seedJourney(t *testing.T, db string) {
	t.Helper()
	ctx := context.Background()
	storetest.Seed(t, db) // the schema
	st, err := store.Open(ctx, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, err := st.CreateAccount(ctx, store.Account{CustomerNumber: "JRN-1", Name: "Imprimerie Laurentienne", Language: domain.LanguageFrench})
	if err != nil {
		t.Fatal(err)
	}
	loc, err := st.CreateLocation(ctx, store.Location{AccountID: acc.ID, LocationAddress: store.LocationAddress{
		Company: "Imprimerie Laurentienne", Street: "500 boul. Charest E.", City: "Québec", Province: "QC", PostalCode: "G1K 3J4", Country: "CA"}})
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.CreateContract(ctx, store.Contract{Number: "JRN-K-1", AccountID: acc.ID, BillingPeriod: domain.BillingQuarterly,
		BillsBlack: true, BillsColour: true, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: "JRN0001", Model: "bizhub C300i", ContractID: k.ID, LocationID: &loc.ID},
		store.BySystem("test")); err != nil {
		t.Fatal(err)
	}
}

// waitMail waits for the portal's sender to deliver an e-mail to addr
// holding a link that contains part, and returns the link.
func waitMail(t *testing.T, smtp *mailtest.Server, addr, part string) string {
	t.Helper()
	m := waitMessage(t, smtp, addr, "a link to "+part, func(m mailtest.Message) bool { return m.Link(part) != "" })
	return m.Link(part)
}

// waitMessage waits for the portal's sender to deliver an e-mail to addr
// that ok accepts, and returns it.
func waitMessage(t *testing.T, smtp *mailtest.Server, addr, what string, ok func(mailtest.Message) bool) mailtest.Message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, m := range smtp.To(addr) {
			if ok(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no e-mail to %s with %s within 60s; received: %+v", addr, what, smtp.Messages())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browser is one headless Chromium, with its own profile, kept off the
// network but for the portal.
type browser struct {
	ctx context.Context
	bin string
}

func newBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return &browser{ctx: ctx, bin: bin}
}

// run runs actions, failing the test (with the page's text) on an error.
// Each step is bounded, a guard against a page that never comes, not an
// assertion on time.
func (b *browser) run(t *testing.T, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		url, _ := chromedp.Run(b.ctx, chromedp.Location())
		t.Fatalf("%s: %v (at %s)\n%s", step, err, url, b.text(t))
	}
}

// screenshot is the whole page, as a PNG.
func (b *browser) screenshot(t *testing.T) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// text is the text of the page's body.
func (b *browser) text(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
	if err != nil {
		return fmt.Sprintf("(no text: %v)", err)
	}
	return text
}

// signIn signs in through the login form and waits for the dashboard.
func (b *browser) signIn(t *testing.T, base, email, password string) {
	t.Helper()
	b.run(t, "sign in as "+email,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.tiles`)),
	)
}

// journeyDelegate: the primary (signed in to b) invites a delegate, who
// accepts by the e-mailed link in a browser of their own, chooses a
// password and acts for the account; the primary is told by e-mail.
func journeyDelegate(t *testing.T, b *browser, base string, smtp *mailtest.Server, shot func(string)) {
	t.Helper()
	const delegate = "louis.tremblay@laurentienne.example"
	b.run(t, "invite a delegate",
		chromedp.Navigate(base+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/users/invite"] #email`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/users/invite"] #email`), delegate),
		chromedp.Submit(chromedp.CSS(`form[action="/users/invite"] #email`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)), // the page the invitation leads to says it was sent
	)
	if text := b.text(t); !strings.Contains(text, delegate) {
		t.Fatalf("the invitation is not listed:\n%s", text)
	}
	link := waitMail(t, smtp, delegate, "/invitations/accept")

	d := newBrowser(t, b.bin)
	d.run(t, "the invitation link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form[action="/invitations/accept"] button`)))
	if text := d.text(t); !strings.Contains(text, "Imprimerie Laurentienne") {
		t.Errorf("the invitation page does not name the account:\n%s", text)
	}
	shot("invitation.fr")
	d.run(t, "accept", chromedp.Click(chromedp.CSS(`form[action="/invitations/accept"] button`)), chromedp.WaitVisible(chromedp.CSS(`#password`)))
	d.run(t, "the delegate's password",
		chromedp.SendKeys(chromedp.CSS(`#password`), journeyPassword),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), journeyPassword),
		chromedp.Submit(chromedp.CSS(`#confirm`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`main`)),
	)
	d.run(t, "the delegate's equipment", chromedp.Navigate(base+"/equipment"), chromedp.WaitVisible(chromedp.CSS(`main`)))
	if text := d.text(t); !strings.Contains(text, "JRN0001") {
		t.Errorf("the delegate does not see the account's equipment:\n%s", text)
	}
	waitMessage(t, smtp, "jeanne.picard@laurentienne.example", "the delegate accepted", func(m mailtest.Message) bool {
		return strings.Contains(m.Text, delegate)
	})
	b.run(t, "the primary's users page", chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.CSS(`main`)))
	shot("users-with-delegate.en")
}
