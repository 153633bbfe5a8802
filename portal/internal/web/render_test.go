package web

import (
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/meterline/meterline/portal/internal/i18n"
	"github.com/meterline/meterline/shared/domain"
)

const (
	goodLayout = `{{define "layout"}}<title>{{template "title" .}}</title>{{template "content" .}}{{end}}`
	goodView   = `{{define "title"}}t{{end}}{{define "content"}}c{{end}}`
	css        = `body{}`
)

// TestTemplatesParseAtBoot checks that the embedded templates parse, and
// that a broken one makes the renderer, hence start-up, fail.
func TestTemplatesParseAtBoot(t *testing.T) {
	r, err := newRenderer(assets, "test")
	if err != nil {
		t.Fatalf("the embedded templates do not parse: %v", err)
	}
	for _, view := range []string{"device_list", "error"} {
		if r.views[view] == nil {
			t.Errorf("view %q missing", view)
		}
	}

	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{
			name: "broken view",
			files: fstest.MapFS{
				"templates/layout/base.html": {Data: []byte(goodLayout)},
				"templates/views/x.html":     {Data: []byte(`{{define "title"}}{{if}}{{end}}`)},
				"static/style.css":           {Data: []byte(css)},
			},
			want: "parse view x",
		},
		{
			name: "broken layout",
			files: fstest.MapFS{
				"templates/layout/base.html": {Data: []byte(`{{define "layout"}}{{.L.T}`)},
				"templates/views/x.html":     {Data: []byte(goodView)},
				"static/style.css":           {Data: []byte(css)},
			},
			want: "parse layout",
		},
		{
			name: "view without content",
			files: fstest.MapFS{
				"templates/layout/base.html": {Data: []byte(goodLayout)},
				"templates/views/x.html":     {Data: []byte(`{{define "title"}}t{{end}}`)},
				"static/style.css":           {Data: []byte(css)},
			},
			want: `no template "content"`,
		},
		{
			name: "no views",
			files: fstest.MapFS{
				"templates/layout/base.html": {Data: []byte(goodLayout)},
				"static/style.css":           {Data: []byte(css)},
			},
			want: "no views",
		},
		{
			name: "no stylesheet",
			files: fstest.MapFS{
				"templates/layout/base.html": {Data: []byte(goodLayout)},
				"templates/views/x.html":     {Data: []byte(goodView)},
			},
			want: "stylesheet",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newRenderer(tt.files, "test")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("newRenderer error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestCatalogueCoversPages checks that every message key the templates and
// the Go code name is in both catalogues, and that every condition, supply
// kind and level state the domain defines has its words.
func TestCatalogueCoversPages(t *testing.T) {
	var keys []string
	tmplKey := regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	err := fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	goKey := regexp.MustCompile(`\.[TN]\("([a-z0-9_.]+)"`)
	sources, _ := filepath.Glob("*.go")
	for _, f := range sources {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			key := m[1]
			if strings.HasSuffix(key, ".") { // a prefix completed at run time, checked below
				continue
			}
			if strings.Contains(string(b), `.N("`+key+`"`) {
				keys = append(keys, key+".one", key+".other")
				continue
			}
			keys = append(keys, key)
		}
	}
	if len(keys) < 20 {
		t.Fatalf("found only %d keys: is the pattern wrong?", len(keys))
	}
	// Keys handed to views and error pages as data (view.Error =
	// "login.error.wrong", pageError(403, "error.csrf")), the notices of
	// redirects (?done=KEY) and the tiles' words.
	dataKey := regexp.MustCompile(`"((?:login|form|profile|email|error|password|link|register|reset|forgot)\.[a-z0-9_.]+)"`)
	notice := regexp.MustCompile(`[?&]done=([a-z_]+)`)
	for _, f := range sources {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range dataKey.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasSuffix(m[1], ".") {
				keys = append(keys, m[1])
			}
		}
		for _, m := range notice.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, "notice."+m[1])
		}
	}
	for _, tl := range tiles {
		keys = append(keys, "tile."+tl.key+".title", "tile."+tl.key+".desc", "tile."+tl.key+".link")
	}
	for _, c := range domain.ErrorStateBits {
		keys = append(keys, "cond."+string(c))
	}
	for _, k := range []domain.SupplyKind{
		domain.SupplyToner, domain.SupplyInk, domain.SupplyDrum, domain.SupplyDeveloper, domain.SupplyWaste,
		domain.SupplyFuser, domain.SupplyTransfer, domain.SupplyCleaner, domain.SupplyStaples,
		domain.SupplyRibbon, domain.SupplyOther,
	} {
		keys = append(keys, "supply."+string(k))
	}
	for _, s := range []domain.LevelState{domain.LevelOther, domain.LevelEmpty, domain.LevelOverCapacity} {
		keys = append(keys, "level."+string(s))
	}
	for _, code := range []int{400, 403, 404, 405, 409, 429, 500, 503} {
		keys = append(keys, "error."+strconv.Itoa(code))
	}
	for _, lang := range i18n.Langs {
		have := i18n.Keys(lang)
		for _, k := range keys {
			if _, ok := slices.BinarySearch(have, k); !ok {
				t.Errorf("%s catalogue lacks %q", lang, k)
			}
		}
	}
}

// TestFragments: the side menu and the tiles, rendered once per language,
// name every tile's page in that language, mark the current page (and
// only it) in the menu, and none on a page that is not a tile's.
func TestFragments(t *testing.T) {
	r, err := newRenderer(assets, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Langs {
		p := i18n.For(lang)
		for _, tl := range tiles {
			title := template.HTMLEscapeString(p.T("tile." + tl.key + ".title"))
			if !strings.Contains(string(r.tiles[lang]), `href="`+tl.path+`"`) || !strings.Contains(string(r.tiles[lang]), title) {
				t.Errorf("%s tiles lack %s (%q)", lang, tl.path, title)
			}
		}
		if n := len(r.menus[lang]); n != len(tiles)+1 {
			t.Fatalf("%s: %d menus, want %d", lang, n, len(tiles)+1)
		}
		for i, menu := range r.menus[lang] {
			want := 1
			if i == len(tiles) {
				want = 0
			}
			if got := strings.Count(string(menu), `aria-current="page"`); got != want {
				t.Errorf("%s menu %d marks %d pages current, want %d:\n%s", lang, i, got, want, menu)
			}
			if i < len(tiles) && !strings.Contains(string(menu), `<a href="`+tiles[i].path+`" aria-current="page">`) {
				t.Errorf("%s menu %d does not mark %s:\n%s", lang, i, tiles[i].path, menu)
			}
		}
	}
}
