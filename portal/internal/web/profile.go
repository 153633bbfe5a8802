package web

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/i18n"
	portalmail "github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// profileView is the data of the profile page: the user's name, phone and
// language, the e-mail change form and the password change form, each
// with its own problems.
type profileView struct {
	Name, Phone, Language, Email string
	// NewEmail is the address the e-mail form was given.
	NewEmail string
	Rules    []string
	// ProfileError and EmailError are catalogue keys, PasswordErrors
	// sentences.
	ProfileError   string
	EmailError     string
	PasswordErrors []string
}

func (s *Server) profileView(c echo.Context) profileView {
	u := mustVisitor(c).user
	return profileView{Name: u.Name, Phone: u.Phone, Language: string(u.Language), Email: u.Email, Rules: passwordRules(printer(c))}
}

// profileForm shows the profile page.
func (s *Server) profileForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "profile", s.profileView(c))
}

// profile saves the user's name, phone and language.
func (s *Server) profile(c echo.Context) error {
	v := mustVisitor(c)
	view := s.profileView(c)
	view.Name, view.Phone, view.Language = strings.TrimSpace(c.FormValue("name")), strings.TrimSpace(c.FormValue("phone")), c.FormValue("language")
	lang := domain.Language(view.Language)
	if view.Name == "" || !lang.Valid() || len(view.Name) > 200 || len(view.Phone) > 50 {
		view.ProfileError = "profile.error.invalid"
		return s.render(c, http.StatusBadRequest, "profile", view)
	}
	if _, err := s.store.UpdateProfile(c.Request().Context(), v.user.ID, store.Profile{Name: view.Name, Phone: view.Phone, Language: lang}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/profile?done=profile_saved")
}

// setLanguage is the language switch of a signed-in user: the language is
// the user's, kept with the profile, not the browser's.
func (s *Server) setLanguage(c echo.Context) error {
	v := mustVisitor(c)
	lang, ok := i18n.Parse(c.FormValue("lang"))
	if !ok {
		return pageError(http.StatusBadRequest, "error.400")
	}
	if _, err := s.store.UpdateProfile(c.Request().Context(), v.user.ID, store.Profile{Name: v.user.Name, Phone: v.user.Phone, Language: domain.Language(lang)}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, cmp.Or(localPath(c.FormValue("back")), "/"))
}

// checkCurrentPassword checks the password a signed-in user typed to
// confirm a sensitive change, with the sign-in rate limit (a stolen
// session must not become a way to guess the password).
func (s *Server) checkCurrentPassword(c echo.Context, u store.User, password string) (ok bool, limited bool, err error) {
	allowed, err := s.allow(c, store.AttemptLogin, s.limits.Login, u.Email)
	if err != nil || !allowed {
		return false, !allowed, err
	}
	if u.PasswordHash == nil {
		s.hasher.VerifyNothing(password)
		return false, false, nil
	}
	ok, _, err = s.hasher.Verify(*u.PasswordHash, password)
	return ok, false, err
}

// changePassword sets a new password after checking the current one; every
// session of the user ends, and this browser is signed in again.
func (s *Server) changePassword(c echo.Context) error {
	v := mustVisitor(c)
	view := s.profileView(c)
	ok, limited, err := s.checkCurrentPassword(c, v.user, c.FormValue("current"))
	switch {
	case err != nil:
		return err
	case limited:
		view.PasswordErrors = []string{printer(c).T("error.too_many")}
		return s.render(c, http.StatusTooManyRequests, "profile", view)
	case !ok:
		view.PasswordErrors = []string{printer(c).T("profile.error.current_password")}
		return s.render(c, http.StatusBadRequest, "profile", view)
	}
	hash, problems, err := s.newPassword(printer(c), c.FormValue("password"), c.FormValue("confirm"), v.user.Email)
	if err != nil {
		return err
	}
	if problems != nil {
		view.PasswordErrors = problems
		return s.render(c, http.StatusBadRequest, "profile", view)
	}
	if err := s.store.SetPasswordHash(c.Request().Context(), v.user.ID, hash); err != nil {
		return err
	}
	if err := s.signIn(c, v.user); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/profile?done=password_changed")
}

// changeEmail starts an e-mail change: the new address gets a link that
// makes it the user's once followed, and the old address a notice. If
// the new address already has an account, it gets a notice instead of
// the link, and the page reads the same: the form tells no one which
// addresses have accounts.
func (s *Server) changeEmail(c echo.Context) error {
	ctx := c.Request().Context()
	v := mustVisitor(c)
	view := s.profileView(c)
	view.NewEmail = c.FormValue("email")
	email := validEmail(view.NewEmail)
	if email == "" || strings.EqualFold(email, v.user.Email) {
		view.EmailError = "form.error.email"
		return s.render(c, http.StatusBadRequest, "profile", view)
	}
	ok, limited, err := s.checkCurrentPassword(c, v.user, c.FormValue("current"))
	switch {
	case err != nil:
		return err
	case limited:
		view.EmailError = "error.too_many"
		return s.render(c, http.StatusTooManyRequests, "profile", view)
	case !ok:
		view.EmailError = "profile.error.current_password"
		return s.render(c, http.StatusBadRequest, "profile", view)
	}
	lang := i18n.Lang(v.user.Language)
	token, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	notice := portalmail.Message{Key: mailKey("email_change_notice", hash), To: v.user.Email, Lang: lang, Template: "email_change_notice",
		Data: map[string]any{"Name": v.user.Name, "NewEmail": email}}
	_, err = s.store.UserByEmail(ctx, email)
	switch code := domain.ErrorCode(err); {
	case err == nil:
		err = s.store.Enqueue(ctx, notice, portalmail.Message{Key: mailKey("email_change_taken", hash), To: email, Lang: lang,
			Template: "email_change_taken", Data: map[string]any{"Email": email, "Link": s.baseURL + "/password/forgot"}})
	case code == domain.ENOTFOUND:
		payload, _ := json.Marshal(store.EmailChange{Email: email})
		_, err = s.store.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenEmailChange, UserID: &v.user.ID, Hash: hash,
			Payload: payload, ExpiresAt: s.now().Add(s.links.EmailChange)}, notice, portalmail.Message{
			Key: mailKey(store.TokenEmailChange, hash), To: email, Lang: lang, Template: "email_change",
			Data: map[string]any{"Name": v.user.Name, "Link": s.link("/email/confirm", token), "Hours": int(s.links.EmailChange / time.Hour)},
		})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/profile?done=email_sent")
}

// confirmEmailView is the data of the page that confirms a new address.
type confirmEmailView struct {
	Token string
	Email string
}

// confirmEmailForm shows the new address of a change link and a button
// that confirms it (opening the link changes nothing: scanners open links).
func (s *Server) confirmEmailForm(c echo.Context) error {
	token := c.QueryParam("token")
	var p store.EmailChange
	if err := s.openLink(c, store.TokenEmailChange, token, &p); err != nil {
		return s.linkInvalid(c, err, "/profile")
	}
	return s.render(c, http.StatusOK, "email_confirm", confirmEmailView{Token: token, Email: p.Email})
}

// confirmEmail makes the address of the link the user's.
func (s *Server) confirmEmail(c echo.Context) error {
	_, err := s.store.ConfirmEmailChange(c.Request().Context(), auth.HashToken(c.FormValue("token")))
	if domain.ErrorCode(err) == domain.ECONFLICT {
		return pageError(http.StatusConflict, "email.error.taken")
	}
	if err != nil {
		return s.linkInvalid(c, err, "/profile")
	}
	if currentVisitor(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/profile?done=email_changed")
	}
	return c.Redirect(http.StatusSeeOther, "/login?done=email_changed")
}
