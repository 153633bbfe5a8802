package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/shared/domain"
)

// renderer renders the site's pages (Server.render): each view is parsed
// with the common layout into its own template set, and rendered inside
// the layout with the page data every page shares.
type renderer struct {
	views   map[string]*template.Template
	cssURL  string
	version string
	// menus are the account's side menu in each language, with each tile
	// current or none (index len(tiles)); tiles, the dashboard's tiles.
	// They are the same for every user: rendered once, by html/template
	// (templates/layout/fragments.html), not on every page.
	menus map[i18n.Lang][]template.HTML
	tiles map[i18n.Lang]template.HTML
}

// page is what the layout is rendered with; the view's own data is Data.
type page struct {
	L    *i18n.Printer
	Lang i18n.Lang
	// Nav is the section of the site the page belongs to, for the menu.
	Nav string
	// SwitchURL shows the same page in SwitchLang.
	SwitchURL  string
	SwitchLang i18n.Lang
	CSSURL     string
	Version    string
	// CSRF is the token every form carries (template "csrf").
	CSRF string
	// Path is the request's path, where a form may send the user back.
	Path string
	// Notice is what a redirect after a form says was done (?done=KEY,
	// the catalogue's notice.KEY; unknown keys say nothing).
	Notice string
	// User is the signed-in user, nil for an anonymous visitor.
	User *userView
	// BackOfficeNav is the back office's menu, on its pages only.
	BackOfficeNav []menuItem
	Data          any
}

// userView is the signed-in user as the layout shows it: name, the
// account acted for, the other accounts the user may act for, and the
// side menu of the account.
type userView struct {
	Name       string
	Email      string
	Account    *accountView
	Others     []accountView
	BackOffice bool
	// Menu is the account's side menu, "" when the user acts for none.
	Menu template.HTML
}

type accountView struct {
	ID             int64
	Name           string
	CustomerNumber string
	Delegate       bool
}

type menuItem struct {
	Label, Path string
	Current     bool
}

// newRenderer parses the layout and every view of fsys: templates/layout/*.html
// and templates/views/NAME.html, a view being known by NAME. Each view must
// define the "title" and "content" templates the layout calls.
func newRenderer(fsys fs.FS, version string) (*renderer, error) {
	layout, err := template.ParseFS(fsys, "templates/layout/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	files, err := fs.Glob(fsys, "templates/views/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: no views in templates/views: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("web: no views in templates/views")
	}
	r := &renderer{views: map[string]*template.Template{}, version: version}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		t, err := template.Must(layout.Clone()).ParseFS(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("web: parse view %s: %w", name, err)
		}
		for _, want := range []string{"layout", "title", "content"} {
			if t.Lookup(want) == nil {
				return nil, fmt.Errorf("web: view %s: no template %q", name, want)
			}
		}
		r.views[name] = t
	}
	css, err := fs.ReadFile(fsys, "static/style.css")
	if err != nil {
		return nil, fmt.Errorf("web: read stylesheet: %w", err)
	}
	sum := sha256.Sum256(css)
	// The stylesheet's URL changes with its content, so browsers may cache it.
	r.cssURL = "/static/style.css?v=" + hex.EncodeToString(sum[:6])
	if err := r.renderFragments(layout); err != nil {
		return nil, err
	}
	return r, nil
}

// Render writes the view name with data inside the layout, in the
// request's language. Handlers call Server.render, which sends the page
// from a reused buffer.
func (r *renderer) Render(w io.Writer, name string, data any, c echo.Context) error {
	t, ok := r.views[name]
	if !ok {
		return fmt.Errorf("web: no view %q", name)
	}
	p := printer(c)
	other := i18n.EN
	if p.Lang() == i18n.EN {
		other = i18n.FR
	}
	pg := page{
		L:          p,
		Lang:       p.Lang(),
		Nav:        strings.Trim(c.Path(), "/"),
		SwitchURL:  withQuery(c.Request().URL, "lang", string(other)),
		SwitchLang: other,
		CSSURL:     r.cssURL,
		Version:    r.version,
		CSRF:       csrfToken(c),
		Path:       c.Request().URL.Path,
		User:       r.newUserView(currentVisitor(c), c.Request().URL.Path, p),
		Data:       data,
	}
	if pg.User != nil && pg.User.BackOffice {
		pg.BackOfficeNav = backOfficeNav(c.Path(), p)
	}
	if k := "notice." + c.QueryParam("done"); c.QueryParam("done") != "" && p.Has(k) {
		pg.Notice = p.T(k)
	}
	if err := t.ExecuteTemplate(w, "layout", pg); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	return nil
}

// render sends the view name with data, inside the layout, as the answer
// with status code. The page is rendered into a reused buffer and sent
// from it: echo's c.Render renders into a new buffer each time, which a
// page of 80 KB grows by doubling, twice the page in garbage a request.
func (s *Server) render(c echo.Context, code int, name string, data any) error {
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	if err := s.renderer.Render(buf, name, data, c); err != nil {
		return err
	}
	return c.HTMLBlob(code, buf.Bytes())
}

// renderBuffers hold pages while they are rendered and sent.
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledRender: a buffer grown past it (a rare huge page) is left to
// the collector rather than kept.
const maxPooledRender = 1 << 20

func putRenderBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledRender {
		return
	}
	b.Reset()
	renderBuffers.Put(b)
}

// newUserView is the layout's view of a visitor, nil for none.
func (r *renderer) newUserView(v *visitor, path string, p *i18n.Printer) *userView {
	if v == nil {
		return nil
	}
	u := &userView{Name: v.user.Name, Email: v.user.Email, BackOffice: v.isBackOffice()}
	if u.Name == "" {
		u.Name = v.user.Email
	}
	for _, a := range v.acting() {
		av := accountView{ID: a.AccountID, Name: a.Name, CustomerNumber: a.CustomerNumber, Delegate: a.Role == domain.RoleDelegate}
		if v.current != nil && a.AccountID == v.current.AccountID {
			u.Account = &av
			continue
		}
		u.Others = append(u.Others, av)
	}
	if u.Account != nil {
		current := slices.IndexFunc(tiles, func(t tile) bool { return t.path == path })
		if current < 0 {
			current = len(tiles)
		}
		u.Menu = r.menus[p.Lang()][current]
	}
	return u
}

// renderFragments renders the side menus and the tiles of every language
// (renderer.menus, renderer.tiles) with the fragments' templates of set.
func (r *renderer) renderFragments(set *template.Template) error {
	r.menus, r.tiles = map[i18n.Lang][]template.HTML{}, map[i18n.Lang]template.HTML{}
	for _, lang := range i18n.Langs {
		p := i18n.For(lang)
		views := make([]tileView, len(tiles))
		for i, t := range tiles {
			k := "tile." + t.key
			views[i] = tileView{Path: t.path, Title: p.T(k + ".title"), Desc: p.T(k + ".desc"), Link: p.T(k + ".link")}
		}
		html, err := fragment(set, "tiles", views)
		if err != nil {
			return err
		}
		r.tiles[lang] = html
		for current := range len(tiles) + 1 {
			items := make([]menuItem, len(tiles))
			for i, v := range views {
				items[i] = menuItem{Label: v.Title, Path: v.Path, Current: i == current}
			}
			html, err := fragment(set, "side_menu", items)
			if err != nil {
				return err
			}
			r.menus[lang] = append(r.menus[lang], html)
		}
	}
	return nil
}

// fragment renders the template name of set with data, escaped by
// html/template as a page's HTML text.
func fragment(set *template.Template, name string, data any) (template.HTML, error) {
	var b strings.Builder
	if err := set.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("web: render %s: %w", name, err)
	}
	return template.HTML(b.String()), nil //nolint:gosec // G203: html/template escaped it
}

// withQuery returns u's path and query with key set to value. A path that
// a browser would read as another host ("//host") becomes "/".
func withQuery(u *url.URL, key, value string) string {
	p := localPath(u.EscapedPath())
	if p == "" {
		p = "/"
	}
	q := u.Query()
	q.Set(key, value)
	return p + "?" + q.Encode()
}
