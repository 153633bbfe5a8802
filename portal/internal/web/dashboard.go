package web

import (
	"html/template"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// tile is a tile of the dashboard and an entry of the side menu (seed 000,
// "Gérer mon compte"): its catalogue key (tile.KEY.title, .desc, .link),
// its page, and whether that page is still to come, in which case the
// route table serves a page saying so. When a page is built, set coming
// to false and put its route in pageRoutes.
type tile struct {
	key, path string
	coming    bool
}

// tiles are seed 000's, in its order, with the meter reads of seed 003
// before contact us.
var tiles = []tile{
	{"order", "/order", true},
	{"orders", "/orders", true},
	{"stock", "/stock", true},
	{"shipping", "/shipping", false},
	{"replenishment", "/replenishment", true},
	{"equipment", "/equipment", false},
	{"users", "/users", false},
	{"returns", "/returns", true},
	{"reads", "/reads", false},
	{"contact", "/contact", false},
}

// dashboardView is the data of the dashboard: the account's tiles, or,
// for a user who acts for no account yet, nothing (the page says why).
type dashboardView struct {
	AccountName string
	// Tiles are the tiles in the page's language (renderer.tiles).
	Tiles template.HTML
}

// tileView is a tile in the page's language.
type tileView struct {
	Path, Title, Desc, Link string
}

// dashboard shows the tiles of the current account.
func (s *Server) dashboard(c echo.Context) error {
	v := mustVisitor(c)
	view := dashboardView{}
	if v.current != nil {
		view.AccountName = v.current.Name
		view.Tiles = s.renderer.tiles[printer(c).Lang()]
	}
	return s.render(c, http.StatusOK, "dashboard", view)
}

// switchAccount makes another account the current one: only an account the
// user is primary or delegate of, read from the database now; any other
// is 404, as if it did not exist.
func (s *Server) switchAccount(c echo.Context) error {
	v := mustVisitor(c)
	id, err := strconv.ParseInt(c.Param("account"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	a := v.actingFor(id)
	if a == nil {
		return echo.ErrNotFound
	}
	if err := s.store.SetSessionAccount(c.Request().Context(), v.session.ID, &a.AccountID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

// comingView is the data of the page of a feature still to come.
type comingView struct {
	Key string
}

// coming serves the page of a tile whose page is still to come: it says
// so instead of a dead link.
func (s *Server) coming(key string) echo.HandlerFunc {
	return func(c echo.Context) error {
		return s.render(c, http.StatusOK, "coming", comingView{Key: key})
	}
}
