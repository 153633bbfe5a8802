package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// apiMember is a user and their role on an account.
type apiMember struct {
	ID       int64           `json:"id"`
	Email    string          `json:"email"`
	Name     string          `json:"name"`
	Phone    string          `json:"phone"`
	Language domain.Language `json:"language"`
	Role     domain.Role     `json:"role"`
	// PasswordSet is false until the user has set a password (an
	// invitation accepted).
	PasswordSet bool      `json:"password_set"`
	CreatedAt   time.Time `json:"created_at"`
}

func toAPIMember(m store.Member) apiMember {
	return apiMember{ID: m.ID, Email: m.Email, Name: m.Name, Phone: m.Phone, Language: m.Language, Role: m.Role,
		PasswordSet: m.PasswordHash != nil, CreatedAt: m.CreatedAt}
}

func (s *Server) apiMembers(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	ms, err := s.api.Members(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(ms, toAPIMember))
}

// apiAddMember gives the user of an e-mail a role on the account, creating
// the user, without a password, when the address is new (the language is
// then the account's unless given). No e-mail is sent.
func (s *Server) apiAddMember(c echo.Context) error {
	a, err := s.accountOf(c)
	if err != nil {
		return err
	}
	var in apiMember
	if err := bind(c, &in); err != nil {
		return err
	}
	if in.Language == "" {
		in.Language = a.Language
	}
	m, err := s.api.AddMember(c.Request().Context(), a.ID, store.User{Email: in.Email, Name: in.Name, Phone: in.Phone, Language: in.Language},
		in.Role, actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAPIMember(m))
}
