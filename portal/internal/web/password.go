package web

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/auth"
	"github.com/meterline/meterline/portal/internal/i18n"
	portalmail "github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// LinkTTL is how long each kind of one-time link works.
type LinkTTL struct {
	Register    time.Duration
	Reset       time.Duration
	EmailChange time.Duration
	// Invitation is how long a delegate invitation waits for its answer.
	Invitation time.Duration
}

// DefaultLinkTTL: 3 days to confirm a registration (seed 000: "les liens
// ci-dessus expireront dans un délai de 3 jours"), an hour to reset a
// password, a day to confirm a new e-mail address, a week to accept an
// invitation (the invitee may be away).
var DefaultLinkTTL = LinkTTL{Register: 72 * time.Hour, Reset: time.Hour, EmailChange: 24 * time.Hour, Invitation: 7 * 24 * time.Hour}

// link is the absolute address of a one-time link: the portal's public
// address, a path and the token.
func (s *Server) link(path, token string) string {
	return s.baseURL + path + "?" + url.Values{"token": {token}}.Encode()
}

// mailKey is the idempotency key of an e-mail about a one-time link: the
// link's hash identifies it.
func mailKey(kind string, hash []byte) string {
	return kind + ":" + base64.RawURLEncoding.EncodeToString(hash)
}

// validEmail returns the address of an e-mail field, or "" when it is not
// one address.
func validEmail(s string) string {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(a.Address, "@") {
		return ""
	}
	return a.Address
}

// passwordRules are the rules a password page states, in its language.
func passwordRules(p *i18n.Printer) []string {
	out := make([]string, 0, len(auth.AllRules))
	for _, r := range auth.AllRules {
		out = append(out, ruleText(p, r))
	}
	return out
}

// ruleText says a password rule in the page's language.
func ruleText(p *i18n.Printer, r auth.Rule) string {
	switch r {
	case auth.RuleTooShort:
		return p.T("password.rule."+string(r), auth.MinPasswordLen)
	case auth.RuleTooLong:
		return p.T("password.rule."+string(r), auth.MaxPasswordLen)
	}
	return p.T("password.rule." + string(r))
}

// newPassword checks a new password and its confirmation for the user of
// email and returns its hash, or what is wrong with it in the page's
// language.
func (s *Server) newPassword(p *i18n.Printer, password, confirm, email string) (string, []string, error) {
	var problems []string
	for _, r := range auth.CheckPassword(password, email) {
		problems = append(problems, ruleText(p, r))
	}
	if password != confirm {
		problems = append(problems, p.T("password.error.mismatch"))
	}
	if len(problems) > 0 {
		return "", problems, nil
	}
	h, err := s.hasher.Hash(password)
	return h, nil, err
}

// forgotView is the data of the forgotten-password page.
type forgotView struct {
	Email string
	Error string
}

func (s *Server) forgotForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "password_forgot", forgotView{})
}

// forgot sends a password-reset link to the address given. The answer is
// the same whether the address has an account or not, and so is the work:
// one e-mail in one transaction either way — the link to those who have
// an account, a notice saying that no account uses the address to those
// who have none. Requests are limited per address and per client.
func (s *Server) forgot(c echo.Context) error {
	ctx := c.Request().Context()
	email := validEmail(c.FormValue("email"))
	if email == "" {
		return s.render(c, http.StatusBadRequest, "password_forgot", forgotView{Email: c.FormValue("email"), Error: "form.error.email"})
	}
	ok, err := s.allow(c, store.AttemptReset, s.limits.Reset, email)
	if err != nil {
		return err
	}
	if !ok {
		return s.render(c, http.StatusTooManyRequests, "password_forgot", forgotView{Email: email, Error: "error.too_many"})
	}
	user, err := s.store.UserByEmail(ctx, email)
	switch {
	case err == nil:
		token, hash, err := auth.NewToken()
		if err != nil {
			return err
		}
		_, err = s.store.CreateOneTimeToken(ctx, store.OneTimeToken{Kind: store.TokenReset, UserID: &user.ID, Hash: hash,
			ExpiresAt: s.now().Add(s.links.Reset)}, portalmail.Message{
			Key: mailKey(store.TokenReset, hash), To: user.Email, Lang: i18n.Lang(user.Language), Template: "password_reset",
			Data: map[string]any{"Name": user.Name, "Link": s.link("/password/reset", token), "Minutes": int(s.links.Reset / time.Minute)},
		})
		if err != nil {
			return err
		}
	case domain.ErrorCode(err) == domain.ENOTFOUND:
		_, hash, err := auth.NewToken()
		if err != nil {
			return err
		}
		if err := s.store.Enqueue(ctx, portalmail.Message{
			Key: mailKey("reset_unknown", hash), To: email, Lang: printer(c).Lang(), Template: "password_reset_unknown",
			Data: map[string]any{"Email": email, "Link": s.baseURL + "/password/forgot"},
		}); err != nil {
			return err
		}
	default:
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/password/forgot?done=reset_sent")
}

// resetView is the data of the page that sets a password from a link.
type resetView struct {
	// Action is where the form posts (template "password_fields").
	Action   string
	Token    string
	Rules    []string
	Problems []string
}

// resetForm shows the new-password form of a reset link, or says the link
// no longer works. Showing it does not use the link: mail scanners open
// links too.
func (s *Server) resetForm(c echo.Context) error {
	token := c.QueryParam("token")
	if err := s.openLink(c, store.TokenReset, token, nil); err != nil {
		return s.linkInvalid(c, err, "/password/forgot")
	}
	return s.render(c, http.StatusOK, "password_reset", resetView{Action: "/password/reset", Token: token, Rules: passwordRules(printer(c))})
}

// reset sets the password of a reset link, ends every session of the user
// and signs the user in here.
func (s *Server) reset(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.FormValue("token")
	hash := auth.HashToken(token)
	t, err := s.store.OneTimeToken(ctx, store.TokenReset, hash)
	if err != nil || t.UserID == nil {
		return s.linkInvalid(c, err, "/password/forgot")
	}
	user, err := s.store.User(ctx, *t.UserID)
	if err != nil {
		return err
	}
	pwHash, problems, err := s.newPassword(printer(c), c.FormValue("password"), c.FormValue("confirm"), user.Email)
	if err != nil {
		return err
	}
	if problems != nil {
		return s.render(c, http.StatusBadRequest, "password_reset", resetView{Action: "/password/reset", Token: token, Rules: passwordRules(printer(c)), Problems: problems})
	}
	if user, err = s.store.ResetPassword(ctx, hash, pwHash); err != nil {
		return s.linkInvalid(c, err, "/password/forgot")
	}
	if err := s.signIn(c, user); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard?done=password_set")
}

// linkInvalidView is the data of the page of a link that no longer works.
type linkInvalidView struct {
	// Again is where to ask for a new link.
	Again string
}

// openLink reads the one-time link of kind whose token is token, decoding
// its payload into payload (nil: none). A link unknown, used or expired
// is ENOTFOUND: linkInvalid shows it.
func (s *Server) openLink(c echo.Context, kind, token string, payload any) error {
	t, err := s.store.OneTimeToken(c.Request().Context(), kind, auth.HashToken(token))
	if err != nil || payload == nil {
		return err
	}
	if err := json.Unmarshal(t.Payload, payload); err != nil {
		return fmt.Errorf("web: %s link: %w", kind, err)
	}
	return nil
}

// linkInvalid answers a one-time link that is used, expired or unknown
// (err ENOTFOUND or nil) with a page saying so; any other error is the
// server's.
func (s *Server) linkInvalid(c echo.Context, err error, again string) error {
	if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
		return err
	}
	return s.render(c, http.StatusNotFound, "link_invalid", linkInvalidView{Again: again})
}
