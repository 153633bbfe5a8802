package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// contactView is the data of the contact-us form (seed 000, "Contactez
// nous": write to the metered supplies' web contact by e-mail).
type contactView struct {
	Subject string
	Body    string
	// MaxSubject and MaxBody are the lengths the form states and keeps.
	MaxSubject, MaxBody int
	// Email is where the answer will go: the user's address.
	Email string
	// Problems say what is wrong with the form, in the page's language.
	Problems []string
}

func (s *Server) newContactView(c echo.Context) contactView {
	return contactView{MaxSubject: store.MaxContactSubject, MaxBody: store.MaxContactBody, Email: mustVisitor(c).user.Email}
}

// contactForm shows the contact-us form.
func (s *Server) contactForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "contact", s.newContactView(c))
}

// contact stores a message of the user about the current account for the
// back office and e-mails it to the back office's address (the store does
// both, in one transaction), then shows that it went.
func (s *Server) contact(c echo.Context) error {
	if s.backOfficeEmail == "" {
		return pageError(http.StatusServiceUnavailable, "contact.error.unconfigured")
	}
	p := printer(c)
	view := s.newContactView(c)
	// Browsers send a text area's line breaks as CRLF but count them as
	// one character against its maxlength: count as they do.
	view.Subject = strings.TrimSpace(c.FormValue("subject"))
	view.Body = strings.TrimSpace(strings.ReplaceAll(c.FormValue("body"), "\r\n", "\n"))
	switch n := utf8.RuneCountInString(view.Subject); {
	case n == 0:
		view.Problems = append(view.Problems, p.T("contact.error.subject_missing"))
	case n > view.MaxSubject:
		view.Problems = append(view.Problems, p.T("contact.error.subject_long", view.MaxSubject, n))
	}
	switch n := utf8.RuneCountInString(view.Body); {
	case n == 0:
		view.Problems = append(view.Problems, p.T("contact.error.body_missing"))
	case n > view.MaxBody:
		view.Problems = append(view.Problems, p.T("contact.error.body_long", view.MaxBody, n))
	}
	if view.Problems != nil {
		return s.render(c, http.StatusBadRequest, "contact", view)
	}
	_, err := s.store.SendContactMessage(c.Request().Context(), store.ContactMessage{AccountID: currentAccount(c).AccountID,
		UserID: mustVisitor(c).user.ID, Subject: view.Subject, Body: view.Body}, s.backOfficeEmail)
	if domain.ErrorCode(err) == domain.EINVALID {
		// What is left for the store to refuse: control characters (a
		// line break in the subject).
		view.Problems = append(view.Problems, p.T("contact.error.invalid"))
		return s.render(c, http.StatusBadRequest, "contact", view)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/contact/sent")
}

// contactSent confirms that the message went and where the answer will
// come.
func (s *Server) contactSent(c echo.Context) error {
	return s.render(c, http.StatusOK, "contact_sent", s.newContactView(c))
}
