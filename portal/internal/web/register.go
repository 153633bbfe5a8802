package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/i18n"
	portalmail "github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// Registration (seeds 000 and 002). A person gives a name, an address, an
// e-mail address, a phone number and one serial number with the postal
// code of its shipping location. When the serial is an active device under
// contract whose location has that postal code (spaces and case aside),
// an e-mail confirms the address: its link, valid 3 days, leads to
// choosing a password (the seeds' temporary password, made a link). The
// user then becomes the account's primary user if it has none; if it has
// one, the primary is told by e-mail (and may invite the newcomer as a
// delegate, seed 000's way to add users) and the back office sees a
// has_primary link request. When nothing matches, seed 000's error says
// what to do, and the person may ask the back office to link the serial
// (a no_match link request, acknowledged by e-mail).
//
// The page never tells whether an address has an account: an address
// that has one gets an e-mail saying so (with the sign-in and reset
// links) instead of the confirmation, and the same page.

// registerForm is what the registration form holds.
type registerForm struct {
	Name, Address, Email, Phone, Serial, PostalCode string
	Terms, ReadContact                              bool
}

// registerView is the data of the registration page.
type registerView struct {
	registerForm
	// Problems are catalogue keys of the fields to fix.
	Problems []string
	// NoMatch shows seed 000's error and the link request button.
	NoMatch bool
}

func readRegisterForm(c echo.Context) registerForm {
	return registerForm{
		Name:        strings.TrimSpace(c.FormValue("name")),
		Address:     strings.TrimSpace(c.FormValue("address")),
		Email:       strings.TrimSpace(c.FormValue("email")),
		Phone:       strings.TrimSpace(c.FormValue("phone")),
		Serial:      strings.TrimSpace(c.FormValue("serial")),
		PostalCode:  strings.TrimSpace(c.FormValue("postal_code")),
		Terms:       c.FormValue("terms") == "yes",
		ReadContact: c.FormValue("read_contact") == "yes",
	}
}

// problems are the required fields missing or malformed, as catalogue keys.
func (f registerForm) problems() []string {
	var out []string
	long := func(s string, n int) bool { return utf8.RuneCountInString(s) > n }
	if f.Name == "" || long(f.Name, 200) {
		out = append(out, "register.error.name")
	}
	if f.Address == "" || long(f.Address, 500) {
		out = append(out, "register.error.address")
	}
	if validEmail(f.Email) == "" {
		out = append(out, "form.error.email")
	}
	if f.Phone == "" || long(f.Phone, 50) {
		out = append(out, "register.error.phone")
	}
	if f.Serial == "" || long(f.Serial, 64) || f.PostalCode == "" || long(f.PostalCode, 20) {
		out = append(out, "register.error.serial")
	}
	if !f.Terms {
		out = append(out, "register.error.terms")
	}
	return out
}

// registerPage shows the registration form; a signed-in user has no use
// for it.
func (s *Server) registerPage(c echo.Context) error {
	if currentVisitor(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/dashboard")
	}
	return s.render(c, http.StatusOK, "register", registerView{})
}

// register handles the registration form, and its second button, the
// request to have the serial linked by the back office.
func (s *Server) register(c echo.Context) error {
	ctx := c.Request().Context()
	f := readRegisterForm(c)
	view := registerView{registerForm: f}
	if view.Problems = f.problems(); view.Problems != nil {
		return s.render(c, http.StatusBadRequest, "register", view)
	}
	// Addresses are stored in lower case (store.CreateUser): mail the
	// address as it will be known.
	email := strings.ToLower(validEmail(f.Email))
	ok, err := s.allow(c, store.AttemptRegister, s.limits.Register, email)
	if err != nil {
		return err
	}
	if !ok {
		view.Problems = []string{"error.too_many"}
		return s.render(c, http.StatusTooManyRequests, "register", view)
	}
	lang := printer(c).Lang()
	_, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	if c.FormValue("action") == "link_request" {
		_, err := s.store.RequestSerialLink(ctx, store.SerialLink{Reason: store.LinkNoMatch, Email: email, Name: f.Name, Phone: f.Phone,
			Note: f.Address, Serial: f.Serial, PostalCode: f.PostalCode}, portalmail.Message{
			Key: mailKey("link_request", hash), To: email, Lang: lang, Template: "link_request_received",
			Data: map[string]any{"Name": f.Name, "Serial": f.Serial, "PostalCode": f.PostalCode},
		})
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/register?done=link_requested")
	}
	device, err := s.store.RegistrationDevice(ctx, f.Serial, f.PostalCode)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		view.NoMatch = true
		return s.render(c, http.StatusUnprocessableEntity, "register", view)
	}
	if err != nil {
		return err
	}
	// From here the answer is the same whether the address has an account
	// or not: one e-mail in one transaction either way.
	_, err = s.store.UserByEmail(ctx, email)
	switch {
	case err == nil:
		err = s.store.Enqueue(ctx, portalmail.Message{Key: mailKey("register_existing", hash), To: email, Lang: lang, Template: "register_existing",
			Data: map[string]any{"Name": f.Name, "Login": s.baseURL + "/login", "Forgot": s.baseURL + "/password/forgot"}})
	case domain.ErrorCode(err) == domain.ENOTFOUND:
		err = s.startRegistration(c, f, email, lang, device)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/register?done=register_sent")
}

// startRegistration stores the registration in its link and e-mails the
// link to the address to confirm.
func (s *Server) startRegistration(c echo.Context, f registerForm, email string, lang i18n.Lang, device store.ContractedDevice) error {
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	payload, err := json.Marshal(store.Registration{Name: f.Name, Address: f.Address, Email: email, Phone: f.Phone,
		Language: domain.Language(lang), AccountID: device.AccountID, DeviceID: device.ID, Serial: device.Serial, ReadContact: f.ReadContact})
	if err != nil {
		return err
	}
	_, err = s.store.CreateOneTimeToken(c.Request().Context(), store.OneTimeToken{Kind: store.TokenRegister, Hash: hash, Payload: payload,
		ExpiresAt: s.now().Add(s.links.Register)}, portalmail.Message{
		Key: mailKey(store.TokenRegister, hash), To: email, Lang: lang, Template: "register_confirm",
		Data: map[string]any{"Name": f.Name, "Email": email, "Link": s.link("/register/confirm", token), "Days": int(s.links.Register / (24 * time.Hour))},
	})
	return err
}

// registerConfirmView is the data of the page that completes a
// registration: the password form.
type registerConfirmView struct {
	Action   string
	Token    string
	Email    string
	Rules    []string
	Problems []string
}

// registerConfirmForm shows the password form of a registration link
// (showing it uses nothing: mail scanners open links).
func (s *Server) registerConfirmForm(c echo.Context) error {
	token := c.QueryParam("token")
	var r store.Registration
	if err := s.openLink(c, store.TokenRegister, token, &r); err != nil {
		return s.linkInvalid(c, err, "/register")
	}
	return s.render(c, http.StatusOK, "register_confirm", registerConfirmView{Action: "/register/confirm", Token: token, Email: r.Email, Rules: passwordRules(printer(c))})
}

// registerConfirm sets the password of a registration link, creates the
// user, signs the user in and says what became of the account.
func (s *Server) registerConfirm(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.FormValue("token")
	hash := auth.HashToken(token)
	var r store.Registration
	if err := s.openLink(c, store.TokenRegister, token, &r); err != nil {
		return s.linkInvalid(c, err, "/register")
	}
	p := printer(c)
	pwHash, problems, err := s.newPassword(p, c.FormValue("password"), c.FormValue("confirm"), r.Email)
	if err != nil {
		return err
	}
	if problems != nil {
		return s.render(c, http.StatusBadRequest, "register_confirm", registerConfirmView{Action: "/register/confirm", Token: token, Email: r.Email,
			Rules: passwordRules(p), Problems: problems})
	}
	out, err := s.store.CompleteRegistration(ctx, hash, pwHash, s.registrationMails(hash))
	switch code := domain.ErrorCode(err); {
	case code == domain.ECONFLICT:
		return pageError(http.StatusConflict, "register.error.exists")
	case err != nil:
		return s.linkInvalid(c, err, "/register")
	}
	if err := s.signIn(c, out.User); err != nil {
		return err
	}
	if out.Primary {
		return c.Redirect(http.StatusSeeOther, "/dashboard?done=registered")
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard?done=registered_pending")
}

// registrationMails are the e-mails of a completed registration: a
// welcome to the new user; and, when the account already had a primary
// user, a word to that user.
func (s *Server) registrationMails(hash []byte) func(store.RegistrationOutcome) []portalmail.Message {
	return func(out store.RegistrationOutcome) []portalmail.Message {
		u := out.User
		mails := []portalmail.Message{{Key: mailKey("welcome", hash), To: u.Email, Lang: i18n.Lang(u.Language), Template: "welcome",
			Data: map[string]any{"Name": u.Name, "CustomerNumber": out.Account.CustomerNumber, "PortalURL": s.baseURL + "/"}}}
		if p := out.PrimaryUser; p != nil {
			mails = append(mails, portalmail.Message{Key: mailKey("registration_join", hash), To: p.Email, Lang: i18n.Lang(p.Language),
				Template: "registration_join", Data: map[string]any{
					"Name": p.Name, "NewName": u.Name, "NewEmail": u.Email, "Serial": out.Registration.Serial,
					"CustomerNumber": out.Account.CustomerNumber, "UsersURL": s.baseURL + "/users",
				}})
		}
		return mails
	}
}

// terms shows the terms a registration accepts.
func (s *Server) terms(c echo.Context) error {
	return s.render(c, http.StatusOK, "terms", nil)
}
